/**
 * @file HyRA's generators against an independent host computation for every option, the cross-head
 * coupling, the initialisations (ΔW = 0, which weights get gradients, A^p at LoRA's scale), the cache
 * of generated factors (once per forward pass, once in eval, never stale), and the layer's weights
 * living and saving once.
 */

import { type DType, manualSeed, memory, noGrad, std, type Tensor, tensor, tidy } from "@tsgrad/core";
import { checkProperty } from "@tsgrad/core/testing";
import { AdamW } from "@tsgrad/nn";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  type Activation,
  getPeftModel,
  HyraLayer,
  HyraProjection,
  type Mixing,
  OUTPUT_GAIN,
  type PeftConfigInput,
  type PeftModel,
  resolveConfig,
} from "../src/node.ts";
import { activate, fromFlat, type Matrix, matmul, maxAbsDiff, scale } from "./support/host.ts";
import { Attn, inputsFor, outputOf, tinyEncoder } from "./support/models.ts";
import { setParameters } from "./support/params.ts";

type HyraInput = Extract<PeftConfigInput, { method: "hyra" }>;

function adapted(d: number, heads: number, config: Omit<HyraInput, "method">, dtype: DType = "float64"): PeftModel<Attn> {
  return getPeftModel(new Attn(d, heads, dtype), { method: "hyra", ...config } as PeftConfigInput);
}

const PREFIX = "base_model.model.attn.hyra.";

async function read(peft: PeftModel<Attn>, key: string): Promise<{ values: Float64Array; shape: readonly number[] }> {
  const p = peft.adapterStateDict().get(PREFIX + key);
  if (!p) throw new Error(`no ${key} in ${[...peft.adapterStateDict().keys()].join(", ")}`);
  return { values: Float64Array.from(await p.data()), shape: p.shape };
}

/** The 2-D slice `index` of a stacked (n, rows, cols) tensor, or the tensor itself when it is 2-D. */
async function slice2d(peft: PeftModel<Attn>, key: string, index: number): Promise<Matrix> {
  const { values, shape } = await read(peft, key);
  const [rows, cols] = shape.slice(-2);
  return fromFlat(values, rows, cols, shape.length === 3 ? index * rows * cols : 0);
}

/** ΔW_p of the default adapter computed on the host from the stored seeds and generators (the file comment of generator.ts). */
async function hostDelta(
  peft: PeftModel<Attn>,
  p: string,
  options: { H: number; r: number; alpha: number; activation: Activation; mixing: Mixing; separate: boolean },
): Promise<Matrix> {
  const { H, r, alpha, activation, mixing, separate } = options;
  const U = (theta: string) => (separate ? `${theta}.U.${p}` : `${theta}.U`);
  const seedA = await slice2d(peft, "seed_A", 0);
  const A = matmul(
    await slice2d(peft, `theta_A.P.${p}`, 0),
    await activate(matmul(await slice2d(peft, U("theta_A"), 0), seedA), activation),
  );
  const rows: Matrix = [];
  for (let h = 0; h < H; h++) {
    const Bh = await slice2d(peft, "seed_B", h);
    const UB = await slice2d(peft, U("theta_B"), h);
    const PB = await slice2d(peft, `theta_B.P.${p}`, h);
    const out =
      mixing === "feature"
        ? matmul(PB, await activate(matmul(UB, Bh), activation))
        : matmul(await activate(matmul(Bh, UB), activation), PB);
    rows.push(...out);
  }
  return scale(matmul(rows, A), alpha / r);
}

async function layerDelta(peft: PeftModel<Attn>, p: string): Promise<Matrix> {
  const layer = peft.model.attn.getSubmodule(p) as HyraProjection;
  const delta = noGrad(() => layer.deltaWeight("default"));
  return fromFlat(await delta.data(), delta.shape[0], delta.shape[1]);
}

test("ΔW of q and v equals the host computation, for every activation, mixing axis, per-head Θ_B and trunk option", async () => {
  const arb = fc.record({
    H: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 3 }),
    r: fc.integer({ min: 1, max: 3 }),
    m: fc.integer({ min: 1, max: 4 }),
    activation: fc.constantFrom<Activation>("gelu", "tanh", "identity", "relu"),
    mixing: fc.constantFrom<Mixing>("feature", "rank"),
    perHeadGenerator: fc.boolean(),
    sharedTrunk: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1000 }),
  });
  await checkProperty(
    "hyra ΔW = host computation",
    arb.filter(({ H, dh, r }) => r <= H * dh),
    async ({ H, dh, r, m, activation, mixing, perHeadGenerator, sharedTrunk, seed }) => {
      manualSeed(seed);
      const alpha = 2 * r;
      const peft = adapted(H * dh, H, {
        r,
        alpha,
        hiddenWidth: m,
        activation,
        mixing,
        perHeadGenerator,
        sharedTrunk,
        initLoraWeights: false,
      });
      for (const p of ["q", "v"]) {
        const expected = await hostDelta(peft, p, { H, r, alpha, activation, mixing, separate: !sharedTrunk });
        const err = maxAbsDiff(await layerDelta(peft, p), expected);
        assert.ok(err < 1e-12, `ΔW_${p} differs from the host computation by ${err}`);
      }
    },
    // each run builds an attention module and reads a dozen tensors back
    { numRuns: 40 },
  );
});

test("parameter names and shapes of every variant", () => {
  const shapes = (config: Omit<HyraInput, "method">) =>
    Object.fromEntries([...adapted(12, 3, config).adapterStateDict()].map(([k, p]) => [k.slice(PREFIX.length), [...p.shape]]));
  // d = 12, H = 3, d_h = 4, r = 2, m = d_h = 4 by default
  assert.equal(shapes({ r: 2 }), {
    seed_A: [2, 12],
    seed_B: [3, 4, 2],
    "theta_A.U": [4, 2],
    "theta_A.P.q": [2, 4],
    "theta_A.P.v": [2, 4],
    "theta_B.U": [4, 4],
    "theta_B.P.q": [4, 4],
    "theta_B.P.v": [4, 4],
  });
  assert.equal(shapes({ r: 2, hiddenWidth: 5, mixing: "rank", perHeadGenerator: true, sharedTrunk: false }), {
    seed_A: [2, 12],
    seed_B: [3, 4, 2],
    "theta_A.U.q": [5, 2],
    "theta_A.U.v": [5, 2],
    "theta_A.P.q": [2, 5],
    "theta_A.P.v": [2, 5],
    "theta_B.U.q": [3, 2, 5],
    "theta_B.U.v": [3, 2, 5],
    "theta_B.P.q": [3, 5, 2],
    "theta_B.P.v": [3, 5, 2],
  });
});

/** Which heads' rows of ΔW_q change when one generator weight moves. */
async function headsMovedBy(peft: PeftModel<Attn>, key: string, H: number): Promise<boolean[]> {
  const before = await layerDelta(peft, "q");
  const p = peft.adapterStateDict().get(PREFIX + key) as Tensor;
  noGrad(() => p.assign(p.add(0.5)));
  const after = await layerDelta(peft, "q");
  const dh = before.length / H;
  return Array.from({ length: H }, (_, h) => maxAbsDiff(before.slice(h * dh, (h + 1) * dh), after.slice(h * dh, (h + 1) * dh)) > 1e-9);
}

test("cross-head coupling: the shared Θ_B moves every head; with one Θ_B per head, head 0's moves only head 0", async () => {
  manualSeed(7);
  assert.equal(await headsMovedBy(adapted(12, 3, { r: 2, initLoraWeights: false }), "theta_B.U", 3), [true, true, true]);
  const perHead = adapted(12, 3, { r: 2, initLoraWeights: false, perHeadGenerator: true });
  const U = perHead.adapterStateDict().get(`${PREFIX}theta_B.U`) as Tensor;
  const before = await layerDelta(perHead, "q");
  // move only head 0's slice of U_B
  noGrad(() => U.assign(U.add(head0Mask(U).mul(0.5))));
  const after = await layerDelta(perHead, "q");
  const moved = [0, 1, 2].map((h) => maxAbsDiff(before.slice(h * 4, h * 4 + 4), after.slice(h * 4, h * 4 + 4)) > 1e-9);
  assert.equal(moved, [true, false, false]);
});

/** 1 on head 0's slice of a (H, ...) tensor, 0 elsewhere. */
function head0Mask(t: Tensor): Tensor {
  const per = t.size / t.shape[0];
  return tensor(
    Array.from({ length: t.size }, (_, i) => (i < per ? 1 : 0)),
    [...t.shape],
    "float64",
  );
}

/** The gradients of every HyRA weight of the default adapter after one backward of sum(output). */
async function gradientNorms(peft: PeftModel<Attn>): Promise<Record<string, number>> {
  const x = inputsFor(peft.model, { dtype: "float64" });
  peft.forward(x).sum().backward();
  const out: Record<string, number> = {};
  for (const [key, p] of peft.adapterStateDict()) {
    const g = p.grad ? Array.from(await p.grad.data()) : [];
    out[key.slice(PREFIX.length)] = Math.hypot(...g);
  }
  return out;
}

test('init "zero-output": ΔW = 0 with random seeds; the first gradients reach P_B (and only the B side there)', async () => {
  manualSeed(8);
  const peft = adapted(12, 3, { r: 2 });
  assert.ok((await layerDelta(peft, "q")).flat().every((v) => v === 0));
  const norms = await gradientNorms(peft);
  assert.ok(norms["theta_B.P.q"] > 0 && norms["theta_B.P.v"] > 0);
  // with P_B = 0 nothing upstream of it on the B side, nor anything on the A side, moves at first
  for (const key of ["seed_A", "seed_B", "theta_A.U", "theta_A.P.q", "theta_B.U"]) assert.is(norms[key], 0, key);
});

for (const activation of ["gelu", "tanh", "identity"] as const) {
  test(`init "zero-seeds" with ${activation}: ΔW = 0, and the seeds get gradients since σ'(0) ≠ 0`, async () => {
    manualSeed(9);
    const peft = adapted(12, 3, { r: 2, hyraInit: "zero-seeds", activation });
    assert.ok((await read(peft, "seed_B")).values.every((v) => v === 0));
    assert.ok((await layerDelta(peft, "v")).flat().every((v) => v === 0));
    const norms = await gradientNorms(peft);
    assert.ok(norms.seed_B > 0, "the head seeds must learn");
  });
}

test('init "zero-seeds" refuses ReLU, whose σ\'(0) = 0 would leave the seeds without gradient', () => {
  assert.throws(
    () => resolveConfig({ method: "hyra", hyraInit: "zero-seeds", activation: "relu" }),
    /σ'\(0\) = 0: the seeds would get no gradient/,
  );
});

test("A^p starts at LoRA's scale: std(A^q) ≈ std(lora_A) = 1/√(3d) for every σ (P_A's gain is 1/σ'(0))", async () => {
  const d = 512;
  for (const activation of ["gelu", "tanh", "identity", "relu"] as const) {
    manualSeed(10);
    const peft = adapted(d, 8, { r: 8, hiddenWidth: 64, activation }, "float32");
    const layer = peft.model.attn.getSubmodule("q") as HyraProjection;
    const A = noGrad(() => layer.loraFactors("default").A);
    const ratio = (await std(A).data())[0] / (1 / Math.sqrt(3 * d));
    assert.ok(ratio > 0.8 && ratio < 1.25, `${activation}: std(A^q) / std(LoRA's A) = ${ratio} (gain ${OUTPUT_GAIN[activation]})`);
  }
});

test("the generators run once per forward pass for q and v together, whatever the batch size", async () => {
  const peft = getPeftModel(tinyEncoder(), { method: "hyra", r: 2 });
  const layers = peft.base_model.namedModules().filter((e): e is [string, HyraLayer] => e[1] instanceof HyraLayer);
  assert.is(layers.length, 2);
  const runs = () => layers.reduce((n, [, l]) => n + l.generatorRuns, 0);
  for (const batch of [1, 8]) {
    const before = runs();
    tidy(() => peft.forward(inputsFor(peft.model, { batch })).sum().backward());
    assert.is(runs() - before, 2, "one run per layer");
  }
});

test("eval under noGrad: generated once and cached until the weights change (optimiser step, loadAdapter)", async () => {
  const peft = getPeftModel(tinyEncoder(), { method: "hyra", r: 2, initLoraWeights: false });
  const layer = peft.base_model.getSubmodule("hyra.blocks.0.attn") as HyraLayer;
  const x = inputsFor(peft.model);
  peft.eval();
  const first = await outputOf(peft, x);
  const runs = layer.generatorRuns;
  assert.equal(await outputOf(peft, x), first);
  assert.is(layer.generatorRuns, runs, "the second eval pass uses the cache");

  const opt = new AdamW(peft.trainableParameters(), { lr: 0.05 });
  tidy(() => peft.forward(x).sum().backward());
  opt.step();
  const afterStep = await outputOf(peft, x);
  assert.ok(layer.generatorRuns > runs + 1, "the step invalidated the cache");
  assert.ok(afterStep.some((v, i) => v !== first[i]));
  // the cached eval output is the one a freshly generated forward gives
  const fresh = tidy(() => peft.forward(x));
  assert.equal(Array.from(await fresh.data()), Array.from(afterStep));

  const saved = new Map([...peft.adapterStateDict()].map(([k, p]) => [k, noGrad(() => p.mul(1.5))]));
  const before = layer.generatorRuns;
  peft.setAdapterStateDict("default", saved);
  const reloaded = await outputOf(peft, x);
  assert.ok(layer.generatorRuns > before && reloaded.some((v, i) => v !== afterStep[i]), "loading invalidated the cache");
});

test("training never uses stale factors: gradient accumulation over two passes, and steps inside tidy", async () => {
  manualSeed(11);
  const peft = adapted(12, 3, { r: 2, initLoraWeights: false });
  const x = inputsFor(peft.model, { dtype: "float64" });
  const seed = peft.adapterStateDict().get(`${PREFIX}seed_A`) as Tensor;
  peft.forward(x).sum().backward();
  const once = Array.from(await (seed.grad as Tensor).data());
  // the first backward freed the first pass's graph: the second pass must build its own
  peft.forward(x).sum().backward();
  const twice = Array.from(await (seed.grad as Tensor).data());
  assert.ok(twice.every((g, i) => Math.abs(g - 2 * once[i]) <= 1e-12 * Math.abs(once[i]) + 1e-15));

  const opt = new AdamW(peft.trainableParameters(), { lr: 0.05 });
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    const loss = tidy(() => {
      const l = peft.forward(x).square().mean();
      l.backward();
      return l;
    });
    opt.step();
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  assert.ok(losses[2] < losses[0], `the loss goes down: ${losses}`);
});

test("a training step never forms ΔW: the forward goes through x·Aᵀ·Bᵀ", () => {
  const peft = getPeftModel(tinyEncoder(), { method: "hyra", r: 2, initLoraWeights: false });
  const projections = peft.model.namedModules().filter((e): e is [string, HyraProjection] => e[1] instanceof HyraProjection);
  for (const [, p] of projections) {
    p.deltaWeight = () => {
      throw new Error("ΔW formed");
    };
  }
  tidy(() => peft.forward(inputsFor(peft.model)).sum().backward());
  assert.ok(projections.length === 4);
});

test("the cache holds no more tensors as weights change: each refresh disposes what it replaces", async () => {
  const peft = getPeftModel(tinyEncoder(), { method: "hyra", r: 2, initLoraWeights: false });
  peft.eval();
  const x = inputsFor(peft.model);
  const seed = peft.adapterStateDict().get("base_model.model.blocks.0.attn.hyra.seed_A") as Tensor;
  const live: number[] = [];
  for (let i = 0; i < 4; i++) {
    tidy(() =>
      noGrad(() => {
        seed.assign(seed.mul(1.01));
        peft.forward(x);
      }),
    );
    live.push(memory().numTensors);
  }
  assert.equal(live.slice(1), [live[0], live[0], live[0]]);
});

test("a layer's HyRA weights live once: on the tuner at `hyra.<attention path>`, not in the projections", () => {
  const peft = getPeftModel(tinyEncoder(), { method: "hyra", r: 2 });
  const names = peft.namedParameters().map(([n]) => n);
  assert.equal(
    names.filter((n) => n.endsWith(".default.seed_A")),
    ["base_model.hyra.blocks.0.attn.default.seed_A", "base_model.hyra.blocks.1.attn.default.seed_A"],
  );
  assert.ok(!names.some((n) => /attn\.[qv]\..*(seed|theta)/.test(n)));
  const keys = [...peft.adapterStateDict().keys()];
  assert.equal(
    keys.filter((k) => k.includes("blocks.0.")),
    [
      "base_model.model.blocks.0.attn.hyra.seed_A",
      "base_model.model.blocks.0.attn.hyra.seed_B",
      "base_model.model.blocks.0.attn.hyra.theta_A.U",
      "base_model.model.blocks.0.attn.hyra.theta_A.P.q",
      "base_model.model.blocks.0.attn.hyra.theta_A.P.v",
      "base_model.model.blocks.0.attn.hyra.theta_B.U",
      "base_model.model.blocks.0.attn.hyra.theta_B.P.q",
      "base_model.model.blocks.0.attn.hyra.theta_B.P.v",
    ],
  );
  const q = peft.model.blocks.at(0).getSubmodule("attn.q") as HyraProjection;
  const v = peft.model.blocks.at(0).getSubmodule("attn.v") as HyraProjection;
  assert.ok(q.layer === v.layer && q.layer === peft.base_model.getSubmodule("hyra.blocks.0.attn"));
});

test("setParameters reaches the generator through its dotted path", async () => {
  const peft = adapted(4, 2, { r: 1, hiddenWidth: 1, activation: "identity" });
  // d = 4, H = 2, d_h = 2: seeds Ā (1, 4), B_h (2, 1); with identity σ and m = 1 everything is a product
  setParameters(peft, {
    "base_model.hyra.attn.default.seed_A": [[1, 2, 3, 4]],
    "base_model.hyra.attn.default.theta_A.U": [[2]],
    "base_model.hyra.attn.default.theta_A.P.q": [[0.5]],
    "base_model.hyra.attn.default.seed_B": [
      [[1], [-1]],
      [[3], [0]],
    ],
    "base_model.hyra.attn.default.theta_B.U": [[1, 1]],
    "base_model.hyra.attn.default.theta_B.P.q": [[2], [1]],
  });
  // A^q = 0.5·2·Ā = [1,2,3,4]; U_B·B_1 = 1 - 1 = 0, U_B·B_2 = 3; B^q = [[0],[0],[6],[3]]; s = alpha/r = 8
  assert.equal(await layerDelta(peft, "q"), [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [48, 96, 144, 192],
    [24, 48, 72, 96],
  ]);
});

test.run();

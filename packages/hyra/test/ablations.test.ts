/**
 * @file The study's two ablations of the head-structured methods: adapting the output projection o,
 * whose input columns the heads split (MH-LoRA gives each head its own block of columns, HyRA generates
 * o's update transposed from the same generator as q's and v's), and HyRA with one Ā and one set of B_h
 * per projection (`sharedSeeds: false`). float64 gradient checks through both, their state-dict keys, the
 * block structure of o's ΔW, and their export as a plain PEFT LoRA.
 */

import { manualSeed, noGrad, type Tensor, tidy } from "@tsgrad/core";
import { assertArrayClose, checkProperty, gradcheck, gradcheckDirectional } from "@tsgrad/core/testing";
import { functionalCall } from "@tsgrad/nn";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type AdapterLayer, getPeftModel, loadAdapter, type PeftConfigInput, type PeftModel } from "../src/node.ts";
import { Attn, inputsFor, MODEL_F32, maxDiff, outputOf, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

function asFunction(peft: PeftModel<Attn>) {
  const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
  const names = trainable.map(([n]) => n);
  return {
    names,
    weights: trainable.map(([, p]) => p as Tensor),
    fn: (x: Tensor, ...ws: Tensor[]) => functionalCall(peft, names, ws, () => peft.forward(x)),
  };
}

test("o's MH-LoRA update touches head h's columns only: ΔW_o = s·[B_1·A_1 | … | B_H·A_H]", async () => {
  manualSeed(5);
  const peft = getPeftModel(new Attn(6, 3), { method: "mh-lora", r: 1, targetModules: ["o"], initLoraWeights: false });
  const o = peft.model.getSubmodule("attn.o") as AdapterLayer;
  const state = peft.adapterStateDict();
  const A = state.get("base_model.model.attn.o.mh_lora_A.weight") as Tensor; // (H, r, d_h)
  const B = state.get("base_model.model.attn.o.mh_lora_B.weight") as Tensor; // (H, out, r)
  assert.equal(
    [A.shape, B.shape],
    [
      [3, 1, 2],
      [3, 6, 1],
    ],
  );
  const [a, b, delta] = [await A.data(), await B.data(), await o.deltaWeight("default").data()];
  const s = 8 / 1; // alpha 8 (PEFT's default) over r 1
  for (let row = 0; row < 6; row++) {
    for (let col = 0; col < 6; col++) {
      const h = Math.floor(col / 2);
      const expected = s * b[h * 6 + row] * a[h * 2 + (col % 2)];
      assert.ok(Math.abs(delta[row * 6 + col] - expected) < 1e-12, `ΔW[${row}, ${col}]`);
    }
  }
});

test("sharedSeeds false: each projection has its own Ā and B_h, at seed_A.<projection>", () => {
  const peft = getPeftModel(new Attn(8, 2), { method: "hyra", r: 2, targetModules: ["q", "v", "o"], sharedSeeds: false });
  const keys = [...peft.adapterStateDict().keys()].map((k) => k.replace("base_model.model.attn.hyra.", ""));
  for (const p of ["q", "v", "o"]) {
    assert.ok(keys.includes(`seed_A.${p}`), `seed_A.${p}`);
    assert.ok(keys.includes(`seed_B.${p}`), `seed_B.${p}`);
  }
  assert.not.ok(keys.includes("seed_A"));
});

test("sharedSeeds false: a projection's update reads its own seeds only", async () => {
  manualSeed(2);
  const config = { method: "hyra", r: 2, sharedSeeds: false, initLoraWeights: false } as const;
  const peft = getPeftModel(new Attn(8, 2), config);
  const delta = async (p: string) => Array.from(await (peft.model.getSubmodule(`attn.${p}`) as AdapterLayer).deltaWeight("default").data());
  const [q, v] = [await delta("q"), await delta("v")];
  const seed = peft.adapterStateDict().get("base_model.model.attn.hyra.seed_A.v") as Tensor;
  noGrad(() => tidy(() => seed.assign(seed.add(1))));
  assert.equal(await delta("q"), q, "q's ΔW does not read v's Ā");
  assert.ok(maxDiff(await delta("v"), v) > 1e-3, "v's ΔW reads v's Ā");
});

const shapes = fc.record({
  heads: fc.integer({ min: 1, max: 3 }),
  headSize: fc.integer({ min: 1, max: 3 }),
  r: fc.integer({ min: 1, max: 2 }),
  seed: fc.nat(1000),
});

test("property: gradients through o's adapter (MH-LoRA and HyRA) and HyRA's per-projection seeds", async () => {
  await checkProperty(
    "o and sharedSeeds gradcheck",
    fc
      .tuple(shapes, fc.constantFrom("mh-lora", "hyra"), fc.boolean(), fc.constantFrom("feature", "rank"))
      .filter(([s, method]) => s.r <= (method === "mh-lora" ? s.headSize : s.heads * s.headSize)),
    async ([{ heads, headSize, r, seed }, method, sharedSeeds, mixing]) => {
      manualSeed(seed);
      const options = method === "hyra" ? { sharedSeeds, mixing, activation: "tanh" } : {};
      const config = { method, r, targetModules: ["q", "v", "o"], initLoraWeights: false, ...options } as PeftConfigInput;
      const peft = getPeftModel(new Attn(heads * headSize, heads), config);
      const { fn, weights } = asFunction(peft);
      const x = inputsFor(peft.model, { batch: 2, length: 2, dtype: "float64", seed });
      await gradcheckDirectional(fn, [x, ...weights], { seed, directions: 3 });
    },
    { numRuns: 12 },
  );
});

test("HyRA on q, v, o with per-projection seeds, element by element", async () => {
  manualSeed(7);
  const peft = getPeftModel(new Attn(4, 2), {
    method: "hyra",
    r: 1,
    hiddenWidth: 2,
    targetModules: ["q", "v", "o"],
    sharedSeeds: false,
    initLoraWeights: false,
  });
  const { fn, weights } = asFunction(peft);
  const x = inputsFor(peft.model, { batch: 1, length: 2, dtype: "float64" });
  await gradcheck(fn, [x, ...weights]);
});

for (const method of ["mh-lora", "hyra"] as const) {
  test(`exportAsLora: ${method} on q, v and o computes the same as a plain PEFT LoRA`, async () => {
    const extra = method === "hyra" ? { sharedSeeds: false } : {};
    const config = { method, r: 2, targetModules: ["q", "v", "o"], initLoraWeights: false, ...extra } as PeftConfigInput;
    const peft = getPeftModel(tinyEncoder().eval(), config);
    const x = inputsFor(peft.model);
    const adapted = await outputOf(peft, x);
    await withTempDir(async (dir) => {
      await peft.saveAdapter(`${dir}/own`);
      const reloaded = await loadAdapter(tinyEncoder().eval(), `${dir}/own`);
      assert.equal(await outputOf(reloaded, x), adapted, "saved and loaded with its own config");
      await peft.exportAsLora(`${dir}/lora`);
      const loaded = await loadAdapter(tinyEncoder().eval(), `${dir}/lora`);
      assertArrayClose(await outputOf(loaded, x), adapted, MODEL_F32, { what: `exported ${method} outputs` });
    });
  });
}

test.run();

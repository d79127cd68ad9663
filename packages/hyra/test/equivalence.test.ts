/**
 * @file How the three methods relate, checked exactly in float64:
 *
 * - HyRA with one head, identity σ and its (then linear) generator represents exactly LoRA's update
 *   space: an analytic construction sets seeds and generators so that HyRA equals any given LoRA, and
 *   every such HyRA is a LoRA (A = P_A·U_A·Ā, B = P_B·U_B·B_1), to 1e-10.
 * - On q and v at once the shared seed Ā ties A^q and A^v to one r-dimensional row space when σ is the
 *   identity: a pair of LoRAs whose A's share a row space is representable, and rank [A^q; A^v] <= r;
 *   a nonlinear σ lifts that rank limit (rank 2r). Which widths then hold every LoRA pair is
 *   expressivity.test.ts's.
 * - LoRA is MH-LoRA with every A_h equal.
 * - exportAsLora writes a PEFT LoRA that computes what the HyRA (or MH-LoRA) adapter computes.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Generator, noGrad, tensor } from "@tsgrad/core";
import { assertArrayClose, checkProperty } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  type AdapterLayer,
  getPeftModel,
  type HyraProjection,
  LoraLinear,
  loadAdapter,
  type PeftConfigInput,
  type PeftModel,
} from "../src/node.ts";
import { fromFlat, inverse, type Matrix, matmul, maxAbsDiff, rank, transpose } from "./support/host.ts";
import { Attn, inputsFor, MODEL_F32, outputOf, tinyEncoder } from "./support/models.ts";
import { setParameters } from "./support/params.ts";
import { withTempDir } from "./support/tmp.ts";

function randomMatrix(rng: Generator, rows: number, cols: number): Matrix {
  return fromFlat(rng.normal(rows * cols), rows, cols);
}

/**
 * A random matrix near the identity (padded with zeros when not square): its singular values stay in
 * [0.6, 1.4], so the inverses the constructions take lose no more than a digit or two of float64.
 */
function wellConditioned(rng: Generator, rows: number, cols: number): Matrix {
  const noise = rng.normal(rows * cols);
  const size = Math.max(rows, cols);
  return Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === j ? 1 : 0) + (0.4 * noise[i * cols + j]) / Math.sqrt(size) / 2),
  );
}

/** The left inverse (XᵀX)⁻¹Xᵀ of a full-column-rank X, so that pinv(X)·X = I. */
function leftInverse(x: Matrix): Matrix {
  return matmul(inverse(matmul(transpose(x), x)), transpose(x));
}

async function deltaOf(peft: PeftModel<Attn>, p: string): Promise<Matrix> {
  const layer = peft.model.attn.getSubmodule(p) as AdapterLayer;
  const delta = noGrad(() => layer.deltaWeight("default"));
  return fromFlat(await delta.data(), delta.shape[0], delta.shape[1]);
}

const H = "base_model.hyra.attn.default.";
const L = (p: string) => `base_model.model.attn.${p}.lora_`;

/**
 * The same attention module (same base weights) twice: with LoRA and with HyRA (one head, identity σ)
 * on `projections`, r and alpha shared, hidden width m.
 */
function pair(d: number, r: number, m: number, projections: string[], seed: number) {
  const make = (config: PeftConfigInput) => {
    const rng = new Generator(seed);
    const model = new Attn(d, 1);
    // identical base weights in both copies
    for (const [, p] of model.namedParameters()) noGrad(() => p.assign(tensor(rng.normal(p.size), [...p.shape], "float64")));
    return getPeftModel(model, config);
  };
  const lora = make({ method: "lora", r, alpha: 3, targetModules: projections });
  const hyra = make({ method: "hyra", r, alpha: 3, targetModules: projections, activation: "identity", hiddenWidth: m });
  return { lora, hyra };
}

async function sameFunction(a: PeftModel<Attn>, b: PeftModel<Attn>, projections: string[], seed: number): Promise<void> {
  for (const p of projections) {
    const err = maxAbsDiff(await deltaOf(a, p), await deltaOf(b, p));
    assert.ok(err < 1e-10, `ΔW_${p} differs by ${err}`);
  }
  const x = tensor(new Generator(seed + 1).normal(2 * 3 * a.model.d), [2, 3, a.model.d], "float64");
  assertArrayClose(await outputOf(a, x), await outputOf(b, x), { atol: 1e-10, rtol: 0 }, { what: "outputs" });
}

const sizes = fc
  .record({
    d: fc.integer({ min: 2, max: 5 }),
    r: fc.integer({ min: 1, max: 5 }),
    extra: fc.integer({ min: 0, max: 2 }),
    seed: fc.nat(1000),
  })
  .filter(({ d, r }) => r <= d);

test("LoRA -> HyRA: seeds and a linear generator chosen so that HyRA equals any given LoRA (one head, one projection)", async () => {
  await checkProperty(
    "every LoRA is a HyRA",
    sizes,
    async ({ d, r, extra, seed }) => {
      // Θ_B's P_B·U_B is d×d here (d_h = d), so m >= d; Θ_A needs m >= r
      const m = d + extra;
      const { lora, hyra } = pair(d, r, m, ["q"], seed);
      const rng = new Generator(seed + 2);
      const [AL, BL] = [randomMatrix(rng, r, d), randomMatrix(rng, d, r)];
      setParameters(lora, { [`${L("q")}A.default.weight`]: AL, [`${L("q")}B.default.weight`]: BL });
      // A^q = P_A·U_A·Ā = A_L with random U_A, P_A: Ā = (P_A·U_A)⁻¹·A_L; likewise B_1 = (P_B·U_B)⁻¹·B_L
      const [UA, PA, UB, PB] = [
        wellConditioned(rng, m, r),
        wellConditioned(rng, r, m),
        wellConditioned(rng, m, d),
        wellConditioned(rng, d, m),
      ];
      setParameters(hyra, {
        [`${H}theta_A.U`]: UA,
        [`${H}theta_A.P.q`]: PA,
        [`${H}seed_A`]: matmul(inverse(matmul(PA, UA)), AL),
        [`${H}theta_B.U`]: UB,
        [`${H}theta_B.P.q`]: PB,
        [`${H}seed_B`]: [matmul(inverse(matmul(PB, UB)), BL)],
      });
      await sameFunction(lora, hyra, ["q"], seed);
    },
    { numRuns: 25 },
  );
});

test("HyRA -> LoRA: every HyRA with one head and identity σ is the LoRA A = P_A·U_A·Ā, B = P_B·U_B·B_1 (q and v at once)", async () => {
  await checkProperty(
    "every HyRA is a LoRA",
    sizes,
    async ({ d, r, extra, seed }) => {
      const m = r + extra;
      const { lora, hyra } = pair(d, r, m, ["q", "v"], seed);
      const rng = new Generator(seed + 3);
      const values: Record<string, Matrix | Matrix[]> = {};
      const hyraWeights = {
        seedA: randomMatrix(rng, r, d),
        seedB: randomMatrix(rng, d, r),
        UA: randomMatrix(rng, m, r),
        UB: randomMatrix(rng, m, d),
      };
      values[`${H}seed_A`] = hyraWeights.seedA;
      values[`${H}seed_B`] = [hyraWeights.seedB];
      values[`${H}theta_A.U`] = hyraWeights.UA;
      values[`${H}theta_B.U`] = hyraWeights.UB;
      const loraValues: Record<string, Matrix> = {};
      for (const p of ["q", "v"]) {
        const [PA, PB] = [randomMatrix(rng, r, m), randomMatrix(rng, d, m)];
        values[`${H}theta_A.P.${p}`] = PA;
        values[`${H}theta_B.P.${p}`] = PB;
        loraValues[`${L(p)}A.default.weight`] = matmul(PA, matmul(hyraWeights.UA, hyraWeights.seedA));
        loraValues[`${L(p)}B.default.weight`] = matmul(PB, matmul(hyraWeights.UB, hyraWeights.seedB));
      }
      setParameters(hyra, values as Record<string, number[][]>);
      setParameters(lora, loraValues);
      await sameFunction(lora, hyra, ["q", "v"], seed);
    },
    { numRuns: 25 },
  );
});

test("q and v together: a LoRA pair whose A's share a row space is a HyRA (identity σ); any B's are", async () => {
  await checkProperty(
    "LoRA pairs with A^v = R·A^q are HyRAs",
    sizes,
    async ({ d, r, seed }) => {
      const m = d; // wide enough for both generators
      const { lora, hyra } = pair(d, r, m, ["q", "v"], seed);
      const rng = new Generator(seed + 4);
      const Aq = randomMatrix(rng, r, d);
      const R = wellConditioned(rng, r, r);
      const Bq = randomMatrix(rng, d, r);
      const Bv = randomMatrix(rng, d, r);
      setParameters(lora, {
        [`${L("q")}A.default.weight`]: Aq,
        [`${L("v")}A.default.weight`]: matmul(R, Aq),
        [`${L("q")}B.default.weight`]: Bq,
        [`${L("v")}B.default.weight`]: Bv,
      });
      // Ā = A^q, P_A^q = pinv(U_A) (so P_A^q·U_A = I), P_A^v = R·pinv(U_A); on the B side any seed B_1
      // works: P_B^p = B^p·pinv(U_B·B_1) maps U_B·B_1 to B^p
      const UA = wellConditioned(rng, m, r);
      const UB = wellConditioned(rng, m, d);
      const B1 = wellConditioned(rng, d, r);
      const X = matmul(UB, B1);
      setParameters(hyra, {
        [`${H}seed_A`]: Aq,
        [`${H}theta_A.U`]: UA,
        [`${H}theta_A.P.q`]: leftInverse(UA),
        [`${H}theta_A.P.v`]: matmul(R, leftInverse(UA)),
        [`${H}seed_B`]: [B1],
        [`${H}theta_B.U`]: UB,
        [`${H}theta_B.P.q`]: matmul(Bq, leftInverse(X)),
        [`${H}theta_B.P.v`]: matmul(Bv, leftInverse(X)),
      });
      await sameFunction(lora, hyra, ["q", "v"], seed);
    },
    { numRuns: 25 },
  );
});

test("with identity σ, rank [A^q; A^v] <= r (one row space from Ā); GELU lifts it to 2r", async () => {
  for (const [activation, expected] of [
    ["identity", 3],
    ["gelu", 6],
  ] as const) {
    const peft = getPeftModel(new Attn(12, 2), { method: "hyra", r: 3, hiddenWidth: 8, activation, initLoraWeights: false });
    const factors = ["q", "v"].map((p) => noGrad(() => (peft.model.attn.getSubmodule(p) as HyraProjection).loraFactors("default").A));
    const rows = (await Promise.all(factors.map(async (A) => fromFlat(await A.data(), 3, 12)))).flat();
    assert.is(rank(rows), expected, activation);
  }
});

test("LoRA is MH-LoRA with every head's A_h equal to A and B_h the head's rows of B", async () => {
  const seed = 5;
  const rng = new Generator(seed);
  const [d, heads, r] = [6, 3, 2];
  const build = (config: PeftConfigInput) => {
    const base = new Generator(seed + 1);
    const model = new Attn(d, heads);
    for (const [, p] of model.namedParameters()) noGrad(() => p.assign(tensor(base.normal(p.size), [...p.shape], "float64")));
    return getPeftModel(model, config);
  };
  const lora = build({ method: "lora", r, targetModules: ["q"] });
  const mh = build({ method: "mh-lora", r, targetModules: ["q"] });
  const A = randomMatrix(rng, r, d);
  const B = randomMatrix(rng, d, r);
  setParameters(lora, { [`${L("q")}A.default.weight`]: A, [`${L("q")}B.default.weight`]: B });
  setParameters(mh, {
    "base_model.model.attn.q.mh_lora_A.default.weight": [A, A, A],
    "base_model.model.attn.q.mh_lora_B.default.weight": [B.slice(0, 2), B.slice(2, 4), B.slice(4, 6)],
  });
  await sameFunction(lora, mh, ["q"], seed);
});

for (const method of ["hyra", "mh-lora"] as const) {
  test(`exportAsLora: the ${method} adapter written as a plain PEFT LoRA computes the same function`, async () => {
    const config = { method, r: 2, alpha: 6, initLoraWeights: false, modulesToSave: ["head"], bias: "lora_only" } as PeftConfigInput;
    const peft = getPeftModel(tinyEncoder().eval(), config);
    const x = inputsFor(peft.model);
    const adapted = await outputOf(peft, x);
    await withTempDir(async (dir) => {
      await peft.exportAsLora(dir);
      const json = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
      const rank = method === "hyra" ? 2 : 2 * 4;
      assert.is(json.peft_type, "LORA");
      assert.is(json.r, rank);
      // the scale s = 6 / 2 is kept: lora_alpha = s·rank
      assert.is(json.lora_alpha, 3 * rank);
      assert.equal(json.target_modules, ["blocks.0.attn.q", "blocks.0.attn.v", "blocks.1.attn.q", "blocks.1.attn.v"]);
      assert.equal(json.modules_to_save, ["head"]);
      const loaded = await loadAdapter(tinyEncoder().eval(), dir);
      assert.ok(loaded.model.blocks.at(0).getSubmodule("attn.q") instanceof LoraLinear);
      const exported = await outputOf(loaded, x);
      if (method === "hyra") {
        // the same x·Aᵀ·Bᵀ·s, in the same order, on the same factors
        assert.equal(exported, adapted);
      } else {
        assertArrayClose(exported, adapted, MODEL_F32, { what: "exported MH-LoRA outputs" });
      }
    });
  });
}

test.run();

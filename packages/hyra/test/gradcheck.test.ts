/**
 * @file float64 gradient checks through each adapter on an attention module adapted on q and v at once:
 * random small sizes and options (fast-check), every trainable adapter weight and the input as inputs,
 * so HyRA's check runs through the generators into the seeds. Directional checks cover all inputs in a
 * few forward passes; element-by-element checks pin HyRA down completely on a tiny case, for every
 * combination of its options (HYRA_OPTIONS), each at a point two AdamW steps from its own initialisation.
 */

import { grad, manualSeed, mse, randn, type Tensor, tidy } from "@tsgrad/core";
import { checkProperty, gradcheck, gradcheckDirectional } from "@tsgrad/core/testing";
import { AdamW, functionalCall } from "@tsgrad/nn";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { getPeftModel, type HyraOptions, type PeftConfigInput, type PeftModel } from "../src/index.ts";
import { Attn, inputsFor } from "./support/models.ts";
import { combinations, label, type OptionTable } from "./support/options.ts";

/** fn(x, ...weights) running the adapted attention with those weights in place of the trainable ones. */
function asFunction(peft: PeftModel<Attn>): { fn: (x: Tensor, ...ws: Tensor[]) => Tensor; names: string[]; weights: Tensor[] } {
  const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
  const names = trainable.map(([n]) => n);
  return {
    names,
    weights: trainable.map(([, p]) => p),
    fn: (x, ...ws) => functionalCall(peft, names, ws, () => peft.forward(x)),
  };
}

/**
 * Every HyRA option and the values it takes, in one place: the element-wise check runs every combination
 * and the directional property draws from them. Typed against HyraOptions, so an option added there
 * fails to compile here until it has its entry.
 */
const HYRA_OPTIONS: OptionTable<Omit<HyraOptions, "hiddenWidth">> = {
  activation: ["gelu", "tanh", "identity", "relu"],
  mixing: ["feature", "rank"],
  perHeadGenerator: [false, true],
  sharedTrunk: [true, false],
  sharedSeeds: [true, false],
  hyraInit: ["zero-output", "zero-seeds"],
  headEmbedding: [null, 1],
};

/**
 * The combinations the config accepts: zero seeds need σ'(0) ≠ 0, which ReLU's is not; a compact
 * embedding of 1 needs the mixed axis larger, so rank mixing (r = 1 in the element-wise case) has none.
 */
const HYRA_COMBINATIONS = combinations(HYRA_OPTIONS).filter(
  (o) => !(o.hyraInit === "zero-seeds" && o.activation === "relu") && !(o.mixing === "rank" && o.headEmbedding !== null),
);

/** A compact embedding fits a shape when it is below the axis Θ_B mixes (d_h, or r with rank mixing). */
function fits(s: { headSize: number; r: number }, o: Record<string, unknown>): boolean {
  const e = o.headEmbedding as number | null | undefined;
  return e == null || e < (o.mixing === "rank" ? s.r : s.headSize);
}

const shapes = fc.record({
  heads: fc.integer({ min: 1, max: 3 }),
  headSize: fc.integer({ min: 1, max: 3 }),
  r: fc.integer({ min: 1, max: 3 }),
  seed: fc.nat(1000),
});

async function check(
  name: string,
  extra: fc.Arbitrary<Record<string, unknown>>,
  config: (s: { r: number } & Record<string, unknown>) => PeftConfigInput,
  rankLimit: (s: { heads: number; headSize: number }) => number,
) {
  await checkProperty(
    name,
    fc.tuple(shapes, extra).filter(([s, o]) => s.r <= rankLimit(s) && fits(s, o)),
    async ([{ heads, headSize, r, seed }, options]) => {
      manualSeed(seed);
      const peft = getPeftModel(new Attn(heads * headSize, heads), config({ r, ...options }));
      const { fn, names, weights } = asFunction(peft);
      assert.ok(names.some((n) => n.includes(".q.") || n.includes("P.q")) && names.some((n) => n.includes(".v.") || n.includes("P.v")));
      const x = inputsFor(peft.model, { batch: 2, length: 2, dtype: "float64", seed });
      await gradcheckDirectional(fn, [x, ...weights], { seed, directions: 3 });
    },
    // every run builds a module and runs a dozen float64 forward passes; 20 keep the file within seconds
    { numRuns: 20 },
  );
}

test("LoRA on q and v: gradients of the input, A and B", async () => {
  await check(
    "lora gradcheck",
    fc.record({ alpha: fc.constantFrom(1, 2.5), useRslora: fc.boolean() }),
    (o) => ({ method: "lora", initLoraWeights: false, ...o }) as PeftConfigInput,
    ({ heads, headSize }) => heads * headSize,
  );
});

test("MH-LoRA on q and v: gradients of the input and every head's A_h, B_h", async () => {
  await check(
    "mh-lora gradcheck",
    fc.record({ alpha: fc.constantFrom(1, 2.5) }),
    (o) => ({ method: "mh-lora", initLoraWeights: false, ...o }) as PeftConfigInput,
    ({ headSize }) => headSize,
  );
});

test("HyRA on q and v: gradients through both generators into the seeds, for every option", async () => {
  await check(
    "hyra gradcheck",
    fc
      .record({
        options: fc.constantFrom(...HYRA_COMBINATIONS),
        hiddenWidth: fc.integer({ min: 1, max: 3 }),
        headEmbedding: fc.constantFrom(null, 1, 2),
      })
      .map(({ options, hiddenWidth, headEmbedding }) => ({ ...options, hiddenWidth, headEmbedding })),
    (o) => ({ method: "hyra", initLoraWeights: false, ...o }) as PeftConfigInput,
    ({ heads, headSize }) => heads * headSize,
  );
});

test("VeRA on q and v: gradients of the input, λ_b and λ_d", async () => {
  await check(
    "vera gradcheck",
    fc.record({ dInitial: fc.constantFrom(0.1, 1) }),
    (o) => ({ method: "vera", initWeights: false, ...o }) as PeftConfigInput,
    () => 3,
  );
});

test("HyRA, element by element, every option combination: every entry of every seed and generator weight, and of the input", async () => {
  for (const options of HYRA_COMBINATIONS) {
    // a seed at which no ReLU unit of these tiny generators (m = 2, r = 1) starts dead: one that did would
    // give a true zero gradient below (the compact seeds draw fewer numbers, so the later draws differ)
    manualSeed(options.headEmbedding === null ? 3 : 8);
    const peft = getPeftModel(new Attn(4, 2), { method: "hyra", r: 1, hiddenWidth: 2, ...options });
    const x = inputsFor(peft.model, { batch: 1, length: 2, dtype: "float64" });
    // the init's zeros (P_B or B_h) would hide most gradients: two AdamW steps from it make every weight
    // non-zero, at a point that depends on hyraInit, as the first steps of training see it
    const target = randn([1, 2, 4], { dtype: "float64" });
    const opt = new AdamW(peft.trainableParameters(), { lr: 0.1, weightDecay: 0 });
    for (let step = 0; step < 2; step++) {
      tidy(() => {
        opt.zeroGrad();
        mse(peft.forward(x), target).backward();
        opt.step();
      });
    }
    const { fn, names, weights } = asFunction(peft);
    try {
      await gradcheck(fn, [x, ...weights]);
    } catch (error) {
      throw new Error(`${label(options)}: ${(error as Error).message} (inputs: x, ${names.map(short).join(", ")})`);
    }
    // not vacuous: every weight's gradient is non-zero here
    const gradients = grad(fn(x, ...weights).sum(), weights);
    for (const [i, g] of gradients.entries()) {
      const values = Array.from(await (g as Tensor).data());
      assert.ok(
        values.some((v) => v !== 0),
        `${label(options)}: ${short(names[i])} has a zero gradient`,
      );
    }
  }
});

function short(name: string): string {
  return name.replace("base_model.hyra.attn.default.", "");
}

test.run();

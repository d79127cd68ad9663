/**
 * @file float64 gradient checks through each adapter on an attention module adapted on q and v at once:
 * random small sizes and options (fast-check), every trainable adapter weight and the input as inputs,
 * so HyRA's check runs through the generators into the seeds. Directional checks cover all inputs in a
 * few forward passes; one full element-by-element check pins HyRA down completely on a tiny case.
 */

import { grad, manualSeed, type Tensor } from "@tsgrad/core";
import { checkProperty, gradcheck, gradcheckDirectional } from "@tsgrad/core/testing";
import { functionalCall } from "@tsgrad/nn";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type Activation, getPeftModel, type Mixing, type PeftConfigInput, type PeftModel } from "../src/index.ts";
import { Attn, inputsFor } from "./support/models.ts";

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
    fc.tuple(shapes, extra).filter(([s]) => s.r <= rankLimit(s)),
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
    fc.record({
      activation: fc.constantFrom<Activation>("gelu", "tanh", "identity", "relu"),
      mixing: fc.constantFrom<Mixing>("feature", "rank"),
      perHeadGenerator: fc.boolean(),
      sharedTrunk: fc.boolean(),
      hiddenWidth: fc.integer({ min: 1, max: 3 }),
    }),
    (o) => ({ method: "hyra", initLoraWeights: false, ...o }) as PeftConfigInput,
    ({ heads, headSize }) => heads * headSize,
  );
});

test("HyRA, element by element: every entry of every seed and generator weight", async () => {
  manualSeed(3);
  const peft = getPeftModel(new Attn(4, 2), { method: "hyra", r: 2, hiddenWidth: 3, initLoraWeights: false });
  const { fn, names, weights } = asFunction(peft);
  assert.equal(
    names.map((n) => n.replace("base_model.model.attn.hyra.default.", "")),
    ["seed_A", "seed_B", "theta_A.U", "theta_A.P.q", "theta_A.P.v", "theta_B.U", "theta_B.P.q", "theta_B.P.v"],
  );
  const x = inputsFor(peft.model, { batch: 1, length: 2, dtype: "float64" });
  await gradcheck(fn, [x, ...weights]);
  // not vacuous: every weight's gradient is non-zero here (GELU, nothing initialised to zero)
  const gradients = grad(fn(x, ...weights).sum(), weights);
  for (const [i, g] of gradients.entries())
    assert.ok(
      Array.from(await (g as Tensor).data()).some((v) => v !== 0),
      `${names[i]} has a zero gradient`,
    );
});

test.run();

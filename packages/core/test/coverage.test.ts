/**
 * @file Refuses a primitive or composite without hand-computed examples, a gradcheck property (unless it
 * is not differentiable) and error cases: adding an op without its tests fails here.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import * as core from "../src/index.ts";
import { defineOp, NOT_DIFFERENTIABLE, registeredOps } from "../src/index.ts";
import { ALL_SPECS } from "../src/testing/index.ts";

/** Every exported function that is a composite of primitives (no defineOp of its own). */
export const COMPOSITES = [
  "square",
  "reciprocal",
  "rsqrt",
  "clamp",
  "maskedFill",
  "mean",
  "variance",
  "std",
  "logSumExp",
  "unsqueeze",
  "squeeze",
  "flatten",
  "transpose",
  "narrow",
  "stack",
  "split",
  "chunk",
  "tril",
  "triu",
  "indexSelect",
  "embedding",
  "linear",
  "softplus",
  "crossEntropy",
  "binaryCrossEntropyWithLogits",
  "mse",
  "dropout",
];

test("every primitive and composite has a spec with examples and error cases", () => {
  const names = new Set(ALL_SPECS.map((s) => s.name));
  const missing = [...registeredOps().keys(), ...COMPOSITES].filter((n) => !names.has(n));
  assert.equal(missing, [], `ops without a spec: ${missing.join(", ")}`);
  for (const spec of ALL_SPECS) {
    assert.ok(spec.examples.length > 0, `${spec.name}: no hand-computed example`);
    assert.ok(spec.errors.length > 0, `${spec.name}: no error case`);
  }
});

test("every differentiable op has a gradcheck property; the rest are marked", () => {
  for (const spec of ALL_SPECS) {
    const def = registeredOps().get(spec.name);
    const nondiff = def ? def.backward === NOT_DIFFERENTIABLE : spec.nondifferentiable === true;
    assert.is(spec.nondifferentiable === true, nondiff, `${spec.name}: nondifferentiable flag disagrees with the registry`);
    if (!nondiff) assert.ok(spec.inputs, `${spec.name}: no gradcheck property`);
    assert.is(spec.kind, def ? "primitive" : "composite", `${spec.name}: kind`);
  }
});

test("composites are exported and really are not registered primitives", () => {
  for (const name of COMPOSITES) {
    assert.type((core as Record<string, unknown>)[name], "function", `${name} is not exported`);
    assert.not.ok(registeredOps().has(name), `${name} is a primitive`);
  }
});

test("gradgradcheck covers at least add, mul, exp, tanh, matmul and softmax", () => {
  for (const name of ["add", "mul", "exp", "tanh", "matmul", "softmax"]) {
    assert.ok(ALL_SPECS.find((s) => s.name === name)?.gradgrad, `${name} lacks gradgradcheck`);
  }
});

test("a primitive without a backward rule fails loudly at registration", () => {
  assert.throws(
    // @ts-expect-error: backward is a required field, so this does not compile either
    () => defineOp({ name: "noBackward", forward: (_, [x]) => x }),
    /defineOp: op "noBackward" has no backward rule/,
  );
  assert.throws(() => defineOp({ name: "exp", forward: (_, [x]) => x, backward: NOT_DIFFERENTIABLE }), /defined twice/);
});

test.run();

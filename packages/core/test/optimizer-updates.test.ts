/**
 * @file The fused AdamW update equals its op-by-op definition (composite/adamw.ts) bit for bit on the
 * reference and wasm backends, in float32 and float64, with and without weight decay and AMSGrad, and
 * within the tolerance table on the gpujs backends; bad arguments are refused by name.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { adamwUpdate, type Backend, ReferenceBackend, setBackend, type Tensor, tensor, zeros } from "../src/index.ts";
import { assertArrayClose, checkProperty, composedAdamwUpdate, tolerance, valuesArb } from "../src/testing/index.ts";

const updateArb = fc.integer({ min: 1, max: 13 }).chain((n) =>
  fc.record({
    p: valuesArb(n),
    g: valuesArb(n),
    m: valuesArb(n),
    v: valuesArb(n, { min: 0, max: 2 }),
    vMax: valuesArb(n, { min: 0, max: 2 }),
    lr: fc.constantFrom(1e-3, 0.1),
    weightDecay: fc.constantFrom(0, 1e-2),
    amsgrad: fc.boolean(),
    step: fc.integer({ min: 1, max: 50 }),
  }),
);

type Update = typeof updateArb extends fc.Arbitrary<infer T> ? T : never;

async function run(backend: Backend, u: Update, dtype: "float32" | "float64", fused: boolean): Promise<number[][]> {
  const make = (values: number[]) => tensor(values, undefined, { dtype, backend });
  const [p, g, m, v, vMax] = [u.p, u.g, u.m, u.v, u.vMax].map(make);
  const options = { lr: u.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: u.weightDecay, step: u.step };
  (fused ? adamwUpdate : composedAdamwUpdate)(p, g, m, v, u.amsgrad ? vMax : null, options);
  const out = await Promise.all([p, m, v, vMax].map(async (t: Tensor) => Array.from(await t.data())));
  for (const t of [p, g, m, v, vMax]) t.dispose();
  return out;
}

const reference = new ReferenceBackend();
const wasm = await setBackend("wasm", { threads: 1 });
const gpujs = await setBackend("gpujs:cpu");

test("the fused update equals the op-by-op one bit for bit on the reference and wasm backends", async () => {
  await checkProperty("adamwUpdate = composite", updateArb, async (u) => {
    for (const dtype of ["float32", "float64"] as const) {
      const expected = await run(reference, u, dtype, false);
      assert.equal(await run(reference, u, dtype, true), expected, `reference, ${dtype}`);
      assert.equal(await run(wasm, u, dtype, true), expected, `wasm, ${dtype}`);
    }
  });
});

test("the fused update on gpujs matches the reference within the tolerance table", async () => {
  await checkProperty("adamwUpdate parity on gpujs:cpu", updateArb, async (u) => {
    const expected = await run(reference, u, "float32", false);
    const actual = await run(gpujs, u, "float32", true);
    for (const [i, what] of ["param", "expAvg", "expAvgSq", "maxExpAvgSq"].entries()) {
      assertArrayClose(actual[i], expected[i], tolerance(gpujs.name, "float32", "elementwise"), { what });
    }
  });
});

test("bad arguments are refused by name", () => {
  const a = zeros([3], { backend: reference });
  const options = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
  assert.throws(
    () => adamwUpdate(a, zeros([4], { backend: reference }), a, a, null, options),
    /adamwUpdate: every tensor must be a float32\[3\] on reference, got a float32\[4\]/,
  );
  const weight = zeros([3], { backend: reference }).requiresGrad_();
  assert.throws(
    () => adamwUpdate(weight, a, a, a, null, options),
    /adamwUpdate: refused on a tensor that requires grad while grad mode is on/,
  );
  const ints = zeros([3], { dtype: "int32", backend: reference });
  assert.throws(() => adamwUpdate(ints, ints, ints, ints, null, options), /adamwUpdate: parameters must be float32 or float64/);
});

test.run();

/**
 * @file The test helpers are tested too: a gradient check that cannot fail proves nothing. Deliberately
 * wrong ops must be rejected with messages that point at the culprit; arbitraries must stay in their
 * bounds; property failures must be replayable; closeness checks must name the worst element.
 */

import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  add,
  apply,
  broadcastShapes,
  defineOp,
  getBackend,
  mul,
  ReferenceBackend,
  sizeOf,
  type Tensor,
  tensor,
  useBackend,
} from "../src/index.ts";
import {
  assertArrayClose,
  assertClose,
  broadcastDataArb,
  broadcastShapesArb,
  checkProperty,
  float32ValuesArb,
  GRADCHECK,
  gradcheck,
  gradcheckDirectional,
  gradgradcheck,
  longReductionShapeArb,
  numRuns,
  shapeArb,
  TOLERANCES,
  tensorDataArb,
  tolerance,
  valuesArb,
} from "../src/testing/index.ts";

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<string> {
  try {
    await promise;
  } catch (e) {
    const message = (e as Error).message;
    assert.match(message, pattern);
    return message;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
  return "";
}

// ---- deliberately wrong ops ---------------------------------------------------------------------

/** x², with the backward rule of the identity: dy instead of 2·x·dy. */
const wrongSquareDef = defineOp({
  name: "testingTest.wrongSquare",
  forward: (be, [x]) => ({ storage: be.binary("mul", x, x, x.shape, x.dtype), shape: x.shape, dtype: x.dtype }),
  backward: (_, dy) => [() => dy],
});
const wrongSquare = (x: Tensor) => apply(wrongSquareDef, [x], undefined);

/** x², with a correct first derivative written on detach(x): second derivatives are lost. */
const detachedSquareDef = defineOp({
  name: "testingTest.detachedSquare",
  forward: (be, [x]) => ({ storage: be.binary("mul", x, x, x.shape, x.dtype), shape: x.shape, dtype: x.dtype }),
  backward: ({ inputs: [x] }, dy) => [() => mul(dy, mul(x.detach(), 2))],
});
const detachedSquare = (x: Tensor) => apply(detachedSquareDef, [x], undefined);

const square = (x: Tensor) => mul(x, x);

const checks = suite("gradient checks reject wrong gradients");

// x = 0.5 is the one point where the wrong rule is right (1 = 2x): the check must find the others;
// the error |w·(1 - 2x)| is largest at x = 10, flat index 2 = [1,0]
const X = () =>
  tensor(
    [
      [0.5, 1],
      [10, 0.25],
    ],
    undefined,
    "float64",
  );

checks("a correct op passes all three checks (the control)", async () => {
  await gradcheck(square, [X()]);
  await gradcheckDirectional(square, [X()]);
  await gradgradcheck(square, [X()]);
  await gradcheck(detachedSquare, [X()]);
  await gradcheckDirectional(detachedSquare, [X()]);
});

checks("gradcheck names the input and the worst index", async () => {
  await rejects(gradcheck(wrongSquare, [X()]), /^gradcheck: input 0 \[2,2\] at index \[1,0\]: analytic .*, numeric /);
  // with a correct first input, the wrong second one is named
  const y = tensor([3], undefined, "float64");
  await rejects(
    gradcheck((a, b) => add(square(a), wrongSquare(b)), [X(), y]),
    /^gradcheck: input 1 \[1\] at index \[0\]/,
  );
});

checks("gradcheckDirectional rejects it and names the wrong input", async () => {
  await rejects(gradcheckDirectional(wrongSquare, [X()]), /^gradcheckDirectional: direction 0: .*wrong along input 0 \[2,2\]/);
  const message = await rejects(
    gradcheckDirectional((a, b) => add(square(a), wrongSquare(b)), [X(), tensor([3, -1], undefined, "float64")]),
    /wrong along input 1 \[2\]/,
  );
  assert.not.match(message, /input 0/, "the correct input was blamed");
});

checks("gradgradcheck rejects lost second derivatives that gradcheck cannot see", async () => {
  await rejects(gradgradcheck(detachedSquare, [X()]), /^gradgradcheck: input 0 \[2,2\] at index \[\d,\d\]: analytic 0, numeric /);
});

checks("non-float outputs and functions without float inputs are refused", async () => {
  await rejects(
    gradcheck((x) => x.gt(0), [X()]),
    /gradcheck: fn must return a float tensor/,
  );
  await rejects(
    gradcheck((i) => i.cast("float64"), [tensor([1, 2])]),
    /gradcheck: no float input to check/,
  );
});

checks("the checks read back asynchronously, so they run in strict-async mode", async () => {
  const previous = getBackend();
  useBackend(new ReferenceBackend({ strictAsync: true }));
  try {
    await gradcheck(square, [X()]);
    await gradgradcheck(square, [X()]);
    await rejects(gradcheck(wrongSquare, [X()]), /gradcheck: input 0/);
  } finally {
    useBackend(previous);
  }
});

// ---- arbitraries --------------------------------------------------------------------------------

const arbitraries = suite("arbitraries");

const SAMPLES = { numRuns: 300, seed: 42 };

arbitraries("shapeArb stays inside its bounds and reaches them", () => {
  const bounds = { minRank: 1, maxRank: 3, minDim: 0, maxDim: 5, maxSize: 24 };
  const shapes = fc.sample(shapeArb(bounds), SAMPLES);
  for (const s of shapes) {
    assert.ok(s.length >= 1 && s.length <= 3, `rank of [${s}]`);
    assert.ok(
      s.every((d) => Number.isInteger(d) && d >= 0 && d <= 5),
      `dims of [${s}]`,
    );
    assert.ok(sizeOf(s) <= 24, `size of [${s}]`);
  }
  // the edges are generated, not just allowed: zero-size dims, rank 1 and rank 3
  assert.ok(shapes.some((s) => s.includes(0)));
  assert.ok(shapes.some((s) => s.length === 1));
  assert.ok(shapes.some((s) => s.length === 3));
  // the defaults include rank 0
  assert.ok(fc.sample(shapeArb(), SAMPLES).some((s) => s.length === 0));
});

arbitraries("broadcastShapesArb tuples really broadcast", () => {
  for (const n of [1, 2, 3]) {
    for (const shapes of fc.sample(broadcastShapesArb(n, { maxRank: 4 }), SAMPLES)) {
      assert.is(shapes.length, n);
      broadcastShapes("test", ...shapes);
    }
  }
  // and the tuples are not trivially equal shapes: some need actual broadcasting
  const tuples = fc.sample(broadcastShapesArb(2), SAMPLES);
  assert.ok(tuples.some(([a, b]) => a.length !== b.length || a.some((d, i) => d !== b[i])));
});

arbitraries("broadcastDataArb gives each shape the right number of values", () => {
  for (const data of fc.sample(broadcastDataArb(2, { maxSize: 30 }), SAMPLES)) {
    for (const d of data) assert.is(d.values.length, sizeOf(d.shape));
    broadcastShapes("test", ...data.map((d) => d.shape));
  }
});

arbitraries("longReductionShapeArb sizes exceed 1000", () => {
  for (const s of fc.sample(longReductionShapeArb(), SAMPLES)) assert.ok(sizeOf(s) > 1000, `[${s}]`);
});

arbitraries("valuesArb and tensorDataArb respect range and kinks", () => {
  for (const v of fc.sample(valuesArb(20, { min: -1, max: 2, avoid: [0, 1], margin: 0.1 }), SAMPLES)) {
    assert.is(v.length, 20);
    for (const x of v) {
      assert.ok(x >= -1 && x <= 2, `${x} out of range`);
      assert.ok(Math.abs(x) >= 0.1 && Math.abs(x - 1) >= 0.1, `${x} too close to a kink`);
    }
  }
  for (const d of fc.sample(tensorDataArb({ maxSize: 12 }, { min: 0, max: 1 }), SAMPLES)) {
    assert.is(d.values.length, sizeOf(d.shape));
    assert.ok(d.values.every((x) => x >= 0 && x <= 1));
  }
});

arbitraries("float32ValuesArb values are exactly representable in float32", () => {
  for (const v of fc.sample(float32ValuesArb(10, { min: -2, max: 2 }), SAMPLES)) {
    for (const x of v) {
      assert.is(Math.fround(x), x);
      assert.ok(x >= -2 && x <= 2);
    }
  }
});

// ---- checkProperty ------------------------------------------------------------------------------

const properties = suite("checkProperty");

/** Fails on any multiple of 7; without shrinking, which multiple depends on the seed. */
const sevens = fc.noShrink(fc.integer());
const noSevens = (v: number) => {
  if (v % 7 === 0) throw new Error(`${v} is a multiple of 7`);
};

function counterexample(message: string): string {
  const found = /failed after \d+ runs on (.*)\n/.exec(message);
  assert.ok(found, `no counterexample in: ${message}`);
  return (found as RegExpExecArray)[1];
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

properties("a passing property passes", async () => {
  await checkProperty("integers are integers", fc.integer(), (v) => {
    if (!Number.isInteger(v)) throw new Error("not an integer");
  });
});

properties("a failure names the property, the counterexample, the error and the replay line", async () => {
  const message = await withEnv({ TSGRAD_FC_SEED: undefined, TSGRAD_FC_PATH: undefined }, () =>
    rejects(checkProperty("no sevens A", sevens, noSevens), /^property "no sevens A" failed after \d+ runs on -?\d+/),
  );
  assert.match(message, /is a multiple of 7/);
  assert.match(message, /replay: TSGRAD_FC_SEED=-?\d+ TSGRAD_FC_PATH=\S+/);
});

properties("replaying with TSGRAD_FC_SEED and TSGRAD_FC_PATH reproduces the counterexample", async () => {
  const clean = { TSGRAD_FC_SEED: undefined, TSGRAD_FC_PATH: undefined };
  const first = await withEnv(clean, () => rejects(checkProperty("no sevens A", sevens, noSevens), /failed/));
  // another name gives another seed, hence (without shrinking) another counterexample...
  const other = await withEnv(clean, () => rejects(checkProperty("no sevens B", sevens, noSevens), /failed/));
  assert.is.not(counterexample(other), counterexample(first));
  // ...unless the replay line from the first failure is in the environment
  const [, seed, path] = /TSGRAD_FC_SEED=(\S+) TSGRAD_FC_PATH=(\S+)/.exec(first) as RegExpExecArray;
  const replayed = await withEnv({ TSGRAD_FC_SEED: seed, TSGRAD_FC_PATH: path }, () =>
    rejects(checkProperty("no sevens B", sevens, noSevens), /failed/),
  );
  assert.is(counterexample(replayed), counterexample(first));
  // the seed alone replays the whole run, which fails on the same value too
  const seedOnly = await withEnv({ TSGRAD_FC_SEED: seed, TSGRAD_FC_PATH: undefined }, () =>
    rejects(checkProperty("no sevens B", sevens, noSevens), /failed/),
  );
  assert.is(counterexample(seedOnly), counterexample(first));
});

properties("run counts follow the profile; a backend's mode suffix is ignored", async () => {
  await withEnv({ TSGRAD_FC_PROFILE: undefined }, async () => {
    assert.is(numRuns(), 100);
    assert.is(numRuns("reference(strict-async)"), 100);
    assert.is(numRuns("gpujs:webgpu"), 10);
    assert.is(numRuns("some-new-backend"), 100);
  });
  await withEnv({ TSGRAD_FC_PROFILE: "thorough" }, async () => {
    assert.is(numRuns(), 1000);
  });
  await withEnv({ TSGRAD_FC_PROFILE: "fast" }, async () => {
    assert.throws(() => numRuns(), /TSGRAD_FC_PROFILE must be "ci" or "thorough", got "fast"/);
  });
  let runs = 0;
  await checkProperty("counted", fc.integer(), () => void runs++, { numRuns: 17 });
  assert.is(runs, 17);
});

// ---- closeness and tolerances -------------------------------------------------------------------

const closeness = suite("assertArrayClose, assertClose and tolerance()");

closeness("reports the worst index, not the first", () => {
  const tol = { atol: 0.01, rtol: 0 };
  assert.throws(
    () => assertArrayClose([1, 2.05, 3.5, 4.1], [1, 2, 3, 4], tol),
    /^values differ at flat index 2: got 3\.5, expected 3 \(\|diff\| = 0\.5, atol 0\.01, rtol 0\)/,
  );
  assert.throws(() => assertArrayClose([[1, 9]], [[1, 2]], tol, { what: "grad 0" }), /^grad 0 differ at flat index 1/);
  // within tolerance (absolute or relative) passes
  assertArrayClose([1.005, 100.5], [1, 100], { atol: 0.01, rtol: 0.01 });
});

closeness("NaN matches NaN, infinities must match exactly, lengths must agree", () => {
  const tol = { atol: 1, rtol: 1 };
  assertArrayClose([Number.NaN, Number.POSITIVE_INFINITY], [Number.NaN, Number.POSITIVE_INFINITY], tol);
  assert.throws(() => assertArrayClose([0, Number.NaN], [0, 1], tol), /flat index 1: got NaN/);
  assert.throws(() => assertArrayClose([1, 5], [1, Number.NaN], tol), /flat index 1/);
  assert.throws(() => assertArrayClose([Number.NEGATIVE_INFINITY], [Number.POSITIVE_INFINITY], tol), /flat index 0/);
  assert.throws(() => assertArrayClose([1e300], [Number.POSITIVE_INFINITY], tol), /flat index 0/);
  assert.throws(() => assertArrayClose([1, 2], [1, 2, 3], tol), /values: got 2 elements, expected 3/);
});

closeness("a scale replaces |expected| in the relative bound", () => {
  // |0.5 - 0| = 0.5 <= 0.1·10 with scale 10, but not with the default scale |0| = 0
  assertArrayClose([0.5], [0], { atol: 0, rtol: 0.1 }, { scale: [10] });
  assert.throws(() => assertArrayClose([0.5], [0], { atol: 0, rtol: 0.1 }), /flat index 0/);
});

closeness("assertClose checks the shape as well as the values", async () => {
  const t = tensor([1, 2, 3, 4], [2, 2], "float64");
  await assertClose(t, [1, 2, 3, 4], tolerance("reference", "float64"), { shape: [2, 2] });
  await rejects(
    assertClose(t, [1, 2, 3, 4], tolerance("reference", "float64"), { shape: [4] }),
    /shape \[2,2\] differs from expected \[4\]/,
  );
});

closeness("tolerance() falls back to the reference table; integers are exact", () => {
  assert.equal(tolerance("gpujs:webgl", "float32", "matmul"), TOLERANCES.reference.float32.matmul);
  assert.equal(tolerance("reference(strict-async)", "float64"), TOLERANCES.reference.float64.elementwise);
  assert.equal(tolerance("anything", "int32", "matmul"), { atol: 0, rtol: 0 });
  assert.equal(tolerance("reference", "bool"), { atol: 0, rtol: 0 });
  TOLERANCES.testOnly = {
    float32: { ...TOLERANCES.reference.float32, reduction: { atol: 0.5, rtol: 0.5 } },
    float64: TOLERANCES.reference.float64,
  };
  try {
    assert.equal(tolerance("testOnly", "float32", "reduction"), { atol: 0.5, rtol: 0.5 });
  } finally {
    delete TOLERANCES.testOnly;
  }
  assert.ok(GRADCHECK.eps > 0 && GRADCHECK.atol > 0);
});

checks.run();
arbitraries.run();
properties.run();
closeness.run();

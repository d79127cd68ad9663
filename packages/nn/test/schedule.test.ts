/**
 * @file Learning-rate schedules at hand-computed steps, LRScheduler driving an optimiser's groups, and
 * clipGradNorm: the norm, the scaling, the no-op below the maximum, non-finite norms, strict-async.
 */

import { memory, ReferenceBackend, type Tensor, tensor } from "@tsgrad/core";
import { assertClose } from "@tsgrad/core/testing";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AdamW, clipGradNorm, constant, cosineDecay, LRScheduler, linearWarmup, Parameter, SGD, warmupCosine } from "../src/index.ts";

const EXACT = { atol: 0, rtol: 0 };
const F64 = { atol: 1e-12, rtol: 1e-12 };

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12 + 1e-12 * Math.abs(expected), `${what}: got ${actual}, expected ${expected}`);
}

// ---- schedules ---------------------------------------------------------------------------------

const schedules = suite("schedules: values at chosen steps");

schedules("constant", () => {
  const s = constant(0.1);
  assert.is(s(0), 0.1);
  assert.is(s(12345), 0.1);
});

schedules("linearWarmup: lr·(s+1)/(warmupSteps+1) during warmup, then lr", () => {
  const s = linearWarmup({ lr: 1, warmupSteps: 4 });
  // (0+1)/5, (1+1)/5, (3+1)/5, then the full rate
  close(s(0), 0.2, "step 0");
  close(s(1), 0.4, "step 1");
  close(s(3), 0.8, "step 3");
  assert.is(s(4), 1);
  assert.is(s(100), 1);
  assert.is(linearWarmup({ lr: 0.3, warmupSteps: 0 })(0), 0.3, "no warmup");
});

schedules("cosineDecay: minLr + (lr − minLr)·(1 + cos(π·s/decaySteps))/2, then minLr", () => {
  const s = cosineDecay({ lr: 1, minLr: 0.1, decaySteps: 10 });
  assert.is(s(0), 1);
  // s = 2: cos(0.2π) = 0.80901699437…, so 0.1 + 0.9·1.80901699437/2 = 0.91405764746…
  close(s(2), 0.1 + 0.45 * (1 + Math.cos(0.2 * Math.PI)), "step 2");
  close(s(2), 0.9140576474687264, "step 2 (decimal)");
  close(s(5), 0.55, "halfway: cos(π/2) = 0");
  close(s(10), 0.1, "end");
  assert.is(s(20), 0.1, "after the end");
  close(cosineDecay({ lr: 2, decaySteps: 4 })(2), 1, "minLr defaults to 0");
});

schedules("warmupCosine: nanoGPT's get_lr", () => {
  const s = warmupCosine({ lr: 1, minLr: 0, warmupSteps: 2, totalSteps: 6 });
  close(s(0), 1 / 3, "warmup: (0+1)/(2+1)");
  close(s(1), 2 / 3, "warmup: (1+1)/(2+1)");
  assert.is(s(2), 1, "the peak at the end of warmup");
  close(s(4), 0.5, "halfway through the decay: (4−2)/(6−2) = 0.5, cos(π/2) = 0");
  close(s(6), 0, "decayed");
  assert.is(s(7), 0, "after totalSteps: minLr");
  // nanoGPT's GPT-2 settings: 6e-4 peak, 6e-5 floor, 2000 warmup steps, decay until 600000
  const gpt2 = warmupCosine({ lr: 6e-4, minLr: 6e-5, warmupSteps: 2000, totalSteps: 600000 });
  close(gpt2(0), 6e-4 / 2001, "first step");
  close(gpt2(2000), 6e-4, "peak");
  close(gpt2(301000), 3.3e-4, "midpoint: halfway between 6e-4 and 6e-5");
  assert.is(gpt2(600001), 6e-5);
});

schedules("bad configurations and steps name the schedule and the value", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => constant(-1), /^constant: lr must be a finite number >= 0, got -1$/],
    [() => linearWarmup({ lr: 1, warmupSteps: 2.5 }), /linearWarmup: warmupSteps must be an integer >= 0, got 2\.5/],
    [() => linearWarmup({ lr: Number.NaN, warmupSteps: 2 }), /linearWarmup: lr must be a finite number >= 0, got NaN/],
    [() => cosineDecay({ lr: 1, decaySteps: 0 }), /cosineDecay: decaySteps must be an integer >= 1, got 0/],
    [() => cosineDecay({ lr: 0.1, minLr: 0.2, decaySteps: 5 }), /cosineDecay: minLr \(0\.2\) must not exceed lr \(0\.1\)/],
    [() => cosineDecay({ lr: 1, minLr: -0.1, decaySteps: 5 }), /cosineDecay: minLr must be a finite number >= 0, got -0\.1/],
    [() => warmupCosine({ lr: 1, warmupSteps: 5, totalSteps: 5 }), /warmupCosine: totalSteps must be an integer >= 6, got 5/],
    [() => warmupCosine({ lr: 1, warmupSteps: -1, totalSteps: 5 }), /warmupCosine: warmupSteps must be an integer >= 0, got -1/],
    [() => constant(0.1)(-1), /constant: step must be a non-negative integer, got -1/],
    [() => cosineDecay({ lr: 1, decaySteps: 3 })(1.5), /cosineDecay: step must be a non-negative integer, got 1\.5/],
  ];
  for (const [fn, pattern] of cases) assert.throws(fn, pattern);
});

schedules.run();

// ---- LRScheduler --------------------------------------------------------------------------------

const scheduler = suite("LRScheduler");

function twoGroups(): { opt: SGD; params: Tensor[] } {
  const params = [new Parameter(tensor([1, 2], undefined, "float64")), new Parameter(tensor([3], undefined, "float64"))];
  return { opt: new SGD([{ params: [params[0]] }, { params: [params[1]], lr: 0.5 }], { lr: 0.1 }), params };
}

scheduler("sets schedule(0) at construction and schedule(t) after the t-th step, in every group", () => {
  const { opt, params } = twoGroups();
  const s = new LRScheduler(opt, linearWarmup({ lr: 1, warmupSteps: 3 }));
  assert.is(s.lastStep, 0);
  assert.equal(s.lastLr(), [0.25, 0.25]);
  s.step();
  assert.equal(s.lastLr(), [0.5, 0.5]);
  s.step();
  s.step();
  assert.is(s.lastStep, 3);
  assert.equal(
    opt.paramGroups.map((g) => g.lr),
    [1, 1],
  );
  for (const p of params) p.dispose();
});

scheduler("one schedule per group keeps the groups' rates apart", () => {
  const { opt, params } = twoGroups();
  const s = new LRScheduler(opt, [cosineDecay({ lr: 0.1, decaySteps: 2 }), cosineDecay({ lr: 0.5, decaySteps: 2 })]);
  assert.equal(s.lastLr(), [0.1, 0.5]);
  s.step();
  assert.equal(s.lastLr(), [0.05, 0.25]);
  for (const p of params) p.dispose();
});

scheduler("stateDict / loadStateDict restore the step and write its rates", () => {
  const { opt, params } = twoGroups();
  const s = new LRScheduler(opt, cosineDecay({ lr: 1, decaySteps: 4 }));
  s.step();
  s.step();
  const dict = s.stateDict();
  assert.equal(dict, { step: 2 });
  const other = new LRScheduler(opt, cosineDecay({ lr: 1, decaySteps: 4 }));
  assert.equal(other.lastLr(), [1, 1], "a new scheduler starts at step 0");
  other.loadStateDict(dict);
  assert.is(other.lastStep, 2);
  assert.equal(other.lastLr(), [0.5, 0.5]);
  for (const p of params) p.dispose();
});

scheduler("the optimiser steps with the rate the scheduler set", async () => {
  const p = new Parameter(tensor([1], undefined, "float64"));
  const opt = new SGD([p], { lr: 123 });
  const s = new LRScheduler(opt, (step) => [0.5, 0.25, 0.125][step]);
  for (let t = 0; t < 2; t++) {
    p.grad = tensor([1], undefined, "float64");
    opt.step();
    s.step();
    opt.zeroGrad();
  }
  // 1 − 0.5·1 − 0.25·1
  await assertClose(p, [0.25], EXACT);
  p.dispose();
});

scheduler("errors name LRScheduler, what it got and what it expected", () => {
  const { opt, params } = twoGroups();
  assert.throws(
    () => new LRScheduler(opt, [constant(1)]),
    /LRScheduler: expected a schedule function or one per group \(2\), got a list of 1/,
  );
  assert.throws(() => new LRScheduler(opt, 0.1 as never), /LRScheduler: expected a schedule function or one per group \(2\), got number/);
  assert.throws(() => new LRScheduler({} as never, constant(1)), /LRScheduler: expected an optimiser \(with paramGroups\), got object/);
  assert.throws(
    () => new LRScheduler(opt, () => Number.NaN),
    /LRScheduler: the schedule of group 0 gave NaN at step 0; expected a finite number >= 0/,
  );
  const s = new LRScheduler(opt, (step) => 1 - step);
  s.step();
  assert.throws(() => s.step(), /LRScheduler: the schedule of group 0 gave -1 at step 2/);
  assert.throws(
    () => s.loadStateDict({ step: -3 }),
    /LRScheduler\.loadStateDict: expected \{ step \} with a non-negative integer step, got -3/,
  );
  for (const p of params) p.dispose();
});

scheduler.run();

// ---- clipGradNorm -------------------------------------------------------------------------------

const clip = suite("clipGradNorm");

/** Parameters with hand-set gradients. */
function withGrads(grads: number[][], dtype: "float32" | "float64" = "float64", backend?: ReferenceBackend): Parameter[] {
  return grads.map((g) => {
    const p = new Parameter(
      tensor(
        g.map(() => 0),
        undefined,
        { dtype, backend },
      ),
    );
    p.grad = tensor(g, undefined, { dtype, backend }).keep();
    return p;
  });
}

function release(params: Tensor[], ...more: Tensor[]): void {
  for (const p of params) {
    p.zeroGrad();
    p.dispose();
  }
  for (const t of more) t.dispose();
}

clip("returns the global 2-norm and scales every gradient by maxNorm / (norm + 1e-6)", async () => {
  // the gradients [3, 4] and [12] together have norm √(9 + 16 + 144) = 13
  const params = withGrads([[3, 4], [12]]);
  const norm = clipGradNorm(params, 1);
  await assertClose(norm, 13, F64);
  assert.equal(norm.shape, []);
  const factor = 1 / (13 + 1e-6);
  await assertClose(params[0].grad as Tensor, [3 * factor, 4 * factor], F64);
  await assertClose(params[1].grad as Tensor, [12 * factor], F64);
  release(params, norm);
});

clip("below the maximum the gradients are left exactly as they were", async () => {
  const params = withGrads([[3, 4], [12]]);
  const norm = clipGradNorm(params, 20);
  await assertClose(norm, 13, F64);
  await assertClose(params[0].grad as Tensor, [3, 4], EXACT);
  await assertClose(params[1].grad as Tensor, [12], EXACT);
  release(params, norm);
});

clip("other norms: 1, Infinity and p = 3", async () => {
  for (const [normType, expected] of [
    [1, 3 + 4 + 12],
    [Number.POSITIVE_INFINITY, 12],
    [3, Math.cbrt(27 + 64 + 1728)],
  ]) {
    const params = withGrads([[3, -4], [-12]]);
    const norm = clipGradNorm(params, 2, { normType });
    await assertClose(norm, expected, F64, { what: `normType ${normType}` });
    const factor = 2 / (expected + 1e-6);
    await assertClose(params[0].grad as Tensor, [3 * factor, -4 * factor], F64);
    release(params, norm);
  }
});

clip("parameters without gradients are skipped; none at all gives a norm of 0", async () => {
  const params = withGrads([[3, 4]]);
  const bare = new Parameter(tensor([5, 5], undefined, "float64"));
  const norm = clipGradNorm([...params, bare], 1);
  await assertClose(norm, 5, F64);
  assert.is(bare.grad, null);
  const none = clipGradNorm([bare], 1);
  await assertClose(none, 0, EXACT);
  release(params, norm, none, bare);
});

clip("one gradient tensor set on two parameters counts twice in the norm but is scaled once", async () => {
  const [a, b] = [new Parameter(tensor([0, 0], undefined, "float64")), new Parameter(tensor([0, 0], undefined, "float64"))];
  const g = tensor([3, 4], undefined, "float64").keep();
  a.grad = g;
  b.grad = g;
  const norm = clipGradNorm([a, b], 1);
  const total = Math.sqrt(2 * 25);
  await assertClose(norm, total, F64);
  await assertClose(g, [3 / (total + 1e-6), 4 / (total + 1e-6)], F64);
  a.grad = null;
  b.grad = null;
  release([a, b], g, norm);
});

clip("float32 gradients give a float32 norm; mixed dtypes promote to float64", async () => {
  const f32 = withGrads([[3, 4]], "float32");
  const norm32 = clipGradNorm(f32, 1);
  assert.is(norm32.dtype, "float32");
  await assertClose(norm32, 5, { atol: 1e-6, rtol: 1e-6 });
  const f64 = withGrads([[12]], "float64");
  const mixed = clipGradNorm([...withGrads([[3, 4]], "float32"), ...f64], 100);
  assert.is(mixed.dtype, "float64");
  await assertClose(mixed, 13, F64);
  release([...f32, ...f64], norm32, mixed);
});

clip("a single tensor may be passed instead of a list", async () => {
  const [p] = withGrads([[6, 8]]);
  const norm = clipGradNorm(p, 5);
  await assertClose(norm, 10, F64);
  await assertClose(p.grad as Tensor, [6 * (5 / (10 + 1e-6)), 8 * (5 / (10 + 1e-6))], F64);
  release([p], norm);
});

clip("an infinite norm, as in PyTorch: factor 0, so finite gradients become 0 and infinite ones NaN", async () => {
  const params = withGrads([[Number.POSITIVE_INFINITY, 1], [2]]);
  const norm = clipGradNorm(params, 1);
  await assertClose(norm, Number.POSITIVE_INFINITY, EXACT);
  await assertClose(params[0].grad as Tensor, [Number.NaN, 0], EXACT);
  await assertClose(params[1].grad as Tensor, [0], EXACT);
  release(params, norm);
});

clip("a NaN norm, as in PyTorch: every gradient becomes NaN (check the returned norm to skip the step)", async () => {
  const params = withGrads([[Number.NaN, 1], [2]]);
  const norm = clipGradNorm(params, 1);
  assert.ok(Number.isNaN(await norm.itemAsync()));
  await assertClose(params[0].grad as Tensor, [Number.NaN, Number.NaN], EXACT);
  await assertClose(params[1].grad as Tensor, [Number.NaN], EXACT);
  release(params, norm);
});

clip("works on a strict-async backend (no synchronous readback) and leaves only the norm behind", async () => {
  const strict = new ReferenceBackend({ strictAsync: true });
  const params = withGrads([[3, 4], [12]], "float32", strict);
  assert.throws(() => (params[0].grad as Tensor).dataSync(), /strict|async|synchronous/i);
  const before = memory().numTensors;
  const norm = clipGradNorm(params, 1);
  assert.is(memory().numTensors, before + 1, "only the returned norm is new");
  assert.is(norm.backend, strict);
  await assertClose(norm, 13, { atol: 1e-6, rtol: 1e-6 });
  await assertClose(params[1].grad as Tensor, [12 / 13], { atol: 1e-6, rtol: 1e-6 });
  release(params, norm);
});

clip("clipping then stepping: AdamW sees the clipped gradients", async () => {
  const p = new Parameter(tensor([1, 1], undefined, "float64"));
  p.grad = tensor([30, 40], undefined, "float64");
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0 });
  clipGradNorm([p], 5).dispose();
  await assertClose(p.grad, [30 * (5 / (50 + 1e-6)), 40 * (5 / (50 + 1e-6))], F64);
  opt.step();
  opt.zeroGrad();
  opt.disposeState();
  p.dispose();
});

clip("errors name clipGradNorm, the value and what was expected", () => {
  const [p] = withGrads([[1]]);
  assert.throws(() => clipGradNorm([p], -1), /^clipGradNorm: maxNorm must be a number >= 0, got -1$/);
  assert.throws(() => clipGradNorm([p], Number.NaN), /clipGradNorm: maxNorm must be a number >= 0, got NaN/);
  assert.throws(() => clipGradNorm([p], 1, { normType: 0 }), /clipGradNorm: normType must be a positive number or Infinity, got 0/);
  assert.throws(
    () => clipGradNorm([p], 1, { normType: "fro" as never }),
    /clipGradNorm: normType must be a positive number or Infinity, got fro/,
  );
  assert.throws(() => clipGradNorm(3 as never, 1), /clipGradNorm: expected a tensor or a list of tensors, got number/);
  assert.throws(() => clipGradNorm([p, p, "x"] as never, 1), /clipGradNorm: params\[2\] is string; expected a Tensor/);
  release([p]);
});

clip.run();

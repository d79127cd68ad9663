/**
 * @file The fused kernels on the gpujs backend: each runs its composite definition (src/composite/) on
 * the backend's own kernels, one launch per op, and frees its temporaries; the parity suites hold them
 * to the reference backend's fused kernels.
 */

import type { Shape } from "../../shape.ts";
import { sizeOf } from "../../shape.ts";
import type { AdamWScalars, Backend, BinaryOp, Operand, Storage } from "../backend.ts";

export function composedSoftmax(be: Backend, x: Operand, axis: number): Storage {
  // the composite definition, run on this backend's own kernels: max, subtract, exp, sum, divide
  const kept = x.shape.map((d, i) => (i === axis ? 1 : d));
  const max: Operand = { storage: be.reduce("max", x, [axis], x.dtype), shape: kept, dtype: x.dtype };
  const shifted: Operand = { storage: be.binary("sub", x, max, x.shape, x.dtype), shape: x.shape, dtype: x.dtype };
  const e: Operand = { storage: be.unary("exp", shifted, x.dtype), shape: x.shape, dtype: x.dtype };
  const sum: Operand = { storage: be.reduce("sum", e, [axis], x.dtype), shape: kept, dtype: x.dtype };
  const out = be.binary("div", e, sum, x.shape, x.dtype);
  for (const t of [max, shifted, e, sum]) be.free(t.storage);
  return out;
}

export function composedAdamw(be: Backend, p: Operand, g: Operand, m: Operand, v: Operand, vMax: Operand | null, h: AdamWScalars): void {
  // composite/adamw.ts on this backend's own kernels, each op rounding its result as there
  const temporaries: Operand[] = [];
  const keep = (storage: Storage): Operand => {
    const t = { storage, shape: p.shape, dtype: p.dtype };
    temporaries.push(t);
    return t;
  };
  const scalar = (value: number): Operand => {
    const t = { storage: be.fill([], value, p.dtype), shape: [] as number[], dtype: p.dtype };
    temporaries.push(t);
    return t;
  };
  const bin = (op: BinaryOp, a: Operand, b: Operand) => keep(be.binary(op, a, b, p.shape, p.dtype));
  const decayed = h.applyDecay ? bin("mul", p, scalar(h.decay)) : p;
  const mNext = bin("add", m, bin("mul", bin("sub", g, m), scalar(h.oneMinusBeta1)));
  const vNext = bin("add", bin("mul", v, scalar(h.beta2)), bin("mul", bin("mul", g, g), scalar(h.oneMinusBeta2)));
  const second = vMax ? bin("maximum", vMax, vNext) : vNext;
  const denom = bin("add", bin("div", keep(be.unary("sqrt", second, p.dtype)), scalar(h.bc2Sqrt)), scalar(h.eps));
  const pNext = bin("add", decayed, bin("mul", bin("div", mNext, denom), scalar(h.negStepSize)));
  be.assign(p, pNext);
  be.assign(m, mNext);
  be.assign(v, vNext);
  if (vMax) be.assign(vMax, second);
  for (const t of temporaries) be.free(t.storage);
}

export function composedLayerNorm(be: Backend, x: Operand, axes: number, eps: number): Storage {
  // the composite definition on this backend's own kernels: the mean and the biased variance of the
  // trailing axes, then (x − mean)·rsqrt(var + eps)
  const rank = x.shape.length;
  const reduced = Array.from({ length: axes }, (_, i) => rank - axes + i);
  const kept = x.shape.map((d, i) => (i >= rank - axes ? 1 : d));
  const cols = sizeOf(x.shape.slice(rank - axes));
  const op = (storage: Storage, shape: Shape): Operand => ({ storage, shape, dtype: x.dtype });
  const count = op(be.fill([], cols, x.dtype), []);
  const total = op(be.reduce("sum", x, reduced, x.dtype), kept);
  const mean = op(be.binary("div", total, count, kept, x.dtype), kept);
  const centered = op(be.binary("sub", x, mean, x.shape, x.dtype), x.shape);
  const squares = op(be.binary("mul", centered, centered, x.shape, x.dtype), x.shape);
  const sumSquares = op(be.reduce("sum", squares, reduced, x.dtype), kept);
  const variance = op(be.binary("div", sumSquares, count, kept, x.dtype), kept);
  const epsilon = op(be.fill([], eps, x.dtype), []);
  const shifted = op(be.binary("add", variance, epsilon, kept, x.dtype), kept);
  const std = op(be.unary("sqrt", shifted, x.dtype), kept);
  const out = be.binary("div", centered, std, x.shape, x.dtype);
  for (const t of [count, total, mean, centered, squares, sumSquares, variance, epsilon, shifted, std]) be.free(t.storage);
  return out;
}

export function composedGelu(be: Backend, x: Operand, tanhForm: boolean): Storage {
  // the composite definition on this backend's own kernels
  const op = (storage: Storage, shape: Shape = x.shape): Operand => ({ storage, shape, dtype: x.dtype });
  const temporaries: Operand[] = [];
  const constant = (v: number) => {
    const c = op(be.fill([], v, x.dtype), []);
    temporaries.push(c);
    return c;
  };
  const binary = (name: BinaryOp, a: Operand, b: Operand) => {
    const r = op(be.binary(name, a, b, x.shape, x.dtype));
    temporaries.push(r);
    return r;
  };
  let inner: Operand;
  if (tanhForm) {
    const cube = binary("mul", binary("mul", x, x), x);
    const u = binary("mul", binary("add", x, binary("mul", cube, constant(0.044715))), constant(Math.sqrt(2 / Math.PI)));
    inner = op(be.unary("tanh", u, x.dtype));
  } else {
    inner = op(be.unary("erf", binary("mul", x, constant(Math.SQRT1_2)), x.dtype));
  }
  temporaries.push(inner);
  const out = be.binary("mul", binary("mul", x, constant(0.5)), binary("add", inner, constant(1)), x.shape, x.dtype);
  for (const t of temporaries) be.free(t.storage);
  return out;
}

export function composedLogSoftmax(be: Backend, x: Operand, axis: number): Storage {
  // the definition on this backend's own kernels: m the maximum (0 where infinite), then
  // (x − m) − log Σ exp(x − m)
  const kept = x.shape.map((d, i) => (i === axis ? 1 : d));
  const op = (storage: Storage, shape: Shape): Operand => ({ storage, shape, dtype: x.dtype });
  const max = op(be.reduce("max", x, [axis], x.dtype), kept);
  // m − m is 0 exactly when m is finite (NaN for ±∞), so no infinite constant has to reach a kernel
  const difference = op(be.binary("sub", max, max, kept, x.dtype), kept);
  const zero = op(be.fill([], 0, x.dtype), []);
  const finite = { storage: be.binary("eq", difference, zero, kept, "bool"), shape: kept, dtype: "bool" as const };
  const shift = op(be.where(finite, max, zero, kept), kept);
  const shifted = op(be.binary("sub", x, shift, x.shape, x.dtype), x.shape);
  const e = op(be.unary("exp", shifted, x.dtype), x.shape);
  const sum = op(be.reduce("sum", e, [axis], x.dtype), kept);
  const logSum = op(be.unary("log", sum, x.dtype), kept);
  const out = be.binary("sub", shifted, logSum, x.shape, x.dtype);
  for (const t of [max, difference, zero, finite, shift, shifted, e, sum, logSum]) be.free(t.storage);
  return out;
}

/**
 * @file The fused kernels on the gpujs backend: each runs its composite definition (src/composite/) on
 * the backend's own kernels, one launch per op, and frees its temporaries; the parity suites hold them
 * to the reference backend's fused kernels.
 */

import type { DType } from "../../dtype.ts";
import type { Shape } from "../../shape.ts";
import { sizeOf } from "../../shape.ts";
import type { AdamWScalars, Backend, BinaryOp, Operand, ReduceOp, Storage, UnaryOp } from "../backend.ts";

/** Kernel calls on one dtype whose results are temporaries, all freed by `free()` except what is `take`n. */
class Scratch {
  readonly #temporaries: Operand[] = [];

  constructor(
    readonly be: Backend,
    readonly dtype: DType,
  ) {}

  #keep(storage: Storage, shape: Shape, dtype: DType = this.dtype): Operand {
    const t = { storage, shape, dtype };
    this.#temporaries.push(t);
    return t;
  }

  constant(value: number): Operand {
    return this.#keep(this.be.fill([], value, this.dtype), []);
  }

  unary(op: UnaryOp, x: Operand): Operand {
    return this.#keep(this.be.unary(op, x, this.dtype), x.shape);
  }

  binary(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType = this.dtype): Operand {
    return this.#keep(this.be.binary(op, a, b, shape, dtype), shape, dtype);
  }

  /** op over `axes`, kept as size-1 axes so that it broadcasts back against x. */
  reduce(op: ReduceOp, x: Operand, axes: readonly number[]): Operand {
    return this.#keep(
      this.be.reduce(op, x, axes, this.dtype),
      x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
    );
  }

  where(cond: Operand, a: Operand, b: Operand, shape: Shape): Operand {
    return this.#keep(this.be.where(cond, a, b, shape), shape);
  }

  /** The storage of a temporary, no longer freed here: the kernel's result. */
  take(t: Operand): Storage {
    this.#temporaries.splice(this.#temporaries.indexOf(t), 1);
    return t.storage;
  }

  free(): void {
    for (const t of this.#temporaries) this.be.free(t.storage);
  }
}

/** Runs `body` on a Scratch and frees its temporaries, whatever body returns. */
function withScratch<T>(be: Backend, dtype: DType, body: (s: Scratch) => T): T {
  const s = new Scratch(be, dtype);
  try {
    return body(s);
  } finally {
    s.free();
  }
}

/** The composite softmax: max, subtract, exp, sum, divide. */
export function fusedSoftmax(be: Backend, x: Operand, axis: number): Storage {
  return withScratch(be, x.dtype, (s) => {
    const e = s.unary("exp", s.binary("sub", x, s.reduce("max", x, [axis]), x.shape));
    return s.take(s.binary("div", e, s.reduce("sum", e, [axis]), x.shape));
  });
}

/** (x − m) − log Σ exp(x − m), m the maximum where it is finite and 0 where not. */
export function fusedLogSoftmax(be: Backend, x: Operand, axis: number): Storage {
  return withScratch(be, x.dtype, (s) => {
    const max = s.reduce("max", x, [axis]);
    // m − m is 0 exactly when m is finite (NaN for ±∞), so no infinite constant has to reach a kernel
    const zero = s.constant(0);
    const finite = s.binary("eq", s.binary("sub", max, max, max.shape), zero, max.shape, "bool");
    const shifted = s.binary("sub", x, s.where(finite, max, zero, max.shape), x.shape);
    const logSum = s.unary("log", s.reduce("sum", s.unary("exp", shifted), [axis]));
    return s.take(s.binary("sub", shifted, logSum, x.shape));
  });
}

/** The composite layerNorm: the mean and the biased variance of the trailing axes, then (x − mean) / √(var + eps). */
export function fusedLayerNorm(be: Backend, x: Operand, axes: number, eps: number): Storage {
  return withScratch(be, x.dtype, (s) => {
    const rank = x.shape.length;
    const reduced = Array.from({ length: axes }, (_, i) => rank - axes + i);
    const count = s.constant(sizeOf(x.shape.slice(rank - axes)));
    const sum = s.reduce("sum", x, reduced);
    const centered = s.binary("sub", x, s.binary("div", sum, count, sum.shape), x.shape);
    const squares = s.reduce("sum", s.binary("mul", centered, centered, x.shape), reduced);
    const variance = s.binary("div", squares, count, squares.shape);
    const std = s.unary("sqrt", s.binary("add", variance, s.constant(eps), variance.shape));
    return s.take(s.binary("div", centered, std, x.shape));
  });
}

/** The composite GELU: 0.5·x·(1 + erf(x/√2)), or 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function fusedGelu(be: Backend, x: Operand, tanhForm: boolean): Storage {
  return withScratch(be, x.dtype, (s) => {
    const mul = (a: Operand, b: Operand) => s.binary("mul", a, b, x.shape);
    const inner = tanhForm
      ? s.unary("tanh", mul(s.binary("add", x, mul(mul(mul(x, x), x), s.constant(0.044715)), x.shape), s.constant(Math.sqrt(2 / Math.PI))))
      : s.unary("erf", mul(x, s.constant(Math.SQRT1_2)));
    return s.take(mul(mul(x, s.constant(0.5)), s.binary("add", inner, s.constant(1), x.shape)));
  });
}

/** composite/adamw.ts, each op rounding its result as there, then written into p, m, v (and vMax). */
export function fusedAdamw(be: Backend, p: Operand, g: Operand, m: Operand, v: Operand, vMax: Operand | null, h: AdamWScalars): void {
  withScratch(be, p.dtype, (s) => {
    const bin = (op: BinaryOp, a: Operand, b: Operand) => s.binary(op, a, b, p.shape);
    const decayed = h.applyDecay ? bin("mul", p, s.constant(h.decay)) : p;
    const mNext = bin("add", m, bin("mul", bin("sub", g, m), s.constant(h.oneMinusBeta1)));
    const vNext = bin("add", bin("mul", v, s.constant(h.beta2)), bin("mul", bin("mul", g, g), s.constant(h.oneMinusBeta2)));
    const second = vMax ? bin("maximum", vMax, vNext) : vNext;
    const denom = bin("add", bin("div", s.unary("sqrt", second), s.constant(h.bc2Sqrt)), s.constant(h.eps));
    be.assign(p, bin("add", decayed, bin("mul", bin("div", mNext, denom), s.constant(h.negStepSize))));
    be.assign(m, mNext);
    be.assign(v, vNext);
    if (vMax) be.assign(vMax, second);
  });
}

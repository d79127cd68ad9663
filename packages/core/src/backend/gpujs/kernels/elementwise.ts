/**
 * @file Elementwise kernels: unary ops (and casts), binary ops with broadcasting, where, fill and copy.
 *
 * One kernel per family with the op as an integer argument, so every unary op shares one compiled
 * shader (a cold WebGPU compile costs 55-145 ms). An op's code is its position in UNARY_OPS or
 * BINARY_OPS of backend.ts (the wasm kernels number them the same way); the semantics are those of
 * reference/scalar-ops.ts. A kernel cannot read those lists, so its branches test literal codes, each
 * named in a comment; test/gpujs-kernels.test.ts runs every code against the reference. A code without
 * a branch yields NaN, never a plausible value such as its input.
 */

import { UNARY_OPS } from "../../backend.ts";
import type { KernelThis } from "./kernel-this.ts";

/** unaryKernel's codes: the unary ops, then "identity", which makes it the cast kernel. */
export const UNARY_CODES = [...UNARY_OPS, "identity"] as const;

/** out[i] = op(x[i]) stored as `kind` (op 12, identity, makes this the cast kernel). */
export function unaryKernel(this: KernelThis, x: Float32Array, sp: Float32Array, op: number, kind: number, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const v = x[i];
  let r = sp[0];
  if (op === 0) {
    // neg
    r = -v;
  } else if (op === 1) {
    // exp
    r = Math.exp(v);
  } else if (op === 2) {
    // log
    r = Math.log(v);
  } else if (op === 3) {
    // log1p: log(1 + v) scaled by v / ((1 + v) - 1) cancels the rounding of 1 + v, so small v stay accurate
    const u = 1 + v;
    r = u === 1 ? v : (Math.log(u) * v) / (u - 1);
    if (u === sp[1]) r = u;
  } else if (op === 4) {
    // sqrt
    r = Math.sqrt(v);
  } else if (op === 5) {
    // tanh
    r = Math.tanh(v);
  } else if (op === 6) {
    // sigmoid: two branches keep exp from overflowing for large |v|, as the reference does
    r = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
  } else if (op === 7) {
    // erf: its Maclaurin series near 0 (relative accuracy), Abramowitz-Stegun 7.1.26 beyond (|error| < 1.5e-7)
    const a = Math.abs(v);
    let e = 0;
    if (a < 0.5) {
      const s = v * v;
      e = a * 1.1283791670955126 * (1 + s * (-1 / 3 + s * (1 / 10 + s * (-1 / 42 + s * (1 / 216 + s * (-1 / 1320 + s / 9360))))));
    } else {
      const t = 1 / (1 + 0.3275911 * a);
      e = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-a * a);
    }
    r = v < 0 ? -e : e;
  } else if (op === 8) {
    // relu
    // biome-ignore lint/complexity/useMathMinMax: WebGPU's max(NaN, 0) is 0; here NaN < 0 is false, so NaN passes through as Math.max keeps it
    r = v < 0 ? 0 : v;
  } else if (op === 9) {
    // abs
    r = Math.abs(v);
  } else if (op === 10) {
    // sign, not Math.sign: WebGPU's sign(NaN) is 0
    r = v > 0 ? 1 : v < 0 ? -1 : v;
  } else if (op === 11) {
    // logicalNot
    r = v === 0 ? 1 : 0;
  } else if (op === 12) {
    // identity
    r = v;
  }
  if (kind === 1) {
    r = r < 2147483648 && r > -2147483649 ? Math.trunc(r) : 0;
  } else if (kind === 2) {
    r = r === 0 ? 0 : 1;
  }
  return r;
}

/**
 * out[i] = op(a[offA(i)], b[offB(i)]) stored as `kind`, with offsets from the broadcast strides in meta:
 * [rank, dims (innermost first) at 1, a's strides at 9, b's strides at 17].
 */
export function binaryKernel(
  this: KernelThis,
  a: Float32Array,
  b: Float32Array,
  meta: Float32Array,
  sp: Float32Array,
  op: number,
  kind: number,
  n: number,
): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const rank = meta[0];
  let rem = i;
  let offA = 0;
  let offB = 0;
  for (let j = 0; j < 8; j++) {
    if (j < rank) {
      const d = meta[1 + j];
      // exact quotient (kernel-this.ts)
      let q = Math.floor(rem / d);
      if (q * d > rem) q = q - 1;
      if ((q + 1) * d <= rem) q = q + 1;
      const c = rem - q * d;
      offA = offA + c * meta[9 + j];
      offB = offB + c * meta[17 + j];
      rem = q;
    }
  }
  const x = a[offA];
  const y = b[offB];
  let r = sp[0];
  if (op === 0) {
    // add
    r = x + y;
  } else if (op === 1) {
    // sub
    r = x - y;
  } else if (op === 2) {
    // mul
    r = x * y;
  } else if (op === 3) {
    // div
    r = x / y;
  } else if (op === 4) {
    // pow, as JavaScript's Math.pow: x^0 = 1 even for NaN; a negative base needs an integer exponent, whose
    // parity gives the sign (WGSL's pow is undefined for x < 0)
    if (y === 0) {
      r = 1;
    } else if (x < 0) {
      if (Math.floor(y) === y) {
        const m = (-x) ** y;
        const half = y / 2;
        r = Math.floor(half) === half ? m : -m;
      } else {
        r = sp[0];
      }
    } else {
      r = x ** y;
    }
  } else if (op === 5 || op === 6) {
    // maximum and minimum: NaN wins, as with Math.max and Math.min (WebGPU's max and min drop it)
    const xNaN = x < 1 || x >= 1 ? 0 : 1;
    const yNaN = y < 1 || y >= 1 ? 0 : 1;
    if (xNaN > 0) {
      r = x;
    } else if (yNaN > 0) {
      r = y;
    } else if (op === 5) {
      r = Math.max(x, y);
    } else {
      r = Math.min(x, y);
    }
  } else if (op === 7) {
    // eq
    r = x === y ? 1 : 0;
  } else if (op === 8) {
    // ne
    r = x === y ? 0 : 1;
  } else if (op === 9) {
    // lt
    r = x < y ? 1 : 0;
  } else if (op === 10) {
    // le
    r = x <= y ? 1 : 0;
  } else if (op === 11) {
    // gt
    r = x > y ? 1 : 0;
  } else if (op === 12) {
    // ge
    r = x >= y ? 1 : 0;
  } else if (op === 13) {
    // logicalAnd
    r = x === 0 || y === 0 ? 0 : 1;
  } else if (op === 14) {
    // logicalOr
    r = x === 0 && y === 0 ? 0 : 1;
  }
  if (kind === 1) {
    // pow of integers is computed as exp2(y·log2(x)) on WebGPU, a hair off an exact integer: round it
    if (op === 4 && y >= 0) r = Math.round(r);
    r = r < 2147483648 && r > -2147483649 ? Math.trunc(r) : 0;
  } else if (kind === 2) {
    r = r === 0 ? 0 : 1;
  }
  return r;
}

/** out[i] = c[offC(i)] != 0 ? a[offA(i)] : b[offB(i)]; meta as binaryKernel, c's strides at 25. */
export function whereKernel(this: KernelThis, c: Float32Array, a: Float32Array, b: Float32Array, meta: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const rank = meta[0];
  let rem = i;
  let offA = 0;
  let offB = 0;
  let offC = 0;
  for (let j = 0; j < 8; j++) {
    if (j < rank) {
      const d = meta[1 + j];
      // exact quotient (kernel-this.ts)
      let q = Math.floor(rem / d);
      if (q * d > rem) q = q - 1;
      if ((q + 1) * d <= rem) q = q + 1;
      const k = rem - q * d;
      offA = offA + k * meta[9 + j];
      offB = offB + k * meta[17 + j];
      offC = offC + k * meta[25 + j];
      rem = q;
    }
  }
  return c[offC] === 0 ? b[offB] : a[offA];
}

/** out[i] = value. */
export function fillKernel(this: KernelThis, value: number, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  return value;
}

/** out[i] = x[i]: uploads to the device, and the copies behind assign. */
export function copyKernel(this: KernelThis, x: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  return x[i];
}

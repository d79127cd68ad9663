/**
 * @file Movement kernels: one strided copy serves permute, expand and slice (they differ only in the
 * strides and base offset the host puts in meta); pad and a two-piece concat have their own.
 */

import type { KernelThis } from "./kernel-this.ts";

/** out[i] = x[base + Σ index_j · stride_j]; meta: [rank, dims (innermost first) at 1, strides at 9, base at 33]. */
export function stridedKernel(this: KernelThis, x: Float32Array, meta: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const rank = meta[0];
  let rem = i;
  let off = meta[33];
  for (let j = 0; j < 8; j++) {
    if (j < rank) {
      const d = meta[1 + j];
      // exact quotient (kernel-this.ts)
      let q = Math.floor(rem / d);
      if (q * d > rem) q = q - 1;
      if ((q + 1) * d <= rem) q = q + 1;
      off = off + (rem - q * d) * meta[9 + j];
      rem = q;
    }
  }
  return x[off];
}

/**
 * out[i] = x[index - before] inside x, `value` in the padding; meta: [rank, output dims at 1, before at 9,
 * x's dims at 17, x's strides at 25], all innermost first.
 */
export function padKernel(this: KernelThis, x: Float32Array, meta: Float32Array, value: number, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const rank = meta[0];
  let rem = i;
  let off = 0;
  let inside = 1;
  for (let j = 0; j < 8; j++) {
    if (j < rank) {
      const d = meta[1 + j];
      // exact quotient (kernel-this.ts)
      let q = Math.floor(rem / d);
      if (q * d > rem) q = q - 1;
      if ((q + 1) * d <= rem) q = q + 1;
      const c = rem - q * d - meta[9 + j];
      if (c < 0 || c >= meta[17 + j]) inside = 0;
      off = off + c * meta[25 + j];
      rem = q;
    }
  }
  if (inside === 0) return value;
  return x[off];
}

/**
 * Two tensors joined along an axis, both seen as [outer, length, inner]: meta [inner, a's length, b's
 * length]. Longer lists are concatenated two at a time.
 */
export function concatKernel(this: KernelThis, a: Float32Array, b: Float32Array, meta: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const inner = meta[0];
  const la = meta[1];
  const len = la + meta[2];
  // exact quotient (kernel-this.ts)
  let t = Math.floor(i / inner);
  if (t * inner > i) t = t - 1;
  if ((t + 1) * inner <= i) t = t + 1;
  const k = i - t * inner;
  // exact quotient (kernel-this.ts)
  let o = Math.floor(t / len);
  if (o * len > t) o = o - 1;
  if ((o + 1) * len <= t) o = o + 1;
  const l = t - o * len;
  if (l < la) return a[(o * la + l) * inner + k];
  return b[(o * meta[2] + l - la) * inner + k];
}

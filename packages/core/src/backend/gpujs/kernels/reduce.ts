/**
 * @file Reduction kernels over one (coalesced) axis: the input is seen as [outer, length, inner] and each
 * output element folds `length` elements `inner` apart. The host permutes first when the reduced axes are
 * not one contiguous block.
 *
 * Sums are blocked: 64 elements into a partial sum, partials into the total. Sequential float32 summation
 * of n terms is off by up to n·2^-24·Σ|x|; blocking cuts that to (64 + n/64)·2^-24·Σ|x|, which is what
 * the reduction tolerance (scaled by Σ|x|) is sized for.
 */

import type { KernelThis } from "./kernel-this.ts";

/**
 * out[j] = sum (op 0), max (op 1) or min (op 2) of x[base(j) + k·inner], k < length; meta [length, inner].
 * NaN sticks in max and min, as in the reference.
 */
export function reduceKernel(this: KernelThis, x: Float32Array, meta: Float32Array, sp: Float32Array, op: number, n: number): number {
  const j = this.thread.x;
  if (j >= n) return 0;
  const len = meta[0];
  const inner = meta[1];
  // exact quotient (kernel-this.ts)
  let o = Math.floor(j / inner);
  if (o * inner > j) o = o - 1;
  if ((o + 1) * inner <= j) o = o + 1;
  const base = o * len * inner + (j - o * inner);
  if (op === 0) {
    let total = 0;
    let block = 0;
    let count = 0;
    for (let k = 0; k < len; k++) {
      block = block + x[base + k * inner];
      count = count + 1;
      if (count >= 64) {
        total = total + block;
        block = 0;
        count = 0;
      }
    }
    return total + block;
  }
  let acc = op === 1 ? sp[2] : sp[1];
  for (let k = 0; k < len; k++) {
    const v = x[base + k * inner];
    const vNaN = v < 1 || v >= 1 ? 0 : 1;
    if (vNaN > 0) {
      acc = v;
    } else if (op === 1) {
      if (v > acc) acc = v;
    } else if (v < acc) {
      acc = v;
    }
  }
  return acc;
}

/**
 * out[j] = position k of the first maximum (op 0) or minimum (op 1) of x[base(j) + k·inner]; the first
 * NaN wins and stays, as in NumPy. meta [length, inner].
 */
export function argReduceKernel(this: KernelThis, x: Float32Array, meta: Float32Array, op: number, n: number): number {
  const j = this.thread.x;
  if (j >= n) return 0;
  const len = meta[0];
  const inner = meta[1];
  // exact quotient (kernel-this.ts)
  let o = Math.floor(j / inner);
  if (o * inner > j) o = o - 1;
  if ((o + 1) * inner <= j) o = o + 1;
  const base = o * len * inner + (j - o * inner);
  let best = 0;
  let bestValue = x[base];
  let bestNaN = bestValue < 1 || bestValue >= 1 ? 0 : 1;
  for (let k = 1; k < len; k++) {
    const v = x[base + k * inner];
    if (bestNaN === 0) {
      const vNaN = v < 1 || v >= 1 ? 0 : 1;
      if (vNaN > 0 || (op === 0 && v > bestValue) || (op === 1 && v < bestValue)) {
        best = k;
        bestValue = v;
        bestNaN = vNaN;
      }
    }
  }
  return best;
}

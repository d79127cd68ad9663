/**
 * @file Indexing kernels: gather, scatter-add (as a gather of contributions, since a kernel cannot
 * scatter), and topk as two passes (each element's rank in its row, then the element of each rank).
 * Index values arrive as float32 and were range-checked on the host by the op layer.
 */

import type { KernelThis } from "./kernel-this.ts";

/**
 * out[i] = x[Σ_{j≠axis} index_j · stride_j + index[i] · axisStride]: out has index's shape. meta: [rank,
 * index dims at 1, x's strides with the axis zeroed at 9, the axis stride at 33], innermost first.
 */
export function gatherKernel(this: KernelThis, x: Float32Array, index: Float32Array, meta: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const rank = meta[0];
  let rem = i;
  let off = index[i] * meta[33];
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
 * out[p] = base[p] + Σ src[q] over the positions q of index that point at p along the axis. meta: [rank,
 * base dims at 1, index dims at 9, index strides at 17, the axis (counted from the innermost) at 33].
 */
export function scatterAddKernel(
  this: KernelThis,
  base: Float32Array,
  index: Float32Array,
  src: Float32Array,
  meta: Float32Array,
  n: number,
): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const rank = meta[0];
  const axis = meta[33];
  let rem = i;
  let start = 0;
  let target = 0;
  let inside = 1;
  for (let j = 0; j < 8; j++) {
    if (j < rank) {
      const d = meta[1 + j];
      // exact quotient (kernel-this.ts)
      let q = Math.floor(rem / d);
      if (q * d > rem) q = q - 1;
      if ((q + 1) * d <= rem) q = q + 1;
      const c = rem - q * d;
      if (j === axis) {
        target = c;
      } else {
        if (c >= meta[9 + j]) inside = 0;
        start = start + c * meta[17 + j];
      }
      rem = q;
    }
  }
  let acc = 0;
  if (inside > 0) {
    const len = meta[9 + axis];
    const step = meta[17 + axis];
    for (let t = 0; t < len; t++) {
      const q = start + t * step;
      if (index[q] === target) acc = acc + src[q];
    }
  }
  return base[i] + acc;
}

/**
 * Each element's position in its row (rows of meta[0] elements) after a stable sort, largest first
 * (largest = 1) or smallest first: ties keep the lower index first, NaN counts as the largest value.
 */
export function topkRankKernel(this: KernelThis, x: Float32Array, meta: Float32Array, largest: number, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const len = meta[0];
  // exact quotient (kernel-this.ts)
  let r = Math.floor(i / len);
  if (r * len > i) r = r - 1;
  if ((r + 1) * len <= i) r = r + 1;
  const start = r * len;
  const self = i - start;
  const v = x[i];
  const vNaN = v < 1 || v >= 1 ? 0 : 1;
  let rank = 0;
  for (let t = 0; t < len; t++) {
    const u = x[start + t];
    const uNaN = u < 1 || u >= 1 ? 0 : 1;
    // u beats v (u > v, NaN above numbers) and v beats u, each as 0 or 1
    let uOver = 0;
    let vOver = 0;
    if (uNaN > 0) {
      uOver = vNaN > 0 ? 0 : 1;
    } else if (vNaN > 0) {
      vOver = 1;
    } else {
      uOver = u > v ? 1 : 0;
      vOver = v > u ? 1 : 0;
    }
    const ahead = largest > 0 ? uOver : vOver;
    const tie = uOver === 0 && vOver === 0 ? 1 : 0;
    if (ahead > 0 || (tie > 0 && t < self)) rank = rank + 1;
  }
  return rank;
}

/** out[row, c] = the position in the row whose rank is c; meta: [row length, k]. */
export function topkSelectKernel(this: KernelThis, ranks: Float32Array, meta: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const len = meta[0];
  const k = meta[1];
  // exact quotient (kernel-this.ts)
  let r = Math.floor(i / k);
  if (r * k > i) r = r - 1;
  if ((r + 1) * k <= i) r = r + 1;
  const c = i - r * k;
  let found = 0;
  for (let t = 0; t < len; t++) {
    if (ranks[r * len + t] === c) found = t;
  }
  return found;
}

/**
 * @file Batched matrix multiplication, one thread per output element (gpu.js has no workgroup memory, so
 * no tiling). The dot product is blocked like the sums in reduce.ts, for the same error bound.
 */

import type { KernelThis } from "./kernel-this.ts";

/**
 * out[batch, r, c] = Σ_k a[batch, r, k] · b[batch, k, c]. meta: [M, K, N, batch rank, batch dims at 4,
 * a's batch strides at 12, b's batch strides at 20] (innermost first; stride 0 broadcasts a batch axis).
 */
export function matmulKernel(this: KernelThis, a: Float32Array, b: Float32Array, meta: Float32Array, n: number): number {
  const i = this.thread.x;
  if (i >= n) return 0;
  const m = meta[0];
  const kk = meta[1];
  const nn = meta[2];
  const rank = meta[3];
  // exact quotient (kernel-this.ts)
  let t = Math.floor(i / nn);
  if (t * nn > i) t = t - 1;
  if ((t + 1) * nn <= i) t = t + 1;
  const col = i - t * nn;
  // exact quotient (kernel-this.ts)
  let rem = Math.floor(t / m);
  if (rem * m > t) rem = rem - 1;
  if ((rem + 1) * m <= t) rem = rem + 1;
  const row = t - rem * m;
  let offA = 0;
  let offB = 0;
  for (let j = 0; j < 8; j++) {
    if (j < rank) {
      const d = meta[4 + j];
      // exact quotient (kernel-this.ts)
      let q = Math.floor(rem / d);
      if (q * d > rem) q = q - 1;
      if ((q + 1) * d <= rem) q = q + 1;
      const c = rem - q * d;
      offA = offA + c * meta[12 + j];
      offB = offB + c * meta[20 + j];
      rem = q;
    }
  }
  offA = offA + row * kk;
  offB = offB + col;
  let total = 0;
  let block = 0;
  let count = 0;
  for (let k = 0; k < kk; k++) {
    block = block + a[offA + k] * b[offB + k * nn];
    count = count + 1;
    if (count >= 64) {
      total = total + block;
      block = 0;
      count = 0;
    }
  }
  return total + block;
}

/**
 * @file The one tolerance table. Every comparison in every test reads its bounds from here.
 *
 * A comparison passes when |actual - expected| <= atol + rtol·scale, where scale is |expected| for
 * elementwise results and, for reductions and matmul, the sum of the magnitudes that were added up
 * (Σ|a|·|b| for a dot product): rounding error grows with what is summed, not with the result.
 */

import type { DType } from "../dtype.ts";

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** What kind of computation produced a value: rounding behaves differently for each. */
export type OpClass = "exact" | "elementwise" | "transcendental" | "reduction" | "matmul";

type Table = Record<"float32" | "float64", Record<OpClass, Tolerance>>;

const f64: Record<OpClass, Tolerance> = {
  exact: { atol: 0, rtol: 0 },
  elementwise: { atol: 1e-12, rtol: 1e-12 },
  transcendental: { atol: 1e-12, rtol: 1e-12 },
  reduction: { atol: 1e-12, rtol: 1e-12 },
  matmul: { atol: 1e-12, rtol: 1e-12 },
};

export const TOLERANCES: Record<string, Table> = {
  // The reference backend computes in float64 and rounds once on store: float32 results are within an
  // ulp or two of the exact value (hand-computed examples are written in decimal).
  reference: {
    float64: f64,
    float32: {
      exact: { atol: 0, rtol: 0 },
      elementwise: { atol: 1e-6, rtol: 1e-6 },
      transcendental: { atol: 1e-6, rtol: 1e-6 },
      reduction: { atol: 1e-6, rtol: 1e-6 },
      matmul: { atol: 1e-6, rtol: 1e-6 },
    },
  },
  // gpu.js computes in float32 (cpu mode in float64, rounding on store) and has no float64 storage.
  // elementwise: WGSL's division is within 2.5 ulp (1.5e-7 relative), the other arithmetic exact.
  // transcendental: WGSL's exp is within 3 + 2|x| ulp and log within 2^-21 absolute; erf is a polynomial
  //   within 1.5e-7; composites add a few such errors.
  // reduction and matmul, scaled by Σ|x| (Σ|a||b|): sums and dot products are blocked by 64 (see
  //   kernels/reduce.ts), so their float32 error is below (64 + n/64)·2^-24 ≤ 1e-5 for n ≤ 6,600 terms;
  //   cpu mode sums in float64, as the reference does.
  "gpujs:webgpu": gpujsTable(1e-5),
  "gpujs:webasm": gpujsTable(1e-5),
  "gpujs:cpu": gpujsTable(1e-6),
  // The wasm backend (every thread count and build): float32 +, -, ·, /, sqrt are exact to one rounding;
  // exp is a SIMD polynomial within 2 ulp (1.2e-7 relative) and erf within 3.3e-7 absolute (Abramowitz
  // and Stegun 7.1.26), the other transcendental functions run in float64 and round once; sums accumulate
  // in float64. Matmul accumulates in float32 (fused multiply-adds in the relaxed build): within
  // n·2^-24·Σ|a||b| for n terms, so 1e-5 covers 160 terms. float64 runs the reference kernels.
  wasm: {
    float64: f64,
    float32: {
      exact: { atol: 0, rtol: 0 },
      elementwise: { atol: 1e-6, rtol: 1e-6 },
      transcendental: { atol: 1e-6, rtol: 2e-6 },
      reduction: { atol: 1e-6, rtol: 1e-6 },
      matmul: { atol: 1e-6, rtol: 1e-5 },
    },
  },
};

function gpujsTable(summed: number): Table {
  return {
    float64: f64,
    float32: {
      exact: { atol: 0, rtol: 0 },
      elementwise: { atol: 1e-6, rtol: 1e-6 },
      transcendental: { atol: 2e-6, rtol: 4e-6 },
      reduction: { atol: 1e-6, rtol: summed },
      matmul: { atol: 1e-6, rtol: summed },
    },
  };
}

/**
 * A training run on another backend against the reference backend's loss curve: each step's rounding
 * differences are carried on by the weights, so whole curves are held to 1e-3 relative (checked on 200
 * steps of a small transformer with AdamW, test/wasm-training.test.ts in @tsgrad/nn).
 */
export const TRAINING_CURVE: Tolerance = { atol: 1e-5, rtol: 1e-3 };

/** float64 central differences with step 1e-6: truncation error ~1e-12·f''', rounding error ~1e-10/eps. */
export const GRADCHECK: Tolerance & { eps: number } = { eps: 1e-6, atol: 1e-6, rtol: 1e-4 };

/** Backends without an entry of their own are held to the reference backend's bounds. */
export function tolerance(backend: string, dtype: DType, opClass: OpClass = "elementwise"): Tolerance {
  // an instance named after its options ("wasm(threads=1)") shares its backend's entry
  const table = TOLERANCES[backend] ?? TOLERANCES[backend.replace(/\(.*\)$/, "")] ?? TOLERANCES.reference;
  if (dtype === "int32" || dtype === "bool") return table.float64.exact;
  return table[dtype][opClass];
}

/** @file Activation composites: softmax, logSoftmax and gelu (the fused primitives' definitions), softplus. No gradient code: they are built from primitives. */

import { checkOptions, checkTensor } from "../args.ts";
import { fail } from "../errors.ts";
import { abs, add, div, erf, exp, gt, log1p, maximum, mul, neg, sub, tanh, where } from "../ops/elementwise.ts";
import { logSumExp, max, sum } from "../ops/reduce.ts";
import { normalizeAxis } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/**
 * The composite definition of softmax: exp(x) / Σ exp(x) along an axis, the row maximum subtracted
 * first, so ±1e4 inputs stay finite. `softmax` (ops/fused.ts) is the fused primitive that must equal it.
 */
export function composedSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normalizeAxis("softmax", axis, x.rank);
  // NOTE: the shift cancels out of the result, so it is detached rather than differentiated; an empty
  // axis has no maximum to shift by (and nothing to normalise)
  const shift = x.shape[a] === 0 ? 0 : max(x, a, true).detach();
  const shifted = exp(sub(x, shift));
  return div(shifted, sum(shifted, a, true));
}

/**
 * The composite definition of logSoftmax: x − logΣexp(x) along an axis, stable for large inputs.
 * `logSoftmax` (ops/fused.ts) is the fused primitive that must equal it (and is more precise at large
 * logits, where this form rounds the sum to its maximum first).
 */
export function composedLogSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normalizeAxis("logSoftmax", axis, x.rank);
  return sub(x, logSumExp(x, a, true));
}

/**
 * log(1 + exp(βx)) / β, and x itself where βx > threshold (PyTorch's softplus). Computed as
 * max(z, 0) + log1p(exp(-|z|)) with z = βx, which never overflows.
 */
export function softplus(x: Tensor, options: { beta?: number; threshold?: number } = {}): Tensor {
  checkTensor("softplus", x, "the input");
  checkOptions("softplus", options, ["beta", "threshold"]);
  const { beta = 1, threshold = 20 } = options;
  if (!(beta > 0)) fail("softplus", `beta must be positive, got ${beta}`);
  const z = mul(x, beta);
  // NOTE: maximum (not relu) so that the tie at z = 0 splits the gradient: the slope there is σ(0) = 1/2
  const smooth = div(add(maximum(z, 0), log1p(exp(neg(abs(z))))), beta);
  return where(gt(z, threshold), x, smooth);
}

/**
 * The composite definition of GELU, which the fused primitives `gelu` and `geluTanh` (ops/fused.ts)
 * must equal. Gaussian error linear unit. `approximate: "none"` (the default, as PyTorch) is x·Φ(x) with the exact
 * erf; `"tanh"` is the GPT-2 form 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 */
export function composedGelu(x: Tensor, options: { approximate?: "none" | "tanh" } = {}): Tensor {
  const { approximate = "none" } = options;
  if (approximate === "none") return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
  if (approximate === "tanh") {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return fail("gelu", `approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
}

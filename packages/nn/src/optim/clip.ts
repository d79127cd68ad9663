/** @file Gradient clipping by the global norm of all gradients, computed and applied on the device. */

import {
  abs,
  add,
  checkOptions,
  div,
  fail,
  max,
  maximum,
  minimum,
  noGrad,
  pow,
  scalar,
  sum,
  type Tensor,
  Tensor as TensorClass,
  tidy,
} from "@tsgrad/core";

export interface ClipOptions {
  /** p of the p-norm: 2 (the default), 1, any positive number, or Infinity (the largest |g|). */
  normType?: number;
}

/**
 * torch.nn.utils.clip_grad_norm_: the norm of all gradients together (as if concatenated), then every
 * gradient scaled in place by min(1, maxNorm / (norm + 1e-6)). Parameters without `.grad` are skipped.
 * Returns the norm before clipping as a tensor, for the caller to log or check after awaiting it.
 *
 * Nothing is read back, so it works on asynchronous backends, and the scaling always runs (by exactly 1
 * when the norm is within bounds, which leaves the gradients unchanged). As in PyTorch without
 * error_if_nonfinite: an infinite norm gives a factor 0 (finite gradients become 0, infinite ones NaN);
 * a NaN norm makes every gradient NaN. Check the returned norm and skip the step if it is not finite.
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, options: ClipOptions = {}): Tensor {
  checkOptions("clipGradNorm", options, ["normType"]);
  const normType = options.normType ?? 2;
  if (typeof maxNorm !== "number" || !(maxNorm >= 0) || Number.isNaN(maxNorm)) {
    fail("clipGradNorm", `maxNorm must be a number >= 0, got ${String(maxNorm)}`);
  }
  if (typeof normType !== "number" || !(normType > 0)) {
    fail("clipGradNorm", `normType must be a positive number or Infinity, got ${String(normType)}`);
  }
  const list =
    params instanceof TensorClass ? [params] : params && typeof params === "object" && Symbol.iterator in params ? [...params] : null;
  if (!list) fail("clipGradNorm", `expected a tensor or a list of tensors, got ${params === null ? "null" : typeof params}`);
  list.forEach((p, i) => {
    if (!(p instanceof TensorClass)) fail("clipGradNorm", `params[${i}] is ${p === null ? "null" : typeof p}; expected a Tensor`);
  });
  const grads = list.flatMap((p) => (p.grad ? [p.grad] : []));
  return tidy(() =>
    noGrad(() => {
      if (grads.length === 0) return scalar(0, "float32");
      // per-gradient partial results, combined on the device
      let total: Tensor;
      if (normType === Number.POSITIVE_INFINITY) {
        total = grads.map((g) => max(abs(g))).reduce((a, b) => maximum(a, b));
      } else {
        const parts = grads.map((g) => (normType === 2 ? sum(g.mul(g)) : normType === 1 ? sum(abs(g)) : sum(pow(abs(g), normType))));
        const summed = parts.reduce((a, b) => add(a, b));
        total = normType === 2 ? summed.sqrt() : normType === 1 ? summed : pow(summed, 1 / normType);
      }
      const factor = minimum(div(maxNorm, total.add(1e-6)), 1);
      // the same storage (a gradient handed to two leaves, or views of one buffer) is scaled once; the
      // pairwise test costs nothing next to the kernels, for the few hundred gradients of a model
      const scaled: Tensor[] = [];
      for (const g of grads) {
        if (scaled.some((s) => s.sharesStorage(g))) continue;
        scaled.push(g);
        g.assign(g.mul(factor.cast(g.dtype)));
      }
      return total;
    }),
  );
}

/**
 * @file Fused in-place optimiser updates: one kernel per parameter instead of a dozen elementwise ops.
 * Each computes exactly what its composite in composite/adamw.ts computes op by op (every step rounded
 * to the dtype, as each op's result is), which stays as its readable definition and the tests' oracle.
 */

import { type AdamWScalars, backendsApart } from "./backend/backend.ts";
import { isFloat } from "./dtype.ts";
import { fail, fmtShape } from "./errors.ts";
import { isGradEnabled } from "./grad-mode.ts";
import { sameShape } from "./shape.ts";
import { Tensor } from "./tensor.ts";

export interface AdamWUpdateOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step count of this parameter, from 1 (for the bias corrections). */
  step: number;
}

/** The host-side scalars of one AdamW step, in float64 (the backend rounds them to the dtype, as weak scalars are). */
export function adamwScalars(o: AdamWUpdateOptions): AdamWScalars {
  return {
    applyDecay: o.weightDecay !== 0,
    decay: 1 - o.lr * o.weightDecay,
    oneMinusBeta1: 1 - o.beta1,
    beta2: o.beta2,
    oneMinusBeta2: 1 - o.beta2,
    bc2Sqrt: Math.sqrt(1 - o.beta2 ** o.step),
    eps: o.eps,
    negStepSize: -(o.lr / (1 - o.beta1 ** o.step)),
  };
}

/**
 * torch.optim.AdamW's update of `param` in place, with the moments `expAvg` and `expAvgSq` (and
 * `maxExpAvgSq` for AMSGrad, else null) updated in place too:
 *
 *     p ← p·(1 − lr·weightDecay);  m ← m + (g − m)·(1 − β1);  v ← v·β2 + g²·(1 − β2);  v̂ ← max(v̂, v)
 *     p ← p + (m / (√v̂ / √(1 − β2ᵗ) + ε))·(−lr / (1 − β1ᵗ))
 *
 * No graph is recorded; every updated tensor's version is bumped, as assign does.
 */
export function adamwUpdate(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
  options: AdamWUpdateOptions,
): void {
  const tensors = [param, grad, expAvg, expAvgSq, ...(maxExpAvgSq ? [maxExpAvgSq] : [])];
  for (const t of tensors) {
    if (!(t instanceof Tensor)) fail("adamwUpdate", `expected tensors, got ${t === null ? "null" : typeof t}`);
    if (!sameShape(t.shape, param.shape) || t.dtype !== param.dtype || t.backend !== param.backend) {
      const [expected, got] = backendsApart(param.backend, t.backend);
      fail("adamwUpdate", `every tensor must be a ${param.describe()} on ${expected}, got a ${t.describe()} on ${got}`);
    }
  }
  if (isGradEnabled() && tensors.some((t) => t.requiresGrad || t.node)) {
    fail("adamwUpdate", "refused on a tensor that requires grad while grad mode is on; run the update inside noGrad(), as assign is");
  }
  if (!isFloat(param.dtype)) fail("adamwUpdate", `parameters must be float32 or float64, got ${fmtShape(param.shape)} ${param.dtype}`);
  const [p, g, m, v] = [param, grad, expAvg, expAvgSq].map((t) => t.operand("adamwUpdate"));
  param.backend.adamw(p, g, m, v, maxExpAvgSq ? maxExpAvgSq.operand("adamwUpdate") : null, adamwScalars(options));
  for (const t of [param, expAvg, expAvgSq, ...(maxExpAvgSq ? [maxExpAvgSq] : [])]) {
    const buffer = t.buffer("adamwUpdate");
    buffer.version++;
    buffer.hostCopy = undefined;
  }
}

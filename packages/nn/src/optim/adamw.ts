/**
 * @file AdamW (decoupled weight decay, bias correction on the host in float64, PyTorch's epsilon
 * placement, optional AMSGrad), exactly as torch.optim.AdamW.
 */

import { adamwUpdate, fail, type Tensor, zerosLike } from "@tsgrad/core";
import { checkBoolean, checkNumber, checkStateKeys } from "./checks.ts";
import { type BaseOptions, Optimizer, type ParamGroup, type ParamState, type ParamsInput } from "./optimizer.ts";

export interface AdamWOptions extends BaseOptions {
  betas: readonly [number, number];
  eps: number;
  amsgrad: boolean;
}

/**
 * torch.optim.AdamW's algorithm, per parameter with gradient g at step t (counted per parameter):
 *
 *     p ← p·(1 − lr·weightDecay)                          (decoupled: the decay skips the moments)
 *     m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
 *     v̂max ← max(v̂max, v) with amsgrad, read in place of v below
 *     p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 *
 * ε is added after the bias correction of √v, where PyTorch adds it (not to √v̂ before dividing).
 * The update runs as one fused kernel per parameter (core's adamwUpdate); its op-by-op definition is
 * core's composedAdamwUpdate, which it equals bit for bit.
 */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    super(
      "AdamW",
      params,
      // PyTorch's defaults
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false },
      options,
    );
  }

  protected checkOptions(o: AdamWOptions, where: string): void {
    checkNumber("AdamW", `${where}lr`, o.lr, 0);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) {
      fail("AdamW", `${where}betas must be a pair [beta1, beta2], got ${Array.isArray(o.betas) ? `[${o.betas}]` : String(o.betas)}`);
    }
    checkNumber("AdamW", `${where}betas[0]`, o.betas[0], 0, 1);
    checkNumber("AdamW", `${where}betas[1]`, o.betas[1], 0, 1);
    checkNumber("AdamW", `${where}eps`, o.eps, 0);
    checkNumber("AdamW", `${where}weightDecay`, o.weightDecay, 0);
    checkBoolean("AdamW", `${where}amsgrad`, o.amsgrad);
  }

  protected checkState(state: ParamState, group: AdamWOptions, entry: string): void {
    const kinds = { step: "count", expAvg: "tensor", expAvgSq: "tensor", maxExpAvgSq: "tensor" } as const;
    const required = group.amsgrad ? ["step", "expAvg", "expAvgSq", "maxExpAvgSq"] : ["step", "expAvg", "expAvgSq"];
    checkStateKeys("AdamW.loadStateDict", entry, state, kinds, required);
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<AdamWOptions>, state: ParamState): void {
    const { lr, betas, eps, weightDecay, amsgrad } = group;
    const [beta1, beta2] = betas;
    if (state.step === undefined) {
      state.step = 0;
      state.expAvg = zerosLike(p).keep();
      state.expAvgSq = zerosLike(p).keep();
    }
    if (amsgrad && state.maxExpAvgSq === undefined) state.maxExpAvgSq = zerosLike(p).keep();
    const step = (state.step as number) + 1;
    state.step = step;
    // one fused kernel per parameter, equal bit for bit to core's op-by-op composedAdamwUpdate
    adamwUpdate(p, grad, state.expAvg as Tensor, state.expAvgSq as Tensor, amsgrad ? (state.maxExpAvgSq as Tensor) : null, {
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
      step,
    });
  }
}

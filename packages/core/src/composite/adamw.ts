/** @file The AdamW update written op by op: the definition that the fused adamwUpdate (optimizer-updates.ts) must equal. */

import { noGrad } from "../grad-mode.ts";
import { tidy } from "../memory.ts";
import { maximum } from "../ops/elementwise.ts";
import type { AdamWUpdateOptions } from "../optimizer-updates.ts";
import type { Tensor } from "../tensor.ts";

export function composedAdamwUpdate(
  p: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  vMax: Tensor | null,
  { lr, beta1, beta2, eps, weightDecay, step }: AdamWUpdateOptions,
): void {
  tidy(() =>
    noGrad(() => {
      if (weightDecay !== 0) p.assign(p.mul(1 - lr * weightDecay));
      // PyTorch's lerp form of β1·m + (1 − β1)·g
      m.assign(m.add(grad.sub(m).mul(1 - beta1)));
      v.assign(v.mul(beta2).add(grad.mul(grad).mul(1 - beta2)));
      // host float64: the step count is known here, so no device work and no readback
      const stepSize = lr / (1 - beta1 ** step);
      const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
      let second = v;
      if (vMax) {
        vMax.assign(maximum(vMax, v));
        second = vMax;
      }
      const denom = second.sqrt().div(bc2Sqrt).add(eps);
      p.assign(p.add(m.div(denom).mul(-stepSize)));
    }),
  );
}

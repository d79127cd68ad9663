/** @file SGD with momentum, dampening, Nesterov momentum and L2 weight decay, exactly as torch.optim.SGD. */

import { fail, type Tensor } from "@tsgrad/core";
import { checkBoolean, checkNumber, checkStateKeys } from "./checks.ts";
import { type BaseOptions, Optimizer, type ParamGroup, type ParamState, type ParamsInput } from "./optimizer.ts";

export interface SGDOptions extends BaseOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

/**
 * torch.optim.SGD's algorithm, per parameter with gradient g:
 *
 *     g ← g + weightDecay·p                              (L2 decay goes through the momentum)
 *     b ← g on the first step, else momentum·b + (1 − dampening)·g
 *     g ← g + momentum·b if nesterov, else b             (when momentum ≠ 0)
 *     p ← p − lr·g
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(
      "SGD",
      params,
      // PyTorch 2's defaults
      { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
      options,
    );
  }

  protected checkOptions(o: SGDOptions, where: string): void {
    checkNumber("SGD", `${where}lr`, o.lr, 0);
    checkNumber("SGD", `${where}momentum`, o.momentum, 0);
    checkNumber("SGD", `${where}dampening`, o.dampening, 0);
    checkNumber("SGD", `${where}weightDecay`, o.weightDecay, 0);
    checkBoolean("SGD", `${where}nesterov`, o.nesterov);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      // Nesterov's look-ahead is defined for undamped momentum only, as PyTorch insists too
      fail("SGD", `${where}nesterov needs momentum > 0 and dampening 0, got momentum ${o.momentum} and dampening ${o.dampening}`);
    }
  }

  protected checkState(state: ParamState, _group: SGDOptions, entry: string): void {
    checkStateKeys("SGD.loadStateDict", entry, state, { momentumBuffer: "tensor" }, []);
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<SGDOptions>, state: ParamState): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    let g = weightDecay !== 0 ? grad.add(p.mul(weightDecay)) : grad;
    if (momentum !== 0) {
      let buf = state.momentumBuffer as Tensor | undefined;
      if (!buf) {
        buf = g.clone().keep();
        state.momentumBuffer = buf;
      } else {
        buf.assign(buf.mul(momentum).add(g.mul(1 - dampening)));
      }
      g = nesterov ? g.add(buf.mul(momentum)) : buf;
    }
    p.assign(p.sub(g.mul(lr)));
  }
}

/** @file valueAndGrad for users coming from JAX and tfjs. */

import { checkFunction } from "./args.ts";
import { grad } from "./autograd.ts";
import { fail } from "./errors.ts";
import { zerosLike } from "./factories.ts";
import { Tensor } from "./tensor.ts";

/**
 * Turns fn(...tensors) → scalar into a function returning { value, grads }, with one gradient per
 * argument (JAX's value_and_grad with respect to every argument, tfjs's valueAndGrads). The arguments
 * are not modified: fn sees detached copies that require grad.
 */
export function valueAndGrad(fn: (...args: Tensor[]) => Tensor): (...args: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  checkFunction("valueAndGrad", fn);
  return (...args) => {
    args.forEach((a, i) => {
      if (!(a instanceof Tensor)) fail("valueAndGrad", `argument ${i} is not a Tensor`);
    });
    const inputs = args.map((a) => a.detach().requiresGrad_());
    const value = fn(...inputs);
    if (!(value instanceof Tensor) || value.size !== 1) {
      fail("valueAndGrad", "fn must return a one-element tensor");
    }
    // zerosLike, not mul(0): an unused argument holding Infinity or NaN still has gradient 0, and the
    // zeros are constants like the other gradients (x.mul(0) would record a graph node)
    const grads = grad(value, inputs, { allowUnused: true }).map((g, i) => g ?? zerosLike(inputs[i]));
    return { value: value.detach(), grads };
  };
}

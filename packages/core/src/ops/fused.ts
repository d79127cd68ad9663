/**
 * @file Fused primitives: ops that also exist as a composite of other ops (composite/), given a kernel
 * of their own because a profile showed their chain of elementwise kernels costing more than the
 * arithmetic (benchmarks/src/profile.ts). Each keeps its composite definition as the readable reference
 * and as the oracle its tests compare it with; its backward rule is written with ordinary ops, so
 * gradients of gradients work.
 */

import { fail } from "../errors.ts";
import { normalizeAxis } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { unify } from "./cast.ts";
import { exp, mul, sub } from "./elementwise.ts";
import { reshape } from "./movement.ts";
import { sum } from "./reduce.ts";
import { apply, defineOp } from "./registry.ts";

const softmaxDef = defineOp<{ axis: number }>({
  name: "softmax",
  forward: (be, [x], { axis }) => ({ storage: be.softmax(x, axis), shape: x.shape, dtype: x.dtype }),
  // y = softmax(x): dx = y·(dy − Σ dy·y) along the axis
  backward: ({ output, attrs: { axis } }, dy) => [() => mul(output, sub(dy, sum(mul(dy, output), axis, true)))],
});

/**
 * exp(x) / Σ exp(x) along an axis, with the row maximum subtracted first, so ±1e4 inputs stay finite.
 * The composite definition it must equal is `composedSoftmax` (composite/activation.ts).
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  if (!(x instanceof Tensor)) fail("softmax", `expected a Tensor, got ${x === null ? "null" : typeof x}`);
  const a = normalizeAxis("softmax", axis, x.rank);
  const [t] = unify("softmax", [x], "float32");
  // a rank-0 tensor is a single class
  if (t.rank === 0) return reshape(apply(softmaxDef, [reshape(t, [1])], { axis: 0 }), []);
  return apply(softmaxDef, [t], { axis: a });
}

const logSoftmaxDef = defineOp<{ axis: number }>({
  name: "logSoftmax",
  forward: (be, [x], { axis }) => ({ storage: be.logSoftmax(x, axis), shape: x.shape, dtype: x.dtype }),
  // y = logSoftmax(x): dx = dy − softmax(x)·Σ dy = dy − exp(y)·Σ dy along the axis
  backward: ({ output, attrs: { axis } }, dy) => [() => sub(dy, mul(exp(output), sum(dy, axis, true)))],
});

/**
 * log softmax(x) along an axis, computed as (x − m) − log Σ exp(x − m) with m the maximum (PyTorch's
 * form), which keeps the top classes exact at large logits: for [1000, 990] the first is −4.54e-5, where
 * x − logΣexp(x) would give −6.1e-5 in float32. `composedLogSoftmax` (composite/activation.ts) is its
 * composite definition.
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  if (!(x instanceof Tensor)) fail("logSoftmax", `expected a Tensor, got ${x === null ? "null" : typeof x}`);
  const a = normalizeAxis("logSoftmax", axis, x.rank);
  const [t] = unify("logSoftmax", [x], "float32");
  if (t.rank === 0) return reshape(apply(logSoftmaxDef, [reshape(t, [1])], { axis: 0 }), []);
  return apply(logSoftmaxDef, [t], { axis: a });
}

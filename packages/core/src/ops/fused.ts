/**
 * @file Fused primitives: ops that also exist as a composite of other ops (composite/), given a kernel
 * of their own because a profile showed their chain of elementwise kernels costing more than the
 * arithmetic (benchmarks/src/profile.ts). Each keeps its composite definition as the readable reference
 * and as the oracle its tests compare it with; its backward rule is written with ordinary ops, so
 * gradients of gradients work.
 */

import { checkNumberList, checkOptionalTensor, checkOptions, checkTensor } from "../args.ts";
import { checkLayerNorm } from "../composite/normalization.ts";
import { fail } from "../errors.ts";
import { normalizeAxis } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { unify } from "./cast.ts";
import { add, erf, exp, mul, rsqrt, sigmoid, sub } from "./elementwise.ts";
import { reshape } from "./movement.ts";
import { mean, sum } from "./reduce.ts";
import { apply, defineOp, type OpDef } from "./registry.ts";

/** Applies a primitive along one axis of x (promoted to float); a rank-0 tensor is a single class. */
function alongAxis(op: string, def: OpDef<{ axis: number }>, x: Tensor, axis: number): Tensor {
  checkTensor(op, x);
  const a = normalizeAxis(op, axis, x.rank);
  const [t] = unify(op, [x], "float32");
  if (t.rank === 0) return reshape(apply(def, [reshape(t, [1])], { axis: 0 }), []);
  return apply(def, [t], { axis: a });
}

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
  return alongAxis("softmax", softmaxDef, x, axis);
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
  return alongAxis("logSoftmax", logSoftmaxDef, x, axis);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d gelu / dx, exact form: Φ(x) + x·φ(x), with Φ = (1 + erf(x/√2))/2 and φ(x) = exp(−x²/2)/√(2π). */
function geluSlope(x: Tensor): Tensor {
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = mul(exp(mul(mul(x, x), -0.5)), INV_SQRT_2PI);
  return add(cdf, mul(x, pdf));
}

/**
 * d gelu / dx, tanh form. With u = √(2/π)·(x + 0.044715·x³) the form is x·σ(2u) (0.5·(1 + tanh u) =
 * σ(2u)), so the slope is s + x·s·(1 − s)·2u′ with s = σ(2u) and u′ = √(2/π)·(1 + 3·0.044715·x²).
 */
function geluTanhSlope(x: Tensor): Tensor {
  const x2 = mul(x, x);
  const s = sigmoid(mul(mul(add(x, mul(mul(x2, x), 0.044715)), SQRT_2_OVER_PI), 2));
  const du = mul(add(mul(x2, 3 * 0.044715), 1), 2 * SQRT_2_OVER_PI);
  return add(s, mul(mul(x, mul(s, sub(1, s))), du));
}

const geluDef = defineOp({
  name: "gelu",
  forward: (be, [x]) => ({ storage: be.gelu(x, false), shape: x.shape, dtype: x.dtype }),
  // d gelu(x) = (Φ(x) + x·φ(x))·dy
  backward: ({ inputs: [x] }, dy) => [() => mul(dy, geluSlope(x))],
});

const geluTanhDef = defineOp({
  name: "geluTanh",
  forward: (be, [x]) => ({ storage: be.gelu(x, true), shape: x.shape, dtype: x.dtype }),
  // d gelu_tanh(x) = (s + x·s·(1 − s)·2u′)·dy, s = σ(2u) (see geluTanhSlope)
  backward: ({ inputs: [x] }, dy) => [() => mul(dy, geluTanhSlope(x))],
});

/**
 * Gaussian error linear unit. `approximate: "none"` (the default, as PyTorch) is x·Φ(x) with the exact
 * erf; `"tanh"` is the GPT-2 form 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Each form is a fused
 * primitive ("gelu", "geluTanh"); `composedGelu` (composite/activation.ts) is their composite definition.
 */
export function gelu(x: Tensor, options: { approximate?: "none" | "tanh" } = {}): Tensor {
  checkOptions("gelu", options, ["approximate"]);
  const { approximate = "none" } = options;
  checkTensor("gelu", x);
  if (approximate !== "none" && approximate !== "tanh") {
    fail("gelu", `approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
  }
  const [t] = unify("gelu", [x], "float32");
  return apply(approximate === "none" ? geluDef : geluTanhDef, [t], undefined);
}

const layerNormDef = defineOp<{ axes: number; eps: number }>({
  name: "layerNorm",
  forward: (be, [x], { axes, eps }) => ({ storage: be.layerNorm(x, axes, eps), shape: x.shape, dtype: x.dtype }),
  // y = (x − μ)·r with r = 1/√(var + eps) over the trailing axes: dx = r·(dy − mean(dy) − y·mean(dy·y))
  backward: ({ inputs: [x], output, attrs: { axes, eps } }, dy) => [
    () => {
      const over = Array.from({ length: axes }, (_, i) => x.rank - axes + i);
      const centered = sub(x, mean(x, over, true));
      const r = rsqrt(add(mean(mul(centered, centered), over, true), eps));
      return mul(sub(sub(dy, mean(dy, over, true)), mul(output, mean(mul(dy, output), over, true))), r);
    },
  ],
});

/**
 * (x - mean) / √(var + eps) over the trailing axes given by `normalizedShape` (biased variance, as
 * PyTorch), then ·weight + bias when given (each of shape normalizedShape). The normalisation is a fused
 * primitive; `composedLayerNorm` (composite/normalization.ts) is its composite definition.
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  checkNumberList("layerNorm", normalizedShape, "normalizedShape");
  checkOptionalTensor("layerNorm", weight, "the weight");
  checkOptionalTensor("layerNorm", bias, "the bias");
  checkTensor("layerNorm", x);
  const axes = checkLayerNorm(x, normalizedShape, weight, bias, eps);
  const [t] = unify("layerNorm", [x], "float32");
  let out = apply(layerNormDef, [t], { axes, eps });
  if (weight) out = mul(out, weight);
  if (bias) out = add(out, bias);
  return out;
}

/** @file Layer normalisation over the last axes, with optional affine weight and bias. */

import { fail, fmtShape } from "../errors.ts";
import { add, mul, rsqrt, sub } from "../ops/elementwise.ts";
import { mean } from "../ops/reduce.ts";
import { sameShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/**
 * The checks of layerNorm's arguments, shared by the fused primitive (ops/fused.ts) and this composite;
 * returns how many trailing axes are normalised.
 */
export function checkLayerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): number {
  const k = normalizedShape.length;
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), normalizedShape)) {
    fail("layerNorm", `normalizedShape ${fmtShape(normalizedShape)} must be the trailing axes of the input ${fmtShape(x.shape)}`);
  }
  for (const [name, p] of [
    ["weight", weight],
    ["bias", bias],
  ] as const) {
    if (p && !sameShape(p.shape, normalizedShape)) {
      fail("layerNorm", `${name} has shape ${fmtShape(p.shape)}, expected ${fmtShape(normalizedShape)}`);
    }
  }
  // a negative eps can make var + eps negative and the output NaN on some inputs only, as the module says
  if (!(eps >= 0 && Number.isFinite(eps))) fail("layerNorm", `eps must be a non-negative finite number, got ${eps}`);
  return k;
}

/**
 * The composite definition of layerNorm, which the fused primitive (ops/fused.ts) must equal:
 * (x - mean) / √(var + eps) over the trailing axes given by `normalizedShape` (biased variance, as
 * PyTorch), then ·weight + bias when given (each of shape normalizedShape).
 */
export function composedLayerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  const k = checkLayerNorm(x, normalizedShape, weight, bias, eps);
  const axes = Array.from({ length: k }, (_, i) => x.rank - k + i);
  const centered = sub(x, mean(x, axes, true));
  const variance = mean(mul(centered, centered), axes, true);
  let out = mul(centered, rsqrt(add(variance, eps)));
  if (weight) out = mul(out, weight);
  if (bias) out = add(out, bias);
  return out;
}

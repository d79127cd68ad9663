/** @file LayerNorm over the trailing axes, with a learned elementwise scale and shift. */

import { checkNumberList, checkOptions, checkTensor, fail, layerNorm, ones, type Tensor, tidy, zeros } from "@tsgrad/core";
import { Module, Parameter } from "../module.ts";
import type { LayerOptions } from "./linear.ts";

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  weight: Parameter | null; // (...normalizedShape), starts at 1
  bias: Parameter | null; // (...normalizedShape), starts at 0

  constructor(
    normalizedShape: number | readonly number[],
    readonly options: LayerOptions & { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    checkOptions("LayerNorm", options, ["dtype", "generator", "eps", "elementwiseAffine", "bias"]);
    if (typeof normalizedShape !== "number") checkNumberList("LayerNorm", normalizedShape, "normalizedShape");
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || this.normalizedShape.some((d) => !Number.isInteger(d) || d <= 0)) {
      fail("LayerNorm", `normalizedShape must be positive integers, got [${this.normalizedShape}]`);
    }
    const eps = options.eps ?? 1e-5;
    // a negative eps can make var + eps negative, and the output NaN, only on some inputs
    if (!(eps >= 0 && Number.isFinite(eps))) fail("LayerNorm", `eps must be a non-negative finite number, got ${eps}`);
    const affine = options.elementwiseAffine ?? true;
    const shape = this.normalizedShape;
    // tidy frees the filled tensors once the parameters hold their buffers
    this.weight = affine ? tidy(() => new Parameter(ones(shape, { dtype: options.dtype }))) : null;
    this.bias = affine && options.bias !== false ? tidy(() => new Parameter(zeros(shape, { dtype: options.dtype }))) : null;
  }

  forward(x: Tensor): Tensor {
    checkTensor("LayerNorm", x);
    const k = this.normalizedShape.length;
    if (x.rank < k || x.shape.slice(x.rank - k).some((d, i) => d !== this.normalizedShape[i])) {
      fail("LayerNorm", `expected an input whose trailing axes are [${this.normalizedShape}], got shape [${x.shape}]`);
    }
    return layerNorm(x, this.normalizedShape, this.weight ?? undefined, this.bias ?? undefined, this.options.eps ?? 1e-5);
  }
}

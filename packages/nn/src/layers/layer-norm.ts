/** @file LayerNorm over the trailing axes, with a learned elementwise scale and shift. */

import { fail, layerNorm, ones, type Tensor, zeros } from "@tsgrad/core";
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
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || this.normalizedShape.some((d) => !Number.isInteger(d) || d <= 0)) {
      fail("LayerNorm", `normalizedShape must be positive integers, got [${this.normalizedShape}]`);
    }
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(ones(this.normalizedShape, { dtype: options.dtype })) : null;
    this.bias = affine && options.bias !== false ? new Parameter(zeros(this.normalizedShape, { dtype: options.dtype })) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight ?? undefined, this.bias ?? undefined, this.options.eps ?? 1e-5);
  }
}

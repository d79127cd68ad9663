/** @file Linear: y = x·Wᵀ + b, with W stored [out, in] as in PyTorch. */

import { checkOptions, checkSize, checkTensor, type DType, fail, type Generator, linear, type Tensor, tidy } from "@tsgrad/core";
import { kaimingUniform, uniformInit } from "../init.ts";
import { Module, Parameter } from "../module.ts";

export interface LayerOptions {
  dtype?: DType;
  generator?: Generator;
}

export class Linear extends Module {
  weight: Parameter; // (out, in)
  bias: Parameter | null; // (out,)

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    checkOptions("Linear", options, ["dtype", "generator", "bias"]);
    for (const [name, n] of [
      ["inFeatures", inFeatures],
      ["outFeatures", outFeatures],
    ] as const) {
      if (!Number.isInteger(n) || n < 0) fail("Linear", `${name} must be a non-negative integer, got ${n}`);
    }
    checkSize("Linear", [outFeatures, inFeatures], options.dtype ?? "float32");
    // PyTorch's default: Kaiming-uniform with a = √5 for W, which is U(±1/√in); the same bound for b.
    // tidy frees the draws once the parameters hold their buffers
    this.weight = tidy(
      () =>
        new Parameter(kaimingUniform([outFeatures, inFeatures], { a: Math.sqrt(5), dtype: options.dtype, generator: options.generator })),
    );
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.bias =
      options.bias === false
        ? null
        : tidy(() => new Parameter(uniformInit([outFeatures], -bound, bound, { dtype: options.dtype, generator: options.generator })));
  }

  forward(x: Tensor): Tensor {
    checkTensor("Linear", x);
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.inFeatures) {
      fail("Linear", `expected an input whose last axis is inFeatures = ${this.inFeatures}, got shape [${x.shape}]`);
    }
    return linear(x, this.weight, this.bias ?? undefined); // (..., in) -> (..., out)
  }
}

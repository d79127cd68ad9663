/** @file FeedForward: the position-wise MLP of a transformer block, Linear(d -> hidden), GELU, Linear(hidden -> d). */

import { checkTensor, fail, fmtShape, gelu, type Tensor } from "@tsgrad/core";
import { Module } from "../module.ts";
import { Dropout } from "./dropout.ts";
import { type LayerOptions, Linear } from "./linear.ts";

export interface FeedForwardOptions extends LayerOptions {
  /** Biases in both linears. Default true. */
  bias?: boolean;
  /** Dropout on the output while training (nanoGPT's MLP dropout). Default 0. */
  dropout?: number;
  /** GELU's form: "none" (exact erf, the default, as nanoGPT's nn.GELU()) or "tanh" (GPT-2's). */
  approximate?: "none" | "tanh";
}

export class FeedForward extends Module {
  up: Linear; // (hidden, dModel)
  down: Linear; // (dModel, hidden)
  dropout: Dropout;
  readonly approximate: "none" | "tanh";

  /** hidden defaults to 4·dModel, as in GPT-2 and "Attention is all you need". */
  constructor(
    readonly dModel: number,
    readonly hidden = 4 * dModel,
    options: FeedForwardOptions = {},
  ) {
    super();
    for (const [name, n] of [
      ["dModel", dModel],
      ["hidden", hidden],
    ] as const) {
      if (!Number.isInteger(n) || n <= 0) fail("FeedForward", `${name} must be a positive integer, got ${n}`);
    }
    const linear = { dtype: options.dtype, generator: options.generator, bias: options.bias };
    this.up = new Linear(dModel, hidden, linear);
    this.down = new Linear(hidden, dModel, linear);
    this.dropout = new Dropout(options.dropout ?? 0, options.generator);
    this.approximate = options.approximate ?? "none";
  }

  forward(x: Tensor): Tensor {
    checkTensor("FeedForward", x);
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.dModel) {
      fail("FeedForward", `expected input (..., ${this.dModel}) with dModel last, got ${fmtShape(x.shape)}`);
    }
    const hidden = gelu(this.up.forward(x), { approximate: this.approximate }); // (..., hidden)
    return this.dropout.forward(this.down.forward(hidden)); // (..., dModel)
  }
}

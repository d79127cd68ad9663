/** @file Activation modules: GELU (exact or tanh form), ReLU and Tanh, each a Module around core's op. */

import { checkOptions, checkTensor, fail, gelu, relu, type Tensor, tanh } from "@tsgrad/core";
import { Module } from "../module.ts";

export class GELU extends Module {
  /** "none" (the default, as PyTorch): x·Φ(x) with the exact erf; "tanh": the GPT-2 approximation. */
  readonly approximate: "none" | "tanh";

  constructor(options: { approximate?: "none" | "tanh" } = {}) {
    super();
    checkOptions("GELU", options, ["approximate"]);
    this.approximate = options.approximate ?? "none";
    // checked here as well as in gelu, so that a typo fails where the model is built, not at its first step
    if (this.approximate !== "none" && this.approximate !== "tanh") {
      fail("GELU", `approximate must be "none" or "tanh", got ${JSON.stringify(this.approximate)}`);
    }
  }

  forward(x: Tensor): Tensor {
    checkTensor("GELU", x);
    return gelu(x, { approximate: this.approximate });
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    checkTensor("ReLU", x);
    return relu(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    checkTensor("Tanh", x);
    return tanh(x);
  }
}

/** @file Dropout as a module: active in training mode, the identity in eval mode. */

import { describeValue, dropout, fail, Generator, type Tensor } from "@tsgrad/core";
import { Module } from "../module.ts";

export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    /** Where masks come from; the global seeded generator by default. */
    readonly generator?: Generator,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) fail("Dropout", `p must be in [0, 1], got ${p}`);
    if (generator !== undefined && !(generator instanceof Generator))
      fail("Dropout", `generator must be a Generator, got ${describeValue(generator)}`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, generator: this.generator });
  }
}

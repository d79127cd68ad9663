/**
 * @file Loss modules, as PyTorch's nn.CrossEntropyLoss, nn.MSELoss and nn.BCEWithLogitsLoss: each holds
 * its options and calls the one definition of the loss in @tsgrad/core, which validates them.
 */

import {
  binaryCrossEntropyWithLogits,
  type CrossEntropyOptions,
  checkOptions,
  crossEntropy,
  mse,
  type Reduction,
  type Tensor,
} from "@tsgrad/core";
import { Module } from "./module.ts";

/** logits (..., C) and int32 class targets (...) -> the cross-entropy (see core's crossEntropy). */
export class CrossEntropyLoss extends Module {
  readonly options: Readonly<CrossEntropyOptions>;

  constructor(options: CrossEntropyOptions = {}) {
    super();
    checkOptions("CrossEntropyLoss", options, ["ignoreIndex", "labelSmoothing", "reduction"]);
    // a copy, so that changing the caller's object later does not change the loss
    this.options = { ...options };
  }

  forward(logits: Tensor, targets: Tensor): Tensor {
    return crossEntropy(logits, targets, this.options);
  }
}

/** Mean squared error between a prediction and a target of the same shape. */
export class MSELoss extends Module {
  readonly reduction: Reduction;

  constructor(options: { reduction?: Reduction } = {}) {
    super();
    checkOptions("MSELoss", options, ["reduction"]);
    this.reduction = options.reduction ?? "mean";
  }

  forward(prediction: Tensor, target: Tensor): Tensor {
    return mse(prediction, target, { reduction: this.reduction });
  }
}

/** Binary cross-entropy from logits, with an optional weight on the positive class. */
export class BCEWithLogitsLoss extends Module {
  readonly reduction: Reduction;
  /** A tensor posWeight is a buffer (saved in the state dict, as PyTorch's pos_weight); a number is an option. */
  readonly posWeight: Tensor | number | undefined;

  constructor(options: { posWeight?: Tensor | number; reduction?: Reduction } = {}) {
    super();
    checkOptions("BCEWithLogitsLoss", options, ["posWeight", "reduction"]);
    this.reduction = options.reduction ?? "mean";
    if (typeof options.posWeight === "object") this.registerBuffer("posWeight", options.posWeight);
    else this.posWeight = options.posWeight;
  }

  forward(logits: Tensor, targets: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(logits, targets, { posWeight: this.posWeight, reduction: this.reduction });
  }
}

/**
 * @file Loss functions, defined once here; @tsgrad/nn wraps them as modules.
 *
 * Each takes `reduction`: "mean" (default), "sum" or "none".
 */

import { checkOptions, checkTensor } from "../args.ts";
import { isFloat } from "../dtype.ts";
import { fail, fmtShape } from "../errors.ts";
import { arange } from "../factories.ts";
import { cast } from "../ops/cast.ts";
import { abs, add, div, eq, exp, log1p, maximum, mul, ne, neg, sub, where } from "../ops/elementwise.ts";
import { logSoftmax } from "../ops/fused.ts";
import { checkIndexRange } from "../ops/indexing.ts";
import { unsqueeze } from "../ops/movement.ts";
import { mean, sum } from "../ops/reduce.ts";
import { broadcastsTo, sameShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";

export type Reduction = "mean" | "sum" | "none";

function reduce(where: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "mean") return mean(loss);
  if (reduction === "sum") return sum(loss);
  if (reduction === "none") return loss;
  return fail(where, `reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped and excluded from the mean (default -100, as PyTorch). */
  ignoreIndex?: number;
  /** Mixes the one-hot target with the uniform distribution: (1-ε)·onehot + ε/C. */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * Cross-entropy from unnormalised logits [..., C] and int32 class indices [...], as
 * torch.nn.functional.cross_entropy with the class axis last. The mean is over non-ignored targets.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  checkTensor("crossEntropy", logits, "logits");
  checkTensor("crossEntropy", targets, "targets");
  checkOptions("crossEntropy", options, ["ignoreIndex", "labelSmoothing", "reduction"]);
  const { ignoreIndex = -100, labelSmoothing = 0, reduction = "mean" } = options;
  // a class index is an integer: 1.5 would match no target and silently ignore nothing
  if (!Number.isSafeInteger(ignoreIndex)) fail("crossEntropy", `ignoreIndex must be an integer, got ${ignoreIndex}`);
  if (!isFloat(logits.dtype)) fail("crossEntropy", `logits must be float32 or float64, got ${logits.dtype}`);
  if (logits.rank < 1) fail("crossEntropy", "logits need a class axis (the last), got shape []");
  if (!sameShape(logits.shape.slice(0, -1), targets.shape)) {
    fail(
      "crossEntropy",
      `logits ${fmtShape(logits.shape)} need targets of shape ${fmtShape(logits.shape.slice(0, -1))}, got ${fmtShape(targets.shape)}`,
    );
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) fail("crossEntropy", `labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const classes = logits.shape[logits.rank - 1];
  checkIndexRange("crossEntropy", targets, classes, [ignoreIndex]);

  const logp = logSoftmax(logits, -1);
  // NOTE: a one-hot mask from comparisons instead of a gather: ignored targets give an all-zero row.
  // The masks select (where) rather than multiply: 0·(-inf) from a masked-out logit would be NaN.
  // The comparison runs in float32, exact for class indices below 2^24: a fast backend has float32
  // comparison kernels, and an int32 one over (..., classes) costs more than the whole log-softmax.
  const ids = classes <= 2 ** 24 ? "float32" : "int32";
  const onehot = eq(unsqueeze(cast(targets, ids), -1), arange(0, classes, 1, { backend: logits.backend, dtype: ids }));
  const nll = neg(sum(where(onehot, logp, 0), -1));
  const keep = ne(targets, ignoreIndex);
  let loss = nll;
  if (labelSmoothing > 0) {
    const smooth = neg(div(sum(logp, -1), classes));
    loss = add(mul(nll, 1 - labelSmoothing), mul(smooth, labelSmoothing));
  }
  loss = where(keep, loss, 0);
  const kept = cast(keep, logp.dtype);
  if (reduction === "mean") return div(sum(loss), sum(kept));
  return reduce("crossEntropy", loss, reduction);
}

/**
 * Binary cross-entropy from logits, stable for any logit: max(x,0) - x·t + log(1 + exp(-|x|)). With
 * posWeight p it is (1 - t)·x + (1 + (p - 1)·t)·(log(1 + exp(-|x|)) + max(-x, 0)), as PyTorch.
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor,
  options: { posWeight?: Tensor | number; reduction?: Reduction } = {},
): Tensor {
  checkTensor("binaryCrossEntropyWithLogits", logits, "logits");
  checkTensor("binaryCrossEntropyWithLogits", targets, "targets");
  checkOptions("binaryCrossEntropyWithLogits", options, ["posWeight", "reduction"]);
  const { posWeight, reduction = "mean" } = options;
  if (!isFloat(logits.dtype)) fail("binaryCrossEntropyWithLogits", `logits must be float32 or float64, got ${logits.dtype}`);
  if (posWeight instanceof Tensor && !broadcastsTo(posWeight.shape, logits.shape)) {
    fail(
      "binaryCrossEntropyWithLogits",
      `posWeight of shape ${fmtShape(posWeight.shape)} must broadcast to the logits' shape ${fmtShape(logits.shape)}`,
    );
  }
  if (!sameShape(logits.shape, targets.shape)) {
    fail(
      "binaryCrossEntropyWithLogits",
      `logits ${fmtShape(logits.shape)} and targets ${fmtShape(targets.shape)} must have the same shape`,
    );
  }
  const t = cast(targets, logits.dtype);
  const softTail = log1p(exp(neg(abs(logits))));
  const loss =
    posWeight === undefined
      ? add(sub(maximum(logits, 0), mul(logits, t)), softTail)
      : add(mul(sub(1, t), logits), mul(add(1, mul(sub(posWeight, 1), t)), add(softTail, maximum(neg(logits), 0))));
  return reduce("binaryCrossEntropyWithLogits", loss, reduction);
}

/** Mean squared error (a - b)², with broadcasting refused: the shapes must match. */
export function mse(prediction: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkTensor("mse", prediction, "the prediction");
  checkTensor("mse", target, "the target");
  checkOptions("mse", options, ["reduction"]);
  if (!sameShape(prediction.shape, target.shape)) {
    fail("mse", `prediction ${fmtShape(prediction.shape)} and target ${fmtShape(target.shape)} must have the same shape`);
  }
  const diff = sub(prediction, target);
  return reduce("mse", mul(diff, diff), options.reduction ?? "mean");
}

/**
 * @file GPTClassifier: a Linear head over a GPT backbone's pooled hidden states, so one pretrained
 * backbone serves every downstream task (each task adds only its head, and an adapter if it fine-tunes).
 * The backbone is kept whole under `backbone`, so its modules read `backbone.blocks.0.attn.q`, the paths
 * hyra's adapters target.
 *
 * Pooling is the mean over the non-padding positions. NOTE: a causal model's last position is the only
 * one that has seen the whole text, which is why GPT-2's sequence classifier reads it; but a small
 * language model's state there is shaped to predict the next token, which depends mostly on the last few
 * tokens (a character LM's most of all). The mean gathers every position's evidence, and its gradient
 * reaches every position, which makes a small head train more steadily.
 */

import { cast, checkOptions, checkTensor, clamp, fail, fmtShape, logicalNot, sum, type Tensor, tensor, unsqueeze } from "@tsgrad/core";
import { type LayerOptions, Linear, Module } from "@tsgrad/nn";
import { GPT } from "./gpt.ts";

export class GPTClassifier extends Module {
  backbone: GPT;
  head: Linear; // (numClasses, C)

  constructor(
    backbone: GPT,
    readonly numClasses: number,
    options: LayerOptions = {},
  ) {
    super();
    if (!(backbone instanceof GPT)) fail("GPTClassifier", "the backbone must be a GPT");
    checkOptions("GPTClassifier", options, ["dtype", "generator"]);
    if (!(Number.isInteger(numClasses) && numClasses >= 1))
      fail("GPTClassifier", `numClasses must be a positive integer, got ${numClasses}`);
    this.backbone = backbone;
    this.head = new Linear(backbone.config.nEmbd, numClasses, options);
  }

  /** The mean of the backbone's hidden states over the real tokens: (B, T) ids -> (B, C). */
  pooled(ids: Tensor, paddingMask?: Tensor): Tensor {
    if (paddingMask !== undefined) {
      checkTensor("GPTClassifier", paddingMask, "paddingMask");
      if (paddingMask.dtype !== "bool" || paddingMask.rank !== 2 || paddingMask.shape.some((d, i) => d !== ids.shape[i])) {
        fail(
          "GPTClassifier",
          `paddingMask must be bool (B, T) like ids ${fmtShape(ids.shape)} (true = padding), got ${paddingMask.dtype} ${fmtShape(paddingMask.shape)}`,
        );
      }
    }
    // no position attends to padding, so a text's states do not depend on what pads it
    const hidden = this.backbone.hidden(ids, { keyPaddingMask: paddingMask }); // (B, T, C)
    if (!paddingMask) return hidden.mean(1); // (B, C)
    const real = unsqueeze(cast(logicalNot(paddingMask), hidden.dtype), -1); // (B, T, 1): 1 at real tokens
    const count = clamp(sum(real, 1), 1); // (B, 1); an all-padding row pools to zeros, not 0/0
    return sum(hidden.mul(real), 1).div(count); // (B, C)
  }

  /** Class logits: ids (B, T) int32, paddingMask (B, T) bool, true = padding -> (B, numClasses). */
  forward(ids: Tensor, paddingMask?: Tensor): Tensor {
    return this.head.forward(this.pooled(ids, paddingMask)); // (B, numClasses)
  }
}

/**
 * Token lists as one right-padded batch on the current backend: ids (B, T) int32, whose padding holds
 * padId (the mask makes its value irrelevant), and paddingMask (B, T) bool, true = padding. T is the
 * longest list's length, cut to maxLength (a longer list keeps its first maxLength tokens).
 */
export function padBatch(
  sequences: readonly (readonly number[])[],
  options: { maxLength?: number; padId?: number } = {},
): { ids: Tensor; paddingMask: Tensor } {
  checkOptions("padBatch", options, ["maxLength", "padId"]);
  const { maxLength = Number.POSITIVE_INFINITY, padId = 0 } = options;
  if (!Array.isArray(sequences) || sequences.length === 0) fail("padBatch", "needs an array of at least one token list");
  if (maxLength !== Number.POSITIVE_INFINITY && !(Number.isInteger(maxLength) && maxLength >= 1)) {
    fail("padBatch", `maxLength must be a positive integer, got ${maxLength}`);
  }
  const T = Math.min(
    maxLength,
    sequences.reduce((n, s) => Math.max(n, s.length), 1),
  );
  const ids = sequences.map((s) => Array.from({ length: T }, (_, t) => (t < s.length ? s[t] : padId))); // (B, T)
  const padding = sequences.map((s) => Array.from({ length: T }, (_, t) => t >= s.length)); // (B, T)
  return { ids: tensor(ids, [sequences.length, T], "int32"), paddingMask: tensor(padding, [sequences.length, T], "bool") };
}

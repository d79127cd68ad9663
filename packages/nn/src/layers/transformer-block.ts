/**
 * @file TransformerBlock: pre-LayerNorm (GPT-2, nanoGPT): each sublayer reads a normalised copy of the
 * residual stream and adds its result back, so the stream itself is never normalised.
 *
 *     x = x + attn(ln1(x))
 *     x = x + mlp(ln2(x))
 */

import { checkOptions, checkTensor, fail, fmtShape, type Tensor } from "@tsgrad/core";
import { Module } from "../module.ts";
import { MultiHeadAttention, type MultiHeadAttentionForwardOptions } from "./attention.ts";
import { FeedForward } from "./feed-forward.ts";
import { LayerNorm } from "./layer-norm.ts";
import type { LayerOptions } from "./linear.ts";

export interface TransformerBlockOptions extends LayerOptions {
  /** Causal self-attention (a decoder block). Default false. */
  causal?: boolean;
  /** The MLP's hidden size; 4·dModel by default. */
  hidden?: number;
  /** Biases in the linears and layer norms. Default true. */
  bias?: boolean;
  /** Dropout while training on the attention weights, the attention output and the MLP output, as nanoGPT's Block. Default 0. */
  dropout?: number;
  /** LayerNorm's epsilon. Default 1e-5. */
  eps?: number;
  /** GELU's form in the MLP (see FeedForward). */
  approximate?: "none" | "tanh";
}

export class TransformerBlock extends Module {
  ln1: LayerNorm;
  attn: MultiHeadAttention;
  ln2: LayerNorm;
  mlp: FeedForward;

  constructor(
    readonly dModel: number,
    readonly heads: number,
    options: TransformerBlockOptions = {},
  ) {
    super();
    checkOptions("TransformerBlock", options, ["dtype", "generator", "causal", "hidden", "bias", "dropout", "eps", "approximate"]);
    const { dtype, generator, bias, dropout = 0, eps } = options;
    this.ln1 = new LayerNorm(dModel, { dtype, bias, eps });
    this.attn = new MultiHeadAttention(dModel, heads, { dtype, generator, bias, causal: options.causal, dropout, outputDropout: dropout });
    this.ln2 = new LayerNorm(dModel, { dtype, bias, eps });
    this.mlp = new FeedForward(dModel, options.hidden, { dtype, generator, bias, dropout, approximate: options.approximate });
  }

  /** x (B, T, C) -> (B, T, C); the options (masks, cache, returnWeights) go to the attention. */
  forward(x: Tensor, options: MultiHeadAttentionForwardOptions = {}): Tensor {
    checkTensor("TransformerBlock", x);
    checkOptions("TransformerBlock", options, ["keyPaddingMask", "mask", "cache", "returnWeights"]);
    if (x.rank !== 3 || x.shape[2] !== this.dModel) {
      fail("TransformerBlock", `expected input (B, T, C) with C = dModel = ${this.dModel}, got ${fmtShape(x.shape)}`);
    }
    x = x.add(this.attn.forward(this.ln1.forward(x), options)); // (B, T, C)
    return x.add(this.mlp.forward(this.ln2.forward(x))); // (B, T, C)
  }
}

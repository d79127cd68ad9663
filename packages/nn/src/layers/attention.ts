/**
 * @file Attention: `scaledDotProductAttention` (a composite, no gradient code), `MultiHeadAttention` with
 * separate q, k, v and o projections, and `KVCache` for incremental decoding.
 *
 * Masks, in one place because two conventions meet here (each is the one of the PyTorch API it mirrors):
 *
 * - `mask` (scaledDotProductAttention, MultiHeadAttention.forward): bool, broadcastable to the scores
 *   (..., L, S); **true = may attend**, as `attn_mask` of torch's scaled_dot_product_attention.
 * - `keyPaddingMask` (MultiHeadAttention.forward): bool (B, S); **true = padding, ignored**, as
 *   `key_padding_mask` of torch.nn.MultiheadAttention.
 * - `causal`: query l attends to key s when s <= l + (S - L), i.e. the queries are the *last* L positions
 *   of the S keys (bottom-right alignment, as flash-attention's causal). With L = S this is the usual lower
 *   triangle; with a KV cache (S > L) each new token sees all the past and itself.
 *
 * A query row with nothing to attend to (every key masked) gives a zero output and zero weights, with
 * finite gradients, where a plain softmax over -∞ would give NaN.
 */

import {
  broadcastsTo,
  cast,
  checkOptions,
  checkTensor,
  concat,
  dropout,
  fail,
  fmtShape,
  type Generator,
  gt,
  isFloat,
  logicalAnd,
  logicalNot,
  matmul,
  reshape,
  softmax,
  sum,
  type Tensor,
  tensor,
  transpose,
  where,
} from "@tsgrad/core";
import { Module } from "../module.ts";
import { Dropout } from "./dropout.ts";
import { type LayerOptions, Linear } from "./linear.ts";

export interface AttentionOptions {
  /** Bool, broadcastable to the scores (..., L, S): true where a query may attend to a key. */
  mask?: Tensor;
  /** Each query attends only to keys at or before its own position (bottom-right aligned, see the file comment). */
  causal?: boolean;
  /** Multiplies q·kᵀ; 1/√E by default (E = the query and key size). */
  scale?: number;
  /** Dropout probability on the attention weights, applied whenever > 0 (as torch's dropout_p): pass 0 in eval. */
  dropout?: number;
  /** Where dropout masks come from; the global seeded generator by default. */
  generator?: Generator;
}

export interface AttentionResult {
  output: Tensor; // (..., L, Ev)
  /** The weights that multiplied v (after dropout, so output = weights·v). */
  weights: Tensor; // (..., L, S)
}

/** A bool (L, S) tensor, true where s <= l + (S - L). Made on the host: its values depend only on L and S. */
function causalMask(L: number, S: number, like: Tensor): Tensor {
  const allowed = new Uint8Array(L * S);
  for (let l = 0; l < L; l++) for (let s = 0; s <= Math.min(S - 1, l + S - L); s++) allowed[l * S + s] = 1;
  return tensor(allowed, [L, S], { dtype: "bool", backend: like.backend });
}

/**
 * softmax(q·kᵀ·scale, masked)·v over the last two axes; leading (batch, head) axes broadcast as in matmul.
 * q (..., L, E), k (..., S, E), v (..., S, Ev) -> output (..., L, Ev) and weights (..., L, S).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): AttentionResult {
  const OP = "scaledDotProductAttention";
  checkTensor(OP, q, "q");
  checkTensor(OP, k, "k");
  checkTensor(OP, v, "v");
  checkOptions(OP, options, ["mask", "causal", "scale", "dropout", "generator"]);
  for (const [name, t] of [
    ["q", q],
    ["k", k],
    ["v", v],
  ] as const) {
    if (t.rank < 2) fail(OP, `${name} needs at least 2 axes (..., length, features), got ${fmtShape(t.shape)}`);
    if (!isFloat(t.dtype)) fail(OP, `${name} must be a float tensor, got ${t.dtype}`);
  }
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  if (Ek !== E) fail(OP, `q and k must have the same feature size, got q ${fmtShape(q.shape)} and k ${fmtShape(k.shape)}`);
  if (v.shape.at(-2) !== S) {
    fail(OP, `k and v must have the same number of keys, got k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)}`);
  }
  const p = options.dropout ?? 0;
  if (!(p >= 0 && p <= 1)) fail(OP, `dropout must be in [0, 1], got ${p}`);

  const scale = options.scale ?? 1 / Math.sqrt(E);
  const scores = matmul(q, transpose(k)).mul(scale); // (..., L, S)

  let attend: Tensor | null = null; // bool, broadcastable to (..., L, S)
  if (options.mask) {
    const { mask } = options;
    if (mask.dtype !== "bool") fail(OP, `mask must be a bool tensor (true = attend), got ${mask.dtype}`);
    if (!broadcastsTo(mask.shape, scores.shape)) {
      fail(OP, `mask of shape ${fmtShape(mask.shape)} does not broadcast to the scores ${fmtShape(scores.shape)} (..., L, S)`);
    }
    attend = mask;
  }
  if (options.causal) {
    const causal = causalMask(L, S, q); // (L, S)
    attend = attend ? logicalAnd(attend, causal) : causal;
  }

  let weights: Tensor; // (..., L, S)
  if (!attend) {
    weights = softmax(scores, -1);
  } else {
    // NOTE: softmax of a row that is all -∞ is 0/0 = NaN. Rows with at least one key get -∞ at masked keys
    // (exactly zero weight, so masked keys cannot leak in); rows with none get 0s, a harmless uniform
    // softmax whose weights the outer where zeroes. No NaN is ever computed, forward or backward: the
    // outer where alone would hide one only on backends whose select ignores NaN in the unpicked branch.
    // counted in float32 (exact below 2^24 keys), which fast backends reduce with their own kernels
    const rowHasKey = gt(sum(cast(attend, "float32"), -1, true), 0); // (..., L, 1)
    const fill = where(rowHasKey, -Infinity, 0).cast(scores.dtype);
    weights = where(attend, softmax(where(attend, scores, fill), -1), 0);
  }
  if (p > 0) weights = dropout(weights, p, { generator: options.generator });
  return { output: matmul(weights, v), weights }; // (..., L, Ev)
}

/**
 * Keys and values of the tokens seen so far, for one attention layer, so that decoding token by token
 * attends to the past without recomputing it. The stored tensors are kept (they survive tidy) and cut
 * from any graph; `clear()` disposes them. Meant for inference (run it inside noGrad).
 */
export class KVCache {
  #keys: Tensor | null = null; // (B, heads, S, headSize)
  #values: Tensor | null = null; // (B, heads, S, headSize)

  get keys(): Tensor | null {
    return this.#keys;
  }

  get values(): Tensor | null {
    return this.#values;
  }

  /** Number of positions held. */
  get length(): number {
    return this.#keys?.shape[2] ?? 0;
  }

  /** Appends new keys and values (B, heads, T, headSize) and returns all of them (B, heads, S + T, headSize). */
  append(keys: Tensor, values: Tensor): { keys: Tensor; values: Tensor } {
    if (keys.rank !== 4 || values.rank !== 4 || keys.shape.some((d, i) => d !== values.shape[i])) {
      fail("KVCache", `keys and values must both be (B, heads, T, headSize), got ${fmtShape(keys.shape)} and ${fmtShape(values.shape)}`);
    }
    const past = this.#keys;
    if (past) {
      const [B, H, , D] = past.shape;
      if (keys.shape[0] !== B || keys.shape[1] !== H || keys.shape[3] !== D || keys.dtype !== past.dtype) {
        fail(
          "KVCache",
          `holds ${past.dtype} (B, heads, S, headSize) = ${fmtShape(past.shape)}, so new keys must be ` +
            `[${B},${H},T,${D}] ${past.dtype}, got ${fmtShape(keys.shape)} ${keys.dtype}`,
        );
      }
    }
    const allKeys = this.#keys ? concat([this.#keys, keys], 2) : keys; // (B, heads, S + T, headSize)
    const allValues = this.#values ? concat([this.#values, values], 2) : values; // (B, heads, S + T, headSize)
    this.clear();
    this.#keys = allKeys.detach().keep();
    this.#values = allValues.detach().keep();
    return { keys: allKeys, values: allValues };
  }

  /** Disposes what is held and starts over. */
  clear(): void {
    this.#keys?.dispose();
    this.#values?.dispose();
    this.#keys = null;
    this.#values = null;
  }
}

export interface MultiHeadAttentionOptions extends LayerOptions {
  /** Attend only to earlier positions and oneself (a decoder). Default false. */
  causal?: boolean;
  /** Biases in the four projections. Default true. */
  bias?: boolean;
  /** Dropout on the attention weights while training (torch.nn.MultiheadAttention's dropout). Default 0. */
  dropout?: number;
  /** Dropout on the output, after o, while training (nanoGPT's resid_dropout). Default 0. */
  outputDropout?: number;
}

export interface MultiHeadAttentionForwardOptions {
  /** Bool (B, S), S = cached + new positions: **true = padding**, never attended to. */
  keyPaddingMask?: Tensor;
  /** Bool, broadcastable to (B, heads, T, S): **true = may attend**. Combined with the other masks. */
  mask?: Tensor;
  /** Past keys and values: the input is the next T tokens; the cache is extended with them. */
  cache?: KVCache;
  /** Keep this forward's attention weights (B, heads, T, S) in `lastWeights`. */
  returnWeights?: boolean;
}

/**
 * Multi-head self-attention on (B, T, C) inputs, C = dModel, split into `heads` heads of `headSize`
 * features. Head h uses rows h·headSize ..< (h+1)·headSize of q, k and v and the same columns of o, as
 * `headProjections` and `headInputProjections` declare for adapters that act per head (hyra's MH-LoRA
 * and HyRA read the declaration, so another attention module takes part by declaring the same).
 */
export class MultiHeadAttention extends Module {
  // weights (dModel, dModel). Only their forward is called, so an adapter may replace them (setSubmodule("q", ...)).
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  outputDropout: Dropout;
  readonly headSize: number;
  /** The children whose output features are split into consecutive blocks of headSize, one per head. */
  readonly headProjections: readonly string[] = ["q", "k", "v"];
  /** The children whose input features are split so (o reads head h's features in its columns h·headSize ..). */
  readonly headInputProjections: readonly string[] = ["o"];
  readonly causal: boolean;
  readonly dropout: number;
  readonly generator: Generator | undefined;
  /**
   * The attention weights (B, heads, T, S) of the last forward called with `returnWeights: true` (the
   * ones that multiplied v, so after dropout in training); null after any other forward, so it is never
   * stale. Kept out of tidy and cut from the graph.
   */
  lastWeights: Tensor | null = null;

  constructor(
    readonly dModel: number,
    readonly heads: number,
    options: MultiHeadAttentionOptions = {},
  ) {
    super();
    checkOptions("MultiHeadAttention", options, ["dtype", "generator", "causal", "bias", "dropout", "outputDropout"]);
    if (!Number.isInteger(dModel) || dModel <= 0) fail("MultiHeadAttention", `dModel must be a positive integer, got ${dModel}`);
    if (!Number.isInteger(heads) || heads <= 0) fail("MultiHeadAttention", `heads must be a positive integer, got ${heads}`);
    if (dModel % heads !== 0) fail("MultiHeadAttention", `heads (${heads}) must divide dModel (${dModel})`);
    this.headSize = dModel / heads;
    this.causal = options.causal ?? false;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) fail("MultiHeadAttention", `dropout must be in [0, 1], got ${this.dropout}`);
    this.generator = options.generator;
    const linear = { dtype: options.dtype, generator: options.generator, bias: options.bias };
    this.q = new Linear(dModel, dModel, linear);
    this.k = new Linear(dModel, dModel, linear);
    this.v = new Linear(dModel, dModel, linear);
    this.o = new Linear(dModel, dModel, linear);
    this.outputDropout = new Dropout(options.outputDropout ?? 0, options.generator);
  }

  forward(x: Tensor, options: MultiHeadAttentionForwardOptions = {}): Tensor {
    checkTensor("MultiHeadAttention", x);
    checkOptions("MultiHeadAttention", options, ["keyPaddingMask", "mask", "cache", "returnWeights"]);
    const { cache, returnWeights = false } = options;
    const [B, T, C] = this.#checkInput(x, cache);
    const [H, D] = [this.heads, this.headSize];
    const S = (cache?.length ?? 0) + T; // keys: the cached positions, then the new ones
    // checked before the cache is extended, so a refused call leaves the cache as it was
    const mask = this.#combinedMask(options, B, T, S); // bool, broadcastable to (B, H, T, S)

    // project, then split the features into heads: head h is features h·D ..< (h+1)·D
    const q = transpose(reshape(this.q.forward(x), [B, T, H, D]), 1, 2); // (B, H, T, D)
    let k = transpose(reshape(this.k.forward(x), [B, T, H, D]), 1, 2); // (B, H, T, D)
    let v = transpose(reshape(this.v.forward(x), [B, T, H, D]), 1, 2); // (B, H, T, D)
    if (cache) ({ keys: k, values: v } = cache.append(k, v)); // (B, H, S, D)

    const { output, weights } = scaledDotProductAttention(q, k, v, {
      mask,
      causal: this.causal,
      dropout: this.training ? this.dropout : 0,
      generator: this.generator,
    }); // output (B, H, T, D), weights (B, H, T, S)
    this.lastWeights?.dispose();
    this.lastWeights = returnWeights ? weights.detach().keep() : null;

    const merged = reshape(transpose(output, 1, 2), [B, T, C]); // (B, T, C): the heads side by side again
    return this.outputDropout.forward(this.o.forward(merged)); // (B, T, C)
  }

  /** The caller's mask and the key-padding mask as one bool "may attend" mask, or undefined for none. */
  #combinedMask(options: MultiHeadAttentionForwardOptions, B: number, T: number, S: number): Tensor | undefined {
    const { keyPaddingMask, mask } = options;
    const H = this.heads;
    if (mask && (mask.dtype !== "bool" || !broadcastsTo(mask.shape, [B, H, T, S]))) {
      fail(
        "MultiHeadAttention",
        `mask must be bool (true = attend) and broadcast to (B, heads, T, S) = [${B},${H},${T},${S}], ` +
          `got ${mask.dtype} ${fmtShape(mask.shape)}`,
      );
    }
    if (!keyPaddingMask) return mask;
    if (keyPaddingMask.dtype !== "bool" || keyPaddingMask.rank !== 2 || keyPaddingMask.shape[0] !== B || keyPaddingMask.shape[1] !== S) {
      fail(
        "MultiHeadAttention",
        `keyPaddingMask must be bool (B, S) = [${B},${S}] (true = padding; S = ${S - T} cached + ${T} new positions), ` +
          `got ${keyPaddingMask.dtype} ${fmtShape(keyPaddingMask.shape)}`,
      );
    }
    const notPadding = reshape(logicalNot(keyPaddingMask), [B, 1, 1, S]); // (B, 1, 1, S)
    return mask ? logicalAnd(mask, notPadding) : notPadding;
  }

  /** Checks x (B, T, C) and that the cache fits it; returns [B, T, C]. */
  #checkInput(x: Tensor, cache: KVCache | undefined): [number, number, number] {
    if (x.rank !== 3 || x.shape[2] !== this.dModel) {
      fail("MultiHeadAttention", `expected input (B, T, C) with C = dModel = ${this.dModel}, got ${fmtShape(x.shape)}`);
    }
    const past = cache?.keys;
    if (past && (past.shape[0] !== x.shape[0] || past.shape[1] !== this.heads || past.shape[3] !== this.headSize)) {
      fail(
        "MultiHeadAttention",
        `the cache holds (B, heads, S, headSize) = ${fmtShape(past.shape)}, which does not fit input batch ${x.shape[0]} ` +
          `with ${this.heads} heads of ${this.headSize}`,
      );
    }
    return [x.shape[0], x.shape[1], x.shape[2]];
  }
}

/**
 * @file GPT: a decoder-only transformer in the order of karpathy/nanoGPT's model.py (and minGPT), built
 * from @tsgrad/nn's layers: token and position embeddings, nLayer pre-LayerNorm blocks of causal
 * multi-head attention and MLP, a final LayerNorm, and a language-model head tied to the token embedding.
 * `generate` samples (temperature, top-k) through one KVCache per block.
 *
 * Checkpoint names (the state dict, and so model.safetensors), C = nEmbd:
 *
 *     tokenEmbedding.weight               (vocabSize, C)  GPT-2's wte, and the LM head's weight (tied)
 *     positionEmbedding.weight            (blockSize, C)  wpe
 *     blocks.<i>.ln1.weight, .bias        (C)             ln_1
 *     blocks.<i>.attn.{q,k,v}.weight      (C, C)          c_attn, split: head h owns rows h·C/nHead ..
 *     blocks.<i>.attn.o.weight            (C, C)          attn.c_proj
 *     blocks.<i>.ln2.weight, .bias        (C)             ln_2
 *     blocks.<i>.mlp.up.weight            (4C, C)         mlp.c_fc
 *     blocks.<i>.mlp.down.weight          (C, 4C)         mlp.c_proj
 *     finalNorm.weight, .bias             (C)             ln_f
 *
 * (each Linear also has a `.bias` when config.bias). The attention modules are nn's MultiHeadAttention,
 * which declares its heads, so hyra's adapters find `blocks.<i>.attn.q`, `.v` and `.o` as they are.
 */

import {
  argmax,
  checkOptions,
  checkTensor,
  crossEntropy,
  fail,
  fmtShape,
  type Generator,
  lt,
  multinomial,
  noGrad,
  softmax,
  type Tensor,
  tensor,
  tidy,
  topk,
  where,
  zeros,
} from "@tsgrad/core";
import {
  Dropout,
  Embedding,
  KVCache,
  LayerNorm,
  LearnedPositionEmbedding,
  Linear,
  Module,
  ModuleList,
  normalInit,
  TransformerBlock,
} from "@tsgrad/nn";
import { type GPTConfig, gptConfig } from "./config.ts";

export interface GPTForwardOptions {
  /** One KVCache per block: the ids are the T tokens after the ones the caches hold (see generate). */
  caches?: readonly KVCache[];
  /** Bool (B, S), S = cached + new positions: **true = padding**, a key no position attends to. */
  keyPaddingMask?: Tensor;
}

export interface SamplingOptions {
  /** Divides the logits: below 1 sharper, above 1 flatter; 0 takes the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Sample only among each row's k most likely tokens (nanoGPT's top_k). Default: all of them. */
  topK?: number;
  /** Where the draws come from; the global seeded generator by default. */
  generator?: Generator;
}

export interface GenerateOptions extends SamplingOptions {
  /** Decode through a KVCache per block (the default); false recomputes the whole context per token, as nanoGPT. */
  useCache?: boolean;
}

export class GPT extends Module {
  readonly config: GPTConfig;
  tokenEmbedding: Embedding; // (vocabSize, C)
  positionEmbedding: LearnedPositionEmbedding; // (blockSize, C)
  dropout: Dropout;
  blocks: ModuleList; // nLayer TransformerBlocks
  finalNorm: LayerNorm;
  lmHead: Linear; // (vocabSize, C), the same Parameter as tokenEmbedding.weight

  /** `config` is checked by gptConfig (vocabSize and blockSize are required); weights draw from `generator`. */
  constructor(config: Partial<GPTConfig> & Pick<GPTConfig, "vocabSize" | "blockSize">, options: { generator?: Generator } = {}) {
    super();
    checkOptions("GPT", options, ["generator"]);
    const c = gptConfig(config);
    this.config = c;
    const { generator } = options;
    this.tokenEmbedding = new Embedding(c.vocabSize, c.nEmbd, { generator });
    this.positionEmbedding = new LearnedPositionEmbedding(c.blockSize, c.nEmbd, { generator });
    this.dropout = new Dropout(c.dropout, generator);
    const block = () => new TransformerBlock(c.nEmbd, c.nHead, { causal: true, dropout: c.dropout, bias: c.bias, generator });
    this.blocks = new ModuleList(Array.from({ length: c.nLayer }, block));
    this.finalNorm = new LayerNorm(c.nEmbd, { bias: c.bias });
    this.lmHead = new Linear(c.nEmbd, c.vocabSize, { bias: false, generator });
    // weight tying (Press & Wolf 2017, as GPT-2 and nanoGPT): reading a token in and writing one out use
    // the same vectors; the module lists and saves the tied Parameter once, as tokenEmbedding.weight
    this.lmHead.weight.dispose();
    this.lmHead.weight = this.tokenEmbedding.weight;
    this.#initWeights(generator);
  }

  /**
   * nanoGPT's _init_weights: N(0, 0.02²) for every linear and embedding weight and zero biases (nn's
   * defaults are PyTorch's Kaiming and N(0, 1), which make a tied head's first logits far too large). The
   * two projections that add into the residual stream, attn.o and mlp.down, get std 0.02/√(2·nLayer),
   * so the stream's variance does not grow with depth (GPT-2 paper, §2.3).
   */
  #initWeights(generator: Generator | undefined): void {
    const residualStd = 0.02 / Math.sqrt(2 * this.config.nLayer);
    tidy(() =>
      noGrad(() => {
        for (const [path, m] of this.namedModules()) {
          if (m === this.lmHead) continue; // its weight is the token embedding's, drawn once there
          if (m instanceof Linear) {
            const std = path.endsWith(".attn.o") || path.endsWith(".mlp.down") ? residualStd : 0.02;
            m.weight.assign(normalInit(m.weight.shape, 0, std, { generator }));
            m.bias?.assign(zeros(m.bias.shape));
          } else if (m instanceof Embedding || m instanceof LearnedPositionEmbedding) {
            m.weight.assign(normalInit(m.weight.shape, 0, 0.02, { generator }));
          }
        }
      }),
    );
  }

  /** The blocks, typed (an adapter replaces projections inside them, never the blocks themselves). */
  #blocks(): TransformerBlock[] {
    return this.blocks.items as TransformerBlock[];
  }

  /** The final hidden states: ids (B, T) int32 -> (B, T, C), after the final LayerNorm. */
  hidden(ids: Tensor, options: GPTForwardOptions = {}): Tensor {
    checkTensor("GPT", ids, "ids");
    checkOptions("GPT", options, ["caches", "keyPaddingMask"]);
    const { caches, keyPaddingMask } = options;
    if (ids.rank !== 2 || ids.dtype !== "int32") fail("GPT", `ids must be int32 (B, T), got ${ids.dtype} ${fmtShape(ids.shape)}`);
    if (caches && caches.length !== this.config.nLayer) {
      fail("GPT", `caches must hold one KVCache per block (${this.config.nLayer}), got ${caches.length}`);
    }
    const T = ids.shape[1];
    const offset = caches?.[0].length ?? 0; // positions the caches already hold
    if (offset + T > this.config.blockSize) {
      fail("GPT", `a context of ${offset + T} tokens (${offset} cached + ${T} new) is longer than blockSize ${this.config.blockSize}`);
    }
    const tokens = this.tokenEmbedding.forward(ids); // (B, T, C)
    const positions = this.positionEmbedding.forward(T, offset); // (T, C), broadcast over the batch
    let x = this.dropout.forward(tokens.add(positions)); // (B, T, C)
    this.#blocks().forEach((block, i) => {
      x = block.forward(x, { cache: caches?.[i], keyPaddingMask }); // (B, T, C)
    });
    return this.finalNorm.forward(x); // (B, T, C)
  }

  /** Next-token logits at every position: ids (B, T) int32 -> (B, T, vocabSize). */
  forward(ids: Tensor, options: GPTForwardOptions = {}): Tensor {
    return this.lmHead.forward(this.hidden(ids, options)); // (B, T, vocabSize)
  }

  /** The mean cross-entropy of predicting targets (B, T) int32 (-100 is skipped, as PyTorch's ignore_index). */
  loss(ids: Tensor, targets: Tensor): Tensor {
    return crossEntropy(this.forward(ids), targets);
  }

  /**
   * Continues every row of ids (B, T) int32 by maxNewTokens tokens, one at a time, and returns the rows
   * with the new tokens appended (B, T + maxNewTokens). Runs in eval mode and restores the mode after.
   *
   * With the cache, each step feeds only the tokens the caches have not seen. Positions are absolute, so
   * once the context outgrows blockSize the window cannot slide inside the cache: the caches start over
   * from the last blockSize tokens, exactly the context an uncached step reads (nanoGPT crops the same way).
   */
  async generate(ids: Tensor, maxNewTokens: number, options: GenerateOptions = {}): Promise<Tensor> {
    const OP = "GPT.generate";
    checkTensor(OP, ids, "ids");
    checkOptions(OP, options, ["temperature", "topK", "generator", "useCache"]);
    if (ids.rank !== 2 || ids.dtype !== "int32" || ids.shape[1] === 0) {
      fail(OP, `ids must be int32 (B, T) with T >= 1, got ${ids.dtype} ${fmtShape(ids.shape)}`);
    }
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) fail(OP, `maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
    checkSampling(OP, options, this.config.vocabSize);
    const { blockSize, vocabSize } = this.config;
    const B = ids.shape[0];
    const backend = this.tokenEmbedding.weight.backend;
    const rows = (await ids.array()) as number[][]; // the sequences so far, on the host
    const caches = options.useCache === false ? null : this.#blocks().map(() => new KVCache());
    let windowStart = 0; // the position of the first token the caches hold
    const wasTraining = this.training;
    this.eval();
    try {
      for (let step = 0; step < maxNewTokens; step++) {
        const length = rows[0].length;
        let start = Math.max(0, length - blockSize); // uncached: the last blockSize tokens
        if (caches) {
          if (length - windowStart > blockSize) {
            for (const cache of caches) cache.clear();
            windowStart = length - blockSize;
          }
          start = windowStart + caches[0].length; // only what the caches have not seen
        }
        const n = length - start;
        const last = tidy(() =>
          noGrad(() => {
            const input = tensor(
              rows.map((r) => r.slice(start)),
              [B, n],
              { dtype: "int32", backend },
            ); // (B, n)
            const logits = this.forward(input, { caches: caches ?? undefined }); // (B, n, vocabSize)
            return logits.narrow(1, n - 1, 1).reshape([B, vocabSize]); // (B, vocabSize): the last position's
          }),
        );
        const next = await sampleTokens(last, {
          temperature: options.temperature,
          topK: options.topK,
          generator: options.generator,
        }).finally(() => last.dispose());
        rows.forEach((r, b) => {
          r.push(next[b]);
        });
      }
    } finally {
      for (const cache of caches ?? []) cache.clear();
      this.train(wasTraining);
    }
    return tensor(rows, [B, rows[0].length], { dtype: "int32", backend: ids.backend });
  }
}

function checkSampling(where: string, options: SamplingOptions, vocabSize: number): void {
  const { temperature = 1, topK } = options;
  if (!(Number.isFinite(temperature) && temperature >= 0)) fail(where, `temperature must be a finite number >= 0, got ${temperature}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1 && topK <= vocabSize)) {
    fail(where, `topK must be an integer in [1, ${vocabSize}] (the vocabulary), got ${topK}`);
  }
}

/**
 * One token per row of logits (B, V): the argmax at temperature 0, otherwise a draw from
 * softmax(logits / temperature) restricted to each row's topK largest logits.
 */
export async function sampleTokens(logits: Tensor, options: SamplingOptions = {}): Promise<number[]> {
  checkTensor("sampleTokens", logits, "logits");
  checkOptions("sampleTokens", options, ["temperature", "topK", "generator"]);
  if (logits.rank !== 2) fail("sampleTokens", `logits must be (B, vocabSize), got ${fmtShape(logits.shape)}`);
  const V = logits.shape[1];
  checkSampling("sampleTokens", options, V);
  const { temperature = 1, topK, generator } = options;
  const picks = tidy(() => {
    if (temperature === 0) return argmax(logits, -1); // (B,)
    let scaled = logits.div(temperature); // (B, V)
    if (topK !== undefined && topK < V) {
      // nanoGPT: logits[logits < v[:, [-1]]] = -Inf, where v holds each row's topK largest (ties all stay)
      const kth = topk(scaled, topK).values.narrow(1, topK - 1, 1); // (B, 1)
      scaled = where(lt(scaled, kth), -Infinity, scaled); // (B, V)
    }
    return softmax(scaled, -1); // (B, V)
  });
  try {
    if (temperature === 0) return (await picks.array()) as number[];
    const drawn = await multinomial(picks, 1, { generator }); // (B, 1)
    const values = (await drawn.array()) as number[][];
    drawn.dispose();
    return values.map((row) => row[0]);
  } finally {
    picks.dispose();
  }
}

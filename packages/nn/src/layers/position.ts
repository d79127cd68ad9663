/**
 * @file Position embeddings: one vector per position, added to the token embeddings. `forward(length,
 * offset)` returns the rows of positions offset ..< offset + length, (length, d), which broadcast over the
 * batch of a (B, T, d) input; the offset is where decoding with a KV cache has got to.
 */

import { checkOptions, checkSize, type DType, fail, type Tensor, tensor } from "@tsgrad/core";
import { normalInit } from "../init.ts";
import { Module, Parameter } from "../module.ts";
import type { LayerOptions } from "./linear.ts";

function checkSizes(where: string, maxLen: number, d: number): void {
  for (const [name, n] of [
    ["maxLen", maxLen],
    ["d", d],
  ] as const) {
    if (!Number.isInteger(n) || n <= 0) fail(where, `${name} must be a positive integer, got ${n}`);
  }
}

function checkRange(where: string, length: number, offset: number, maxLen: number): void {
  if (!Number.isInteger(length) || length < 0 || !Number.isInteger(offset) || offset < 0) {
    fail(where, `length and offset must be non-negative integers, got length ${length} and offset ${offset}`);
  }
  if (offset + length > maxLen) {
    fail(where, `positions ${offset}..${offset + length - 1} (offset ${offset}, length ${length}) go beyond maxLen ${maxLen}`);
  }
}

/** A trained table of maxLen vectors (GPT-2's wpe), initialised N(0, 0.02²) as in GPT-2 and nanoGPT. */
export class LearnedPositionEmbedding extends Module {
  weight: Parameter; // (maxLen, d)

  constructor(
    readonly maxLen: number,
    readonly d: number,
    options: LayerOptions = {},
  ) {
    super();
    checkSizes("LearnedPositionEmbedding", maxLen, d);
    checkOptions("LearnedPositionEmbedding", options, ["dtype", "generator"]);
    checkSize("LearnedPositionEmbedding", [maxLen, d], options.dtype ?? "float32");
    this.weight = new Parameter(normalInit([maxLen, d], 0, 0.02, options));
  }

  /** The vectors of positions offset ..< offset + length: (length, d). */
  forward(length: number, offset = 0): Tensor {
    checkRange("LearnedPositionEmbedding", length, offset, this.maxLen);
    return this.weight.narrow(0, offset, length); // (length, d)
  }
}

/**
 * The fixed sinusoids of "Attention is all you need" (§3.5), interleaved as in its formula:
 *
 *     PE(pos, 2i)   = sin(pos / 10000^(2i/d))
 *     PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
 *
 * Computed once on the host and held as a non-persistent buffer `table`: it moves with the module but is
 * not saved in the state dict, since it is a function of (maxLen, d) alone.
 */
export class SinusoidalPositionEmbedding extends Module {
  declare readonly table: Tensor; // (maxLen, d)

  constructor(
    readonly maxLen: number,
    readonly d: number,
    options: { dtype?: DType } = {},
  ) {
    super();
    checkSizes("SinusoidalPositionEmbedding", maxLen, d);
    checkOptions("SinusoidalPositionEmbedding", options, ["dtype"]);
    checkSize("SinusoidalPositionEmbedding", [maxLen, d], "float64");
    const values = new Float64Array(maxLen * d);
    for (let pos = 0; pos < maxLen; pos++) {
      for (let j = 0; j < d; j++) {
        const angle = pos / 10000 ** ((2 * Math.floor(j / 2)) / d);
        values[pos * d + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
      }
    }
    this.registerBuffer("table", tensor(values, [maxLen, d], { dtype: options.dtype ?? "float32" }), { persistent: false });
  }

  /** The vectors of positions offset ..< offset + length: (length, d). */
  forward(length: number, offset = 0): Tensor {
    checkRange("SinusoidalPositionEmbedding", length, offset, this.maxLen);
    return this.table.narrow(0, offset, length); // (length, d)
  }
}

/** @file Embedding: a lookup table of learned vectors, one row per id, as PyTorch's nn.Embedding. */

import {
  arange,
  checkOptions,
  checkSize,
  checkTensor,
  embedding,
  fail,
  ne,
  reshape,
  type Tensor,
  tidy,
  unsqueeze,
  where,
} from "@tsgrad/core";
import { normalInit } from "../init.ts";
import { Module, Parameter } from "../module.ts";
import type { LayerOptions } from "./linear.ts";

export class Embedding extends Module {
  weight: Parameter; // (numEmbeddings, embeddingDim), N(0, 1) as in PyTorch
  /** The id whose row starts at zero and gets no gradient (normalised to 0..numEmbeddings-1), or null. */
  readonly paddingIdx: number | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: LayerOptions & { paddingIdx?: number } = {},
  ) {
    super();
    checkOptions("Embedding", options, ["dtype", "generator", "paddingIdx"]);
    for (const [name, n] of [
      ["numEmbeddings", numEmbeddings],
      ["embeddingDim", embeddingDim],
    ] as const) {
      if (!Number.isInteger(n) || n < 0) fail("Embedding", `${name} must be a non-negative integer, got ${n}`);
    }
    checkSize("Embedding", [numEmbeddings, embeddingDim], options.dtype ?? "float32");
    const pad = options.paddingIdx;
    if (pad !== undefined && !(Number.isInteger(pad) && pad >= -numEmbeddings && pad < numEmbeddings)) {
      fail("Embedding", `paddingIdx must be an integer in [${-numEmbeddings}, ${numEmbeddings}), got ${pad}`);
    }
    // a negative paddingIdx counts from the end, as in PyTorch
    this.paddingIdx = pad === undefined ? null : pad < 0 ? pad + numEmbeddings : pad;
    const padding = this.paddingIdx;
    // tidy frees the draw once the parameter holds its buffer
    this.weight = tidy(() => {
      const w = normalInit([numEmbeddings, embeddingDim], 0, 1, { dtype: options.dtype, generator: options.generator });
      if (padding === null) return new Parameter(w);
      const row = reshape(arange(0, numEmbeddings, 1, { backend: w.backend }), [numEmbeddings, 1]);
      return new Parameter(where(ne(row, padding), w, 0));
    });
  }

  /** ids: int32 of any shape -> (...ids.shape, embeddingDim). */
  forward(ids: Tensor): Tensor {
    checkTensor("Embedding", ids, "the ids");
    const rows = embedding(this.weight, ids);
    if (this.paddingIdx === null || !rows.requiresGrad) return rows;
    // the padding row must get no gradient (so it stays the fixed pad vector through training, as in
    // PyTorch): at padding positions the output reads the same values through a detached view
    return where(unsqueeze(ne(ids, this.paddingIdx), -1), rows, rows.detach());
  }
}

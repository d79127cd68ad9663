/** @file Test support: tiny models to adapt, seeded inputs, and a few helpers the suites share. */

import { type DType, manualSeed, mean, mse, noGrad, randn, type Tensor, tidy } from "@tsgrad/core";
import { AdamW, Linear, Module, ModuleList, MultiHeadAttention, TransformerBlock } from "@tsgrad/nn";

export interface TinyOptions {
  d?: number;
  heads?: number;
  layers?: number;
  classes?: number;
  dtype?: DType;
  seed?: number;
}

/** A small pre-LN encoder with a classifier head: blocks.<i>.{attn.{q,k,v,o}, mlp.{up,down}}, head. */
export class TinyEncoder extends Module {
  blocks: ModuleList;
  head: Linear;

  constructor(
    readonly d: number,
    readonly heads: number,
    layers: number,
    classes: number,
    dtype: DType,
  ) {
    super();
    this.blocks = new ModuleList(Array.from({ length: layers }, () => new TransformerBlock(d, heads, { dtype, hidden: 2 * d })));
    this.head = new Linear(d, classes, { dtype });
  }

  /** x (B, T, d) -> logits (B, classes), from the mean over positions. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const block of this.blocks) h = (block as TransformerBlock).forward(h); // (B, T, d)
    return this.head.forward(mean(h, 1)); // (B, classes)
  }
}

/** One attention module (x (B, T, d) -> (B, T, d)), so adapter paths are attn.q, attn.hyra, ... */
export class Attn extends Module {
  attn: MultiHeadAttention;
  constructor(
    readonly d: number,
    heads: number,
    dtype: DType = "float64",
  ) {
    super();
    this.attn = new MultiHeadAttention(d, heads, { dtype });
  }
  forward(x: Tensor): Tensor {
    return this.attn.forward(x);
  }
}

/** The same weights for the same seed, so a model can be rebuilt to load an adapter into. */
export function tinyEncoder(options: TinyOptions = {}): TinyEncoder {
  const { d = 16, heads = 4, layers = 2, classes = 3, dtype = "float32", seed = 1 } = options;
  manualSeed(seed);
  return new TinyEncoder(d, heads, layers, classes, dtype);
}

/** Seeded inputs (B, T, d). */
export function inputsFor(model: { d: number }, options: { batch?: number; length?: number; dtype?: DType; seed?: number } = {}): Tensor {
  const { batch = 2, length = 3, dtype = "float32", seed = 99 } = options;
  manualSeed(seed);
  return randn([batch, length, model.d], { dtype });
}

/** The model's output on x, read back (under noGrad: outputs only). */
/** Fits the model's trainable parameters to `target` by MSE with AdamW (lr 1e-2) for `steps` steps; the loss of each step. */
export async function fitMse(
  model: { forward(x: Tensor): Tensor; trainableParameters(): Tensor[] },
  x: Tensor,
  target: Tensor,
  steps: number,
): Promise<number[]> {
  const opt = new AdamW(model.trainableParameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = mse(model.forward(x), target);
      l.backward();
      opt.step();
      return l.keep();
    });
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  return losses;
}

export async function outputOf(model: { forward(x: Tensor): Tensor }, x: Tensor): Promise<Float64Array> {
  const y = noGrad(() => model.forward(x));
  const values = Float64Array.from(await y.data());
  y.dispose();
  return values;
}

/**
 * Outputs of a whole forward pass in float32 computed two ways (W·x + B·A·x against (W + B·A)·x): each
 * operation rounds at 2^-24 relative, and a tiny encoder chains about a hundred of them (two blocks of
 * matmuls, layer norms, softmax) on O(1) values, so 1e-5 bounds the difference with room to spare (we
 * see about 1e-7).
 */
export const MODEL_F32 = { atol: 1e-5, rtol: 1e-5 };

/** Largest absolute difference, for "the adapter changed something" checks. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

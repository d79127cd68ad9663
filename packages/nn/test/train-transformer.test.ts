/**
 * @file End to end: a one-block causal transformer learns a fixed-seed copy task. Each sequence is
 * k random tokens, a separator, then the same k tokens again; the model predicts every next token, and is
 * scored on the copied half, which it can only get right by attending back k + 1 positions.
 */

import { argmax, crossEntropy, eq, Generator, mean, min, type Tensor, tensor, tidy } from "@tsgrad/core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AdamW, decayGroups, Embedding, LayerNorm, LearnedPositionEmbedding, Linear, Module, TransformerBlock } from "../src/index.ts";

const K = 4; // tokens to copy
const VOCAB = 6; // data tokens 0..5; the separator is token 6
const SEP = VOCAB;
const T = 2 * K + 1; // [x1..xk, SEP, x1..xk]
const IGNORE = -100;

/** n sequences as model inputs (n, T-1) and next-token targets (n, T-1), the first half ignored. */
function copyBatch(n: number, rng: Generator): { inputs: Tensor; targets: Tensor } {
  const inputs: number[] = [];
  const targets: number[] = [];
  for (let s = 0; s < n; s++) {
    const tokens = Array.from(rng.integers(K, 0, VOCAB));
    const sequence = [...tokens, SEP, ...tokens];
    inputs.push(...sequence.slice(0, -1));
    // the target of position i is token i + 1; only the copied half (after the separator) is scored
    targets.push(...sequence.slice(1).map((tok, i) => (i >= K ? tok : IGNORE)));
  }
  return { inputs: tensor(inputs, [n, T - 1], "int32"), targets: tensor(targets, [n, T - 1], "int32") };
}

class CopyModel extends Module {
  tokens = new Embedding(VOCAB + 1, 32, { generator: new Generator(1) });
  positions = new LearnedPositionEmbedding(T, 32, { generator: new Generator(2) });
  block = new TransformerBlock(32, 2, { causal: true, hidden: 64, generator: new Generator(3) });
  norm = new LayerNorm(32);
  head = new Linear(32, VOCAB + 1, { generator: new Generator(4) });

  forward(ids: Tensor): Tensor {
    const [, length] = ids.shape;
    const x = this.tokens.forward(ids).add(this.positions.forward(length)); // (B, T, C)
    return this.head.forward(this.norm.forward(this.block.forward(x))); // (B, T, vocab)
  }
}

/** Fraction of sequences whose whole copied half is predicted exactly. */
async function exactMatch(model: CopyModel, batch: { inputs: Tensor; targets: Tensor }): Promise<number> {
  const score = tidy(() => {
    const predicted = argmax(model.forward(batch.inputs), -1); // (n, T-1)
    const right = eq(predicted, batch.targets).narrow(1, K, K); // (n, K): the copied half only
    return mean(min(right.cast("int32"), 1));
  });
  const value = await score.itemAsync();
  score.dispose();
  return value;
}

test("a one-block transformer copies 4 tokens with ≥ 99 % exact match on held-out sequences within 400 AdamW steps", async () => {
  const model = new CopyModel();
  const opt = new AdamW(decayGroups(model.namedParameters(), 0.01), { lr: 3e-3 });
  const rng = new Generator(5);
  const heldOut = copyBatch(200, new Generator(6));
  let accuracy = 0;
  let steps = 0;
  while (steps < 400 && accuracy < 0.99) {
    for (let i = 0; i < 50; i++, steps++) {
      const batch = copyBatch(32, rng);
      tidy(() => {
        const logits = model.forward(batch.inputs); // (B, T-1, vocab)
        crossEntropy(logits, batch.targets, { ignoreIndex: IGNORE }).backward();
        opt.step();
        opt.zeroGrad();
      });
      batch.inputs.dispose();
      batch.targets.dispose();
    }
    model.eval();
    accuracy = await exactMatch(model, heldOut);
    model.train();
    if (process.env.TSGRAD_VERBOSE) console.log(`step ${steps}: exact match ${accuracy}`);
  }
  assert.ok(accuracy >= 0.99, `exact match ${accuracy} after ${steps} steps`);
});

test.run();

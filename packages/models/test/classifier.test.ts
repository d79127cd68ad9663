/**
 * @file GPTClassifier: a text's class logits do not depend on the padding beside it in a batch (the
 * mean pools only real tokens, and no token attends to padding); the backbone's paths are the ones
 * hyra's adapters target; the head learns a toy task with the backbone frozen; bad masks are refused.
 */

import { crossEntropy, Generator, noGrad, tensor, tidy } from "@tsgrad/core";
import { assertArrayClose } from "@tsgrad/core/testing";
import { AdamW, MultiHeadAttention } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GPT, GPTClassifier, padBatch } from "../src/index.ts";

const CLOSE = { atol: 1e-5, rtol: 1e-4 };

function classifier(): GPTClassifier {
  const backbone = new GPT({ vocabSize: 9, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 }, { generator: new Generator(1) });
  return new GPTClassifier(backbone, 3, { generator: new Generator(2) });
}

test("a text's logits are the same alone and right-padded in a batch with longer texts", async () => {
  const model = classifier().eval();
  const texts = [[3, 1, 4], [1, 5, 2, 6, 5, 3], [8]];
  const { ids, paddingMask } = padBatch(texts, { padId: 7 });
  assert.equal(ids.shape, [3, 6]);
  assert.is(paddingMask.dtype, "bool");
  assert.equal(await paddingMask.array(), [
    [0, 0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 1, 1, 1, 1],
  ]);
  const batched = (await noGrad(() => model.forward(ids, paddingMask)).array()) as number[][];
  for (const [i, text] of texts.entries()) {
    const alone = await noGrad(() => model.forward(tensor([text], [1, text.length], "int32"))).data();
    assertArrayClose(batched[i], alone, CLOSE, { what: `text ${i}` });
  }
  // another pad id changes nothing: padding is masked, never read
  const other = padBatch(texts, { padId: 0 });
  assertArrayClose(await noGrad(() => model.forward(other.ids, other.paddingMask)).data(), batched, CLOSE);
});

test("pooled is the mean over real tokens; padBatch cuts to maxLength", async () => {
  const model = classifier().eval();
  const { ids, paddingMask } = padBatch(
    [
      [1, 2],
      [3, 4, 5, 6],
    ],
    { maxLength: 3 },
  );
  assert.equal(await ids.array(), [
    [1, 2, 0],
    [3, 4, 5],
  ]);
  const hidden = (await noGrad(() => model.backbone.hidden(tensor([[1, 2]], [1, 2], "int32"))).array()) as number[][][];
  const mean = hidden[0][0].map((x, c) => (x + hidden[0][1][c]) / 2);
  const pooled = (await noGrad(() => model.pooled(ids, paddingMask)).array()) as number[][];
  assertArrayClose(pooled[0], mean, CLOSE);
});

test("the backbone's attention is nn's MultiHeadAttention at backbone.blocks.<i>.attn, with q, v and o", () => {
  const model = classifier();
  const paths = model.namedModules().map(([p]) => p);
  for (const p of ["backbone.blocks.0.attn.q", "backbone.blocks.1.attn.v", "backbone.blocks.1.attn.o", "head"]) {
    assert.ok(paths.includes(p), p);
  }
  const attn = model.getSubmodule("backbone.blocks.0.attn") as MultiHeadAttention;
  assert.ok(attn instanceof MultiHeadAttention);
  assert.equal([attn.heads, [...attn.headProjections], [...attn.headInputProjections]], [2, ["q", "k", "v"], ["o"]]);
  assert.ok(model.namedParameters().some(([n]) => n === "head.weight"));
});

test("with the backbone frozen, the head learns which of three tokens a text starts with", async () => {
  const model = classifier();
  model.backbone.requiresGrad_(false);
  const g = new Generator(3);
  const texts = Array.from({ length: 24 }, (_, i) => [i % 3, ...Array.from(g.integers(1 + (i % 5), 3, 9))]);
  const labels = tensor(
    texts.map((t) => t[0]),
    [24],
    "int32",
  );
  const { ids, paddingMask } = padBatch(texts);
  const opt = new AdamW(model.head.parameters(), { lr: 0.05 });
  const lossAt = () => noGrad(() => crossEntropy(model.forward(ids, paddingMask), labels)).itemAsync();
  const before = await lossAt();
  for (let step = 0; step < 60; step++) {
    tidy(() => {
      crossEntropy(model.forward(ids, paddingMask), labels).backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  const after = await lossAt();
  assert.ok(after < before / 2, `loss ${before} -> ${after}`);
  assert.is(model.backbone.tokenEmbedding.weight.grad, null, "the frozen backbone gets no gradient");
});

test("bad arguments are refused by name", () => {
  const model = classifier();
  const ids = tensor([[1, 2]], [1, 2], "int32");
  assert.throws(() => model.forward(ids, tensor([[0, 1]], [1, 2], "int32")), /paddingMask must be bool \(B, T\) like ids \[1,2\]/);
  assert.throws(() => model.forward(ids, tensor([[false, false, true]], [1, 3], "bool")), /got bool \[1,3\]/);
  assert.throws(() => new GPTClassifier(model.backbone, 0), /numClasses must be a positive integer/);
  assert.throws(() => padBatch([]), /at least one token list/);
  assert.throws(() => padBatch([[1]], { maxLength: 0 }), /maxLength must be a positive integer/);
});

test.run();

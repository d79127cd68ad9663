/**
 * @file GPT: checkpoint names and shapes, the tied head, the parameter count; cached decoding gives the
 * logits and tokens of uncached decoding, also once the context outgrows blockSize; generation with a
 * seed is reproducible; sampling's temperature and top-k; bad calls.
 */

import { concat, Generator, noGrad, type Tensor, tensor } from "@tsgrad/core";
import { assertArrayClose, assertRejects } from "@tsgrad/core/testing";
import { KVCache, MultiHeadAttention } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GPT, gptParameterCount, sampleTokens } from "../src/index.ts";

const CLOSE = { atol: 1e-5, rtol: 1e-4 };

const tiny = (options: { blockSize?: number; bias?: boolean } = {}) =>
  new GPT(
    { vocabSize: 11, blockSize: options.blockSize ?? 8, nLayer: 2, nHead: 2, nEmbd: 16, bias: options.bias },
    { generator: new Generator(3) },
  );

const ids = (rows: number[][]) => tensor(rows, [rows.length, rows[0].length], "int32");

test("checkpoint names say what they are, the LM head is the token embedding, the count is the formula's", () => {
  const model = tiny();
  const names = [...model.stateDict().keys()];
  for (const name of [
    "tokenEmbedding.weight",
    "positionEmbedding.weight",
    "blocks.0.ln1.weight",
    "blocks.0.attn.q.weight",
    "blocks.0.attn.o.bias",
    "blocks.1.mlp.up.weight",
    "blocks.1.mlp.down.weight",
    "finalNorm.bias",
  ]) {
    assert.ok(names.includes(name), `missing ${name} in ${names.join(", ")}`);
  }
  assert.not.ok(
    names.some((n) => n.startsWith("lmHead")),
    "the tied head is saved once, as tokenEmbedding.weight",
  );
  assert.is(model.lmHead.weight, model.tokenEmbedding.weight);
  assert.equal(model.stateDict().get("blocks.1.mlp.up.weight")?.shape, [64, 16]);
  assert.ok(model.getSubmodule("blocks.0.attn") instanceof MultiHeadAttention);
  assert.is(model.numParameters(), gptParameterCount(model.config));
  const noBias = tiny({ bias: false });
  assert.is(noBias.numParameters(), gptParameterCount(noBias.config));
  assert.not.ok([...noBias.stateDict().keys()].some((n) => n.endsWith(".bias")));
});

test("the same generator gives the same weights; nanoGPT's init (std 0.02, residual projections scaled)", async () => {
  const [a, b] = [tiny(), tiny()];
  assert.equal(await a.tokenEmbedding.weight.array(), await b.tokenEmbedding.weight.array());
  const std = async (t: Tensor) => {
    const v = Array.from(await t.data());
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    return Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  };
  const q = await std(a.getSubmodule("blocks.0.attn.q").stateDict().get("weight") as Tensor);
  const o = await std(a.getSubmodule("blocks.0.attn.o").stateDict().get("weight") as Tensor);
  assert.ok(Math.abs(q - 0.02) < 0.003, `q std ${q}`);
  assert.ok(Math.abs(o - 0.01) < 0.002, `o std ${o} (0.02 / √(2·2))`);
  assert.equal(Array.from(await (a.getSubmodule("blocks.0.attn.q").stateDict().get("bias") as Tensor).data()), new Array(16).fill(0));
});

test("forward gives (B, T, vocabSize) logits; loss is their cross-entropy", async () => {
  const model = tiny();
  const logits = model.forward(
    ids([
      [1, 2, 3],
      [4, 5, 6],
    ]),
  );
  assert.equal(logits.shape, [2, 3, 11]);
  const loss = await model.loss(ids([[1, 2, 3]]), ids([[2, 3, 4]])).itemAsync();
  // near-uniform logits at init: the loss is close to log(vocabSize)
  assert.ok(Math.abs(loss - Math.log(11)) < 0.1, `loss ${loss}`);
});

test("decoding through the KV caches gives the logits of one full forward", async () => {
  const model = tiny().eval();
  const rows = [
    [1, 5, 2, 9, 3, 3, 7],
    [0, 10, 4, 4, 8, 6, 2],
  ];
  const full = noGrad(() => model.forward(ids(rows))); // (2, 7, 11)
  const caches = model.blocks.items.map(() => new KVCache());
  const stepwise = noGrad(() => {
    // a prompt of 3 tokens, then one token at a time
    const parts = [model.forward(ids(rows.map((r) => r.slice(0, 3))), { caches })];
    for (let t = 3; t < 7; t++) parts.push(model.forward(ids(rows.map((r) => [r[t]])), { caches }));
    return concat(parts, 1); // (2, 7, 11)
  });
  assert.is(caches[0].length, 7);
  assertArrayClose(await stepwise.data(), await full.data(), CLOSE, { what: "cached logits" });
  for (const c of caches) c.clear();
});

test("cached and uncached generation give the same tokens, greedy and sampled, also past blockSize", async () => {
  const model = tiny({ blockSize: 6 });
  const prompt = ids([
    [1, 2, 3],
    [7, 7, 0],
  ]);
  for (const options of [{ temperature: 0 }, { temperature: 1.5, topK: 5 }]) {
    // 3 + 9 tokens: the window slides past blockSize 6, and the cache starts over
    const cached = await model.generate(prompt, 9, { ...options, generator: new Generator(11) });
    const uncached = await model.generate(prompt, 9, { ...options, generator: new Generator(11), useCache: false });
    assert.equal(cached.shape, [2, 12]);
    assert.equal(await cached.array(), await uncached.array(), JSON.stringify(options));
    assert.equal(
      ((await cached.array()) as number[][]).map((r) => r.slice(0, 3)),
      await prompt.array(),
      "the prompt is kept",
    );
  }
  assert.ok(model.training, "generate restores training mode");
});

test("generation with a fixed seed is reproducible, and another seed differs", async () => {
  const model = tiny();
  const prompt = ids([[4]]);
  const run = async (seed: number) => (await model.generate(prompt, 7, { generator: new Generator(seed) })).array();
  assert.equal(await run(5), await run(5));
  assert.not.equal(await run(5), await run(6));
});

test("sampling: temperature 0 is the argmax, topK 1 is too, topK keeps only the k largest", async () => {
  const logits = tensor(
    [
      [0, 3, 1, 2],
      [5, 0, 0, 4.9],
    ],
    undefined,
    "float32",
  );
  assert.equal(await sampleTokens(logits, { temperature: 0 }), [1, 0]);
  assert.equal(await sampleTokens(logits, { topK: 1, generator: new Generator(1) }), [1, 0]);
  const seen = new Set<number>();
  const g = new Generator(2);
  for (let i = 0; i < 40; i++) for (const t of await sampleTokens(logits, { topK: 2, temperature: 5, generator: g })) seen.add(t);
  assert.equal(
    [...seen].sort((a, b) => a - b),
    [0, 1, 3],
    "row 0 keeps tokens 1 and 3, row 1 tokens 0 and 3",
  );
});

test("bad calls are errors that say what is wrong", async () => {
  const model = tiny();
  assert.throws(() => model.forward(ids([[1, 2, 3, 4, 5, 6, 7, 8, 9]])), /context of 9 tokens .* longer than blockSize 8/);
  assert.throws(() => model.forward(tensor([[1.5, 2]], undefined, "float32")), /ids must be int32 \(B, T\)/);
  assert.throws(() => model.forward(ids([[1, 2]]), { caches: [new KVCache()] }), /one KVCache per block \(2\), got 1/);
  await assertRejects(model.generate(ids([[1]]), 2, { topK: 12 }), /topK must be an integer in \[1, 11\]/);
  await assertRejects(model.generate(ids([[1]]), 2, { temperature: -1 }), /temperature must be a finite number >= 0/);
  await assertRejects(model.generate(ids([[1]]), 1.5), /maxNewTokens must be a non-negative integer/);
  assert.throws(() => new GPT({ vocabSize: 10, blockSize: 8, nHead: 3 }), /"nHead" \(3\) must divide "nEmbd" \(128\)/);
});

test("a misspelt option is refused, naming the closest one, instead of meaning its default", async () => {
  const model = new GPT({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4 });
  const prompt = tensor([[1, 2]], [1, 2], "int32");
  await assertRejects(
    model.generate(prompt, 2, { temprature: 0 } as never),
    /generate: unknown option "temprature" \(did you mean temperature\?\); its options are temperature, topK, generator, useCache/,
  );
  await assertRejects(sampleTokens(tensor([[0, 1]]), { topk: 1 } as never), /unknown option "topk" \(did you mean topK\?\)/);
  assert.throws(
    () => new GPT({ vocabSize: 5, blockSize: 4 }, { generater: new Generator(1) } as never),
    /GPT: unknown option "generater" \(did you mean generator\?\)/,
  );
  prompt.dispose();
  model.dispose();
});

test.run();

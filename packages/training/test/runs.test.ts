/**
 * @file The runs' pieces on hand-made numbers: aggregation over seeds, the table, the generated
 * sentence (which must say when the seeds cannot separate two methods), the plot's determinism, run keys,
 * the parameter-matched LoRA rank, and the unigram baseline of the backbone's floor.
 */

import { manualSeed } from "@tsgrad/core";
import { adapterParameterCount } from "@tsgrad/hyra/node";
import { GPT, GPTClassifier } from "@tsgrad/models";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { linePlot } from "../src/plot.ts";
import { unigramBitsPerChar } from "../src/pretrain.ts";
import { canonicalJson, runKey } from "../src/store.ts";
import { aggregate, markdownTable, verdict } from "../src/summary.ts";
import { adapt, METHODS, matchedLoraRank } from "../src/train.ts";

const runs = [
  { method: "lora", fraction: 10, seed: 1, accuracy: 0.6 },
  { method: "lora", fraction: 10, seed: 2, accuracy: 0.7 },
  { method: "hyra", fraction: 10, seed: 1, accuracy: 0.65 },
  { method: "hyra", fraction: 10, seed: 2, accuracy: 0.75 },
  { method: "lora", fraction: 100, seed: 1, accuracy: 0.8 },
  { method: "lora", fraction: 100, seed: 2, accuracy: 0.82 },
  { method: "hyra", fraction: 100, seed: 1, accuracy: 0.9 },
  { method: "hyra", fraction: 100, seed: 2, accuracy: 0.92 },
];

test("aggregate: mean, sample standard deviation and range per method and fraction", () => {
  const cell = aggregate(runs).find((c) => c.method === "lora" && c.fraction === 10);
  assert.equal(
    { ...cell, mean: Number(cell?.mean.toFixed(12)), std: Number(cell?.std.toFixed(12)) },
    {
      method: "lora",
      fraction: 10,
      n: 2,
      mean: 0.65,
      std: Number((Math.SQRT1_2 / 10).toFixed(12)),
      low: 0.6,
      high: 0.7,
    },
  );
});

test("the table lists methods in the given order, fractions as columns, with an extra column", () => {
  const table = markdownTable(aggregate(runs), ["hyra", "lora", "absent"], { name: "trainable", values: { hyra: "10", lora: "20" } });
  assert.is(
    table,
    [
      "| method | 10 % | 100 % | trainable |",
      "| --- | ---: | ---: | ---: |",
      "| hyra | 70.0 ± 7.1 (2) | 91.0 ± 1.4 (2) | 10 |",
      "| lora | 65.0 ± 7.1 (2) | 81.0 ± 1.4 (2) | 20 |",
    ].join("\n"),
  );
});

test("the sentence says where the ranges overlap and where the seeds separate the methods", () => {
  const sentence = verdict(aggregate(runs), "hyra", "lora");
  assert.match(sentence, /^At 10 % of the training data hyra is ahead by 5\.0 points \(70\.0 % against 65\.0 %, ranges overlap\)/);
  assert.match(sentence, /at 100 % of the training data hyra is ahead by 10\.0 points \(91\.0 % against 81\.0 %\)/);
  assert.match(sentence, /the seeds separate them at 1 of 2 fractions\.$/);
  const reversed = verdict(aggregate(runs), "lora", "hyra");
  assert.match(reversed, /^At 10 % of the training data hyra is ahead by 5\.0 points \(70\.0 % against 65\.0 %, ranges overlap\)/);
  const close = verdict(aggregate(runs.filter((r) => r.fraction === 10)), "hyra", "lora");
  assert.match(close, /with 2 seeds per cell the ranges overlap everywhere, so these runs cannot separate hyra from lora\.$/);
  assert.match(verdict([], "hyra", "lora"), /No fraction has runs of both hyra and lora/);
});

test("the plot is the same bytes for the same numbers, with every series named", () => {
  const series = ["hyra", "lora"].map((name) => ({
    name,
    points: aggregate(runs)
      .filter((c) => c.method === name)
      .map((c) => ({ x: c.fraction, mean: c.mean, low: c.low, high: c.high })),
  }));
  const plot = () => linePlot({ title: "t <&>", xLabel: "x", yLabel: "y", xTicks: [10, 100], series });
  assert.is(plot(), plot());
  assert.match(plot(), /<text[^>]*>t &lt;&amp;&gt;<\/text>/);
  for (const name of ["hyra", "lora"]) assert.ok(plot().includes(`>${name}</text>`));
  assert.is((plot().match(/<polyline /g) ?? []).length, 2);
});

test("run keys depend on the configuration, not on its key order", () => {
  assert.is(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] }), '{"a":[{"d":2}],"b":1}');
  assert.is(runKey({ a: 1, b: 2 }), runKey({ b: 2, a: 1 }));
  assert.is.not(runKey({ a: 1 }), runKey({ a: 2 }));
  assert.match(runKey({}), /^[0-9a-f]{16}$/);
});

test("the matched LoRA rank is the smallest whose count reaches HyRA's", () => {
  const [d, heads, layers, r] = [64, 4, 2, 8];
  const rank = matchedLoraRank(d, heads, layers, r);
  const target = adapterParameterCount("hyra", { d, heads, r, layers });
  const count = (k: number) => adapterParameterCount("lora", { d, heads, r: k, layers });
  assert.ok(count(rank) >= target && count(rank - 1) < target, `rank ${rank}: ${count(rank - 1)} < ${target} <= ${count(rank)}`);
  assert.is(rank, 9);
});

test("every method adapts a classifier, training what its count says and the head", () => {
  const [d, heads, layers, r] = [32, 4, 2, 8];
  const head = d * 2 + 2;
  const expected: Record<string, number> = {
    "linear-probe": head,
    lora: adapterParameterCount("lora", { d, heads, r, layers }) + head,
    "lora-matched": adapterParameterCount("lora", { d, heads, r: matchedLoraRank(d, heads, layers, r), layers }) + head,
    "mh-lora": adapterParameterCount("mh-lora", { d, heads, r, layers }) + head,
    hyra: adapterParameterCount("hyra", { d, heads, r, layers }) + head,
    // d_h 8: head embeddings of 2
    "hyra-compact": adapterParameterCount("hyra", { d, heads, r, layers, headEmbedding: 2 }) + head,
    vera: adapterParameterCount("vera", { d, heads, r, layers }) + head,
  };
  assert.ok(expected["hyra-compact"] < expected.hyra, "the compact embeddings train fewer parameters than HyRA's seeds");
  for (const method of METHODS) {
    manualSeed(1);
    const classifier = new GPTClassifier(new GPT({ vocabSize: 16, blockSize: 8, nLayer: layers, nHead: heads, nEmbd: d }), 2);
    const all = classifier.parameters().reduce((n, p) => n + p.size, 0);
    const model = adapt(classifier, { method, r, alpha: 16 });
    const trainable = model
      .parameters()
      .filter((p) => p.requiresGrad)
      .reduce((n, p) => n + p.size, 0);
    assert.is(trainable, method === "full" ? all : expected[method], method);
    model.dispose();
  }
});

test("the unigram baseline: bits per character under add-one character frequencies", () => {
  // "ab" seen once each, plus one unseen character in the validation text: counts 2, 2, 1 of 5
  assert.ok(Math.abs(unigramBitsPerChar("ab", "abc") - (2 * Math.log2(5 / 2) + Math.log2(5)) / 3) < 1e-12);
});

test.run();

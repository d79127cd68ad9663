/**
 * @file Tokenizers: byte-level BPE decodes every Unicode text it encodes back exactly (a property), its
 * training is deterministic and its incremental counts give the merges of recounting every pair per
 * merge (a slow oracle written here); the character tokenizer round-trips and names an unknown character;
 * both save and load through tokenizer.json, and a malformed, oversized or linked file is an error naming it.
 */

import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Generator } from "@tsgrad/core";
import { assertRejects, checkProperty } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ByteBPETokenizer, CharTokenizer, loadTokenizer, MAX_TOKENIZER_BYTES, saveTokenizer } from "../src/node.ts";

const CORPUS = `It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of
foolishness, it was the epoch of belief, it was the epoch of incredulity. Être ou ne pas être: 東京は日本の首都です。
Numbers 1234 and 12345, don't, we'll, they've: 🙂🙂 naïve café façade — “quoted” text.\n\n\tTabs  and   spaces.`;

const dir = mkdtempSync(join(tmpdir(), "tsgrad-models-tok-"));

/** The slow oracle: recount every pair of every word before each merge (what the heap and deltas replace). */
function naiveMerges(words: number[][], numMerges: number): [number, number][] {
  const merges: [number, number][] = [];
  let current = words.map((w) => [...w]);
  while (merges.length < numMerges) {
    const counts = new Map<string, number>();
    for (const w of current)
      for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]},${w[i + 1]}`, (counts.get(`${w[i]},${w[i + 1]}`) ?? 0) + 1);
    let best: [number, number] | null = null;
    let bestCount = 1;
    for (const [key, count] of counts) {
      const [a, b] = key.split(",").map(Number);
      if (count > bestCount || (count === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        [best, bestCount] = [[a, b], count];
      }
    }
    if (!best) break;
    const [a, b] = best;
    const id = 256 + merges.length;
    merges.push(best);
    current = current.map((w) => {
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (w[i] === a && w[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w[i]);
      }
      return out;
    });
  }
  return merges;
}

test("BPE training: incremental counts give the merges of recounting per merge; the same text gives the same merges", () => {
  const trained = ByteBPETokenizer.train(CORPUS, 120);
  // the oracle works on the same pieces, one word per occurrence (no frequencies), so it recounts honestly
  const pieces = CORPUS.match(/'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu) ?? [];
  const words = pieces.map((p) => Array.from(new TextEncoder().encode(p)));
  assert.equal(trained.merges, naiveMerges(words, 120));
  assert.equal(ByteBPETokenizer.train(CORPUS, 120).merges, trained.merges);
  assert.is(trained.vocabSize, 256 + trained.merges.length);
  // " it was" is frequent, so its pieces become few tokens
  assert.ok(trained.encode(" it was").length <= 3, JSON.stringify(trained.encode(" it was")));
});

test("BPE training stops when no pair occurs twice", () => {
  assert.equal(ByteBPETokenizer.train("abc", 10).merges, []);
  assert.equal(ByteBPETokenizer.train("abab", 10).merges, [[97, 98]]);
});

test("BPE: decode(encode(text)) is the text, for any Unicode text", async () => {
  const bpe = ByteBPETokenizer.train(CORPUS, 200);
  const words = fc.constantFrom(" it", " was", " the", "times", " ", "\n", "café", "🙂", "東京", "don't", "\uFEFF");
  const text = fc
    .array(fc.oneof(words, fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary-ascii" })), {
      maxLength: 12,
    })
    .map((parts) => parts.join(""));
  await checkProperty("BPE round trip", text, (t) => {
    const ids = bpe.encode(t);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < bpe.vocabSize));
    assert.is(bpe.decode(ids), t);
  });
  // a piece longer than the chunk size (128 bytes) still round-trips
  const long = `${"x".repeat(1000)} ${"é".repeat(301)}`;
  assert.is(bpe.decode(bpe.encode(long)), long);
});

test("BPE: a lone surrogate is refused (it is not Unicode text); bytes cut mid-character decode as U+FFFD", () => {
  const bpe = ByteBPETokenizer.train(CORPUS, 20);
  assert.throws(() => bpe.encode("ok \uD800 no"), /lone surrogate \(0xd800\) at index 3/);
  assert.is(bpe.decode([0xe6]), "\uFFFD");
  assert.throws(() => bpe.decode([bpe.vocabSize]), /id 276 is not in \[0, 276\)/);
});

test("the character tokenizer: code points in code-point order, a round trip, an unknown character named", async () => {
  const chars = CharTokenizer.fromText("ba🙂a\n");
  assert.equal(chars.chars, ["\n", "a", "b", "🙂"]);
  assert.equal(chars.encode("ab🙂"), [1, 2, 3]);
  const full = CharTokenizer.fromText(CORPUS);
  const text = fc.array(fc.constantFrom(...full.chars)).map((c) => c.join(""));
  await checkProperty("char round trip", text, (t) => {
    assert.is(full.decode(full.encode(t)), t);
  });
  assert.throws(() => chars.encode("abc"), /"c" \(U\+0063\) is not among the 4 characters/);
  assert.throws(() => new CharTokenizer(["a", "a"]), /"a" appears twice/);
});

test("both tokenizers save to JSON and load back the same", async () => {
  const bpe = ByteBPETokenizer.train(CORPUS, 50);
  const chars = CharTokenizer.fromText(CORPUS);
  for (const tokenizer of [bpe, chars]) {
    const path = join(dir, `${tokenizer.type}.json`);
    await saveTokenizer(tokenizer, path);
    const loaded = await loadTokenizer(path);
    assert.is(loaded.constructor, tokenizer.constructor);
    assert.equal(loaded.toJSON(), tokenizer.toJSON());
    assert.equal(loaded.encode(CORPUS), tokenizer.encode(CORPUS));
  }
});

test("a malformed, oversized or linked tokenizer file is an error naming the file", async () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["syntax.json", '{\n  "type": "char",\n  "chars": ["a"],\n}', /syntax\.json: is not valid JSON at line 4, column 1/],
    ["token.json", '{"type": "char", "chars": ["a",]}', /token\.json: is not valid JSON at line 1, column 32 \(Unexpected token/],
    ["type.json", '{"type": "wordpiece"}', /type\.json: "type" must be "char" or "byte-bpe", got string "wordpiece"/],
    ["unknown.json", '{"type": "char", "chars": ["a"], "extra": 1}', /unknown\.json: unknown field "extra" in a char tokenizer/],
    [
      "merge.json",
      '{"type": "byte-bpe", "merges": [[1, 2], [300, 1]]}',
      /merge\.json: ByteBPETokenizer: merge 1 must be two ids of earlier tokens, in \[0, 257\)/,
    ],
    ["repeat.json", '{"type": "byte-bpe", "merges": [[1, 2], [1, 2]]}', /repeat\.json: .*merge 1 repeats merge 0/],
    ["chars.json", '{"type": "char", "chars": ["ab"]}', /chars\.json: CharTokenizer: entry 0 must be one character/],
    ["list.json", '{"type": "byte-bpe", "merges": {}}', /list\.json: "merges" must be an array/],
    ["utf8.json", Uint8Array.of(0x7b, 0xff, 0x7d), /utf8\.json: is not valid UTF-8/],
  ];
  for (const [name, content, pattern] of cases) {
    writeFileSync(join(dir, name), content);
    await assertRejects(loadTokenizer(join(dir, name)), pattern);
  }
  const big = join(dir, "big.json");
  writeFileSync(big, " ".repeat(MAX_TOKENIZER_BYTES + 1));
  await assertRejects(loadTokenizer(big), /big\.json has 4194305 bytes; the most accepted is 4194304/);
  const link = join(dir, "link.json");
  symlinkSync(join(dir, "type.json"), link);
  await assertRejects(loadTokenizer(link), /link\.json is a symbolic link/);
  await assertRejects(loadTokenizer(join(dir, "missing.json")), /missing\.json: does not exist/);
  await assertRejects(saveTokenizer(CharTokenizer.fromText("a"), link), /link\.json is a symbolic link/);
});

test("a tokenizer file cannot flood memory: a merged token has at most 256 bytes, refused at the merge that passes it", async () => {
  const merges = (n: number, pair: (i: number) => [number, number]) =>
    JSON.stringify({ type: "byte-bpe", merges: Array.from({ length: n }, (_, i) => pair(i)) });
  // 40 merges that double a token's length each time: 2^41 bytes if built
  const doubling = join(dir, "doubling.json");
  writeFileSync(
    doubling,
    merges(40, (i) => (i === 0 ? [97, 97] : [255 + i, 255 + i])),
  );
  const before = process.memoryUsage().heapUsed;
  let started = performance.now();
  await assertRejects(
    loadTokenizer(doubling),
    /doubling\.json: ByteBPETokenizer: merge 8 \(263, 263\) makes a token of 512 bytes; a token has at most 256/,
  );
  assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
  assert.ok(process.memoryUsage().heapUsed - before < 64 << 20, "no flood");
  // a chain of 65,280 merges, each one byte longer: 2 GB if built
  const chain = join(dir, "chain.json");
  writeFileSync(
    chain,
    merges(65_280, (i) => (i === 0 ? [97, 97] : [255 + i, 97])),
  );
  started = performance.now();
  await assertRejects(loadTokenizer(chain), /chain\.json: ByteBPETokenizer: merge 255 \(510, 97\) makes a token of 257 bytes/);
  assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  // a trained vocabulary fits under the bound (merges never cross a chunk of 128 bytes), and so does the
  // committed backbone's
  const trained = ByteBPETokenizer.train("-".repeat(3000), 20);
  assert.is(trained.decode([trained.vocabSize - 1]).length, 128);
  assert.is(new ByteBPETokenizer(trained.toJSON().merges).vocabSize, trained.vocabSize);
  const committed = await loadTokenizer(fileURLToPath(new URL("../../../pretrained/gpt-text/tokenizer.json", import.meta.url)));
  assert.is(committed.vocabSize, 256 + 4096);
});

test("JSON nested a million deep is refused by its depth, quickly, and no message repeats an unbounded value", async () => {
  for (const [name, body] of [
    ["deep-merges.json", `{"type": "byte-bpe", "merges": ${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}}`],
    ["deep-chars.json", `{"type": "char", "chars": ${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}}`],
  ]) {
    writeFileSync(join(dir, name), body);
    const started = performance.now();
    await assertRejects(loadTokenizer(join(dir, name)), /nests arrays and objects 1000001 levels deep; a model's JSON file has at most 8/);
    assert.ok(performance.now() - started < 1500, `${name}: ${performance.now() - started} ms`);
  }
  // a merge or a character that is far too long is shown by its start, never whole
  for (const [name, body] of [
    ["long-char.json", JSON.stringify({ type: "char", chars: ["x".repeat(1_000_000)] })],
    ["long-merge.json", JSON.stringify({ type: "byte-bpe", merges: [Array.from({ length: 100_000 }, () => 1)] })],
  ]) {
    writeFileSync(join(dir, name), body);
    try {
      await loadTokenizer(join(dir, name));
      assert.unreachable(`${name} loaded`);
    } catch (error) {
      assert.ok((error as Error).message.length < 400, `${name}: a message of ${(error as Error).message.length} characters`);
    }
  }
});

test("BPE trains on 200 kB and 1,000 merges in well under the test's budget", () => {
  const words = CORPUS.split(/\s+/);
  const g = new Generator(4);
  let text = "";
  while (text.length < 200_000) text += `${words[g.integers(1, 0, words.length)[0]]}${g.random() < 0.15 ? "\n" : " "}`;
  const started = performance.now();
  const bpe = ByteBPETokenizer.train(text, 1000);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 3, `training took ${seconds.toFixed(2)} s`);
  assert.is(bpe.decode(bpe.encode(text)), text);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();

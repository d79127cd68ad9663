/**
 * @file End to end on the fast wasm backend (one thread: the test runner runs two files at once): a
 * tiny GPT overfits a short text, its loss falling from log(vocabSize) to below 0.2 in 200 AdamW steps
 * of batched windows, and then greedy generation from the text's first characters writes the text.
 */

import { Generator, setBackend, tensor, tidy } from "@tsgrad/core";
import { AdamW, decayGroups } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CharTokenizer, GPT } from "../src/index.ts";

const TEXT = `Twinkle, twinkle, little star,
How I wonder what you are!
Up above the world so high,
Like a diamond in the sky.
`;

test("a tiny GPT overfits a short text, then writes it back greedily", async () => {
  await setBackend("wasm", { threads: 1 });
  const tokenizer = CharTokenizer.fromText(TEXT);
  const data = tokenizer.encode(TEXT);
  const T = 32;
  const B = 16;
  const model = new GPT({ vocabSize: tokenizer.vocabSize, blockSize: T, nLayer: 2, nHead: 2, nEmbd: 48 }, { generator: new Generator(1) });
  const opt = new AdamW(decayGroups(model.namedParameters(), 0.01), { lr: 3e-3 });
  const rng = new Generator(2);
  const losses: number[] = [];
  for (let step = 0; step < 200; step++) {
    // B windows of T tokens at random offsets; each position's target is the next token
    const starts = Array.from(rng.integers(B, 0, data.length - T));
    const x = starts.map((s) => data.slice(s, s + T));
    const y = starts.map((s) => data.slice(s + 1, s + T + 1));
    const loss = tidy(() => {
      const l = model.loss(tensor(x, [B, T], "int32"), tensor(y, [B, T], "int32")); // one batched forward
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    if (step % 50 === 0 || step === 199) losses.push(await loss.itemAsync());
    loss.dispose();
  }
  if (process.env.TSGRAD_VERBOSE) console.log(losses);
  assert.ok(Math.abs(losses[0] - Math.log(tokenizer.vocabSize)) < 0.3, `first loss ${losses[0]}`);
  assert.ok((losses.at(-1) as number) < 0.2, `losses every 50 steps: ${losses.map((l) => l.toFixed(3)).join(", ")}`);

  const prompt = data.slice(0, 8);
  const out = await model.generate(tensor([prompt], [1, 8], "int32"), 40, { temperature: 0 });
  const written = tokenizer.decode(((await out.array()) as number[][])[0]);
  assert.is(written, TEXT.slice(0, 48));
});

test.run();

/**
 * @file Training on the wasm backend: 200 AdamW steps of a small transformer give the reference
 * backend's loss curve within the tolerance table's training-curve entry; the same seed twice gives
 * bit-identical losses (on two threads, whose split depends only on shapes); and 1,000 steps leave the
 * backend's live bytes where they started, while disposing everything empties its allocator.
 */

import {
  type Backend,
  Generator,
  mse,
  ReferenceBackend,
  setBackend,
  type Tensor,
  tensor,
  tidy,
  useBackend,
  type WasmBackend,
} from "@tsgrad/core";
import { assertArrayClose, TRAINING_CURVE } from "@tsgrad/core/testing";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AdamW, TransformerBlock } from "../src/index.ts";

const D = 16;

function setup(backend: Backend) {
  useBackend(backend);
  const g = new Generator(7);
  const block = new TransformerBlock(D, 2, { hidden: 32, generator: new Generator(8) });
  const x = tensor(Array.from(g.normal(4 * 8 * D)), [4, 8, D], { backend }).keep();
  const target = tensor(Array.from(g.normal(4 * 8 * D, 0, 0.5)), [4, 8, D], { backend }).keep();
  const optimizer = new AdamW(block.parameters(), { lr: 1e-2, weightDecay: 1e-2 });
  const step = (): Tensor =>
    tidy(() => {
      const loss = mse(block.forward(x), target);
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
      return loss;
    }).keep();
  const dispose = () => {
    for (const p of block.parameters()) p.dispose();
    optimizer.disposeState();
    x.dispose();
    target.dispose();
  };
  return { step, dispose };
}

async function lossCurve(backend: Backend, steps: number): Promise<number[]> {
  const { step, dispose } = setup(backend);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = step();
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  dispose();
  return losses;
}

const twoThreads = (await setBackend("wasm", { threads: 2, minParallelWork: 0 })) as WasmBackend;
await twoThreads.ready;

test("200 steps on two threads give the reference backend's loss curve, and the same losses on a rerun", async () => {
  const expected = await lossCurve(new ReferenceBackend(), 200);
  const actual = await lossCurve(twoThreads, 200);
  assertArrayClose(actual, expected, TRAINING_CURVE, { what: "loss curve" });
  assert.ok(expected[199] < expected[0] * 0.5, `the loss fell: ${expected[0]} -> ${expected[199]}`);
  const again = await lossCurve(twoThreads, 200);
  assert.equal(again, actual, "the same seed gives bit-identical losses");
});

test("1,000 steps leave the live bytes where they started, and disposing everything empties the allocator", async () => {
  const backend = (await setBackend("wasm", { threads: 1, maxMemoryBytes: 2 ** 30 })) as WasmBackend;
  assert.is(backend.memory().bytes, 0, "a fresh backend holds nothing");
  const { step, dispose } = setup(backend);
  step().dispose(); // the first step creates the optimiser's state
  const before = backend.memory();
  for (let i = 0; i < 1000; i++) step().dispose();
  assert.equal(backend.memory(), before, "live buffers and bytes after 1,000 steps");
  dispose();
  assert.equal(backend.memory(), { buffers: 0, bytes: 0 });
  const stats = backend.allocatorStats();
  assert.is(stats.liveBlocks, 0);
  assert.is(stats.cachedBytes, 0, "an empty heap keeps no free lists");
});

test.after(async () => {
  await twoThreads.close();
});

test.run();

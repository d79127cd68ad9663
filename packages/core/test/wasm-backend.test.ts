/**
 * @file The wasm backend's own promises: running out of memory is a clear error (live bytes counted by size class), never a crash; tensors
 * collected without dispose() are freed by the FinalizationRegistry safety net; float64 works; options
 * are checked; the backend's name says its options; two threads give bit-identical results to one.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Generator, matmul, randn, setBackend, softmax, sum, tensor, tidy, type WasmBackend, zeros } from "../src/index.ts";
import { assertArrayClose, assertRejects, tolerance } from "../src/testing/index.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const start = async (options: Record<string, unknown>) => {
  const backend = (await setBackend("wasm", options)) as WasmBackend;
  await backend.ready;
  return backend;
};

test("running out of memory names the bytes asked for and the bytes live", async () => {
  const backend = await start({ threads: 1, maxMemoryBytes: 2 ** 24 });
  const kept = zeros([1000], { backend });
  assert.throws(
    () => zeros([4096, 4096], { backend }),
    /wasm: out of memory: asked for 67108864 bytes with 4096 bytes live \(and 0 cached for reuse\) and a maximum of 16777216 bytes/,
  );
  // the backend still works after the refusal
  assert.equal(Array.from(await sum(kept.add(1)).data()), [1000]);
  kept.dispose();
});

test("tensors garbage-collected without dispose() give their memory back", async () => {
  const backend = await start({ threads: 1, maxMemoryBytes: 2 ** 25 });
  // made outside any scope, and kept or returned from a tidy scope: no scope frees these, the net must
  const leak = () => {
    for (let i = 0; i < 20; i++) zeros([256, 256], { backend }).add(1);
    // kept and not returned: the scope leaves it alone, and nothing else refers to it
    for (let i = 0; i < 5; i++) {
      tidy(() => {
        zeros([256, 256], { backend }).add(2).keep();
      });
    }
    for (let i = 0; i < 5; i++) tidy(() => zeros([256, 256], { backend }).add(3));
  };
  leak();
  const held = backend.memory().bytes;
  assert.ok(held >= 50 * 256 * 256 * 4, `the leaked tensors are live before a collection (${held} bytes)`);
  for (let i = 0; i < 20 && backend.memory().bytes > 0; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.is(backend.memory().bytes, 0, "every collected tensor was freed");
});

test("float64 works, as on the reference backend", async () => {
  const backend = await start({ threads: 1 });
  const a = tensor(
    [
      [1, 2],
      [3, 4],
    ],
    undefined,
    { dtype: "float64", backend },
  );
  const out = matmul(a, a, { transposeB: true });
  assert.is(out.dtype, "float64");
  assert.equal(await out.array(), [
    [5, 11],
    [11, 25],
  ]);
  const p = await softmax(tensor([0, Math.log(3)], undefined, { dtype: "float64", backend })).data();
  assertArrayClose(p, [0.25, 0.75], tolerance("wasm", "float64", "reduction"));
});

test("two threads give the same bits as one", async () => {
  const one = await start({ threads: 1 });
  const two = await start({ threads: 2, minParallelWork: 0 });
  const a = randn([67, 129], { generator: new Generator(1) });
  const b = randn([129, 45], { generator: new Generator(2) });
  const results = await Promise.all(
    [one, two].map(async (backend) => {
      const [x, y] = [await a.to(backend), await b.to(backend)];
      return Array.from(await softmax(matmul(x, y).exp().sub(1)).data());
    }),
  );
  assert.equal(results[1], results[0]);
  await two.close();
});

test("options are checked, and the name spells them out", async () => {
  await assertRejects(setBackend("wasm", { threads: 3 }), /setBackend: wasm: threads must be 1 or 2, got 3/);
  await assertRejects(setBackend("wasm", { thread: 2 }), /setBackend: wasm: unknown option "thread"/);
  const backend = await start({ threads: 1, relaxed: false });
  assert.is(backend.name, "wasm(threads=1,relaxed=false)");
  assert.is(backend.build, "baseline");
});

test("TSGRAD_THREADS sets the default backend's threads, and a bad value is refused by name", () => {
  const run = (threads: string) =>
    spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", 'import { getBackend } from "./src/index.ts"; console.log(getBackend().name);'],
      {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        env: { ...process.env, TSGRAD_BACKEND: "", TSGRAD_THREADS: threads },
        encoding: "utf8",
      },
    );
  assert.is(run("1").stdout.trim(), "wasm(threads=1)");
  assert.match(run("3").stderr, /TSGRAD_THREADS: must be 1 or 2, got "3"/);
});

test.run();

/**
 * @file The gpujs backend on WebGPU (Dawn; lavapipe in CI): tensors stay on the device, buffers are
 * released deterministically (a 1,000-step training loop leaves the count where it started), a second
 * identical step compiles nothing, the WebGPU traps, and processes that end on their own.
 * Runs in its own process: a live Dawn device spins a core.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { GpujsBackend } from "../src/backend/gpujs/index.ts";
import { probeMax3, probeOwnOutput, probeStaleInput } from "../src/backend/gpujs/probes.ts";
import { add, matmul, mul, tensor, tidy, useBackend } from "../src/index.ts";
import { reference } from "../src/testing/index.ts";
import { makeMlp } from "./gpujs/mlp.ts";
import { backendOrSkip, closeWhenDone } from "./gpujs/suite.ts";

const coreRoot = fileURLToPath(new URL("..", import.meta.url));
const backend = (await backendOrSkip("webgpu", "gpujs:webgpu")) as GpujsBackend | null;

/** Runs a TypeScript snippet in a fresh Node process from the package folder. */
function node(code: string, env: Record<string, string> = {}, timeout = 60_000) {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: coreRoot,
    encoding: "utf8",
    timeout,
    env: { ...process.env, ...env },
  });
}

if (backend) {
  const device = suite("gpujs:webgpu keeps tensors on the device");

  device("results are device buffers read back only through the async data()", async () => {
    useBackend(backend);
    assert.is(backend.canReadSync, false);
    const x = tensor([1, 2, 3], undefined, { dtype: "float32", backend });
    const y = x.mul(2).add(1);
    assert.throws(() => y.dataSync(), /synchronous readback is impossible on WebGPU/);
    assert.equal(Array.from(await y.data()), [3, 5, 7]);
    x.dispose();
    y.dispose();
  });

  device("every device buffer is released: dispose, tidy, and a 1,000-step training loop", async () => {
    await backend.flush();
    const start = backend.deviceMemory();
    const x = tensor([1, 2, 3, 4], [2, 2], { dtype: "float32", backend });
    const y = tidy(() => matmul(x, x).exp().sum());
    await backend.flush();
    assert.is(backend.deviceMemory().buffers, start.buffers + 2);
    x.dispose();
    y.dispose();
    await backend.flush();
    assert.equal(backend.deviceMemory(), start);

    const mlp = makeMlp(backend);
    await backend.flush();
    const before = { live: backend.memory(), device: backend.deviceMemory() };
    let first = 0;
    let last = 0;
    for (let i = 0; i < 1000; i++) {
      const loss = mlp.step();
      if (i === 0) first = await loss.itemAsync();
      if (i === 999) last = await loss.itemAsync();
      loss.dispose();
      // let the queue drain now and then, as a training loop that logs its loss does
      if (i % 100 === 99) await backend.flush();
    }
    await backend.flush();
    assert.equal(backend.memory(), before.live, "live storages");
    assert.equal(backend.deviceMemory(), before.device, "device buffers");
    assert.ok(last < first, `the loss did not fall: ${first} -> ${last}`);
    mlp.dispose();
    await backend.flush();
    assert.equal(backend.deviceMemory(), start);
  });

  device("a second identical training step compiles no kernel", async () => {
    const mlp = makeMlp(backend);
    mlp.step().dispose();
    await backend.flush();
    const before = backend.kernelStats();
    mlp.step().dispose();
    await backend.flush();
    const after = backend.kernelStats();
    assert.is(after.compiles, before.compiles);
    assert.ok(after.hits > before.hits);
    mlp.dispose();
  });
  device.run();

  const traps = suite("gpujs:webgpu traps");

  traps("a smaller input after a larger one reads stale data in raw gpu.js; never here", async () => {
    assert.equal(await probeStaleInput(), [6, 7, 4, 5]);
    useBackend(backend);
    const big = tensor(new Array(64).fill(9), [64], { dtype: "float32", backend });
    await add(big, big).data();
    const small = await add(tensor([1, 2], undefined, { dtype: "float32", backend }), 1).data();
    assert.equal(Array.from(small), [2, 3]);
  });

  traps("Math.max with three arguments does not compile on WebGPU", async () => {
    assert.match(String(await probeMax3("webgpu")), /Error compiling WGSL/);
  });

  traps("a kernel's own output cannot be its input in raw gpu.js; chains and assign work here", async () => {
    assert.match(await probeOwnOutput("webgpu"), /this kernel's own output buffer/);
    useBackend(backend);
    let x = tensor([1, 2], undefined, { dtype: "float32", backend });
    for (let i = 0; i < 3; i++) x = mul(x, 2);
    x.assign(x.add(1));
    assert.equal(Array.from(await x.data()), [9, 17]);
  });

  traps("a software adapter is reported as such and never chosen as the default GPU", async () => {
    const result = node(
      'import { ready } from "./src/index.ts"; import { probeWebGPU } from "./src/backend/gpujs/index.ts";' +
        "const r = await probeWebGPU(); console.log(JSON.stringify({ name: (await ready()).name, software: r.software }));",
      { TSGRAD_BACKEND: "auto" },
    );
    const report = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}");
    // without a hardware GPU, auto takes the wasm backend
    if (report.software) assert.is(report.name, "wasm", result.stderr);
    else assert.is(report.name, "gpujs:webgpu", result.stderr);
  });

  traps("without an adapter, setBackend says why and which backends are available", () => {
    const result = node(
      'import { setBackend } from "./src/index.ts";' +
        'try { await setBackend("gpujs:webgpu"); console.log("started"); } catch (e) { console.log(e.message); }',
      { VK_ICD_FILENAMES: "/nonexistent/icd.json" },
    );
    assert.match(result.stdout, /gpujs:webgpu cannot start: .*no adapter.*Available backends: wasm, reference, gpujs:webasm, gpujs:cpu/);
  });

  traps("a process that used WebGPU ends on its own once it closes its backends", () => {
    const started = performance.now();
    const result = node(
      'import { closeBackends, setBackend, tensor } from "./src/index.ts";' +
        'await setBackend("gpujs:webgpu"); console.log(await tensor([1, 2]).add(1).array()); await closeBackends();',
      {},
      30_000,
    );
    assert.is(result.status, 0, `status ${result.status}, signal ${result.signal}: ${result.stderr}`);
    assert.match(result.stdout, /\[ 2, 3 \]/);
    assert.ok(performance.now() - started < 30_000);
  });

  traps("matmul on the device equals the reference backend's", async () => {
    const a = Array.from({ length: 6 }, (_, i) => i - 2);
    const run = async (be: typeof backend | typeof reference) =>
      Array.from(
        await matmul(tensor(a, [2, 3], { dtype: "float32", backend: be }), tensor(a, [3, 2], { dtype: "float32", backend: be })).data(),
      );
    assert.equal(await run(backend), await run(reference));
  });
  closeWhenDone(traps);
  traps.run();
}

/**
 * @file The gpujs backend on its cpu and webasm modes: what it refuses and how it stores dtypes, its
 * kernel cache, its memory accounting, and gpu.js's traps, each shown to be real on raw gpu.js (probes.ts)
 * and then shown not to reach tsgrad. The WebGPU side lives in gpujs-webgpu.test.ts (its own process).
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { GpujsBackend } from "../src/backend/gpujs/index.ts";
import { GpujsBackend as GpujsBackendClass } from "../src/backend/gpujs/index.ts";
import { LOOP_MAX } from "../src/backend/gpujs/kernel-cache.ts";
import * as kernels from "../src/backend/gpujs/kernels/elementwise.ts";
import * as indexingKernels from "../src/backend/gpujs/kernels/indexing.ts";
import * as matmulKernels from "../src/backend/gpujs/kernels/matmul.ts";
import * as movementKernels from "../src/backend/gpujs/kernels/movement.ts";
import * as reduceKernels from "../src/backend/gpujs/kernels/reduce.ts";
import {
  probe4DOutput,
  probeArgumentLoop,
  probeIntegerReturn,
  probeOwnOutput,
  probeSum,
  probeWebasmModules,
} from "../src/backend/gpujs/probes.ts";
import {
  add,
  cast,
  closeBackends,
  memory,
  permute,
  randn,
  setBackend,
  sum,
  type Tensor,
  tensor,
  tidy,
  useBackend,
  zeros,
} from "../src/index.ts";
import { assertArrayClose, reference, tolerance } from "../src/testing/index.ts";
import { makeMlp } from "./gpujs/mlp.ts";

const backends = {
  cpu: (await setBackend("gpujs:cpu")) as GpujsBackend,
  webasm: (await setBackend("gpujs:webasm")) as GpujsBackend,
};

const api = suite("gpujs backend: names, dtypes and limits");

api("one backend per mode, named gpujs:<mode>; float64 is refused, never downcast", async () => {
  for (const [mode, backend] of Object.entries(backends)) {
    assert.is(backend.name, `gpujs:${mode}`);
    assert.is(await setBackend(`gpujs:${mode}`), backend);
    assert.is(await setBackend("gpujs", { mode }), backend);
    assert.is(backend.supportsFloat64, false);
    assert.is(backend.canReadSync, true);
    assert.throws(() => tensor([1.5], undefined, { dtype: "float64", backend }), /has no float64/);
    assert.throws(() => backend.upload(new Float64Array([1]), "float64"), /float64 is not supported/);
  }
});

api("an unknown mode is refused, naming the modes", async () => {
  try {
    await setBackend("gpujs", { mode: "webgl" });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /unknown gpujs mode "webgl"; expected one of webgpu, webasm, cpu/);
  }
});

api("int32 and bool live as float32 and come back as their dtypes", async () => {
  for (const backend of Object.values(backends)) {
    useBackend(backend);
    const i = tensor([3, -7, 2], undefined, { dtype: "int32", backend });
    const data = await i.mul(i).data();
    assert.instance(data, Int32Array);
    assert.equal(Array.from(data), [9, 49, 4]);
    const b = await i.gt(0).data();
    assert.instance(b, Uint8Array);
    assert.equal(Array.from(b), [1, 0, 1]);
    assert.throws(() => tensor([2 ** 24 + 2], undefined, { dtype: "int32", backend }), /beyond ±2\^24/);
  }
});

api("a tensor past 2^24 elements, or past the device's buffer limit, is refused with the reason", () => {
  for (const backend of Object.values(backends)) {
    assert.throws(() => zeros([2 ** 24 + 1], { backend }), /more than the gpujs backend holds in one tensor \(2\^24/);
  }
  // lavapipe caps one storage buffer at 128 MiB; a backend told of a small cap refuses bigger tensors
  const capped = new GpujsBackendClass({ mode: "cpu", maxStorageBytes: 1024 });
  assert.throws(
    () => capped.fill([257], 0, "float32"),
    /1028 bytes is more than this WebGPU device allows in one storage buffer \(1024 bytes/,
  );
});
api.run();

const cache = suite("gpujs kernel cache");

cache("a second identical training step compiles no kernel (cpu and webasm)", () => {
  for (const backend of Object.values(backends)) {
    const mlp = makeMlp(backend);
    mlp.step().dispose();
    const before = backend.kernelStats();
    mlp.step().dispose();
    const after = backend.kernelStats();
    assert.is(after.compiles, before.compiles, `${backend.name} compiled during the second step`);
    assert.ok(after.hits > before.hits);
    mlp.dispose();
  }
});

cache("new shapes reuse the compiled kernel: one compile on cpu, one module per size class on webasm", () => {
  const shapes = [[3], [5, 7], [2, 3, 4], [9, 1, 2], [100], [40, 25]];
  for (const backend of Object.values(backends)) {
    useBackend(backend);
    const before = backend.kernelStats();
    tidy(() => {
      for (const s of shapes) add(zeros(s, { backend }), 1);
    });
    const compiled = backend.kernelStats().compiles - before.compiles;
    // cpu: at most the first compile of fill and binary; webasm: sizes 3..1000 fall in 16, 64, 128 and 1024
    assert.ok(compiled <= (backend.mode === "cpu" ? 2 : 10), `${backend.name} compiled ${compiled} times for ${shapes.length} shapes`);
  }
});
cache.run();

const mem = suite("gpujs memory");

mem("memory() counts live storages; dispose and tidy give them back", () => {
  for (const backend of Object.values(backends)) {
    useBackend(backend);
    const start = backend.memory();
    const x = randn([4, 5], { backend });
    const y = tidy(() => x.exp().add(1).sum(0));
    assert.equal(backend.memory(), { buffers: start.buffers + 2, bytes: start.bytes + 4 * 25 });
    x.dispose();
    y.dispose();
    assert.equal(backend.memory(), start);
  }
});
mem.run();

const traps = suite("gpu.js's traps, and how the backend avoids them");

traps("loop bounds from arguments are cut at loopMaxIterations (1,000 by default); sums here are not", async () => {
  for (const backend of Object.values(backends)) {
    assert.equal(await probeArgumentLoop(backend.mode, 2000), [1000], `${backend.mode}: the trap is real`);
    useBackend(backend);
    const s = sum(tensor(new Array(5000).fill(1), [5000], { dtype: "float32", backend }));
    assert.is(await s.itemAsync(), 5000);
  }
  assert.ok(LOOP_MAX >= 2 ** 24, "the loop limit covers every tensor the backend accepts");
});

traps("cpu mode sums in float64, webasm in float32: both stay within the Σ|x|-scaled reduction tolerance", async () => {
  assert.equal(await probeSum("cpu"), [100]);
  assert.equal(await probeSum("webasm"), [Math.fround(99.9990463256836)]);
  const values = new Array(1000).fill(0.1);
  const expected = Math.fround(1000 * Math.fround(0.1));
  for (const backend of Object.values(backends)) {
    const got = await sum(tensor(values, [1000], { dtype: "float32", backend })).itemAsync();
    assertArrayClose([got], [expected], tolerance(backend.name, "float32", "reduction"), { scale: [1000 * Math.fround(0.1)] });
  }
});

traps("Math.max and Math.min take two arguments in every kernel (three fail to compile on WebGPU)", () => {
  const sources = [kernels, reduceKernels, movementKernels, matmulKernels, indexingKernels]
    .flatMap((m) => Object.values(m))
    .filter((f): f is (...args: never[]) => number => typeof f === "function")
    .map((f) => f.toString());
  assert.ok(sources.length >= 15);
  for (const source of sources) {
    for (const call of source.matchAll(/Math\.(max|min)\(([^()]*(\([^()]*\))?)*\)/g)) {
      assert.ok(call[0].split(",").length <= 2, `three-argument call: ${call[0]}`);
    }
  }
});

traps("returnType Integer is ignored; int32 results are truncated in the kernel, before the next kernel reads them", async () => {
  assert.equal(await probeIntegerReturn("cpu"), [Math.fround(5.1), Math.fround(6.8)]);
  for (const backend of Object.values(backends)) {
    useBackend(backend);
    const f = tensor([3, 4, -3], undefined, { dtype: "float32", backend }).mul(1.7);
    const i = cast(f, "int32");
    // 5.1 -> 5 and 6.8 -> 6 in storage: times 10 gives 50, not 51
    assert.equal(Array.from(await i.mul(10).data()), [50, 60, -50]);
    const p = tensor([3, 2], undefined, { dtype: "int32", backend }).pow(tensor([2, -1], undefined, { dtype: "int32", backend }));
    assert.equal(Array.from(await p.data()), [9, 0]);
  }
});

traps("no 4-D outputs in gpu.js; every kernel here writes a flat 1-D output, so rank 6 works", async () => {
  const raw = await probe4DOutput("webasm");
  assert.ok(typeof raw === "string" || raw.length !== 16, "webasm silently drops the fourth axis");
  assert.type(await probe4DOutput("cpu"), "string");
  const values = Array.from({ length: 2 * 3 * 1 * 2 * 2 * 3 }, (_, i) => i);
  const perm = [5, 1, 3, 0, 4, 2];
  const expected = await permute(tensor(values, [2, 3, 1, 2, 2, 3], { dtype: "float32", backend: reference }), perm).data();
  for (const backend of Object.values(backends)) {
    const got = await permute(tensor(values, [2, 3, 1, 2, 2, 3], { dtype: "float32", backend }), perm).data();
    assert.equal(Array.from(got), Array.from(expected));
  }
});

traps("webasm keeps 8 modules per kernel; size classes and a larger cache keep a step's modules", async () => {
  assert.is(await probeWebasmModules(12), 8);
  const backend = backends.webasm;
  useBackend(backend);
  const run = () =>
    tidy(() => {
      for (let n = 1; n <= 40; n += 3) add(zeros([n], { backend }), zeros([n, 1], { backend }));
    });
  run();
  const before = backend.kernelStats().compiles;
  run();
  assert.is(backend.kernelStats().compiles, before, "the second pass over the same shapes rebuilt modules");
});

traps("a pipeline kernel cannot read its own output; chained and in-place updates here can", async () => {
  assert.match(await probeOwnOutput("cpu"), /Source and destination arrays are the same/);
  for (const backend of Object.values(backends)) {
    useBackend(backend);
    let x: Tensor = tensor([1, 2], undefined, { dtype: "float32", backend });
    for (let i = 0; i < 3; i++) x = x.add(x);
    x.assign(x.add(1));
    assert.equal(Array.from(await x.data()), [9, 17]);
  }
});
traps.after(async () => {
  await closeBackends();
  assert.is(memory().numBuffers >= 0, true);
});
traps.run();

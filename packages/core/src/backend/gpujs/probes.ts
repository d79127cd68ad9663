/**
 * @file gpu.js's traps, reproduced on raw gpu.js kernels (not through the backend), so that the trap
 * tests can show each one is real in the pinned gpu.js before showing that the backend avoids it. Only
 * this folder may import gpu.js, hence these probes live here.
 */

import gpujs from "gpu.js";
import type { Mode } from "./kernel-cache.ts";
import { installWebGPU } from "./webgpu.ts";

interface RawKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): void;
  kernel: { _moduleCache?: Map<string, unknown> };
}
interface RawGpu {
  createKernel(fn: unknown, settings: Record<string, unknown>): RawKernel;
  destroy(): Promise<void> | void;
}
const { GPU } = gpujs as unknown as { GPU: new (settings: { mode: Mode }) => RawGpu };

/** The result, or the first line of the error, of one call of a fresh kernel on a fresh gpu.js instance. */
async function once(mode: Mode, fn: unknown, settings: Record<string, unknown>, args: unknown[]): Promise<number[] | string> {
  if (mode === "webgpu") await installWebGPU();
  const gpu = new GPU({ mode });
  try {
    const kernel = gpu.createKernel(fn, settings);
    let result = await kernel(...args);
    if (result && typeof (result as { toArray?: unknown }).toArray === "function") {
      result = await (result as { toArray(): Promise<unknown> }).toArray();
    }
    return Array.from(result as ArrayLike<number>);
  } catch (error) {
    return String((error as Error).message).split("\n")[0];
  } finally {
    await gpu.destroy();
  }
}

/** Sums n ones with the loop bound taken from an argument, under gpu.js's default loopMaxIterations. */
export async function probeArgumentLoop(mode: Mode, n: number): Promise<number[] | string> {
  return once(
    mode,
    function (this: unknown, x: Float32Array, len: number) {
      let s = 0;
      for (let i = 0; i < len; i++) s += x[i];
      return s;
    },
    { output: [1] },
    [new Float32Array(n).fill(1), n],
  );
}

/** webgpu: an add kernel called with 4-element inputs, then with a 2-element b (no dynamicArguments). */
export async function probeStaleInput(): Promise<number[] | string> {
  await installWebGPU();
  const gpu = new GPU({ mode: "webgpu" });
  try {
    const add = gpu.createKernel(
      function (this: { thread: { x: number } }, a: Float32Array, b: Float32Array) {
        return a[this.thread.x] + b[this.thread.x];
      },
      { output: [4] },
    );
    await add(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 1, 1, 1]));
    return Array.from((await add(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 5]))) as Float32Array);
  } finally {
    await gpu.destroy();
  }
}

/** Sums 1000 copies of 0.1 in a kernel: exactly 100 where gpu.js computes in float64 (cpu mode). */
export async function probeSum(mode: Mode): Promise<number[] | string> {
  return once(
    mode,
    function (this: unknown, x: Float32Array) {
      let s = 0;
      for (let i = 0; i < 1000; i++) s += x[i];
      return s;
    },
    { output: [1] },
    [new Float32Array(1000).fill(0.1)],
  );
}

/** Math.max with three arguments. */
export async function probeMax3(mode: Mode): Promise<number[] | string> {
  return once(
    mode,
    function (this: { thread: { x: number } }, x: Float32Array) {
      return Math.max(x[this.thread.x], 3, 1);
    },
    { output: [2] },
    [new Float32Array([5, 0])],
  );
}

/** returnType "Integer" on a kernel returning x·1.7. */
export async function probeIntegerReturn(mode: Mode): Promise<number[] | string> {
  return once(
    mode,
    function (this: { thread: { x: number } }, x: Float32Array) {
      return x[this.thread.x] * 1.7;
    },
    { output: [2], returnType: "Integer" },
    [new Float32Array([3, 4])],
  );
}

/** A 4-D output. */
export async function probe4DOutput(mode: Mode): Promise<number[] | string> {
  return once(
    mode,
    function (this: { thread: { x: number } }) {
      return this.thread.x;
    },
    { output: [2, 2, 2, 2] },
    [],
  );
}

/** A pipeline kernel (without immutable) fed its own previous output. */
export async function probeOwnOutput(mode: Mode): Promise<string> {
  if (mode === "webgpu") await installWebGPU();
  const gpu = new GPU({ mode });
  try {
    const step = gpu.createKernel(
      function (this: { thread: { x: number } }, x: Float32Array) {
        return x[this.thread.x] + 1;
      },
      { output: [4], pipeline: true },
    );
    const first = await step(new Float32Array(4));
    await step(first);
    return "no error";
  } catch (error) {
    return String((error as Error).message).split("\n")[0];
  } finally {
    await gpu.destroy();
  }
}

/** webasm: how many compiled modules one kernel keeps after running on `sizes` different input sizes. */
export async function probeWebasmModules(sizes: number): Promise<number> {
  const gpu = new GPU({ mode: "webasm" });
  try {
    const kernel = gpu.createKernel(
      function (this: { thread: { x: number } }, x: Float32Array) {
        return x[this.thread.x] * 2;
      },
      { output: [1], dynamicOutput: true, dynamicArguments: true },
    );
    for (let n = 1; n <= sizes; n++) {
      kernel.setOutput([n]);
      kernel(new Float32Array(n));
    }
    return kernel.kernel._moduleCache?.size ?? -1;
  } finally {
    await gpu.destroy();
  }
}

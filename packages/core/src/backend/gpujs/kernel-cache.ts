/**
 * @file The kernel cache: one gpu.js kernel per kernel function and mode, created on first use and
 * reused for every later call and every shape, with counters of compiles and cache hits so benchmarks
 * can report compile time apart from steady-state time.
 *
 * What counts as a compile differs per mode, because gpu.js compiles at different moments: cpu and
 * webgpu compile once per kernel (WebGPU passes sizes in a uniform), while webasm bakes every array's
 * size into the module and so builds a new module for each new size signature, keeping the last few per
 * kernel (gpu.js keeps 8; this cache raises it, see MODULES_PER_KERNEL). Each such build counts.
 */

import gpujs from "gpu.js";
import { binaryKernel, copyKernel, fillKernel, unaryKernel, whereKernel } from "./kernels/elementwise.ts";
import { gatherKernel, scatterAddKernel, topkRankKernel, topkSelectKernel } from "./kernels/indexing.ts";
import { matmulKernel } from "./kernels/matmul.ts";
import { concatKernel, padKernel, stridedKernel } from "./kernels/movement.ts";
import { argReduceKernel, reduceKernel } from "./kernels/reduce.ts";

export type Mode = "webgpu" | "webasm" | "cpu";

/**
 * Argument-bound loops run at most this many times (gpu.js's default of 1,000 silently cuts longer
 * reductions short). No tensor has more elements, so no loop over one is ever cut.
 */
export const LOOP_MAX = 2 ** 24;

/**
 * webasm modules kept per kernel (gpu.js's default is 8). Storage sizes are rounded up to powers of two
 * on webasm, so a training step touches few size signatures, but a kernel like `binary` meets more than
 * eight of them in one step; with eight, every step would rebuild modules evicted by the previous one.
 */
export const MODULES_PER_KERNEL = 48;

type ArgType = "Array" | "Integer" | "Float";

const KERNELS = {
  unary: { fn: unaryKernel, args: { x: "Array", sp: "Array", op: "Integer", kind: "Integer", n: "Integer" } },
  binary: { fn: binaryKernel, args: { a: "Array", b: "Array", meta: "Array", sp: "Array", op: "Integer", kind: "Integer", n: "Integer" } },
  where: { fn: whereKernel, args: { c: "Array", a: "Array", b: "Array", meta: "Array", n: "Integer" } },
  fill: { fn: fillKernel, args: { value: "Float", n: "Integer" } },
  copy: { fn: copyKernel, args: { x: "Array", n: "Integer" } },
  strided: { fn: stridedKernel, args: { x: "Array", meta: "Array", n: "Integer" } },
  pad: { fn: padKernel, args: { x: "Array", meta: "Array", value: "Float", n: "Integer" } },
  concat: { fn: concatKernel, args: { a: "Array", b: "Array", meta: "Array", n: "Integer" } },
  reduce: { fn: reduceKernel, args: { x: "Array", meta: "Array", sp: "Array", op: "Integer", n: "Integer" } },
  argReduce: { fn: argReduceKernel, args: { x: "Array", meta: "Array", op: "Integer", n: "Integer" } },
  matmul: { fn: matmulKernel, args: { a: "Array", b: "Array", meta: "Array", n: "Integer" } },
  gather: { fn: gatherKernel, args: { x: "Array", index: "Array", meta: "Array", n: "Integer" } },
  scatterAdd: { fn: scatterAddKernel, args: { base: "Array", index: "Array", src: "Array", meta: "Array", n: "Integer" } },
  topkRank: { fn: topkRankKernel, args: { x: "Array", meta: "Array", largest: "Integer", n: "Integer" } },
  topkSelect: { fn: topkSelectKernel, args: { ranks: "Array", meta: "Array", n: "Integer" } },
} satisfies Record<string, { fn: (...args: never[]) => number; args: Record<string, ArgType> }>;

export type KernelName = keyof typeof KERNELS;

/** The part of gpu.js's kernel object this backend uses (its typings declare no WebGPU handles). */
export interface GpuKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): void;
  destroy(): void;
  kernel: {
    built: boolean;
    moduleCacheLimit?: number;
    _active?: { id: number } | null;
    outputBuffer?: { _refs: number } | null;
  };
}

interface GpuInstance {
  createKernel(fn: unknown, settings: Record<string, unknown>): GpuKernel;
  destroy(): Promise<void> | void;
}

const { GPU } = gpujs as unknown as { GPU: new (settings: { mode: Mode }) => GpuInstance };

export interface KernelStats {
  /** gpu.js kernels created. */
  kernels: number;
  /** Calls that compiled: a kernel's first call, and on webasm each new module for a new size signature. */
  compiles: number;
  /** Calls served by an already compiled kernel or module. */
  hits: number;
  /** Wall time of the calls that compiled (compile plus that one run), in milliseconds. */
  compileMs: number;
}

interface Entry {
  kernel: GpuKernel;
  /** webasm: ids of the modules this kernel has built, to tell a new module from a cached one. */
  modules: Set<number>;
}

export class KernelCache {
  readonly stats: KernelStats = { kernels: 0, compiles: 0, hits: 0, compileMs: 0 };
  readonly #gpu: GpuInstance;
  readonly #entries = new Map<KernelName, Entry>();

  constructor(readonly mode: Mode) {
    this.#gpu = new GPU({ mode });
  }

  #entry(name: KernelName): Entry {
    let entry = this.#entries.get(name);
    if (!entry) {
      const { fn, args } = KERNELS[name];
      const kernel = this.#gpu.createKernel(fn, {
        output: [1],
        dynamicOutput: true,
        dynamicArguments: true,
        loopMaxIterations: LOOP_MAX,
        argumentTypes: args,
        // webgpu: results stay on the device as handles, each with a buffer of its own
        pipeline: this.mode === "webgpu",
        immutable: true,
      });
      if (this.mode === "webasm") kernel.kernel.moduleCacheLimit = MODULES_PER_KERNEL;
      entry = { kernel, modules: new Set() };
      this.#entries.set(name, entry);
      this.stats.kernels++;
    }
    return entry;
  }

  /** Runs a kernel on cpu or webasm: the result is a fresh Float32Array of `length` elements. */
  runSync(name: KernelName, length: number, args: readonly unknown[]): Float32Array {
    const entry = this.#entry(name);
    const { kernel } = entry;
    const compiling = !kernel.kernel.built;
    const started = performance.now();
    kernel.setOutput([length]);
    const result = kernel(...args) as Float32Array;
    let compiled = compiling;
    if (this.mode === "webasm") {
      const id = kernel.kernel._active?.id ?? -1;
      compiled = !entry.modules.has(id);
      entry.modules.add(id);
    }
    this.#count(compiled, started);
    return result;
  }

  /**
   * Runs a kernel on webgpu and resolves to its result handle. The caller serialises calls (see
   * device-queue.ts), so the output size set here is the one this call uses even while it compiles.
   */
  async runDevice<H>(name: KernelName, length: number, args: readonly unknown[]): Promise<H> {
    const { kernel } = this.#entry(name);
    const compiling = !kernel.kernel.built;
    const started = performance.now();
    kernel.setOutput([length]);
    const handle = (await kernel(...args)) as H;
    // The kernel keeps a reference to its latest output buffer until its next call; take it over, so that
    // deleting the handle frees the buffer at once instead of whenever this kernel runs again.
    const inner = kernel.kernel;
    if (inner.outputBuffer) {
      inner.outputBuffer._refs--;
      inner.outputBuffer = null;
    }
    this.#count(compiling, started);
    return handle;
  }

  #count(compiled: boolean, started: number): void {
    if (compiled) {
      this.stats.compiles++;
      this.stats.compileMs += performance.now() - started;
    } else {
      this.stats.hits++;
    }
  }

  /** Destroys every kernel and the gpu.js instance (device buffers, wasm memories, staging buffers). */
  async destroy(): Promise<void> {
    for (const { kernel } of this.#entries.values()) kernel.destroy();
    this.#entries.clear();
    await this.#gpu.destroy();
  }
}

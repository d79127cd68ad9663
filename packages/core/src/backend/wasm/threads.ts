/// <reference path="./webassembly.d.ts" />
/**
 * @file The second thread: one worker on the same shared WebAssembly.Memory, running the same module,
 * told what to do through a control block of int32s in that memory (Atomics, no messages).
 *
 * The main thread posts a job (a kernel and its arguments), does its own share, then waits for the
 * worker's. The worker spins for about 5 ms after each job before it sleeps in Atomics.wait, because
 * waking a sleeping thread costs up to half a millisecond on a VM, as much as a 256³ matmul, and the
 * kernels of a training step come closer together than that (measured on the study's fine-tune step:
 * 38 ms a step with a 1 ms spin, 25–31 ms with 5 ms). The split of every job depends only on shapes and
 * the thread count, never on timing, so results are the same on every run. The worker is unref'ed: it never keeps a finished process alive.
 *
 * Control block (int32 slots): 0 job number (main bumps it), 1 finished job number (the worker), 2 kernel
 * index (-1: exit), 3 argument count, 4 a kernel failed, 5 the worker's loop stopped; arguments are
 * float64s from byte 64 on.
 */

import { type SpawnedWorker, spawnWorker } from "#spawn-worker";
import { fail } from "../../errors.ts";

/** Kernels the worker can run, by index: the exports of assembly/index.ts. */
export const WORKER_KERNELS = [
  "gemm",
  "gemmBatched",
  "unaryF32",
  "binaryF32",
  "softmaxRows",
  "logSoftmaxRows",
  "geluF32",
  "layerNormRows",
] as const;
export type WorkerKernel = (typeof WORKER_KERNELS)[number];

export const CONTROL_BYTES = 256;
const MAX_ARGS = 24;

// The worker's body, as source text: a worker is started from it by the "#spawn-worker" seam (spawn-worker-node.ts or spawn-worker-browser.ts).
const WORKER_SOURCE = `
const { module, memory, control, kernels, spinMs } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(memory.buffer, control, 16);
const args = new Float64Array(memory.buffer, control + 64, ${MAX_ARGS});
// a call with exactly the export's arity (a mismatched count takes V8's slow generic wrapper)
const call = (f, a, n) => {
  switch (n) {
    case 4: return f(a[0], a[1], a[2], a[3]);
    case 5: return f(a[0], a[1], a[2], a[3], a[4]);
    case 6: return f(a[0], a[1], a[2], a[3], a[4], a[5]);
    case 11: return f(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]);
    case 14: return f(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13]);
    default: return f(...a.subarray(0, n));
  }
};
const fns = kernels.map((name) => k[name]);
let seen = 0;
ready();
try {
for (;;) {
  if (Atomics.load(ctrl, 0) === seen) {
    const until = performance.now() + spinMs;
    let n = 0;
    while (Atomics.load(ctrl, 0) === seen) {
      if ((++n & 1023) === 0 && performance.now() > until) Atomics.wait(ctrl, 0, seen);
    }
  }
  seen = Atomics.load(ctrl, 0);
  const kernel = ctrl[2];
  if (kernel < 0) break;
  try {
    call(fns[kernel], args, ctrl[3]);
  } catch (error) {
    Atomics.store(ctrl, 4, 1);
  }
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
} catch (error) {
  // the loop itself failed: say so, so that a main thread waiting for a job does not wait forever
  Atomics.store(ctrl, 5, 1);
  Atomics.store(ctrl, 1, Atomics.load(ctrl, 0));
  Atomics.notify(ctrl, 1);
}
`;

export class WorkerThread {
  readonly #ctrl: Int32Array;
  readonly #args: Float64Array;
  readonly #worker: SpawnedWorker;
  #job = 0;

  private constructor(memory: WebAssembly.Memory, control: number, worker: SpawnedWorker) {
    this.#ctrl = new Int32Array(memory.buffer, control, 16);
    this.#args = new Float64Array(memory.buffer, control + 64, MAX_ARGS);
    this.#worker = worker;
  }

  /** Starts the worker and resolves once it has instantiated the module and waits for jobs. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, control: number, spinMs = 5): Promise<WorkerThread> {
    const worker = await spawnWorker(WORKER_SOURCE, { module, memory, control, kernels: [...WORKER_KERNELS], spinMs });
    return new WorkerThread(memory, control, worker);
  }

  /**
   * Posts `kernel(...args)` to the worker, runs `mine` here meanwhile, and returns when both are done.
   * The arguments are numbers (byte offsets, counts, op codes): float64 holds each exactly.
   */
  run(kernel: WorkerKernel, args: readonly number[], mine: () => void): void {
    const ctrl = this.#ctrl;
    this.#args.set(args);
    ctrl[2] = WORKER_KERNELS.indexOf(kernel);
    ctrl[3] = args.length;
    const job = ++this.#job;
    Atomics.store(ctrl, 0, job);
    Atomics.notify(ctrl, 0);
    try {
      mine();
    } finally {
      // the worker's share is short by construction (the split is even): spin, then sleep
      let n = 0;
      while (Atomics.load(ctrl, 1) !== job) {
        if (++n > 100_000) Atomics.wait(ctrl, 1, job - 1, 1);
      }
    }
    if (ctrl[5] !== 0) fail("wasm", `the worker thread stopped (in ${kernel}); start a new backend`);
    if (ctrl[4] !== 0) {
      ctrl[4] = 0;
      fail("wasm", `the worker thread failed in ${kernel}`);
    }
  }

  close(): void {
    this.#ctrl[2] = -1;
    Atomics.store(this.#ctrl, 0, ++this.#job);
    Atomics.notify(this.#ctrl, 0);
    this.#worker.terminate();
  }
}

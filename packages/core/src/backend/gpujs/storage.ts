/**
 * @file The two kinds of storage of the gpujs backend, and the queue that orders WebGPU work.
 *
 * On cpu and webasm a storage holds a host Float32Array (int32 and bool values are stored as float32,
 * exact below 2^24). On webasm its length is rounded up to a power of two (at least 16): webasm bakes
 * every array's length into its compiled module, so size classes keep the number of modules small.
 *
 * On webgpu a storage is a future: the Backend interface is synchronous, but gpu.js's WebGPU kernels
 * return Promises. A kernel call therefore returns a DeviceStore at once and appends its launch to one
 * queue (a promise chain) per backend. Steps run in program order, so every input was produced before
 * it is used, a `free` runs after every use issued before it, and only one call touches a kernel at a
 * time: the output size a call sets with setOutput is the one its launch uses, even while the kernel is
 * still compiling. After its first compile a launch is synchronous inside its step, so the queue costs
 * a microtask per op. Errors are stored on the storage they were meant to fill and reach the caller when
 * that storage, or anything computed from it, is read.
 */

/** A WebGPU buffer that gpu.js returned from a pipeline kernel. */
export interface DeviceHandle {
  toArray(): Promise<Float32Array>;
  delete(): void;
}

/** Host data (cpu and webasm). `data` is replaced, never written, by assign. */
export class HostStore {
  constructor(
    public data: Float32Array,
    readonly size: number,
  ) {}
}

/** A device buffer that may not exist yet (webgpu). */
export class DeviceStore {
  handle: DeviceHandle | null = null;
  error: unknown = null;
  constructor(readonly size: number) {}
}

export type Store = HostStore | DeviceStore;

/** The capacity of a webasm storage of `size` elements: the next power of two, at least 16. */
export function sizeClass(size: number): number {
  return size <= 16 ? 16 : 2 ** Math.ceil(Math.log2(size));
}

/** Runs steps one after another in the order they were queued; a failing step does not stop the queue. */
export class DeviceQueue {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  push(step: () => void | Promise<void>): void {
    this.#pending++;
    this.#tail = this.#tail
      .then(step)
      .catch((error) => {
        // steps record their own errors on their storage; anything reaching here is a bug in a step
        console.error("gpujs: a queued WebGPU step failed:", error);
      })
      .finally(() => {
        this.#pending--;
      });
  }

  /** Steps queued and not yet finished. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once every step queued so far has run. */
  flush(): Promise<void> {
    return this.#tail;
  }
}

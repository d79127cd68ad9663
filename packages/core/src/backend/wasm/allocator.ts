/// <reference path="./webassembly.d.ts" />
/**
 * @file A caching allocator over one WebAssembly.Memory: blocks come from a bump pointer, freed blocks go
 * to a free list per size class and are reused by the next request of that class.
 *
 * A training loop asks for the same sizes every step, so after the first step every request is served
 * from a free list. Sizes are rounded up to a class (four per power of two, at most 19 % larger), aligned
 * to 64 bytes. When no block is live, the whole heap is empty again and the bump pointer returns to the
 * start. WebAssembly memory can grow but never shrink, so the memory's size is the high-water mark.
 */

import { fail } from "../../errors.ts";

const ALIGN = 64;
const PAGE = 65536;

/** The size class of a request: a multiple of 64 below 256 bytes, else one of four steps per octave. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

export interface AllocatorStats {
  /** Blocks handed out and not yet freed. */
  liveBlocks: number;
  /** Their bytes, by size class. */
  liveBytes: number;
  /** The most live bytes since the allocator was made or its peak was reset. */
  peakBytes: number;
  /** Bytes in free blocks kept for reuse. */
  cachedBytes: number;
  /** The memory's size: what this allocator ever needed at once, plus the reserved start. */
  memoryBytes: number;
}

export class Allocator {
  readonly #memory: WebAssembly.Memory;
  readonly #base: number;
  readonly #maximumBytes: number;
  #top: number;
  readonly #free = new Map<number, number[]>();
  #liveBlocks = 0;
  #liveBytes = 0;
  #peakBytes = 0;
  #cachedBytes = 0;
  /** Called after the memory grew: views over the old buffer must be made again. */
  onGrow: () => void = () => {};

  /** Manages [base, maximumBytes) of `memory`; what lies below base belongs to the caller. */
  constructor(memory: WebAssembly.Memory, base: number, maximumBytes: number) {
    this.#memory = memory;
    this.#base = Math.ceil(base / ALIGN) * ALIGN;
    this.#top = this.#base;
    this.#maximumBytes = maximumBytes;
  }

  /** A block of at least `bytes` bytes, 64-byte aligned; its size class is what free() must be given. */
  alloc(bytes: number): number {
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    let ptr = list?.pop();
    if (ptr !== undefined) {
      this.#cachedBytes -= size;
    } else {
      ptr = this.#top;
      this.#ensure(ptr + size, bytes);
      this.#top = ptr + size;
    }
    this.#liveBlocks++;
    this.#liveBytes += size;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
    return ptr;
  }

  /** Returns a block (of the size alloc was asked for) to its free list. */
  free(ptr: number, bytes: number): void {
    const size = sizeClass(bytes);
    this.#liveBlocks--;
    this.#liveBytes -= size;
    if (this.#liveBlocks === 0) {
      // nothing is live: the heap is empty again
      this.#free.clear();
      this.#cachedBytes = 0;
      this.#top = this.#base;
      return;
    }
    let list = this.#free.get(size);
    if (!list) {
      list = [];
      this.#free.set(size, list);
    }
    list.push(ptr);
    this.#cachedBytes += size;
  }

  stats(): AllocatorStats {
    return {
      liveBlocks: this.#liveBlocks,
      liveBytes: this.#liveBytes,
      peakBytes: this.#peakBytes,
      cachedBytes: this.#cachedBytes,
      memoryBytes: this.#memory.buffer.byteLength,
    };
  }

  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  #ensure(end: number, asked: number): void {
    const have = this.#memory.buffer.byteLength;
    if (end <= have) return;
    const refuse = (why: string) =>
      fail(
        "wasm",
        `out of memory: asked for ${asked} bytes with ${this.#liveBytes} bytes live (and ${this.#cachedBytes} cached for ` +
          `reuse) ${why}; free tensors with dispose() or tidy(), or use smaller batches`,
      );
    if (end > this.#maximumBytes) refuse(`and a maximum of ${this.#maximumBytes} bytes of WebAssembly memory`);
    // grow by at least an eighth of what is there, so that a growing model does not grow page by page
    const pages = Math.max(Math.ceil((end - have) / PAGE), Math.ceil(have / PAGE / 8));
    const allowed = Math.min(pages, Math.floor((this.#maximumBytes - have) / PAGE));
    try {
      this.#memory.grow(allowed);
    } catch (error) {
      refuse(`(the engine refused to grow the memory to ${have + allowed * PAGE} bytes: ${(error as Error).message})`);
    }
    this.onGrow();
  }
}

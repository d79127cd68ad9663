/// <reference path="./webassembly.d.ts" />
/**
 * @file The wasm backend's memory: storages as blocks of the caching allocator, views of the memory by
 * dtype (made again whenever it grows), the live counts `memory()` reports, and the FinalizationRegistry
 * that frees a block whose tensor was garbage-collected without dispose() (a safety net: when it runs is
 * up to the collector; `tidy` and `dispose` free at once). Only storages the core hands to `protect`
 * are registered: those of tensors no tidy scope will dispose (registering costs about as much as the
 * rest of a small op, and most tensors of a step live and die inside one scope).
 */

import type { DType, TypedArray } from "../../dtype.ts";
import type { MemoryInfo, Operand, Storage } from "../backend.ts";
import { Allocator, type AllocatorStats } from "./allocator.ts";

/** A block of wasm memory holding one tensor's elements. */
export class WasmStorage {
  /** Registered with the FinalizationRegistry (see protect). */
  protected_ = false;

  constructor(
    readonly ptr: number,
    readonly bytes: number,
  ) {}
}

export const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

export const ptrOf = (x: Operand): number => (x.storage as unknown as WasmStorage).ptr;
export const wrap = (s: WasmStorage): Storage => s as unknown as Storage;

export class WasmHeap {
  readonly #memory: WebAssembly.Memory;
  readonly #allocator: Allocator;
  readonly #finalizer: FinalizationRegistry<{ ptr: number; bytes: number }>;
  #buffers = 0;
  #bytes = 0;
  u8!: Uint8Array;
  i32!: Int32Array;
  f32!: Float32Array;
  f64!: Float64Array;

  /** Manages [base, maximumBytes) of `memory`. */
  constructor(memory: WebAssembly.Memory, base: number, maximumBytes: number) {
    this.#memory = memory;
    this.#allocator = new Allocator(memory, base, maximumBytes);
    this.#allocator.onGrow = () => this.#refreshViews();
    this.#refreshViews();
    this.#finalizer = new FinalizationRegistry(({ ptr, bytes }) => this.#release(ptr, bytes));
  }

  #refreshViews(): void {
    const buffer = this.#memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  /** A storage for `size` elements of `dtype`. */
  alloc(dtype: DType, size: number): WasmStorage {
    const bytes = size * BYTES[dtype];
    const storage = new WasmStorage(this.#allocator.alloc(bytes), bytes);
    this.#buffers++;
    this.#bytes += bytes;
    return storage;
  }

  /** From now on, a storage collected without free() gives its block back. */
  protect(storage: WasmStorage): void {
    if (storage.protected_) return;
    storage.protected_ = true;
    this.#finalizer.register(storage, { ptr: storage.ptr, bytes: storage.bytes }, storage);
  }

  free(storage: WasmStorage): void {
    if (storage.protected_) this.#finalizer.unregister(storage);
    this.#release(storage.ptr, storage.bytes);
  }

  #release(ptr: number, bytes: number): void {
    this.#allocator.free(ptr, bytes);
    this.#buffers--;
    this.#bytes -= bytes;
  }

  /** Scratch for one kernel call (a matmul's batch table): not a tensor, not counted by memory(). */
  scratch(bytes: number): number {
    return this.#allocator.alloc(bytes);
  }

  freeScratch(ptr: number, bytes: number): void {
    this.#allocator.free(ptr, bytes);
  }

  /** A view of `size` elements of `dtype` at byte offset `ptr` (valid until the memory grows). */
  view(ptr: number, size: number, dtype: DType): TypedArray {
    switch (dtype) {
      case "float32":
        return this.f32.subarray(ptr >> 2, (ptr >> 2) + size);
      case "float64":
        return this.f64.subarray(ptr >> 3, (ptr >> 3) + size);
      case "int32":
        return this.i32.subarray(ptr >> 2, (ptr >> 2) + size);
      case "bool":
        return this.u8.subarray(ptr, ptr + size);
    }
  }

  /** The whole memory as an array of `dtype`, and where byte offset `ptr` falls in it. */
  arrayOf(dtype: DType, ptr: number): [TypedArray, number] {
    switch (dtype) {
      case "float32":
        return [this.f32, ptr >> 2];
      case "float64":
        return [this.f64, ptr >> 3];
      case "int32":
        return [this.i32, ptr >> 2];
      case "bool":
        return [this.u8, ptr];
    }
  }

  memory(): MemoryInfo {
    return { buffers: this.#buffers, bytes: this.#bytes };
  }

  stats(): AllocatorStats {
    return this.#allocator.stats();
  }

  resetPeak(): void {
    this.#allocator.resetPeak();
  }
}

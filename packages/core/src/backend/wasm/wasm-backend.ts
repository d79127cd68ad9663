/**
 * @file The wasm backend: tensors live in one WebAssembly.Memory, and float32 kernels are AssemblyScript
 * compiled to WebAssembly SIMD (assembly/): a packed, register-blocked GEMM that reads transposed
 * operands in place, elementwise ops with broadcasting, reductions, casts, strided copies, the fused
 * kernels and the embedding's gather and scatterAdd.
 *
 * Everything else (float64, int32 arithmetic, indexing, topk, ...) runs the reference backend's kernels
 * on views of this memory, so every op works here and means what it means there; the fast kernels are
 * checked against those by the parity suites. Large kernels split across the second thread (threads.ts).
 *
 * Memory (storages, views, live counts, the FinalizationRegistry net) is heap.ts over allocator.ts.
 */

import { canShareMemory } from "#spawn-worker";
import { castValue, type DType, type TypedArray } from "../../dtype.ts";
import { fail } from "../../errors.ts";
import { broadcastStrides, type Shape, sizeOf, stridesOf } from "../../shape.ts";
import {
  type AdamWScalars,
  type ArgReduceOp,
  type Backend,
  BINARY_OPS,
  type BinaryOp,
  type MemoryInfo,
  type Operand,
  type ReduceOp,
  type Storage,
  UNARY_OPS,
  type UnaryOp,
} from "../backend.ts";
import { gatherOffsets, ReferenceBackend, referenceData, referenceStorage } from "../reference/reference-backend.ts";
import type { AllocatorStats } from "./allocator.ts";
import { BYTES, ptrOf, WasmHeap, type WasmStorage, wrap } from "./heap.ts";
import { type Build, chooseBuild, type Instance, instantiate, type Kernels, relaxedSimdAvailable } from "./module.ts";
import { iterationSpace } from "./strided.ts";
import { CONTROL_BYTES, WorkerThread } from "./threads.ts";

const UNARY_CODE = new Map<UnaryOp, number>(UNARY_OPS.map((op, i) => [op, i]));
const BINARY_CODE = new Map<BinaryOp, number>(BINARY_OPS.map((op, i) => [op, i]));
/** Unary ops the float32 kernel has (logicalNot writes bytes and goes through the reference). */
const FAST_UNARY = new Set<UnaryOp>(UNARY_OPS.filter((op) => op !== "logicalNot"));
const REDUCE_CODE: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2 };
const CAST_CODE: Partial<Record<`${DType}>${DType}`, number>> = {
  "int32>float32": 0,
  "bool>float32": 1,
  "float32>bool": 2,
  "float32>float64": 3,
  "float64>float32": 4,
  "float32>int32": 5,
};

/** The main thread's argument block for strided kernels (sizes and strides, int32s). */
const META_BYTES = 768;

export interface WasmOptions {
  /** 1 or 2 (main thread plus one worker). Default 2 where memory can be shared, else 1. */
  threads?: number;
  /** Relaxed SIMD (fused multiply-add): "auto" (default) takes it where the engine validates it. */
  relaxed?: boolean | "auto";
  /** Multiply-adds (elements, for elementwise kernels) below which a kernel stays on the main thread. */
  minParallelWork?: number;
  /** The most bytes of WebAssembly memory to use (default and limit: 4 GiB, what 32-bit addresses reach). */
  maxMemoryBytes?: number;
  name?: string;
}

/** Below this a matmul stays on one thread: posting it to the worker costs about a microsecond. */
export const DEFAULT_MIN_PARALLEL_WORK = 1 << 15;
const MIN_PARALLEL_ELEMENTS = 1 << 16;

export class WasmBackend implements Backend {
  readonly name: string;
  readonly supportsFloat64 = true;
  readonly canReadSync = true;
  readonly threads: number;
  readonly build: Build;
  readonly minParallelWork: number;
  readonly #k: Kernels;
  readonly #heap: WasmHeap;
  readonly #work: number[];
  /** Scratch bytes of each thread (its GEMM packing buffers). */
  readonly #workBytes: number;
  /** Elements from which an elementwise or row kernel splits across the threads. */
  readonly #parallelElements: number;
  readonly #meta: number;
  #worker: WorkerThread | null = null;
  readonly #ready: Promise<void>;
  #closed = false;
  readonly #reference = new ReferenceBackend();

  private constructor(instance: Instance, threads: number, options: WasmOptions, maximumBytes: number) {
    this.#k = instance.kernels;
    this.build = instance.build;
    this.threads = threads;
    this.minParallelWork = options.minParallelWork ?? DEFAULT_MIN_PARALLEL_WORK;
    this.name = options.name ?? "wasm";
    // the layout above the module's static data: the worker's control block, the argument block, each
    // thread's scratch, then the heap
    const control = Math.ceil(this.#k.heapBase() / 64) * 64;
    this.#meta = control + CONTROL_BYTES;
    const workBytes = this.#k.workBytes();
    this.#workBytes = workBytes;
    this.#parallelElements = Math.min(MIN_PARALLEL_ELEMENTS, Math.max(this.minParallelWork, 1));
    this.#work = Array.from({ length: threads }, (_, t) => this.#meta + META_BYTES + t * workBytes);
    this.#heap = new WasmHeap(instance.memory, this.#meta + META_BYTES + threads * workBytes, maximumBytes);
    this.#ready =
      threads === 2
        ? WorkerThread.start(instance.module, instance.memory, control).then((worker) => {
            if (this.#closed) worker.close();
            else this.#worker = worker;
          })
        : Promise.resolve();
    // a worker that cannot start leaves the backend on one thread; `ready` tells why
    this.#ready.catch(() => {});
  }

  /**
   * Creates the backend at once; the worker thread starts in the background and takes its share of
   * the work from the first kernel after it is ready (results do not depend on it: every split gives
   * the same numbers). `ready` resolves when it has.
   */
  static create(options: WasmOptions = {}): WasmBackend {
    const shared = canShareMemory();
    const threads = options.threads ?? (shared ? 2 : 1);
    if (threads !== 1 && threads !== 2) fail("setBackend", `wasm: threads must be 1 or 2, got ${threads}`);
    if (threads === 2 && !shared) fail("setBackend", "wasm: two threads need SharedArrayBuffer, which this environment lacks");
    const maximumBytes = Math.min(options.maxMemoryBytes ?? 2 ** 32, 2 ** 32);
    if (!(maximumBytes >= 2 ** 23)) fail("setBackend", `wasm: maxMemoryBytes must be at least 8 MiB, got ${options.maxMemoryBytes}`);
    if (options.relaxed === true && !relaxedSimdAvailable()) {
      fail("setBackend", "wasm: relaxed SIMD is not available in this engine (Node 20 needs --experimental-wasm-relaxed-simd)");
    }
    const instance = instantiate(chooseBuild(options.relaxed ?? "auto"), maximumBytes);
    return new WasmBackend(instance, threads, options, maximumBytes);
  }

  /** Resolves once every thread is running (at once on one thread). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  // ---- memory ------------------------------------------------------------------------------------

  #alloc(dtype: DType, size: number): WasmStorage {
    return this.#heap.alloc(dtype, size);
  }

  #view(x: Operand): TypedArray {
    return this.#heap.view(ptrOf(x), sizeOf(x.shape), x.dtype);
  }

  upload(values: TypedArray, dtype: DType): Storage {
    const storage = this.#alloc(dtype, values.length);
    // set at an offset: no view object per upload (scalars are uploaded for every op with a JS number)
    const [array, at] = this.#heap.arrayOf(dtype, storage.ptr);
    if (values.length === 1) array[at] = values[0];
    else array.set(values, at);
    return wrap(storage);
  }

  async read(x: Operand): Promise<TypedArray> {
    return this.#view(x).slice();
  }

  readSync(x: Operand): TypedArray {
    return this.#view(x).slice();
  }

  free(storage: Storage): void {
    this.#heap.free(storage as unknown as WasmStorage);
  }

  protect(storage: Storage): void {
    this.#heap.protect(storage as unknown as WasmStorage);
  }

  memory(): MemoryInfo {
    return this.#heap.memory();
  }

  /** The allocator's view: live and peak bytes (by size class), bytes cached for reuse, the memory's size. */
  allocatorStats(): AllocatorStats {
    return this.#heap.stats();
  }

  resetPeakBytes(): void {
    this.#heap.resetPeak();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#ready.catch(() => {});
    this.#worker?.close();
    this.#worker = null;
  }

  // ---- the reference kernels, on views of this memory --------------------------------------------

  #ref(x: Operand): Operand {
    return { storage: referenceStorage(this.#view(x)), shape: x.shape, dtype: x.dtype };
  }

  /** Copies a reference kernel's result into this memory. */
  #adopt(result: Storage, dtype: DType): Storage {
    const values = referenceData(result);
    const out = this.upload(values, dtype);
    this.#reference.free(result);
    return out;
  }

  #viaReference(dtype: DType, kernel: (ref: ReferenceBackend) => Storage): Storage {
    return this.#adopt(kernel(this.#reference), dtype);
  }

  // ---- kernels -----------------------------------------------------------------------------------

  fill(shape: Shape, value: number, dtype: DType): Storage {
    const out = this.#alloc(dtype, sizeOf(shape));
    this.#heap.view(out.ptr, sizeOf(shape), dtype).fill(castValue(value, dtype));
    return wrap(out);
  }

  cast(x: Operand, dtype: DType): Storage {
    const code = CAST_CODE[`${x.dtype}>${dtype}`];
    if (code === undefined) return this.#viaReference(dtype, (ref) => ref.cast(this.#ref(x), dtype));
    const n = sizeOf(x.shape);
    const out = this.#alloc(dtype, n);
    this.#k.castDense(code, ptrOf(x), out.ptr, n);
    return wrap(out);
  }

  unary(op: UnaryOp, x: Operand, outDType: DType): Storage {
    if (x.dtype !== "float32" || outDType !== "float32" || !FAST_UNARY.has(op)) {
      return this.#viaReference(outDType, (ref) => ref.unary(op, this.#ref(x), outDType));
    }
    const n = sizeOf(x.shape);
    const out = this.#alloc("float32", n);
    this.#flat("unaryF32", UNARY_CODE.get(op)!, ptrOf(x), out.ptr, n);
    return wrap(out);
  }

  /** The merged iteration space of a kernel, or null when it needs more than four axes. */
  #space(shape: Shape, operands: readonly Shape[]): { sizes: number[]; strides: number[][] } | null {
    return iterationSpace(
      shape,
      operands.map((s) => broadcastStrides(s, shape)),
    );
  }

  /** Writes an iteration space into an argument block (the main thread's, or the worker's after it). */
  #writeSpace(space: { sizes: number[]; strides: number[][] }, block = this.#meta): void {
    const meta = block >> 2;
    this.#heap.i32.set(space.sizes, meta);
    for (const [k, s] of space.strides.entries()) this.#heap.i32.set(s, meta + 4 * (k + 1));
  }

  /**
   * The iteration space of a binary kernel: one dense run when the operands have the output's size or
   * one element (the common cases, without the general merge), else the merged space.
   */
  #binarySpace(outShape: Shape, a: Operand, b: Operand): { sizes: number[]; strides: number[][] } | null {
    const size = sizeOf(outShape);
    const sa = sizeOf(a.shape);
    const sb = sizeOf(b.shape);
    if ((sa === size || sa === 1) && (sb === size || sb === 1)) {
      return {
        sizes: [1, 1, 1, size],
        strides: [
          [0, 0, 0, sa === 1 ? 0 : 1],
          [0, 0, 0, sb === 1 ? 0 : 1],
        ],
      };
    }
    return this.#space(outShape, [a.shape, b.shape]);
  }

  binary(op: BinaryOp, a: Operand, b: Operand, outShape: Shape, outDType: DType): Storage {
    const fast = a.dtype === "float32" && b.dtype === "float32" && (outDType === "float32" || outDType === "bool");
    const space = fast ? this.#binarySpace(outShape, a, b) : null;
    if (!space) return this.#viaReference(outDType, (ref) => ref.binary(op, this.#ref(a), this.#ref(b), outShape, outDType));
    const size = sizeOf(outShape);
    const out = this.#alloc(outDType, size);
    const code = BINARY_CODE.get(op)!;
    const worker = this.#worker;
    // the worker takes the second half of the outermost axis of the iteration space
    const axis = space.sizes.findIndex((d) => d > 1);
    if (worker && axis >= 0 && this.#splits(size)) {
      const whole = space.sizes[axis];
      const half = Math.ceil(whole / 2);
      const inner = sizeOf(space.sizes.slice(axis + 1));
      const outBytes = BYTES[outDType];
      const mine = { sizes: space.sizes.map((d, i) => (i === axis ? half : d)), strides: space.strides };
      const theirs = { sizes: space.sizes.map((d, i) => (i === axis ? whole - half : d)), strides: space.strides };
      const workerMeta = this.#meta + META_BYTES / 2;
      this.#writeSpace(mine);
      this.#writeSpace(theirs, workerMeta);
      const [sa, sb] = [space.strides[0][axis], space.strides[1][axis]];
      worker.run(
        "binaryF32",
        [code, ptrOf(a) + 4 * half * sa, ptrOf(b) + 4 * half * sb, out.ptr + outBytes * half * inner, workerMeta],
        () => this.#k.binaryF32(code, ptrOf(a), ptrOf(b), out.ptr, this.#meta),
      );
    } else {
      this.#writeSpace(space);
      this.#k.binaryF32(code, ptrOf(a), ptrOf(b), out.ptr, this.#meta);
    }
    return wrap(out);
  }

  where(cond: Operand, a: Operand, b: Operand, outShape: Shape): Storage {
    const space = a.dtype === "float32" ? this.#space(outShape, [cond.shape, a.shape, b.shape]) : null;
    if (!space) return this.#viaReference(a.dtype, (ref) => ref.where(this.#ref(cond), this.#ref(a), this.#ref(b), outShape));
    this.#writeSpace(space);
    const out = this.#alloc("float32", sizeOf(outShape));
    this.#k.whereF32(ptrOf(cond), ptrOf(a), ptrOf(b), out.ptr, this.#meta);
    return wrap(out);
  }

  reduce(op: ReduceOp, x: Operand, axes: readonly number[], outDType: DType): Storage {
    // the reduced axes must be one run once size-1 axes are dropped: [outer, len, inner]
    let outer = 1;
    let len = 1;
    let inner = 1;
    let phase = 0; // 0: before the run, 1: in it, 2: after it
    let oneRun = true;
    x.shape.forEach((d, i) => {
      if (d === 1) return;
      const reduced = axes.includes(i);
      if (reduced && phase === 2) oneRun = false;
      if (reduced) phase = 1;
      else if (phase === 1) phase = 2;
      if (reduced) len *= d;
      else if (phase === 0) outer *= d;
      else inner *= d;
    });
    if (x.dtype !== "float32" || outDType !== "float32" || !oneRun) {
      return this.#viaReference(outDType, (ref) => ref.reduce(op, this.#ref(x), axes, outDType));
    }
    const out = this.#alloc("float32", outer * inner);
    // the GEMM scratch holds the float64 accumulators of a sum over leading rows, when they fit
    const work = inner > 1 && inner * 8 <= this.#workBytes ? this.#work[0] : 0;
    this.#k.reduceF32(REDUCE_CODE[op], ptrOf(x), out.ptr, outer, len, inner, work);
    return wrap(out);
  }

  argReduce(op: ArgReduceOp, x: Operand, axis: number): Storage {
    return this.#viaReference("int32", (ref) => ref.argReduce(op, this.#ref(x), axis));
  }

  matmul(a: Operand, b: Operand, outShape: Shape, transposeA = false, transposeB = false): Storage {
    if (a.dtype !== "float32") {
      return this.#viaReference(a.dtype, (ref) => ref.matmul(this.#ref(a), this.#ref(b), outShape, transposeA, transposeB));
    }
    const rank = outShape.length;
    const m = outShape[rank - 2];
    const n = outShape[rank - 1];
    const k = a.shape[a.shape.length - (transposeA ? 2 : 1)];
    // element (i, p) of op(A) is at i·rsA + p·csA; element (p, j) of op(B) at p·rsB + j·csB
    const rsA = transposeA ? 1 : k;
    const csA = transposeA ? m : 1;
    const rsB = transposeB ? 1 : n;
    const csB = transposeB ? k : 1;
    if (rank === 2) {
      // two matrices, the common case (every linear layer): no batch bookkeeping
      const out = this.#alloc("float32", m * n);
      if (m * n > 0) this.#gemm(ptrOf(a), ptrOf(b), out.ptr, m, n, k, rsA, csA, rsB, csB);
      return wrap(out);
    }
    const batchShape = outShape.slice(0, -2);
    const batch = sizeOf(batchShape);
    const out = this.#alloc("float32", batch * m * n);
    if (batch * m * n === 0) return wrap(out);
    const batchA = sizeOf(a.shape.slice(0, -2));
    const batchB = sizeOf(b.shape.slice(0, -2));
    if (batch === 1 || (batchB === 1 && batchA === batch && !transposeA)) {
      // one matrix, or a batch of A's against one B: A's rows stack into one taller matrix
      this.#gemm(ptrOf(a), ptrOf(b), out.ptr, batch * m, n, k, rsA, csA, rsB, csB);
      return wrap(out);
    }
    const starts = (x: Operand) =>
      gatherOffsets(
        batchShape,
        broadcastStrides(x.shape.slice(0, -2), batchShape).map((s) => s * sizeOf(x.shape.slice(-2))),
      );
    const [startsA, startsB] = [starts(a), starts(b)];
    const table = this.#heap.scratch(batch * 8);
    for (let i = 0; i < batch; i++) {
      this.#heap.i32[(table >> 2) + 2 * i] = startsA[i];
      this.#heap.i32[(table >> 2) + 2 * i + 1] = startsB[i];
    }
    const args = (b0: number, b1: number, work: number) => [ptrOf(a), ptrOf(b), out.ptr, table, b0, b1, m, n, k, rsA, csA, rsB, csB, work];
    const worker = this.#worker;
    if (worker && batch * m * n * k >= this.minParallelWork) {
      const half = Math.ceil(batch / 2);
      worker.run("gemmBatched", args(half, batch, this.#work[1]), () =>
        this.#k.gemmBatched(...(args(0, half, this.#work[0]) as Parameters<Kernels["gemmBatched"]>)),
      );
    } else {
      this.#k.gemmBatched(...(args(0, batch, this.#work[0]) as Parameters<Kernels["gemmBatched"]>));
    }
    this.#heap.freeScratch(table, batch * 8);
    return wrap(out);
  }

  /** One matrix, its rows split between the threads when it is large enough. */
  #gemm(a: number, b: number, c: number, m: number, n: number, k: number, rsA: number, csA: number, rsB: number, csB: number): void {
    const worker = this.#worker;
    if (!worker || m < 8 || m * n * k < this.minParallelWork) {
      this.#k.gemm(a, b, c, m, n, k, rsA, csA, rsB, csB, this.#work[0]);
      return;
    }
    // the main thread takes the first rows (a multiple of the 4-row tile), the worker the rest
    const top = Math.ceil(m / 8) * 4;
    worker.run("gemm", [a + 4 * top * rsA, b, c + 4 * top * n, m - top, n, k, rsA, csA, rsB, csB, this.#work[1]], () =>
      this.#k.gemm(a, b, c, top, n, k, rsA, csA, rsB, csB, this.#work[0]),
    );
  }

  softmax(x: Operand, axis: number): Storage {
    return this.#rows("softmaxRows", x, axis, (ref) => ref.softmax(this.#ref(x), axis));
  }

  layerNorm(x: Operand, axes: number, eps: number): Storage {
    const cols = sizeOf(x.shape.slice(x.shape.length - axes));
    if (x.dtype !== "float32" || cols === 0) return this.#viaReference(x.dtype, (ref) => ref.layerNorm(this.#ref(x), axes, eps));
    const rows = sizeOf(x.shape) / cols;
    const out = this.#alloc("float32", rows * cols);
    this.#byRows("layerNormRows", ptrOf(x), out.ptr, rows, cols, eps);
    return wrap(out);
  }

  gelu(x: Operand, tanhForm: boolean): Storage {
    if (x.dtype !== "float32") return this.#viaReference(x.dtype, (ref) => ref.gelu(this.#ref(x), tanhForm));
    const n = sizeOf(x.shape);
    const out = this.#alloc("float32", n);
    this.#flat("geluF32", tanhForm ? 1 : 0, ptrOf(x), out.ptr, n);
    return wrap(out);
  }

  logSoftmax(x: Operand, axis: number): Storage {
    return this.#rows("logSoftmaxRows", x, axis, (ref) => ref.logSoftmax(this.#ref(x), axis));
  }

  /** A kernel over the rows of a float32 tensor along its last axis, split across the threads; else the reference kernel. */
  #rows(kernel: "softmaxRows" | "logSoftmaxRows", x: Operand, axis: number, reference: (ref: ReferenceBackend) => Storage): Storage {
    const cols = x.shape[axis];
    if (x.dtype !== "float32" || axis !== x.shape.length - 1 || cols === 0) return this.#viaReference(x.dtype, reference);
    const rows = sizeOf(x.shape) / cols;
    const out = this.#alloc("float32", rows * cols);
    this.#byRows(kernel, ptrOf(x), out.ptr, rows, cols);
    return wrap(out);
  }

  /** Whether an elementwise or row kernel over `elements` is large enough to split across the threads. */
  #splits(elements: number): boolean {
    return this.#worker !== null && elements >= this.#parallelElements;
  }

  /** kernel(first, x, out, n) over n dense elements; the worker takes the second half, from a 64-byte boundary. */
  #flat(kernel: "unaryF32" | "geluF32", first: number, x: number, out: number, n: number): void {
    if (!this.#splits(n)) {
      this.#k[kernel](first, x, out, n);
      return;
    }
    const half = Math.ceil(n / 32) * 16;
    this.#worker!.run(kernel, [first, x + half * 4, out + half * 4, n - half], () => this.#k[kernel](first, x, out, half));
  }

  /** kernel(x, out, r0, r1, cols, ...extra) over rows [0, rows); the worker takes the second half of the rows. */
  #byRows(
    kernel: "softmaxRows" | "logSoftmaxRows" | "layerNormRows",
    x: number,
    out: number,
    rows: number,
    cols: number,
    ...extra: number[]
  ): void {
    const run = this.#k[kernel] as (...args: number[]) => void;
    if (rows < 2 || !this.#splits(rows * cols)) {
      run(x, out, 0, rows, cols, ...extra);
      return;
    }
    const half = Math.ceil(rows / 2);
    this.#worker!.run(kernel, [x, out, half, rows, cols, ...extra], () => run(x, out, 0, half, cols, ...extra));
  }

  #copy(x: Operand, shape: Shape, strides: readonly number[], offset = 0): Storage {
    const out = this.#alloc(x.dtype, sizeOf(shape));
    const space = iterationSpace(shape, [strides]);
    if (!space) {
      const offsets = gatherOffsets(shape, strides, offset);
      const src = this.#view(x);
      const dst = this.#heap.view(out.ptr, offsets.length, x.dtype);
      for (let i = 0; i < offsets.length; i++) dst[i] = src[offsets[i]];
      return wrap(out);
    }
    const meta = this.#meta >> 2;
    this.#heap.i32.set(space.sizes, meta);
    this.#heap.i32.set(space.strides[0], meta + 4);
    this.#k.copyStrided(ptrOf(x) + offset * BYTES[x.dtype], out.ptr, this.#meta, BYTES[x.dtype]);
    return wrap(out);
  }

  permute(x: Operand, perm: readonly number[]): Storage {
    const strides = stridesOf(x.shape);
    return this.#copy(
      x,
      perm.map((p) => x.shape[p]),
      perm.map((p) => strides[p]),
    );
  }

  expand(x: Operand, shape: Shape): Storage {
    return this.#copy(x, shape, broadcastStrides(x.shape, shape));
  }

  slice(x: Operand, begin: readonly number[], size: readonly number[]): Storage {
    const strides = stridesOf(x.shape);
    return this.#copy(
      x,
      size,
      strides,
      begin.reduce((acc, b, i) => acc + b * strides[i], 0),
    );
  }

  pad(x: Operand, before: readonly number[], after: readonly number[], value: number): Storage {
    return this.#viaReference(x.dtype, (ref) => ref.pad(this.#ref(x), before, after, value));
  }

  concat(xs: readonly Operand[], axis: number, outShape: Shape): Storage {
    return this.#viaReference(xs[0].dtype, (ref) =>
      ref.concat(
        xs.map((x) => this.#ref(x)),
        axis,
        outShape,
      ),
    );
  }

  /** Whether a gather or scatterAdd is the embedding's: along axis 0 of a float32 matrix, whole rows of indices. */
  #rowIndexed(x: Operand, axis: number, index: Operand): boolean {
    return x.dtype === "float32" && axis === 0 && x.shape.length === 2 && index.shape.length === 2 && index.shape[1] === x.shape[1];
  }

  gather(x: Operand, axis: number, index: Operand): Storage {
    if (!this.#rowIndexed(x, axis, index)) return this.#viaReference(x.dtype, (ref) => ref.gather(this.#ref(x), axis, this.#ref(index)));
    const [n, cols] = index.shape;
    const out = this.#alloc("float32", n * cols);
    this.#k.gatherRowsF32(ptrOf(x), ptrOf(index), out.ptr, n, cols);
    return wrap(out);
  }

  scatterAdd(base: Operand, axis: number, index: Operand, src: Operand): Storage {
    if (!this.#rowIndexed(base, axis, index)) {
      return this.#viaReference(base.dtype, (ref) => ref.scatterAdd(this.#ref(base), axis, this.#ref(index), this.#ref(src)));
    }
    const [rows, cols] = base.shape;
    const out = this.#alloc("float32", rows * cols);
    this.#k.scatterAddRowsF32(ptrOf(base), ptrOf(index), ptrOf(src), out.ptr, rows, index.shape[0], cols);
    return wrap(out);
  }

  topk(x: Operand, k: number, largest: boolean): Storage {
    return this.#viaReference("int32", (ref) => ref.topk(this.#ref(x), k, largest));
  }

  adamw(p: Operand, g: Operand, m: Operand, v: Operand, vMax: Operand | null, h: AdamWScalars): void {
    if (p.dtype !== "float32") {
      this.#reference.adamw(this.#ref(p), this.#ref(g), this.#ref(m), this.#ref(v), vMax ? this.#ref(vMax) : null, h);
      return;
    }
    const f = Math.fround;
    this.#k.adamwF32(
      ptrOf(p),
      ptrOf(g),
      ptrOf(m),
      ptrOf(v),
      vMax ? ptrOf(vMax) : 0,
      sizeOf(p.shape),
      h.applyDecay ? 1 : 0,
      f(h.decay),
      f(h.oneMinusBeta1),
      f(h.beta2),
      f(h.oneMinusBeta2),
      f(h.bc2Sqrt),
      f(h.eps),
      f(h.negStepSize),
    );
  }

  assign(dst: Operand, src: Operand): void {
    const bytes = sizeOf(src.shape) * BYTES[src.dtype];
    this.#heap.u8.copyWithin(ptrOf(dst), ptrOf(src), ptrOf(src) + bytes);
  }
}

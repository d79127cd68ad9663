/**
 * @file The gpujs backend: every kernel of the Backend interface is a gpu.js kernel, run in one of
 * gpu.js's modes: `webgpu` (Dawn; tensors stay on the device between ops), `webasm` (WebAssembly with
 * SIMD) or `cpu` (generated JavaScript).
 *
 * Kernels are shape-generic (see kernels/kernel-this.ts): the host works out strides, merges axes and
 * packs them into small meta arrays, so one compiled kernel serves every shape. float32, int32 and bool
 * are all stored as float32 (int32 exact to ±2^24); float64 is refused, never downcast.
 */

import { castValue, type DType, INT32_MAX, INT32_MIN, type TypedArray, typedArrayFor } from "../../dtype.ts";
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
import { fusedAdamw, fusedGelu, fusedLayerNorm, fusedLogSoftmax, fusedSoftmax } from "./fused.ts";
import { KernelCache, type KernelName, type KernelStats, type Mode } from "./kernel-cache.ts";
import { UNARY_CODES } from "./kernels/elementwise.ts";
import { KIND, SPECIAL_VALUES } from "./kernels/kernel-this.ts";
import { checkRank, coalesce, inner, meta } from "./meta.ts";
import { type DeviceHandle, DeviceQueue, DeviceStore, HostStore, type Store, sizeClass } from "./storage.ts";

/** Index arithmetic inside kernels is float32: positions are exact below 2^24, so no tensor may be larger. */
export const MAX_ELEMENTS = 2 ** 24;

type Arg = Store | Float32Array | number;

const EMPTY = new Float32Array(16);

const store = (storage: Storage): Store => storage as unknown as Store;
const wrap = (s: Store): Storage => s as unknown as Storage;
const kindOf = (dtype: DType): number => (dtype === "int32" ? KIND.int32 : dtype === "bool" ? KIND.bool : KIND.float32);

/** An op's code for the elementwise kernels, which would otherwise get -1 for an op outside the list. */
function codeOf(backend: string, family: "unary" | "binary", op: string): number {
  const codes: readonly string[] = family === "unary" ? UNARY_OPS : BINARY_OPS;
  const code = codes.indexOf(op);
  if (code < 0) fail(`${backend} ${family}`, `unknown op "${op}"; expected one of ${codes.join(", ")}`);
  return code;
}

export interface GpujsBackendOptions {
  mode: Mode;
  /** webgpu: the largest storage buffer the device allows, in bytes. */
  maxStorageBytes?: number;
  /** webgpu: called by close() to release the device (see webgpu.ts). */
  release?: () => Promise<void>;
  /** webgpu: resolves when the device has finished the work submitted so far (see webgpu.ts). */
  settle?: () => Promise<void>;
}

/** webgpu: launches between two waits for the device, so that Dawn reclaims what finished work used. */
const LAUNCHES_PER_SETTLE = 256;

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly supportsFloat64 = false;
  readonly canReadSync: boolean;
  readonly mode: Mode;
  readonly #cache: KernelCache;
  readonly #queue = new DeviceQueue();
  readonly #maxStorageBytes: number;
  readonly #release?: () => Promise<void>;
  readonly #settle?: () => Promise<void>;
  #launches = 0;
  #buffers = 0;
  #bytes = 0;
  /** webgpu: buffers that exist on the device right now (a freed storage's buffer goes once its turn comes). */
  #device = { buffers: 0, bytes: 0 };
  #closed = false;

  constructor(options: GpujsBackendOptions) {
    this.mode = options.mode;
    this.name = `gpujs:${options.mode}`;
    this.canReadSync = options.mode !== "webgpu";
    this.#cache = new KernelCache(options.mode);
    this.#maxStorageBytes = options.maxStorageBytes ?? Number.POSITIVE_INFINITY;
    this.#release = options.release;
    this.#settle = options.settle;
  }

  /** Compiles and cache hits so far (see kernel-cache.ts). */
  kernelStats(): KernelStats {
    return { ...this.#cache.stats };
  }

  /** webgpu: device buffers alive now; call `flush()` first for a settled count. Elsewhere equal to memory(). */
  deviceMemory(): MemoryInfo {
    return this.mode === "webgpu" ? { ...this.#device } : this.memory();
  }

  /** Resolves once every queued WebGPU step has run and the device has finished it (at once on cpu and webasm). */
  flush(): Promise<void> {
    const settle = this.#settle;
    if (settle) this.#queue.push(() => settle());
    return this.#queue.flush();
  }

  // ---- storage ---------------------------------------------------------------------------------------

  #checkSize(where: string, size: number): void {
    if (this.#closed) fail(this.name, "the backend was closed");
    if (size > MAX_ELEMENTS) {
      fail(
        where,
        `${size} elements is more than the gpujs backend holds in one tensor (2^24 = ${MAX_ELEMENTS}: positions are ` +
          "computed in float32 inside gpu.js kernels); split the tensor",
      );
    }
    if (size * 4 > this.#maxStorageBytes) {
      fail(
        where,
        `${size * 4} bytes is more than this WebGPU device allows in one storage buffer (${this.#maxStorageBytes} bytes, ` +
          "maxStorageBufferBindingSize; lavapipe allows 128 MiB); split the tensor",
      );
    }
  }

  #account(size: number): void {
    this.#buffers++;
    this.#bytes += size * 4;
  }

  upload(values: TypedArray, dtype: DType): Storage {
    if (dtype === "float64" || values instanceof Float64Array) {
      fail(this.name, "float64 is not supported (WebGPU and gpu.js compute in float32); cast to float32 first");
    }
    this.#checkSize("upload", values.length);
    if (dtype === "int32") {
      for (let i = 0; i < values.length; i++) {
        if (Math.abs(values[i]) > MAX_ELEMENTS) {
          fail("upload", `int32 value ${values[i]} at position ${i} is beyond ±2^24, which float32 storage cannot hold exactly`);
        }
      }
    }
    if (this.mode !== "webgpu") {
      const data = new Float32Array(this.#hostLength(values.length));
      data.set(values);
      this.#account(values.length);
      return wrap(new HostStore(data, values.length));
    }
    const flat = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.#run("copy", values.length, [flat, values.length]);
  }

  #convert(data: Float32Array, size: number, dtype: DType): TypedArray {
    if (dtype === "int32") {
      // an int32 result kept as float32 (a sum past 2^31) would wrap in the Int32Array store below
      for (let i = 0; i < size; i++) {
        if (!(data[i] >= INT32_MIN && data[i] <= INT32_MAX)) {
          fail(
            "data",
            `an int32 result holds ${data[i]} at flat position ${i}, outside int32's range (an int32 sum too large?); cast to float32 first`,
          );
        }
      }
    }
    const out = typedArrayFor(dtype, size);
    // typed-array stores convert: Int32Array truncates like castValue, and kernels already stored 0/1 for bool
    out.set(data.subarray(0, size));
    return out;
  }

  async read(x: Operand): Promise<TypedArray> {
    const s = store(x.storage);
    if (s instanceof HostStore) return this.#convert(s.data, s.size, x.dtype);
    const data = await new Promise<Float32Array>((resolve, reject) => {
      this.#queue.push(() => {
        if (s.error) return reject(s.error);
        if (!s.handle) return resolve(new Float32Array(0));
        // toArray submits its copy now, in queue order; only the wait for the mapping is left to the promise
        s.handle.toArray().then(resolve, reject);
      });
    });
    return this.#convert(data, s.size, x.dtype);
  }

  readSync(x: Operand): TypedArray {
    const s = store(x.storage);
    if (!(s instanceof HostStore)) {
      fail(this.name, "synchronous readback is impossible on WebGPU; use `await tensor.data()` or `await tensor.array()`");
    }
    return this.#convert(s.data, s.size, x.dtype);
  }

  free(storage: Storage): void {
    const s = store(storage);
    this.#buffers--;
    this.#bytes -= s.size * 4;
    if (s instanceof DeviceStore) this.#queue.push(() => this.#deleteHandle(s));
  }

  #deleteHandle(s: DeviceStore): void {
    if (!s.handle) return;
    s.handle.delete();
    s.handle = null;
    this.#device.buffers--;
    this.#device.bytes -= s.size * 4;
  }

  memory(): MemoryInfo {
    return { buffers: this.#buffers, bytes: this.#bytes };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#cache.destroy();
    await this.#release?.();
  }

  // ---- running kernels -------------------------------------------------------------------------------

  /** How long a host kernel's output is: a size class on webasm (see storage.ts), exact on cpu. */
  #hostLength(size: number): number {
    return this.mode === "webasm" ? sizeClass(size) : Math.max(size, 1);
  }

  /** Runs kernel `name` for an output of `size` elements; storages among `args` are its tensor inputs. */
  #run(name: KernelName, size: number, args: readonly Arg[]): Storage {
    this.#checkSize(name, size);
    this.#account(size);
    if (this.mode !== "webgpu") {
      if (size === 0) return wrap(new HostStore(new Float32Array(this.#hostLength(0)), 0));
      const resolved = args.map((a) => (a instanceof HostStore ? a.data : a));
      return wrap(new HostStore(this.#cache.runSync(name, this.#hostLength(size), resolved), size));
    }
    const out = new DeviceStore(size);
    if (size === 0) return wrap(out);
    const settle = this.#settle;
    if (settle && ++this.#launches % LAUNCHES_PER_SETTLE === 0) this.#queue.push(() => settle());
    this.#queue.push(async () => {
      try {
        const resolved = args.map((a) => {
          if (!(a instanceof DeviceStore)) return a instanceof HostStore ? a.data : a;
          if (a.error) throw a.error;
          return a.handle ?? EMPTY;
        });
        out.handle = await this.#cache.runDevice<DeviceHandle>(name, size, resolved);
        this.#device.buffers++;
        this.#device.bytes += size * 4;
      } catch (error) {
        out.error = error;
      }
    });
    return wrap(out);
  }

  // ---- kernels ---------------------------------------------------------------------------------------

  fill(shape: Shape, value: number, dtype: DType): Storage {
    const size = sizeOf(shape);
    return this.#run("fill", size, [castValue(value, dtype === "float64" ? "float32" : dtype), size]);
  }

  cast(x: Operand, dtype: DType): Storage {
    const size = sizeOf(x.shape);
    return this.#run("unary", size, [store(x.storage), SPECIAL_VALUES, UNARY_CODES.indexOf("identity"), kindOf(dtype), size]);
  }

  unary(op: UnaryOp, x: Operand, outDType: DType): Storage {
    const size = sizeOf(x.shape);
    return this.#run("unary", size, [store(x.storage), SPECIAL_VALUES, codeOf(this.name, "unary", op), kindOf(outDType), size]);
  }

  binary(op: BinaryOp, a: Operand, b: Operand, outShape: Shape, outDType: DType): Storage {
    const size = sizeOf(outShape);
    const { dims, strides } = coalesce(outShape, [broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape)]);
    checkRank("binary", dims.length);
    const m = meta("binary", { 0: dims.length, 1: dims, 9: strides[0], 17: strides[1] });
    return this.#run("binary", size, [
      store(a.storage),
      store(b.storage),
      m,
      SPECIAL_VALUES,
      codeOf(this.name, "binary", op),
      kindOf(outDType),
      size,
    ]);
  }

  where(cond: Operand, a: Operand, b: Operand, outShape: Shape): Storage {
    const size = sizeOf(outShape);
    const { dims, strides } = coalesce(
      outShape,
      [a, b, cond].map((x) => broadcastStrides(x.shape, outShape)),
    );
    checkRank("where", dims.length);
    const m = meta("where", { 0: dims.length, 1: dims, 9: strides[0], 17: strides[1], 25: strides[2] });
    return this.#run("where", size, [store(cond.storage), store(a.storage), store(b.storage), m, size]);
  }

  // the output dtype needs no conversion: sums of int32 and bool are whole numbers, max and min pick inputs
  reduce(op: ReduceOp, x: Operand, axes: readonly number[], _outDType: DType): Storage {
    const outSize = sizeOf(x.shape.filter((_, i) => !axes.includes(i)));
    if (axes.length === 0) return this.#run("copy", outSize, [store(x.storage), outSize]);
    // the axes that matter, each marked reduced or kept, with neighbours of the same mark merged
    const groups: { reduced: boolean; size: number }[] = [];
    x.shape.forEach((d, i) => {
      if (d === 1) return;
      const reduced = axes.includes(i);
      const last = groups[groups.length - 1];
      if (last && last.reduced === reduced) last.size *= d;
      else groups.push({ reduced, size: d });
    });
    const reducedGroups = groups.filter((g) => g.reduced).length;
    let source = x;
    let temporary: Storage | null = null;
    let length = sizeOf(axes.map((a) => x.shape[a]));
    let innerSize = 1;
    if (reducedGroups > 1) {
      // the reduced axes are not one block: move them to the end first
      const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
      const perm = [...kept, ...axes];
      temporary = this.permute(x, perm);
      source = { storage: temporary, shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
    } else if (reducedGroups === 1) {
      const at = groups.findIndex((g) => g.reduced);
      length = groups[at].size;
      innerSize = sizeOf(groups.slice(at + 1).map((g) => g.size));
    }
    const code = op === "sum" ? 0 : op === "max" ? 1 : 2;
    const m = meta("reduce", { 0: [length, innerSize] });
    const out = this.#run("reduce", outSize, [store(source.storage), m, SPECIAL_VALUES, code, outSize]);
    if (temporary) this.free(temporary);
    return out;
  }

  argReduce(op: ArgReduceOp, x: Operand, axis: number): Storage {
    const outSize = sizeOf(x.shape.filter((_, i) => i !== axis));
    const m = meta("argReduce", { 0: [x.shape[axis], sizeOf(x.shape.slice(axis + 1))] });
    return this.#run("argReduce", outSize, [store(x.storage), m, op === "argmax" ? 0 : 1, outSize]);
  }

  matmul(a: Operand, b: Operand, outShape: Shape, transposeA = false, transposeB = false): Storage {
    if (transposeA || transposeB) {
      // gpu.js's matmul kernel reads dense operands: transposed ones are copied first
      const swap = (x: Operand): Operand => {
        const perm = x.shape.map((_, i) => i);
        perm.splice(-2, 2, perm.length - 1, perm.length - 2);
        return { storage: this.permute(x, perm), shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
      };
      const [da, db] = [transposeA ? swap(a) : a, transposeB ? swap(b) : b];
      const out = this.matmul(da, db, outShape);
      if (transposeA) this.free(da.storage);
      if (transposeB) this.free(db.storage);
      return out;
    }
    const rank = outShape.length;
    const [m, n] = [outShape[rank - 2], outShape[rank - 1]];
    const k = a.shape[a.shape.length - 1];
    const batch = outShape.slice(0, -2);
    const batchStrides = (x: Operand, matrix: number) => broadcastStrides(x.shape.slice(0, -2), batch).map((s) => s * matrix);
    const { dims, strides } = coalesce(batch, [batchStrides(a, m * k), batchStrides(b, k * n)]);
    checkRank("matmul", dims.length);
    const size = sizeOf(outShape);
    const mm = meta("matmul", { 0: [m, k, n, dims.length], 4: dims, 12: strides[0], 20: strides[1] });
    return this.#run("matmul", size, [store(a.storage), store(b.storage), mm, size]);
  }

  softmax(x: Operand, axis: number): Storage {
    return fusedSoftmax(this, x, axis);
  }

  adamw(p: Operand, g: Operand, m: Operand, v: Operand, vMax: Operand | null, h: AdamWScalars): void {
    fusedAdamw(this, p, g, m, v, vMax, h);
  }

  layerNorm(x: Operand, axes: number, eps: number): Storage {
    return fusedLayerNorm(this, x, axes, eps);
  }

  gelu(x: Operand, tanhForm: boolean): Storage {
    return fusedGelu(this, x, tanhForm);
  }

  logSoftmax(x: Operand, axis: number): Storage {
    return fusedLogSoftmax(this, x, axis);
  }

  #strided(where: string, x: Operand, shape: Shape, strides: readonly number[], base = 0): Storage {
    const size = sizeOf(shape);
    const c = coalesce(shape, [strides]);
    checkRank(where, c.dims.length);
    return this.#run("strided", size, [store(x.storage), meta(where, { 0: c.dims.length, 1: c.dims, 9: c.strides[0], 33: base }), size]);
  }

  permute(x: Operand, perm: readonly number[]): Storage {
    const strides = stridesOf(x.shape);
    return this.#strided(
      "permute",
      x,
      perm.map((p) => x.shape[p]),
      perm.map((p) => strides[p]),
    );
  }

  expand(x: Operand, shape: Shape): Storage {
    return this.#strided("expand", x, shape, broadcastStrides(x.shape, shape));
  }

  slice(x: Operand, begin: readonly number[], size: readonly number[]): Storage {
    const strides = stridesOf(x.shape);
    return this.#strided(
      "slice",
      x,
      size,
      strides,
      begin.reduce((acc, b, i) => acc + b * strides[i], 0),
    );
  }

  pad(x: Operand, before: readonly number[], after: readonly number[], value: number): Storage {
    const outShape = x.shape.map((d, i) => before[i] + d + after[i]);
    const strides = stridesOf(x.shape);
    // axes of length 1 without padding change nothing; dropping them keeps more tensors within the kernel's rank
    const keep = x.shape.map((_, i) => i).filter((i) => !(x.shape[i] === 1 && outShape[i] === 1));
    checkRank("pad", keep.length);
    const pick = (values: readonly number[]) => inner(keep.map((i) => values[i]));
    const m = meta("pad", { 0: keep.length, 1: pick(outShape), 9: pick(before), 17: pick(x.shape), 25: pick(strides) });
    const size = sizeOf(outShape);
    return this.#run("pad", size, [store(x.storage), m, castValue(value, x.dtype === "float64" ? "float32" : x.dtype), size]);
  }

  concat(xs: readonly Operand[], axis: number, outShape: Shape): Storage {
    const pieces = xs.filter((x) => sizeOf(x.shape) > 0);
    const size = sizeOf(outShape);
    if (pieces.length === 0 || size === 0) return this.#run("fill", size, [0, size]);
    if (pieces.length === 1) return this.#run("copy", size, [store(pieces[0].storage), size]);
    const innerSize = sizeOf(outShape.slice(axis + 1));
    const outer = sizeOf(outShape.slice(0, axis));
    let acc: Storage = pieces[0].storage;
    let length = pieces[0].shape[axis];
    for (let i = 1; i < pieces.length; i++) {
      const next = pieces[i].shape[axis];
      const pieceSize = outer * (length + next) * innerSize;
      const joined = this.#run("concat", pieceSize, [
        store(acc),
        store(pieces[i].storage),
        meta("concat", { 0: [innerSize, length, next] }),
        pieceSize,
      ]);
      if (i > 1) this.free(acc);
      acc = joined;
      length += next;
    }
    return acc;
  }

  gather(x: Operand, axis: number, index: Operand): Storage {
    const xShape = x.shape.length === 0 ? [1] : x.shape;
    const indexShape = index.shape.length === 0 ? [1] : index.shape;
    checkRank("gather", indexShape.length);
    const strides = stridesOf(xShape);
    const zeroed = strides.map((s, i) => (i === axis ? 0 : s));
    const size = sizeOf(indexShape);
    const m = meta("gather", { 0: indexShape.length, 1: inner(indexShape), 9: inner(zeroed), 33: strides[axis] });
    return this.#run("gather", size, [store(x.storage), store(index.storage), m, size]);
  }

  scatterAdd(base: Operand, axis: number, index: Operand, src: Operand): Storage {
    const baseShape = base.shape.length === 0 ? [1] : base.shape;
    const indexShape = index.shape.length === 0 ? [1] : index.shape;
    checkRank("scatterAdd", baseShape.length);
    const size = sizeOf(baseShape);
    const m = meta("scatterAdd", {
      0: baseShape.length,
      1: inner(baseShape),
      9: inner(indexShape),
      17: inner(stridesOf(indexShape)),
      33: baseShape.length - 1 - axis,
    });
    return this.#run("scatterAdd", size, [store(base.storage), store(index.storage), store(src.storage), m, size]);
  }

  topk(x: Operand, k: number, largest: boolean): Storage {
    const length = x.shape[x.shape.length - 1];
    const size = sizeOf(x.shape);
    const rows = length === 0 ? 0 : size / length;
    const outSize = rows * k;
    if (outSize === 0) return this.#run("fill", 0, [0, 0]);
    const ranks = this.#run("topkRank", size, [store(x.storage), meta("topk", { 0: length }), largest ? 1 : 0, size]);
    const out = this.#run("topkSelect", outSize, [store(ranks), meta("topk", { 0: [length, k] }), outSize]);
    this.free(ranks);
    return out;
  }

  assign(dst: Operand, src: Operand): void {
    const target = store(dst.storage);
    const size = target.size;
    if (size === 0) return;
    // a kernel cannot write into an existing buffer: the copy becomes dst's data, in the same storage object
    const copy = store(this.#run("copy", size, [store(src.storage), size]));
    this.#buffers--;
    this.#bytes -= size * 4;
    if (target instanceof HostStore) {
      target.data = (copy as HostStore).data;
      return;
    }
    const device = copy as DeviceStore;
    this.#queue.push(() => {
      this.#deleteHandle(target);
      target.handle = device.handle;
      target.error = device.error;
    });
  }
}

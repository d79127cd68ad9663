/**
 * @file The reference backend: plain TypeScript loops over typed arrays, written to be read.
 *
 * It is the oracle that every other backend is tested against, so each kernel is the simplest correct
 * loop. Most kernels first compute, for every output element, the offset of the input element it reads
 * (`gatherOffsets`), and then run one flat loop; broadcasting, permutation, slicing and expansion are all
 * just different strides fed to that one helper. Float32 results are computed in float64 and rounded once
 * on store.
 *
 * Strict-async mode (`{ strictAsync: true }`, or TSGRAD_STRICT_ASYNC=1) forbids synchronous readback, so
 * that code meant for the asynchronous WebGPU backend can be tested here.
 */

import { checkOptions } from "../../args.ts";
import { castValue, type DType, INT32_MAX, INT32_MIN, isInt32Value, type TypedArray, typedArrayFor } from "../../dtype.ts";
import { fail } from "../../errors.ts";
import { broadcastStrides, type Shape, sizeOf, stridesOf } from "../../shape.ts";
import type { AdamWScalars, ArgReduceOp, Backend, BinaryOp, MemoryInfo, Operand, ReduceOp, Storage, UnaryOp } from "../backend.ts";
import { erf } from "./erf.ts";
import { BINARY, UNARY } from "./scalar-ops.ts";

/**
 * The storage of this backend is just the typed array. Exported both ways for a backend that runs these
 * kernels on views of its own memory (the wasm backend does, for the kernels it has no fast version of).
 */
export const referenceData = (storage: Storage): TypedArray => storage as unknown as TypedArray;
export const referenceStorage = (array: TypedArray): Storage => array as unknown as Storage;
const data = (x: Operand): TypedArray => referenceData(x.storage);
const wrap = referenceStorage;

/**
 * For each index of `shape` in row-major order, the offset Σ index[i]·strides[i] + base: the position
 * of the element to read. One odometer, used by every strided kernel.
 */
export function gatherOffsets(shape: Shape, strides: readonly number[], base = 0): Int32Array {
  const size = sizeOf(shape);
  const offsets = new Int32Array(size);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let offset = base;
  for (let i = 0; i < size; i++) {
    offsets[i] = offset;
    // advance the odometer: bump the last axis, carrying into earlier ones
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      offset += strides[axis];
      if (index[axis] < shape[axis]) break;
      offset -= index[axis] * strides[axis];
      index[axis] = 0;
    }
  }
  return offsets;
}

/** The elements of x, read as if broadcast to `shape`. */
function broadcastOffsets(x: Operand, shape: Shape): Int32Array {
  return gatherOffsets(shape, broadcastStrides(x.shape, shape));
}

/** Order for topk and argmax: NaN is larger than every number, as in PyTorch and NumPy. */
function greater(a: number, b: number): boolean {
  if (Number.isNaN(a)) return !Number.isNaN(b);
  return a > b;
}

/** Whether v beats the current best of argmax/argmin; the first NaN wins and stays, as in NumPy. */
function isBetter(op: ArgReduceOp, v: number, best: number): boolean {
  if (Number.isNaN(best)) return false;
  if (Number.isNaN(v)) return true;
  return op === "argmax" ? v > best : v < best;
}

export interface ReferenceOptions {
  strictAsync?: boolean;
}

export class ReferenceBackend implements Backend {
  readonly name: string;
  readonly supportsFloat64 = true;
  readonly canReadSync: boolean;
  #buffers = 0;
  #bytes = 0;

  constructor(options: ReferenceOptions = {}) {
    checkOptions("ReferenceBackend", options, ["strictAsync"]);
    this.canReadSync = !options.strictAsync;
    this.name = options.strictAsync ? "reference(strict-async)" : "reference";
  }

  upload(values: TypedArray): Storage {
    this.#buffers++;
    this.#bytes += values.byteLength;
    return wrap(values);
  }

  async read(x: Operand): Promise<TypedArray> {
    return data(x).slice();
  }

  readSync(x: Operand): TypedArray {
    if (!this.canReadSync) {
      fail(
        this.name,
        "synchronous readback is disabled in strict-async mode, because the WebGPU backend cannot read " +
          "synchronously either; use `await tensor.data()` or `await tensor.array()`",
      );
    }
    return data(x).slice();
  }

  free(storage: Storage): void {
    this.#buffers--;
    this.#bytes -= (storage as unknown as TypedArray).byteLength;
  }

  memory(): MemoryInfo {
    return { buffers: this.#buffers, bytes: this.#bytes };
  }

  #alloc(dtype: DType, size: number): TypedArray {
    const array = typedArrayFor(dtype, size);
    this.#buffers++;
    this.#bytes += array.byteLength;
    return array;
  }

  fill(shape: Shape, value: number, dtype: DType): Storage {
    return wrap(this.#alloc(dtype, sizeOf(shape)).fill(castValue(value, dtype)));
  }

  cast(x: Operand, dtype: DType): Storage {
    const src = data(x);
    const out = this.#alloc(dtype, src.length);
    for (let i = 0; i < src.length; i++) out[i] = castValue(src[i], dtype);
    return wrap(out);
  }

  unary(op: UnaryOp, x: Operand, outDType: DType): Storage {
    const f = UNARY[op];
    const src = data(x);
    const out = this.#alloc(outDType, src.length);
    for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
    return wrap(out);
  }

  binary(op: BinaryOp, a: Operand, b: Operand, outShape: Shape, outDType: DType): Storage {
    const f = BINARY[op];
    const x = data(a);
    const y = data(b);
    const out = this.#alloc(outDType, sizeOf(outShape));
    const offA = broadcastOffsets(a, outShape);
    const offB = broadcastOffsets(b, outShape);
    for (let i = 0; i < out.length; i++) out[i] = f(x[offA[i]], y[offB[i]]);
    return wrap(out);
  }

  where(cond: Operand, a: Operand, b: Operand, outShape: Shape): Storage {
    const c = data(cond);
    const x = data(a);
    const y = data(b);
    const out = this.#alloc(a.dtype, sizeOf(outShape));
    const offC = broadcastOffsets(cond, outShape);
    const offA = broadcastOffsets(a, outShape);
    const offB = broadcastOffsets(b, outShape);
    for (let i = 0; i < out.length; i++) out[i] = c[offC[i]] ? x[offA[i]] : y[offB[i]];
    return wrap(out);
  }

  reduce(op: ReduceOp, x: Operand, axes: readonly number[], outDType: DType): Storage {
    const src = data(x);
    // Each input element adds into the output element at its index with the reduced axes set to 0:
    // that is the input read with the output's strides, and stride 0 on the reduced axes.
    const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outSize = sizeOf(keptShape);
    const target = gatherOffsets(
      x.shape,
      broadcastStrides(keptShape, x.shape).map((s, i) => (axes.includes(i) ? 0 : s)),
    );
    const acc = new Float64Array(outSize).fill(op === "sum" ? 0 : op === "max" ? -Infinity : Infinity);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      const j = target[i];
      if (op === "sum") acc[j] += v;
      else if (Number.isNaN(v) || (op === "max" ? v > acc[j] : v < acc[j])) acc[j] = v; // NaN sticks
    }
    if (outDType === "int32") {
      // the float64 accumulator is exact here; a sum int32 cannot hold is refused, never wrapped
      for (let j = 0; j < outSize; j++) {
        if (!isInt32Value(acc[j])) {
          fail(
            op,
            `the int32 result ${acc[j]} is outside int32's range [${INT32_MIN}, ${INT32_MAX}]; cast the input to float64 (or float32) first`,
          );
        }
      }
    }
    const out = this.#alloc(outDType, outSize);
    for (let j = 0; j < outSize; j++) out[j] = acc[j];
    return wrap(out);
  }

  argReduce(op: ArgReduceOp, x: Operand, axis: number): Storage {
    const src = data(x);
    const len = x.shape[axis];
    const stride = stridesOf(x.shape)[axis];
    const outShape = x.shape.map((d, i) => (i === axis ? 1 : d));
    const starts = gatherOffsets(outShape, stridesOf(x.shape));
    const out = this.#alloc("int32", starts.length);
    for (let j = 0; j < starts.length; j++) {
      let best = 0;
      for (let k = 1; k < len; k++) {
        if (isBetter(op, src[starts[j] + k * stride], src[starts[j] + best * stride])) best = k;
      }
      out[j] = best;
    }
    return wrap(out);
  }

  matmul(a: Operand, b: Operand, outShape: Shape, transposeA = false, transposeB = false): Storage {
    const x = data(a);
    const y = data(b);
    const rank = outShape.length;
    const [m, n] = [outShape[rank - 2], outShape[rank - 1]];
    const k = a.shape[a.shape.length - (transposeA ? 2 : 1)];
    // element (i, p) of op(a) is at i·rowA + p·colA, element (p, j) of op(b) at p·rowB + j·colB
    const [rowA, colA] = transposeA ? [1, m] : [k, 1];
    const [rowB, colB] = transposeB ? [1, k] : [n, 1];
    const batchShape = outShape.slice(0, -2);
    // the start of each batch's matrix in a and b, with broadcasting over the batch axes
    const batchStarts = (x: Operand) =>
      gatherOffsets(
        batchShape,
        broadcastStrides(x.shape.slice(0, -2), batchShape).map((s) => s * sizeOf(x.shape.slice(-2))),
      );
    const startsA = batchStarts(a);
    const startsB = batchStarts(b);
    const out = this.#alloc(a.dtype, sizeOf(outShape));
    const row = new Float64Array(n);
    for (let batch = 0; batch < startsA.length; batch++) {
      const a0 = startsA[batch];
      const b0 = startsB[batch];
      const c0 = batch * m * n;
      for (let i = 0; i < m; i++) {
        row.fill(0);
        // i-k-j order streams rows of op(b); the row accumulates in float64
        for (let p = 0; p < k; p++) {
          const aip = x[a0 + i * rowA + p * colA];
          const bRow = b0 + p * rowB;
          for (let j = 0; j < n; j++) row[j] += aip * y[bRow + j * colB];
        }
        for (let j = 0; j < n; j++) out[c0 + i * n + j] = row[j];
      }
    }
    return wrap(out);
  }

  softmax(x: Operand, axis: number): Storage {
    return this.#alongAxis(x, axis, (line, out) => {
      let max = -Infinity;
      for (const v of line) if (Number.isNaN(v) || v > max) max = v; // NaN sticks, as in the max reduction
      let sum = 0;
      for (let k = 0; k < line.length; k++) {
        out[k] = Math.exp(line[k] - max);
        sum += out[k];
      }
      for (let k = 0; k < line.length; k++) out[k] /= sum;
    });
  }

  logSoftmax(x: Operand, axis: number): Storage {
    return this.#alongAxis(x, axis, (line, out) => {
      let max = -Infinity;
      for (const v of line) if (Number.isNaN(v) || v > max) max = v;
      // an infinite maximum shifts by 0, as logSumExp does (a fully masked row stays NaN-free until here)
      const shift = Number.isFinite(max) || Number.isNaN(max) ? max : 0;
      let sum = 0;
      for (const v of line) sum += Math.exp(v - shift);
      const logSum = Math.log(sum);
      // (x − m) − log Σ: at large logits the top classes stay exact
      for (let k = 0; k < line.length; k++) out[k] = line[k] - shift - logSum;
    });
  }

  layerNorm(x: Operand, axes: number, eps: number): Storage {
    const src = data(x);
    const out = this.#alloc(x.dtype, src.length);
    const cols = sizeOf(x.shape.slice(x.shape.length - axes));
    for (let start = 0; cols > 0 && start < src.length; start += cols) {
      let mean = 0;
      for (let k = 0; k < cols; k++) mean += src[start + k];
      mean /= cols;
      let squares = 0;
      for (let k = 0; k < cols; k++) squares += (src[start + k] - mean) ** 2;
      const rstd = 1 / Math.sqrt(squares / cols + eps);
      for (let k = 0; k < cols; k++) out[start + k] = (src[start + k] - mean) * rstd;
    }
    return wrap(out);
  }

  gelu(x: Operand, tanhForm: boolean): Storage {
    const src = data(x);
    const out = this.#alloc(x.dtype, src.length);
    const c = Math.sqrt(2 / Math.PI);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      out[i] = tanhForm ? 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v))) : 0.5 * v * (1 + erf(v * Math.SQRT1_2));
    }
    return wrap(out);
  }

  /** Runs `f(line, out)` on every line along `axis` (float64 copies), storing `out` back in x's layout. */
  #alongAxis(x: Operand, axis: number, f: (line: Float64Array, out: Float64Array) => void): Storage {
    const src = data(x);
    const out = this.#alloc(x.dtype, src.length);
    const len = x.shape[axis];
    const stride = stridesOf(x.shape)[axis];
    const starts = gatherOffsets(
      x.shape.map((d, i) => (i === axis ? 1 : d)),
      stridesOf(x.shape),
    );
    const line = new Float64Array(len);
    const result = new Float64Array(len);
    for (const start of len === 0 ? [] : starts) {
      for (let k = 0; k < len; k++) line[k] = src[start + k * stride];
      f(line, result);
      for (let k = 0; k < len; k++) out[start + k * stride] = result[k];
    }
    return wrap(out);
  }

  #copy(x: Operand, offsets: Int32Array): Storage {
    const src = data(x);
    const out = this.#alloc(x.dtype, offsets.length);
    for (let i = 0; i < offsets.length; i++) out[i] = src[offsets[i]];
    return wrap(out);
  }

  permute(x: Operand, perm: readonly number[]): Storage {
    const strides = stridesOf(x.shape);
    return this.#copy(
      x,
      gatherOffsets(
        perm.map((p) => x.shape[p]),
        perm.map((p) => strides[p]),
      ),
    );
  }

  expand(x: Operand, shape: Shape): Storage {
    return this.#copy(x, broadcastOffsets(x, shape));
  }

  slice(x: Operand, begin: readonly number[], size: readonly number[]): Storage {
    const strides = stridesOf(x.shape);
    const base = begin.reduce((acc, b, i) => acc + b * strides[i], 0);
    return this.#copy(x, gatherOffsets(size, strides, base));
  }

  pad(x: Operand, before: readonly number[], after: readonly number[], value: number): Storage {
    const outShape = x.shape.map((d, i) => before[i] + d + after[i]);
    const out = this.#alloc(x.dtype, sizeOf(outShape)).fill(castValue(value, x.dtype));
    const outStrides = stridesOf(outShape);
    const base = before.reduce((acc, b, i) => acc + b * outStrides[i], 0);
    const target = gatherOffsets(x.shape, outStrides, base);
    const src = data(x);
    for (let i = 0; i < src.length; i++) out[target[i]] = src[i];
    return wrap(out);
  }

  concat(xs: readonly Operand[], axis: number, outShape: Shape): Storage {
    const out = this.#alloc(xs[0].dtype, sizeOf(outShape));
    const outStrides = stridesOf(outShape);
    let start = 0;
    for (const x of xs) {
      const target = gatherOffsets(x.shape, outStrides, start * outStrides[axis]);
      const src = data(x);
      for (let i = 0; i < src.length; i++) out[target[i]] = src[i];
      start += x.shape[axis];
    }
    return wrap(out);
  }

  /** For each element of `index`: where it points to in a tensor of `shape` along `axis`. */
  #indexedOffsets(shape: Shape, axis: number, index: Operand): Int32Array {
    const strides = stridesOf(shape);
    // offsets of index's own positions in `shape`, then move along `axis` by the stored index value
    const positions = gatherOffsets(
      index.shape,
      strides.map((s, i) => (i === axis ? 0 : s)),
    );
    const idx = data(index);
    for (let i = 0; i < positions.length; i++) positions[i] += idx[i] * strides[axis];
    return positions;
  }

  gather(x: Operand, axis: number, index: Operand): Storage {
    return this.#copy(x, this.#indexedOffsets(x.shape, axis, index));
  }

  scatterAdd(base: Operand, axis: number, index: Operand, src: Operand): Storage {
    const out = this.#alloc(base.dtype, sizeOf(base.shape));
    out.set(data(base));
    const target = this.#indexedOffsets(base.shape, axis, index);
    const values = data(src);
    for (let i = 0; i < target.length; i++) out[target[i]] += values[i];
    return wrap(out);
  }

  topk(x: Operand, k: number, largest: boolean): Storage {
    const src = data(x);
    const len = x.shape[x.shape.length - 1];
    const rows = len === 0 ? 0 : src.length / len;
    const out = this.#alloc("int32", rows * k);
    const order = Array.from({ length: len }, (_, i) => i);
    for (let r = 0; r < rows; r++) {
      const row = src.subarray(r * len, (r + 1) * len);
      // Array.prototype.sort is stable, so equal values keep the lower index first
      const sorted = [...order].sort((i, j) => {
        const [a, b] = largest ? [row[i], row[j]] : [row[j], row[i]];
        return greater(a, b) ? -1 : greater(b, a) ? 1 : 0;
      });
      for (let c = 0; c < k; c++) out[r * k + c] = sorted[c];
    }
    return wrap(out);
  }

  assign(dst: Operand, src: Operand): void {
    data(dst).set(data(src));
  }

  adamw(p: Operand, g: Operand, m: Operand, v: Operand, vMax: Operand | null, h: AdamWScalars): void {
    // every intermediate rounded to the dtype, as each op of the composite rounds its result
    const r = p.dtype === "float32" ? Math.fround : (x: number) => x;
    const [P, G, M, V] = [data(p), data(g), data(m), data(v)];
    const VM = vMax ? data(vMax) : null;
    const [decay, b1, b2, c2, bc2, eps, step] = [h.decay, h.oneMinusBeta1, h.beta2, h.oneMinusBeta2, h.bc2Sqrt, h.eps, h.negStepSize].map(
      r,
    );
    for (let i = 0; i < P.length; i++) {
      let pv = P[i];
      if (h.applyDecay) pv = r(pv * decay);
      const gv = G[i];
      const mv = r(M[i] + r(r(gv - M[i]) * b1));
      const vv = r(r(V[i] * b2) + r(r(gv * gv) * c2));
      let second = vv;
      if (VM) {
        second = Math.max(VM[i], vv);
        VM[i] = second;
      }
      const denom = r(r(r(Math.sqrt(second)) / bc2) + eps);
      P[i] = r(pv + r(r(mv / denom) * step));
      M[i] = mv;
      V[i] = vv;
    }
  }
}

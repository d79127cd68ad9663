/**
 * @file Tensor: shape, dtype, a buffer owned by one backend, and its place in the autograd graph.
 *
 * There is no math here, and no op is imported: the op methods (`x.add(y)`, `x.backward()`, ...) are
 * installed by tensor-methods.ts, so the ops can import this file without an import cycle. A tensor made
 * by an op while grad mode is on and some input requires grad carries a `node` (the op, its inputs and
 * attrs) that `backward()` walks in reverse.
 */

import { type Backend, findBackend, getBackend, type Operand } from "./backend/backend.ts";
import { runDeferredChecks } from "./deferred-checks.ts";
import { bytesPerElement, type DType, isFloat, type TypedArray } from "./dtype.ts";
import { checkBackendHolds, describeValue, fail, fmtShape, setTensorCheck } from "./errors.ts";
import { countTensor, DataBuffer, trackTensor } from "./memory.ts";
import type { OpDef } from "./ops/registry.ts";
import { type Shape, sizeOf } from "./shape.ts";

/** How a non-leaf tensor was made: everything its op's backward rule needs. */
export interface GradNode {
  readonly op: OpDef<unknown>;
  inputs: readonly Tensor[];
  readonly attrs: unknown;
  /** Buffer versions of the inputs and the output when the op ran (in-place writes bump them). */
  readonly versions: readonly number[];
  /** Set once backward has run without retainGraph: the node may not be used again. */
  released: boolean;
}

export type NestedArray = number | NestedArray[];

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  /** Set by the op that made this tensor when the graph is recorded; null for leaves. */
  node: GradNode | null = null;
  /** Gradient accumulated by backward(): on leaves that require grad, and on tensors that retainGrad(). */
  grad: Tensor | null = null;
  #buffer: DataBuffer | null;
  // kept apart from the buffer, so that using a disposed tensor fails in the op that uses it (naming
  // that op), not in the backend lookup that precedes it
  readonly #backend: Backend;
  #requiresGrad = false;
  #retainsGrad = false;
  #kept = false;

  /**
   * A new view of `source`'s storage, with its shape and dtype: how a subclass wraps an existing tensor
   * (nn's Parameter). A disposed source is refused naming the class being made.
   */
  constructor(source: Tensor);
  /** Internal: use the factories (`tensor`, `zeros`, ...) or ops to make tensors. */
  constructor(buffer: DataBuffer, shape: Shape, dtype: DType);
  constructor(source: Tensor | DataBuffer, shape?: Shape, dtype?: DType) {
    let buffer: DataBuffer;
    if (source instanceof Tensor) {
      buffer = source.buffer(new.target.name);
      buffer.retain();
      shape = source.shape;
      dtype = source.dtype;
    } else {
      buffer = source;
    }
    this.#buffer = buffer;
    this.#backend = buffer.backend;
    this.shape = Object.freeze([...(shape as Shape)]);
    this.dtype = dtype as DType;
    countTensor(1);
    trackTensor(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get backend(): Backend {
    return this.#backend;
  }

  get isDisposed(): boolean {
    return this.#buffer === null;
  }

  /** Internal: the buffer, or a clear error naming `where` if the tensor was disposed. */
  buffer(where: string): DataBuffer {
    if (!this.#buffer) fail(where, `a ${this.describe()} tensor was used after dispose()`);
    return this.#buffer;
  }

  /**
   * How many in-place writes its storage has had (PyTorch's `_version`), so a cache can tell that a
   * tensor was assigned to since. A disposed tensor is refused naming `where`.
   */
  version(where = "version"): number {
    return this.buffer(where).version;
  }

  /** Whether both are views of one storage (reshape, detach and Parameter share it); a disposed tensor shares none. */
  sharesStorage(other: Tensor): boolean {
    if (!(other instanceof Tensor)) fail("sharesStorage", `expected a Tensor, got ${describeValue(other)}`);
    return this.#buffer !== null && this.#buffer === other.#buffer;
  }

  /** Refuses a disposed tensor, naming the op the caller used and which of its inputs it was. */
  checkLive(where: string, what: string): this {
    if (!this.#buffer) fail(where, `a ${this.describe()} tensor (${what}) was used after dispose()`);
    return this;
  }

  /** Internal: what kernels receive. */
  operand(where: string): Operand {
    return { storage: this.buffer(where).storage, shape: this.shape, dtype: this.dtype };
  }

  describe(): string {
    return `${this.dtype}${fmtShape(this.shape)}`;
  }

  // ---- autograd state ----------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  /** Only leaves can be switched, and only float tensors can require grad. */
  set requiresGrad(flag: boolean) {
    if (this.node) {
      fail("requiresGrad", "only leaf tensors can be switched; use detach() to cut a result from its graph");
    }
    if (flag && !isFloat(this.dtype)) {
      fail("requiresGrad", `only float32 and float64 tensors can require grad, got ${this.dtype}`);
    }
    this.#requiresGrad = flag;
  }

  /** Sets requiresGrad in place and returns this (PyTorch's `requires_grad_`). */
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /** Internal: marks an op result as part of the graph. Integer and bool results stay constants. */
  attachNode(node: GradNode): void {
    // only floats carry gradients: an int32 result (a cast, say) must not make backward run through it
    if (!isFloat(this.dtype)) return;
    this.node = node;
    this.#requiresGrad = true;
  }

  get isLeaf(): boolean {
    return this.node === null;
  }

  get retainsGrad(): boolean {
    return this.#retainsGrad;
  }

  /** Asks backward() to store this non-leaf tensor's gradient in `.grad`. */
  retainGrad(): this {
    if (!this.#requiresGrad) fail("retainGrad", "the tensor does not require grad");
    this.#retainsGrad = true;
    return this;
  }

  /** Disposes and clears `.grad` (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  // ---- memory ------------------------------------------------------------------------------------

  get isKept(): boolean {
    return this.#kept;
  }

  /** Excludes this tensor from every enclosing and future tidy scope; dispose it yourself. */
  keep(): this {
    this.#kept = true;
    return this;
  }

  /** Releases this tensor's hold on its buffer; the buffer is freed when no view uses it. Idempotent. */
  dispose(): void {
    if (!this.#buffer) return;
    this.#buffer.release();
    this.#buffer = null;
    countTensor(-1);
  }

  // ---- readback ----------------------------------------------------------------------------------

  /** The values, row-major, as a fresh typed array. Works on every backend. */
  async data(): Promise<TypedArray> {
    this.operand("data");
    // an index computed on this backend and not yet checked is checked before anything is read back
    await runDeferredChecks(this.backend);
    // taken after the wait: a tensor disposed meanwhile is an error, not a read of freed storage
    return this.backend.read(this.operand("data"));
  }

  /** The values as nested arrays. Works on every backend. */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** The single value of a one-element tensor. Works on every backend. */
  async itemAsync(): Promise<number> {
    this.#checkOneElement("itemAsync");
    return (await this.data())[0];
  }

  /** The values, synchronously: only where the backend allows it (not WebGPU, not strict-async). */
  dataSync(): TypedArray {
    return this.backend.readSync(this.operand("dataSync"));
  }

  /** The values as nested arrays, synchronously (see dataSync). */
  toArray(): NestedArray {
    return nest(this.dataSync(), this.shape);
  }

  /** The single value of a one-element tensor, synchronously (see dataSync). */
  item(): number {
    this.#checkOneElement("item");
    return this.dataSync()[0];
  }

  #checkOneElement(where: string): void {
    if (this.size !== 1) fail(where, `needs a tensor with one element, got shape ${fmtShape(this.shape)}`);
  }

  toString(): string {
    const values = this.isDisposed ? "disposed" : this.backend.canReadSync ? JSON.stringify(this.toArray()) : "…";
    return `Tensor(${values}, shape=${fmtShape(this.shape)}, dtype=${this.dtype}, backend=${this.isDisposed ? "-" : this.backend.name})`;
  }

  // ---- autograd ----------------------------------------------------------------------------------

  /** Same data, cut from the graph (shares the buffer). */
  detach(): Tensor {
    return viewOf(this, this.shape, "detach");
  }
}

setTensorCheck((v): v is Tensor => v instanceof Tensor);

function nest(values: TypedArray, shape: Shape): NestedArray {
  if (shape.length === 0) return values[0];
  const build = (offset: number, axis: number): NestedArray[] => {
    const inner = sizeOf(shape.slice(axis + 1));
    return Array.from({ length: shape[axis] }, (_, i) =>
      axis === shape.length - 1 ? values[offset + i] : build(offset + i * inner, axis + 1),
    );
  };
  return build(0, 0);
}

/** Internal: wraps a kernel result in a new tensor. */
export function wrapStorage(backend: Backend, result: Operand): Tensor {
  const bytes = sizeOf(result.shape) * bytesPerElement(result.dtype);
  return new Tensor(new DataBuffer(backend, result.storage, bytes), result.shape, result.dtype);
}

/** Internal: a new tensor on `backend` holding `values` (the backend takes ownership of the array). */
export function uploadTensor(where: string, backend: Backend, values: TypedArray, shape: Shape, dtype: DType): Tensor {
  checkBackendHolds(where, backend, dtype);
  const t = wrapStorage(backend, { storage: backend.upload(values, dtype), shape, dtype });
  if (dtype === "int32" || dtype === "bool") t.buffer(where).hostCopy = values;
  return t;
}

/** Internal: a new tensor sharing `source`'s buffer under another shape (reshape and detach). */
export function viewOf(source: Tensor, shape: Shape, where: string): Tensor {
  const buffer = source.buffer(where);
  buffer.retain();
  return new Tensor(buffer, shape, source.dtype);
}

/** The backend a name refers to, for `tensor.to(name)`. */
export function resolveBackend(where: string, target: string | Backend): Backend {
  if (typeof target !== "string") return target;
  const found = findBackend(target) ?? (getBackend().name === target ? getBackend() : undefined);
  if (!found) fail(where, `no backend named "${target}" has been created; call setBackend("${target}") first`);
  return found;
}

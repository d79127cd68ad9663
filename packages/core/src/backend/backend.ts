/**
 * @file The backend interface: the small set of kernels every backend implements, and the registry that
 * picks one.
 *
 * Ops (ops/*.ts) validate their inputs, work out shapes and dtypes, and then call these kernels; they never
 * ask which backend they run on. A backend sees only `Operand`s (opaque storage plus shape and dtype), never
 * a Tensor, so autograd and memory scopes stay out of backends. Every storage is dense and row-major.
 *
 * Conventions every backend follows (the reference backend is their living definition):
 * - A kernel returns new storage and never writes into its inputs; only `assign` writes in place.
 * - Binary and `where` kernels receive operands that already share one dtype (the op layer casts) and
 *   broadcast them to `outShape` with NumPy rules.
 * - Index operands (gather, scatterAdd) hold values that the op layer has already checked to be in range.
 */

import type { DType, TypedArray } from "../dtype.ts";
import { fail } from "../errors.ts";
import type { Shape } from "../shape.ts";

declare const storageBrand: unique symbol;
/** Data owned by one backend; opaque to everything else. */
export type Storage = { readonly [storageBrand]: true };

/** What a kernel receives for each tensor argument. */
export interface Operand {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly dtype: DType;
}

// An op's position in these lists is its code in the wasm and gpujs kernels: reordering renumbers their branches.
export const UNARY_OPS = ["neg", "exp", "log", "log1p", "sqrt", "tanh", "sigmoid", "erf", "relu", "abs", "sign", "logicalNot"] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "logicalAnd",
  "logicalOr",
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export type ReduceOp = "sum" | "max" | "min";
export type ArgReduceOp = "argmax" | "argmin";

/** The host-side scalars of one AdamW step (optimizer-updates.ts), in float64; kernels round them to the dtype. */
export interface AdamWScalars {
  applyDecay: boolean;
  /** 1 − lr·weightDecay */
  decay: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** √(1 − β2ᵗ) */
  bc2Sqrt: number;
  eps: number;
  /** −lr / (1 − β1ᵗ) */
  negStepSize: number;
}

export interface MemoryInfo {
  /** Storages this backend holds right now. */
  buffers: number;
  bytes: number;
}

export interface Backend {
  /** Unique name, used in error messages and by `tensor.to(name)`. */
  readonly name: string;
  /** False for backends that cannot hold float64: they throw instead of downcasting. */
  readonly supportsFloat64: boolean;
  /** False where data can only come back asynchronously (WebGPU, and the reference backend in strict-async mode). */
  readonly canReadSync: boolean;

  /** Takes ownership of `values` (the caller passes a fresh array of the dtype's typed-array class). */
  upload(values: TypedArray, dtype: DType): Storage;
  /** A copy of the data, row-major. Every backend supports it. */
  read(x: Operand): Promise<TypedArray>;
  /** A copy of the data, synchronously; throws where `canReadSync` is false. */
  readSync(x: Operand): TypedArray;
  /** Releases a storage. The core calls it exactly once per storage. */
  free(storage: Storage): void;
  /**
   * Optional: the tensor holding this storage is no longer owned by a tidy scope (it was made outside
   * one, returned from the outermost one, or kept), so nothing will free it but dispose(): a backend whose
   * memory the garbage collector cannot see (wasm) frees it if the tensor is collected. Tensors that a
   * tidy scope disposes never get here, which keeps the safety net off the hot path. May be called again.
   */
  protect?(storage: Storage): void;
  memory(): MemoryInfo;
  /** Releases everything the backend holds (devices, workers) so the process can exit. */
  close?(): Promise<void> | void;

  fill(shape: Shape, value: number, dtype: DType): Storage;
  cast(x: Operand, dtype: DType): Storage;
  unary(op: UnaryOp, x: Operand, outDType: DType): Storage;
  binary(op: BinaryOp, a: Operand, b: Operand, outShape: Shape, outDType: DType): Storage;
  where(cond: Operand, a: Operand, b: Operand, outShape: Shape): Storage;
  /** Reduces over `axes` (sorted, distinct); the result has the input's shape without those axes. */
  reduce(op: ReduceOp, x: Operand, axes: readonly number[], outDType: DType): Storage;
  /** int32 positions of the first extreme along `axis`; NaN counts as the extreme, as in NumPy. */
  argReduce(op: ArgReduceOp, x: Operand, axis: number): Storage;
  /**
   * op(a)·op(b) for [...batchA, M, K] @ [...batchB, K, N] -> outShape = [...broadcast(batchA, batchB), M, N],
   * where op(x) is x, or with transposeA (transposeB) the transpose of its last two axes: a is then stored
   * [..., K, M] (b [..., N, K]) and read in place, so that no transposed copy is made.
   */
  matmul(a: Operand, b: Operand, outShape: Shape, transposeA?: boolean, transposeB?: boolean): Storage;
  /**
   * Fused softmax along `axis` of a float tensor: exp(x − max) / Σ exp(x − max), which must equal the
   * composite definition (composite/activation.ts) within the tolerance table.
   */
  softmax(x: Operand, axis: number): Storage;
  /** Fused layer normalisation over the last `axes` axes: (x − mean) / √(var + eps), biased variance. */
  layerNorm(x: Operand, axes: number, eps: number): Storage;
  /** Fused GELU, elementwise: x·Φ(x), or with `tanhForm` 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  gelu(x: Operand, tanhForm: boolean): Storage;
  /** Fused logSoftmax along `axis`: (x − m) − log Σ exp(x − m), m the maximum (0 where it is infinite). */
  logSoftmax(x: Operand, axis: number): Storage;
  permute(x: Operand, perm: readonly number[]): Storage;
  expand(x: Operand, shape: Shape): Storage;
  /** The block of `size` elements starting at `begin` on every axis. */
  slice(x: Operand, begin: readonly number[], size: readonly number[]): Storage;
  /** Adds `before[i]` and `after[i]` elements filled with `value` on each axis. */
  pad(x: Operand, before: readonly number[], after: readonly number[], value: number): Storage;
  concat(xs: readonly Operand[], axis: number, outShape: Shape): Storage;
  /** out[i][j] = x[index[i][j]][j] for axis 0 (PyTorch's gather); out has index's shape. */
  gather(x: Operand, axis: number, index: Operand): Storage;
  /** A copy of `base` with out[index[i][j]][j] += src[i][j] for axis 0; index and src share a shape. */
  scatterAdd(base: Operand, axis: number, index: Operand, src: Operand): Storage;
  /** int32 indices of the k largest (or smallest) along the last axis, best first, ties by lower index. */
  topk(x: Operand, k: number, largest: boolean): Storage;
  /** Overwrites dst's data with src's (same shape and dtype). */
  assign(dst: Operand, src: Operand): void;
  /**
   * One AdamW update in place of p, m, v (and vMax, for AMSGrad), all of one shape and float dtype,
   * computing exactly what composite/adamw.ts computes op by op: each step rounded to the dtype.
   */
  adamw(p: Operand, g: Operand, m: Operand, v: Operand, vMax: Operand | null, h: AdamWScalars): void;
}

export type BackendFactory = (options: Record<string, unknown>) => Backend | Promise<Backend>;

const factories = new Map<string, BackendFactory>();
const instances = new Map<string, Backend>();
const byOptions = new Map<string, Backend>();
let current: Backend | null = null;
let defaultChooser: (() => Backend) | null = null;

/** Makes a backend available under `name` for setBackend and `tensor.to(name)`. */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

export function registeredBackends(): string[] {
  return [...factories.keys()];
}

/** Called once by the package entry point: how to build the backend used before any setBackend call. */
export function setDefaultBackendChooser(choose: () => Backend): void {
  defaultChooser = choose;
}

/**
 * Switches the backend that new tensors are created on, creating it on first use. Tensors made before
 * stay where they are. Returns the backend, once it is ready.
 */
export async function setBackend(name: string, options: Record<string, unknown> = {}): Promise<Backend> {
  const factory = factories.get(name);
  if (!factory) {
    fail("setBackend", `unknown backend "${name}"; registered backends: ${registeredBackends().join(", ")}`);
  }
  // one instance per name and options, so tensors made before and after a switch back stay compatible
  const key = `${name} ${JSON.stringify(options)}`;
  const backend = byOptions.get(key) ?? (await factory(options));
  byOptions.set(key, backend);
  useBackend(backend);
  return backend;
}

/** Makes an already created backend the current one (tests use it to switch back and forth). */
export function useBackend(backend: Backend): void {
  const b = backend as Partial<Backend> | null;
  if (b === null || typeof b !== "object" || typeof b.name !== "string" || typeof b.upload !== "function" || typeof b.read !== "function") {
    fail(
      "useBackend",
      `expected a Backend instance (such as new ReferenceBackend()), got ${b === null ? "null" : typeof b}; to choose one by name, use setBackend`,
    );
  }
  instances.set(backend.name, backend);
  current = backend;
}

/** The backend chosen so far, or null before the first tensor, setBackend or useBackend. */
export function currentBackend(): Backend | null {
  return current;
}

export function getBackend(): Backend {
  if (!current) {
    if (!defaultChooser) fail("getBackend", "no backend has been registered");
    useBackend(defaultChooser());
  }
  return current as Backend;
}

/** A backend that has been created, by its name. */
export function findBackend(name: string): Backend | undefined {
  return instances.get(name);
}

/** Closes every backend that was created (WebGPU devices keep the process alive otherwise). */
export async function closeBackends(): Promise<void> {
  for (const backend of instances.values()) await backend.close?.();
  instances.clear();
  byOptions.clear();
  current = null;
}

const serials = new WeakMap<Backend, number>();
const instancesNamed = new Map<string, number>();

/**
 * Two backends as a message should name them: by their names, and where two instances share a name
 * (two reference backends), each with its number among the instances of that name a message has named
 * (`reference #1`, `reference #2`), so that "on reference but on reference" never reads alike.
 */
export function backendsApart(a: Backend, b: Backend): [string, string] {
  const isBackend = (x: unknown) => x !== null && typeof x === "object" && typeof (x as { name?: unknown }).name === "string";
  if (!isBackend(a) || !isBackend(b)) fail("backendsApart", "expected two backends (tensor.backend)");
  if (a === b || a.name !== b.name) return [a.name, b.name];
  const serial = (x: Backend) => {
    let n = serials.get(x);
    if (n === undefined) {
      n = (instancesNamed.get(x.name) ?? 0) + 1;
      instancesNamed.set(x.name, n);
      serials.set(x, n);
    }
    return n;
  };
  return [`${a.name} #${serial(a)}`, `${b.name} #${serial(b)}`];
}

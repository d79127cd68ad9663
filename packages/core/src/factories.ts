/**
 * @file Tensor factories: from data, constants, ranges, and random numbers from a seeded generator.
 *
 * `tensor(data)` infers the dtype as PyTorch and JAX do: booleans give bool, all-integer numbers give
 * int32, anything else float32; typed arrays keep their type (Uint8Array is bool). Pass a dtype to choose.
 */

import { checkOptions, checkTensor } from "./args.ts";
import { type Backend, getBackend } from "./backend/backend.ts";
import { type DType, INT32_MAX, INT32_MIN, isDType, isFloat, isInt32Value, type TypedArray, toTypedArray, typedArrayFor } from "./dtype.ts";
import { checkBackendHolds, fail, fmtShape } from "./errors.ts";
import { defaultGenerator, type Generator } from "./random.ts";
import { checkShape, checkSize, type Shape, sizeOf } from "./shape.ts";
import { resolveBackend, type Tensor, uploadTensor, wrapStorage } from "./tensor.ts";

export interface TensorOptions {
  dtype?: DType;
  backend?: string | Backend;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

const TENSOR_OPTIONS = ["dtype", "backend", "requiresGrad"] as const satisfies readonly (keyof TensorOptions)[];
const RANDOM_OPTIONS = [...TENSOR_OPTIONS, "generator"] as const satisfies readonly (keyof RandomOptions)[];

export type NestedData = number | boolean | readonly NestedData[];

function targetBackend(where: string, options: TensorOptions): Backend {
  return options.backend === undefined ? getBackend() : resolveBackend(where, options.backend);
}

function checkDType(where: string, dtype: DType): DType {
  if (!isDType(dtype)) fail(where, `unknown dtype ${JSON.stringify(dtype)}; expected float32, float64, int32 or bool`);
  return dtype;
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * Refuses numbers an int32 tensor cannot hold: a typed-array store would wrap 3e10 to -64771072 and
 * turn NaN into 0 without a word (PyTorch raises). A fraction truncates toward zero, as in PyTorch.
 */
function checkInt32(where: string, values: ArrayLike<number | boolean>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && !isInt32Value(Math.trunc(v))) {
      fail(where, `value ${v} at flat position ${i} does not fit int32 ([${INT32_MIN}, ${INT32_MAX}]); use a float dtype`);
    }
  }
}

function make(where: string, values: TypedArray, shape: Shape, dtype: DType, options: TensorOptions): Tensor {
  return finish(uploadTensor(where, targetBackend(where, options), values, shape, dtype), options);
}

function inferDType(values: ArrayLike<number | boolean>): DType {
  let allBool = values.length > 0;
  let allInt = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "boolean") allBool = false;
    // 3e10 is an integer that int32 cannot hold: it is inferred as a float, as its literal would be in Python
    if (typeof v === "number" && !isInt32Value(v)) allInt = false;
  }
  return allBool ? "bool" : allInt && values.length > 0 ? "int32" : "float32";
}

function typedArrayDType(data: TypedArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  return "bool";
}

/** Flattens nested arrays, checking that they are rectangular. */
function flattenNested(data: NestedData): { values: (number | boolean)[]; shape: number[] } {
  const shape: number[] = [];
  for (let level: NestedData = data; Array.isArray(level); level = (level as readonly NestedData[])[0]) {
    shape.push((level as readonly NestedData[]).length);
    if ((level as readonly NestedData[]).length === 0) break;
  }
  const values: (number | boolean)[] = [];
  const walk = (node: NestedData, depth: number) => {
    if (depth === shape.length) {
      if (typeof node !== "number" && typeof node !== "boolean") {
        fail("tensor", `expected a number or boolean at depth ${depth}, got ${Array.isArray(node) ? "an array" : typeof node}`);
      }
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      fail("tensor", `nested arrays are not rectangular: expected length ${shape[depth]} at depth ${depth}`);
    }
    for (const child of node as readonly NestedData[]) walk(child, depth + 1);
  };
  walk(data, 0);
  return { values, shape };
}

/**
 * A tensor from a number, a boolean, nested arrays or a typed array. `shape` reshapes flat data (it must
 * match the number of values); without it, nested arrays give their own shape and flat data is 1-D.
 */
export function tensor(data: NestedData | TypedArray, shape?: readonly number[], options: TensorOptions | DType = {}): Tensor {
  const opts = typeof options === "string" ? { dtype: options } : options;
  checkOptions("tensor", opts, TENSOR_OPTIONS);
  let values: ArrayLike<number | boolean>;
  let naturalShape: number[];
  let inferred: DType;
  if (ArrayBuffer.isView(data)) {
    values = data as TypedArray;
    naturalShape = [values.length];
    inferred = typedArrayDType(data as TypedArray);
  } else {
    const flat = flattenNested(data as NestedData);
    values = flat.values;
    naturalShape = flat.shape;
    inferred = inferDType(flat.values);
  }
  const dtype = checkDType("tensor", opts.dtype ?? inferred);
  const finalShape = shape ? checkShape("tensor", shape) : naturalShape;
  if (sizeOf(finalShape) !== values.length) {
    fail("tensor", `${values.length} values do not fill shape ${fmtShape(finalShape)} (${sizeOf(finalShape)} elements)`);
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" && typeof v !== "boolean") fail("tensor", `value at flat position ${i} is ${typeof v}, not a number`);
  }
  if (dtype === "int32" && !(values instanceof Int32Array)) checkInt32("tensor", values);
  return make("tensor", toTypedArray(values, dtype), finalShape, dtype, opts);
}

/** A rank-0 tensor. */
export function scalar(value: number | boolean, options: TensorOptions | DType = {}): Tensor {
  return tensor(value, [], options);
}

/** full under the name of the factory the caller used (zeros, ones, ...), so its errors name that one. */
function filled(where: string, shape: readonly number[], value: number | boolean, options: TensorOptions): Tensor {
  checkOptions(where, options, TENSOR_OPTIONS);
  const s = checkShape(where, shape);
  const dtype = checkDType(where, options.dtype ?? (typeof value === "boolean" ? "bool" : "float32"));
  if (typeof value !== "number" && typeof value !== "boolean") fail(where, `value must be a number or a boolean, got ${typeof value}`);
  if (dtype === "int32") checkInt32(where, [value]);
  checkSize(where, s, dtype);
  const backend = targetBackend(where, options);
  checkBackendHolds(where, backend, dtype);
  return finish(wrapStorage(backend, { storage: backend.fill(s, Number(value), dtype), shape: s, dtype }), options);
}

/** A tensor of `shape` filled with `value` (float32 unless a dtype is given). */
export const full = (shape: readonly number[], value: number | boolean, options: TensorOptions = {}) =>
  filled("full", shape, value, options);
export const zeros = (shape: readonly number[], options: TensorOptions = {}) => filled("zeros", shape, 0, options);
export const ones = (shape: readonly number[], options: TensorOptions = {}) => filled("ones", shape, 1, options);

/** Same shape, dtype and backend as x unless options say otherwise. */
export function fullLike(x: Tensor, value: number | boolean, options: TensorOptions = {}): Tensor {
  checkTensor("fullLike", x, "the input");
  return filled("fullLike", x.shape, value, { dtype: x.dtype, backend: x.backend, ...options });
}
export function zerosLike(x: Tensor, options: TensorOptions = {}): Tensor {
  checkTensor("zerosLike", x);
  return filled("zerosLike", x.shape, 0, { dtype: x.dtype, backend: x.backend, ...options });
}
export function onesLike(x: Tensor, options: TensorOptions = {}): Tensor {
  checkTensor("onesLike", x);
  return filled("onesLike", x.shape, 1, { dtype: x.dtype, backend: x.backend, ...options });
}

/**
 * start, start+step, ... below stop (PyTorch's arange). With one argument it counts from 0. int32 when
 * every argument is an integer, else float32.
 */
export function arange(start: number, stop?: number, step = 1, options: TensorOptions = {}): Tensor {
  checkOptions("arange", options, TENSOR_OPTIONS);
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (![from, to, step].every(Number.isFinite) || step === 0) {
    fail("arange", `needs finite start, stop and a non-zero step, got ${from}, ${to}, ${step}`);
  }
  const n = Math.max(0, Math.ceil((to - from) / step));
  // int32 when the arguments are integers and every value fits (stop itself is never produced)
  const integral = [from, to, step].every(Number.isInteger) && isInt32Value(from) && isInt32Value(from + Math.max(n - 1, 0) * step);
  const dtype = checkDType("arange", options.dtype ?? (integral ? "int32" : "float32"));
  checkSize("arange", [n], dtype);
  if (dtype === "int32" && n > 0) checkInt32("arange", [from, from + (n - 1) * step]);
  const values = typedArrayFor(dtype, n);
  for (let i = 0; i < n; i++) values[i] = from + i * step;
  return make("arange", values, [n], dtype, options);
}

/** n evenly spaced values from start to stop inclusive (float32). */
export function linspace(start: number, stop: number, n: number, options: TensorOptions = {}): Tensor {
  checkOptions("linspace", options, TENSOR_OPTIONS);
  if (!Number.isInteger(n) || n < 0) fail("linspace", `n must be a non-negative integer, got ${n}`);
  const dtype = checkDType("linspace", options.dtype ?? "float32");
  checkSize("linspace", [n], dtype);
  const values = typedArrayFor(dtype, n);
  for (let i = 0; i < n; i++) values[i] = n === 1 ? start : start + ((stop - start) * i) / (n - 1);
  return make("linspace", values, [n], dtype, options);
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m = n, options: TensorOptions = {}): Tensor {
  checkOptions("eye", options, TENSOR_OPTIONS);
  const s = checkShape("eye", [n, m]);
  const dtype = checkDType("eye", options.dtype ?? "float32");
  checkSize("eye", s, dtype);
  const values = typedArrayFor(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return make("eye", values, s, dtype, options);
}

function randomFloat(
  where: string,
  shape: readonly number[],
  options: RandomOptions,
  draw: (g: Generator, n: number) => Float64Array,
): Tensor {
  checkOptions(where, options, RANDOM_OPTIONS);
  const s = checkShape(where, shape);
  const dtype = checkDType(where, options.dtype ?? "float32");
  if (!isFloat(dtype)) fail(where, `produces floats; dtype ${dtype} is not float32 or float64`);
  checkSize(where, s, dtype);
  const values = toTypedArray(draw(options.generator ?? defaultGenerator(), sizeOf(s)), dtype);
  return make(where, values, s, dtype, options);
}

/** Standard normal samples (mean 0, std 1) from the seeded generator. */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return randomFloat("randn", shape, options, (g, n) => g.normal(n));
}

/** Uniform samples in [0, 1) from the seeded generator. */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return randomFloat("rand", shape, options, (g, n) => g.uniform(n));
}

/** Uniform samples in [low, high). */
export function uniform(shape: readonly number[], low: number, high: number, options: RandomOptions = {}): Tensor {
  if (!Number.isFinite(low) || !Number.isFinite(high) || low > high) {
    fail("uniform", `needs finite bounds with low <= high, got low=${low}, high=${high}`);
  }
  return randomFloat("uniform", shape, options, (g, n) => g.uniform(n, low, high));
}

/** Normal samples with the given mean and standard deviation. */
export function normal(shape: readonly number[], mean: number, std: number, options: RandomOptions = {}): Tensor {
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
    fail("normal", `needs a finite mean and a finite std >= 0, got mean=${mean}, std=${std}`);
  }
  return randomFloat("normal", shape, options, (g, n) => g.normal(n, mean, std));
}

/** int32 samples uniform in [low, high). */
export function randint(low: number, high: number, shape: readonly number[], options: RandomOptions = {}): Tensor {
  checkOptions("randint", options, RANDOM_OPTIONS);
  const s = checkShape("randint", shape);
  checkSize("randint", s, options.dtype ?? "int32");
  const values = (options.generator ?? defaultGenerator()).integers(sizeOf(s), low, high);
  const dtype = checkDType("randint", options.dtype ?? "int32");
  return make("randint", dtype === "int32" ? values : toTypedArray(values, dtype), s, dtype, options);
}

/**
 * Draws `numSamples` category indices per row of `probs` ([C] or [N, C], non-negative weights that need
 * not sum to 1), as torch.multinomial. Asynchronous because it reads the weights back.
 */
export async function multinomial(
  probs: Tensor,
  numSamples: number,
  options: { replacement?: boolean; generator?: Generator } = {},
): Promise<Tensor> {
  checkTensor("multinomial", probs, "probs");
  checkOptions("multinomial", options, ["replacement", "generator"]);
  const { replacement = false, generator = defaultGenerator() } = options;
  if (probs.rank !== 1 && probs.rank !== 2) fail("multinomial", `probs must be [C] or [N, C], got ${fmtShape(probs.shape)}`);
  const categories = probs.shape[probs.rank - 1];
  if (!Number.isInteger(numSamples) || numSamples < 1) fail("multinomial", `numSamples must be a positive integer, got ${numSamples}`);
  if (!replacement && numSamples > categories) {
    fail("multinomial", `cannot draw ${numSamples} samples without replacement from ${categories} categories`);
  }
  const weights = await probs.data();
  const rows = probs.rank === 1 ? 1 : probs.shape[0];
  const out = new Int32Array(rows * numSamples);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(weights.subarray(r * categories, (r + 1) * categories));
    if (row.some((w) => !(w >= 0) || !Number.isFinite(w))) {
      fail("multinomial", `row ${r} has a negative, infinite or NaN weight`);
    }
    for (let s = 0; s < numSamples; s++) {
      const total = row.reduce((a, b) => a + b, 0);
      if (total <= 0) fail("multinomial", `row ${r} has no positive weight left to sample from`);
      let u = generator.random() * total;
      let pick = 0;
      while (pick < categories - 1 && (u >= row[pick] || row[pick] === 0)) {
        u -= row[pick];
        pick++;
      }
      // rounding in the running subtraction can walk past the last positive weight onto a trailing zero
      while (row[pick] === 0 && pick > 0) pick--;
      out[r * numSamples + s] = pick;
      if (!replacement) row[pick] = 0;
    }
  }
  return uploadTensor("multinomial", probs.backend, out, probs.rank === 1 ? [numSamples] : [rows, numSamples], "int32");
}

/**
 * @file The one error class of tsgrad, and the one way messages describe what they refuse: every
 * message starts with the op or file that refused the input, then says what it got and what it expected.
 */

import type { Tensor } from "./tensor.ts";

export class TsgradError extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
    this.name = "TsgradError";
  }
}

/** Throws a TsgradError naming `where` (an op, a function or a file). */
export function fail(where: string, message: string): never {
  throw new TsgradError(where, message);
}

/** Formats a shape the way every error message prints it: `[2,3]`. */
export function fmtShape(shape: readonly number[]): string {
  // a message about a bad shape must not fail itself on what it reports
  return Array.isArray(shape) ? `[${shape.join(",")}]` : String(shape);
}

let tensorCheck = (_value: unknown): _value is Tensor => false;

/**
 * Internal: `value instanceof Tensor` for the modules below tensor.ts (this one, args.ts, memory.ts),
 * which cannot import the class without an import cycle; tensor.ts registers the check with setTensorCheck.
 */
export function isTensor(value: unknown): value is Tensor {
  return tensorCheck(value);
}

export function setTensorCheck(check: (value: unknown) => value is Tensor): void {
  tensorCheck = check;
}

/**
 * What a value is, for an argument of the wrong kind: `number 1.5`, `string "x"`, `an array [1,2]`,
 * `a float32[2] tensor`, `a Map`, `an object`.
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (isTensor(value)) return value.isDisposed ? `a disposed ${value.describe()} tensor` : `a ${value.describe()} tensor`;
  if (Array.isArray(value))
    return `an array [${value
      .slice(0, 4)
      .map((v) => (typeof v === "object" ? typeof v : String(v)))
      .join(",")}${value.length > 4 ? ",..." : ""}]`;
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 24 ? `${value.slice(0, 24)}...` : value)}`;
  if (typeof value === "function") return "a function";
  if (typeof value === "object")
    return value.constructor?.name && value.constructor !== Object ? `a ${value.constructor.name}` : "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * A value as code would write it, for a setting out of range: `-1`, `NaN`, `"gelu"`, `[0.9]`, `/q/i`,
 * `a Tensor float32[2]`; other objects as describeValue names them.
 */
export function showValue(value: unknown): string {
  return show(value, 0);
}

function show(value: unknown, depth: number): string {
  if (typeof value === "string") return JSON.stringify(value);
  // the depth bound keeps a self-containing array from overflowing the stack
  if (Array.isArray(value)) return depth > 3 ? "[...]" : `[${value.map((v) => show(v, depth + 1)).join(", ")}]`;
  if (typeof value === "function") return "a function";
  if (value === null || typeof value !== "object") return String(value);
  if (isTensor(value)) return `a Tensor ${value.describe()}`;
  // a pattern (a RegExp, hyra's ModulePattern) reads best as the text it prints itself as
  const own = (value as { toString?: unknown }).toString;
  if (typeof own === "function" && own !== Object.prototype.toString) return String(value);
  return describeValue(value);
}

/**
 * The kind of a value alone, where its contents would be noise: `null`, `number`, `Array`, `Linear` (an
 * instance by its class), `an object` (one without a class). With `withValue`, a primitive also shows its
 * value, unquoted: `number 3`, `string x`.
 */
export function kindOf(value: unknown, options?: { withValue?: boolean }): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name || "an object";
  if (options?.withValue !== true || value === undefined || typeof value === "function") return typeof value;
  return `${typeof value} ${String(value)}`;
}

/** Refuses float64 on a backend that cannot hold it (gpujs): a backend throws rather than downcast in silence. */
export function checkBackendHolds(
  where: string,
  backend: { readonly name: string; readonly supportsFloat64: boolean },
  dtype: string,
): void {
  if (dtype === "float64" && !backend.supportsFloat64)
    fail(where, `backend ${backend.name} has no float64; use float32 or the reference backend`);
}

/**
 * @file Argument checks at the door of every public function: a value of the wrong kind (a number where a
 * tensor goes, null where options go) is refused naming the function, what it got and what it expected,
 * before anything inside can fail with a TypeError that names neither.
 */

import { describeValue, fail, isTensor } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

/** A live Tensor, or an error naming `where` and which argument it was. */
export function checkTensor(where: string, value: unknown, what = "the input"): asserts value is Tensor {
  if (!isTensor(value)) fail(where, `${what} must be a Tensor, got ${describeValue(value)}`);
  value.checkLive(where, what);
}

/** An optional Tensor (undefined or null leave it out). */
export function checkOptionalTensor(where: string, value: unknown, what: string): asserts value is Tensor | undefined {
  if (value !== undefined && value !== null) checkTensor(where, value, what);
}

/** A non-empty list of live tensors. */
export function checkTensorList(where: string, value: unknown, what = "the inputs"): asserts value is readonly Tensor[] {
  if (!Array.isArray(value)) fail(where, `${what} must be an array of Tensors, got ${describeValue(value)}`);
  value.forEach((t, i) => {
    checkTensor(where, t, `${what}[${i}]`);
  });
}

/** An options argument: undefined, or a plain object (not null, an array or a tensor). */
export function checkOptions(where: string, value: unknown): asserts value is Record<string, unknown> | undefined {
  if (value === undefined) return;
  if (value === null || typeof value !== "object" || Array.isArray(value) || isTensor(value)) {
    fail(where, `options must be an object such as { ... }, got ${describeValue(value)}`);
  }
}

/** A callback. */
export function checkFunction(where: string, value: unknown, what = "the argument"): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") fail(where, `${what} must be a function, got ${describeValue(value)}`);
}

/** A list of numbers (a shape, begins, a permutation), checked for kind only. */
export function checkNumberList(where: string, value: unknown, what: string): asserts value is readonly number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "number")) {
    fail(where, `${what} must be an array of numbers, got ${describeValue(value)}`);
  }
}

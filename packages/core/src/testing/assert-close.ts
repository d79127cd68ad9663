/** @file Assertions shared by every package: closeness that names the worst element, and async rejections. */

import type { NestedArray } from "../tensor.ts";
import { Tensor } from "../tensor.ts";
import type { Tolerance } from "./tolerance.ts";

function flat(value: ArrayLike<number> | NestedArray | number): number[] {
  if (typeof value === "number") return [value];
  if (ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<number>);
  return (value as unknown[]).flat(Number.POSITIVE_INFINITY) as number[];
}

/**
 * Throws unless every element satisfies |a - e| <= atol + rtol·scale (scale: |e|, or the given
 * per-element magnitudes for sums). NaN matches NaN, ±Infinity must match exactly.
 */
export function assertArrayClose(
  actual: ArrayLike<number> | NestedArray | number,
  expected: ArrayLike<number> | NestedArray | number,
  tol: Tolerance,
  options: { scale?: ArrayLike<number>; what?: string } = {},
): void {
  const a = flat(actual);
  const e = flat(expected);
  const what = options.what ?? "values";
  if (a.length !== e.length) throw new Error(`${what}: got ${a.length} elements, expected ${e.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i], e[i]];
    if (Number.isNaN(y) || !Number.isFinite(y)) {
      if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
      worst = i;
      worstExcess = Number.POSITIVE_INFINITY;
      break;
    }
    const bound = tol.atol + tol.rtol * (options.scale ? options.scale[i] : Math.abs(y));
    const excess = Number.isNaN(x) ? Number.POSITIVE_INFINITY : Math.abs(x - y) - bound;
    if (excess > 0 && excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what} differ at flat index ${worst}: got ${a[worst]}, expected ${e[worst]} ` +
        `(|diff| = ${Math.abs(a[worst] - e[worst])}, atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/** Reads a tensor (asynchronously, so it works on every backend) and compares it, shape included. */
export async function assertClose(
  actual: Tensor,
  expected: NestedArray | ArrayLike<number>,
  tol: Tolerance,
  options: { shape?: readonly number[]; scale?: ArrayLike<number>; what?: string } = {},
): Promise<void> {
  if (!(actual instanceof Tensor)) throw new Error("assertClose: actual must be a Tensor");
  if (options.shape && (options.shape.length !== actual.rank || options.shape.some((d, i) => d !== actual.shape[i]))) {
    throw new Error(`${options.what ?? "values"}: shape [${actual.shape}] differs from expected [${options.shape}]`);
  }
  assertArrayClose(await actual.data(), expected, tol, options);
}

/** Awaits a promise that must reject with a message matching `pattern`. */
export async function assertRejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected a rejection matching ${pattern}, but the promise resolved`);
  const message = error instanceof Error ? error.message : String(error);
  if (!pattern.test(message)) throw new Error(`expected a rejection matching ${pattern}, got: ${message}`);
}

/** Exactly the same numbers, element by element (Object.is: NaN equals NaN, -0 differs from 0). */
export function assertSameNumbers(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  const show = (v: number) => (Object.is(v, -0) ? "-0" : String(v));
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${what}[${i}]: got ${show(actual[i])}, expected ${show(expected[i])}`);
  }
}

/**
 * Awaits a promise that must reject with an instance of `type` whose `code` is `expected.code` (when
 * given) and whose message matches `expected.message` (when given); returns the error.
 */
export async function rejectsWith<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  expected: { code?: string; message?: RegExp } = {},
): Promise<E> {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`expected a ${type.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    const code = (e as { code?: unknown }).code;
    if (expected.code !== undefined && code !== expected.code)
      throw new Error(`expected a ${type.name} with code ${expected.code}, got code ${String(code)}: ${e.message}`);
    if (expected.message && !expected.message.test(e.message))
      throw new Error(`expected a message matching ${expected.message}, got: ${e.message}`);
    return e;
  }
  throw new Error(`expected a ${type.name}${expected.code ? ` ${expected.code}` : ""}, but the promise resolved`);
}

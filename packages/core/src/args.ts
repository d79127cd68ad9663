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

/**
 * An options argument: undefined, or a plain object (not null, an array or a tensor) whose names are all
 * among `known`, so that a misspelt option (`temprature`) is refused, naming the closest known one,
 * instead of silently meaning its default.
 */
export function checkOptions<T>(
  where: string,
  value: T,
  known: readonly (keyof NonNullable<T> & string)[] = [],
): asserts value is T & (Record<string, unknown> | undefined) {
  if (value === undefined) return;
  if (value === null || typeof value !== "object" || Array.isArray(value) || isTensor(value)) {
    fail(where, `options must be an object such as { ... }, got ${describeValue(value)}`);
  }
  for (const name of Object.keys(value)) {
    if ((known as readonly string[]).includes(name)) continue;
    const closest = closestName(name, known);
    const options = known.length === 0 ? "it takes none" : `its options are ${known.join(", ")}`;
    fail(where, `unknown option ${showName(name)}${closest ? ` (did you mean ${closest}?)` : ""}; ${options}`);
  }
}

/** A name as a message shows it: quoted, its first 40 characters. */
function showName(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name);
}

/**
 * The known name closest to `name` by edit distance (insertions, deletions, substitutions and swaps of
 * neighbours, case aside), if it is close enough to be a slip: at most a third of its length, and at most
 * 3. The one check behind every "did you mean" (options, config fields, backend options).
 */
export function closestName(name: string, known: readonly string[]): string | null {
  if (typeof name !== "string") fail("closestName", `the name must be a string, got ${describeValue(name)}`);
  if (!Array.isArray(known) || !known.every((k) => typeof k === "string"))
    fail("closestName", `the known names must be an array of strings, got ${describeValue(known)}`);
  const a = name.toLowerCase().slice(0, 64);
  let best: string | null = null;
  let bestDistance = Math.min(3, Math.max(1, Math.floor(a.length / 3)));
  for (const candidate of known) {
    const d = editDistance(a, candidate.toLowerCase());
    if (d < bestDistance || (best === null && d === bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
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

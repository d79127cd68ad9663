/** @file Argument checks shared by the optimisers and schedules: each error names the caller, the value and what was expected. */

import { fail, showValue, Tensor as TensorClass } from "@tsgrad/core";

/**
 * Throws unless `state` has exactly the allowed keys, each a Tensor or a number as declared, and every
 * required key is present (for the optimisers' checkState).
 */
export function checkStateKeys(
  where: string,
  entry: string,
  state: Record<string, unknown>,
  kinds: Record<string, "tensor" | "count">,
  required: readonly string[],
): void {
  for (const [key, value] of Object.entries(state)) {
    const kind = kinds[key];
    if (!kind) fail(where, `${entry} has an unknown entry "${key}"; expected ${Object.keys(kinds).join(", ") || "none"}`);
    const ok = kind === "tensor" ? value instanceof TensorClass : typeof value === "number" && Number.isInteger(value) && value >= 0;
    if (!ok) {
      fail(where, `${entry}.${key} is ${showValue(value)}; expected ${kind === "tensor" ? "a Tensor" : "a non-negative integer"}`);
    }
  }
  for (const key of required) if (!(key in state)) fail(where, `${entry} lacks "${key}"`);
}

/** Throws unless `value` is a finite number >= `min` (and < `below` when given). */
export function checkNumber(where: string, name: string, value: unknown, min: number, below?: number): void {
  const ok = typeof value === "number" && Number.isFinite(value) && value >= min && (below === undefined || value < below);
  if (!ok) {
    const range = below === undefined ? `a finite number >= ${min}` : `a number in [${min}, ${below})`;
    fail(where, `${name} must be ${range}, got ${showValue(value)}`);
  }
}

export function checkBoolean(where: string, name: string, value: unknown): void {
  if (typeof value !== "boolean") fail(where, `${name} must be true or false, got ${showValue(value)}`);
}

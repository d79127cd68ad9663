/**
 * @file fast-check arbitraries shared by every package's property tests: shapes (rank 0, size-1 and
 * zero-size dimensions, long reductions), broadcast-compatible shape tuples, and bounded values.
 *
 * Arbitraries produce plain data (shapes and numbers); properties build tensors from it, so a shrunk
 * counterexample prints as data that can be pasted into an example test.
 */

import fc from "fast-check";
import { sizeOf } from "../shape.ts";

export interface ShapeOptions {
  minRank?: number;
  maxRank?: number;
  /** Smallest dimension (0 allows zero-size tensors). */
  minDim?: number;
  maxDim?: number;
  /** Upper bound on the number of elements (keeps elementwise gradchecks cheap). */
  maxSize?: number;
}

export function shapeArb(options: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 3, minDim = 1, maxDim = 4, maxSize = Number.POSITIVE_INFINITY } = options;
  // Zero and one are the edge cases (empty tensors, broadcast axes) but should not crowd out typical sizes:
  // each gets a small share, and the rest of the draws spread over 2..maxDim.
  const choices: fc.WeightedArbitrary<number>[] = [];
  if (minDim <= 0 && maxDim >= 0) choices.push({ weight: 1, arbitrary: fc.constant(0) });
  if (minDim <= 1 && maxDim >= 1) choices.push({ weight: 2, arbitrary: fc.constant(1) });
  if (maxDim >= Math.max(minDim, 2)) choices.push({ weight: 6, arbitrary: fc.integer({ min: Math.max(minDim, 2), max: maxDim }) });
  const dim = fc.oneof(...choices);
  // every rank equally often (fast-check's arrays lean towards short ones)
  const rank = fc.noBias(fc.integer({ min: minRank, max: maxRank }));
  return rank.chain((r) => fc.array(dim, { minLength: r, maxLength: r })).filter((shape) => sizeOf(shape) <= maxSize);
}

/**
 * n shapes that broadcast together: an output shape, from which each operand drops some leading axes
 * and turns some dimensions into 1.
 */
export function broadcastShapesArb(n: number, options: ShapeOptions = {}): fc.Arbitrary<number[][]> {
  return shapeArb(options).chain((out) =>
    fc.array(
      fc
        .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
        .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d))),
      { minLength: n, maxLength: n },
    ),
  );
}

export interface ValueOptions {
  min?: number;
  max?: number;
  /** Keep values at least this far from each of `avoid` (kinks like 0 for relu and abs). */
  avoid?: readonly number[];
  margin?: number;
}

/** size doubles in [min, max], optionally kept away from kinks. */
export function valuesArb(size: number, options: ValueOptions = {}): fc.Arbitrary<number[]> {
  const { min = -3, max = 3, avoid = [], margin = 0.05 } = options;
  const value = fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).filter((v) => avoid.every((k) => Math.abs(v - k) >= margin));
  return fc.array(value, { minLength: size, maxLength: size });
}

/** float32-representable values in [min, max] (for comparing float32 backends). */
export function float32ValuesArb(size: number, options: ValueOptions = {}): fc.Arbitrary<number[]> {
  const { min = -3, max = 3 } = options;
  return fc.array(fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true }), {
    minLength: size,
    maxLength: size,
  });
}

/** A shape together with values to fill it. */
export function tensorDataArb(shape: ShapeOptions = {}, values: ValueOptions = {}): fc.Arbitrary<{ shape: number[]; values: number[] }> {
  return shapeArb(shape).chain((s) => valuesArb(sizeOf(s), values).map((v) => ({ shape: s, values: v })));
}

/** Several shapes that broadcast together, each with values. */
export function broadcastDataArb(
  n: number,
  shape: ShapeOptions = {},
  values: ValueOptions = {},
): fc.Arbitrary<{ shape: number[]; values: number[] }[]> {
  return broadcastShapesArb(n, shape).chain((shapes) =>
    fc.tuple(...shapes.map((s) => valuesArb(sizeOf(s), values).map((v) => ({ shape: s, values: v })))),
  );
}

/** Shapes with more than 1,000 elements, for reductions (gpu.js cuts argument-bound loops at 1,000). */
export function longReductionShapeArb(): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.integer({ min: 1001, max: 5000 }).map((n) => [n]),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1001, max: 2500 })).map(([a, b]) => [a, b]),
    fc.tuple(fc.integer({ min: 1001, max: 2000 }), fc.integer({ min: 1, max: 2 })).map(([a, b]) => [a, b]),
  );
}

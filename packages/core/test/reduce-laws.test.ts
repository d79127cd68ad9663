/**
 * @file Algebraic laws of the reductions, as fast-check properties: sum's gradient copies its upstream
 * gradient, reducing in steps equals reducing at once, mean·count = sum, max and argmax point at a
 * maximum, and long reductions (more than 1,000 elements, where gpu.js cuts loops short) agree with a
 * plain float64 loop written here.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  type Axes,
  argmax,
  argmin,
  type DType,
  Generator,
  getBackend,
  grad,
  logSumExp,
  max,
  mean,
  min,
  sum,
  type Tensor,
  tensor,
} from "../src/index.ts";
import { sizeOf, stridesOf } from "../src/shape.ts";
import {
  assertArrayClose,
  checkProperty,
  longReductionShapeArb,
  type ShapeOptions,
  tensorDataArb,
  tolerance,
  valuesArb,
} from "../src/testing/index.ts";

const backend = () => getBackend().name;
const SHAPES: ShapeOptions = { maxRank: 4, minDim: 0, maxDim: 4, maxSize: 64 };

/** Axes to reduce over a tensor of this rank: every axis (undefined), one, or any subset, in any order, some negative. */
function axesArb(rank: number): fc.Arbitrary<Axes> {
  if (rank === 0) return fc.constantFrom<Axes>(undefined, 0, -1, []);
  const signed = (a: number) => fc.boolean().map((negative) => (negative ? a - rank : a));
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc.oneof(
    fc.constant<Axes>(undefined),
    fc.integer({ min: 0, max: rank - 1 }).chain(signed),
    fc.shuffledSubarray(all).chain((list) => fc.tuple(...list.map(signed))),
  );
}

/** The reduced axes as sorted non-negative positions. */
function axisList(axes: Axes, rank: number): number[] {
  if (rank === 0) return [];
  if (axes === undefined || axes === null) return Array.from({ length: rank }, (_, i) => i);
  return [axes]
    .flat()
    .map((a) => (a < 0 ? a + rank : a))
    .sort((a, b) => a - b);
}

/** For each element of `shape` (row-major), the flat position of the output element it reduces into. */
function outputIndex(shape: readonly number[], axes: readonly number[]): Int32Array {
  const keptStrides = stridesOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  const out = new Int32Array(sizeOf(shape));
  for (let flat = 0; flat < out.length; flat++) {
    let rest = flat;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (!axes.includes(i)) out[flat] += (rest % shape[i]) * keptStrides[i];
      rest = Math.floor(rest / shape[i]);
    }
  }
  return out;
}

/** The shape of a reduction with keepdims. */
const keptShape = (shape: readonly number[], axes: readonly number[]) => shape.map((d, i) => (axes.includes(i) ? 1 : d));

/** Σ|x| per output element: the scale that rounding error of a sum grows with (see tolerance.ts). */
function absSums(values: ArrayLike<number>, target: Int32Array, outSize: number): Float64Array {
  const out = new Float64Array(outSize);
  for (let i = 0; i < values.length; i++) out[target[i]] += Math.abs(values[i]);
  return out;
}

/** A float64 tensor with its shape, and axes and keepdims to reduce it with. */
const reductionArb = (shape: ShapeOptions = SHAPES) =>
  tensorDataArb(shape).chain((d) => fc.tuple(fc.constant(d), axesArb(d.shape.length), fc.boolean()));

const f64 = (d: { shape: number[]; values: number[] }) => tensor(d.values, d.shape, "float64");

test("the gradient of sum copies the upstream gradient along the reduced axes (all ones for sum(x))", async () => {
  await checkProperty(
    "sum gradient",
    reductionArb().chain(([d, axes, keepdims]) => {
      const out = keptShape(d.shape, axisList(axes, d.shape.length));
      return fc.tuple(fc.constant(d), fc.constant(axes), fc.constant(keepdims), valuesArb(sizeOf(out)));
    }),
    async ([d, axes, keepdims, upstream]) => {
      const x = f64(d).requiresGrad_();
      const list = axisList(axes, x.rank);
      const y = sum(x, axes, keepdims);
      const [g] = grad(y, [x], { gradOutputs: [tensor(upstream, y.shape, "float64")] });
      const target = outputIndex(d.shape, list);
      assert.equal([...(g as Tensor).shape], d.shape);
      assertArrayClose(
        await (g as Tensor).data(),
        Array.from(target, (j) => upstream[j]),
        tolerance(backend(), "float64", "exact"),
        { what: "dsum/dx" },
      );

      const [ones] = grad(sum(x), [x]);
      assertArrayClose(await (ones as Tensor).data(), new Array(x.size).fill(1), tolerance(backend(), "float64", "exact"), {
        what: "dsum(x)/dx",
      });
    },
    { backend: backend() },
  );
});

test("summing axis by axis, or in two groups, equals summing them all at once", async () => {
  await checkProperty(
    "sum in steps",
    reductionArb().chain(([d, axes]) => {
      const list = axisList(axes, d.shape.length);
      return fc.tuple(fc.constant(d), fc.constant(list), fc.subarray(list));
    }),
    async ([d, list, first]) => {
      const x = f64(d);
      const tol = tolerance(backend(), "float64", "reduction");
      const target = outputIndex(d.shape, list);
      const scale = absSums(d.values, target, sizeOf(keptShape(d.shape, list)));
      const once = sum(x, list, true);

      // the two groups, each with keepdims so that axis positions stay put
      const rest = list.filter((a) => !first.includes(a));
      const twice = sum(sum(x, first, true), rest, true);
      assert.equal([...twice.shape], [...once.shape]);
      assertArrayClose(await twice.data(), await once.data(), tol, { scale, what: "sum in two groups" });

      // every axis, one at a time from the last (without keepdims, so each sum drops the axis it reduced)
      let stepwise = x;
      for (let a = x.rank - 1; a >= 0; a--) stepwise = sum(stepwise, a);
      assertArrayClose(await stepwise.data(), await sum(x).data(), tol, {
        scale: [d.values.reduce((s, v) => s + Math.abs(v), 0)],
        what: "sum of per-axis sums",
      });
    },
    { backend: backend() },
  );
});

test("mean times the number of elements reduced is the sum (NaN when there are none)", async () => {
  const dtypes: DType[] = ["float64", "float32", "int32"];
  await checkProperty(
    "mean·count = sum",
    fc.tuple(reductionArb(), fc.constantFrom(...dtypes)),
    async ([[d, axes, keepdims], dtype]) => {
      const x = tensor(
        d.values.map((v) => (dtype === "int32" ? Math.round(v * 3) : v)),
        d.shape,
        dtype,
      );
      const list = axisList(axes, x.rank);
      const count = sizeOf(list.map((a) => d.shape[a]));
      const m = mean(x, axes, keepdims);
      // int32 averages in float32; float dtypes keep theirs
      assert.is(m.dtype, dtype === "int32" ? "float32" : dtype);
      const s = await sum(x, axes, keepdims).data();
      const values = await x.data();
      const target = outputIndex(d.shape, list);
      const scale = absSums(values, target, s.length);
      const got = Array.from(await m.data(), (v) => v * count);
      if (count === 0) assert.ok(got.every(Number.isNaN), "a mean over nothing is NaN");
      else assertArrayClose(got, s, tolerance(backend(), m.dtype, "reduction"), { scale, what: "mean·count" });
    },
    { backend: backend() },
  );
});

test("max and min bound every element; argmax and argmin point at their first occurrence", async () => {
  // values on a coarse grid, so that ties (where first-occurrence matters) are common
  const grid = { min: -2, max: 2 };
  await checkProperty(
    "max, argmax",
    tensorDataArb({ ...SHAPES, minRank: 1 }, grid)
      .map((d) => ({ ...d, values: d.values.map((v) => Math.round(v * 2) / 2) }))
      .chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: -d.shape.length, max: d.shape.length - 1 }), fc.boolean()))
      .filter(([d, axis]) => d.shape.at(axis) !== 0),
    async ([d, axis, keepdims]) => {
      const x = f64(d);
      const a = axis < 0 ? axis + x.rank : axis;
      const target = outputIndex(d.shape, [a]);
      const position = (flat: number) => Math.floor(flat / stridesOf(d.shape)[a]) % d.shape[a];
      for (const [reduce, arg, better] of [
        [max, argmax, (u: number, v: number) => u > v],
        [min, argmin, (u: number, v: number) => u < v],
      ] as const) {
        const extreme = await reduce(x, axis, keepdims).data();
        const index = await arg(x, axis, keepdims).data();
        const what = `${reduce.name} over axis ${axis} of [${d.shape}]`;
        assert.equal([...arg(x, axis, keepdims).shape], [...reduce(x, axis, keepdims).shape], `${what}: shapes`);
        const seen = new Set<number>();
        for (let i = 0; i < d.values.length; i++) {
          const j = target[i];
          assert.not.ok(better(d.values[i], extreme[j]), `${what}: element ${i} (${d.values[i]}) beats ${extreme[j]}`);
          if (position(i) === index[j]) {
            assert.is(d.values[i], extreme[j], `${what}: the element at the arg position is not the extreme`);
            seen.add(j);
          } else if (position(i) < index[j]) {
            assert.ok(better(extreme[j], d.values[i]), `${what}: an earlier element ${i} already reaches ${extreme[j]}`);
          }
        }
        assert.is(seen.size, extreme.length, `${what}: some arg position is out of range`);
      }

      // without an axis: a position in the flattened tensor
      if (d.values.length > 0) {
        const flat = (await argmax(x).data())[0];
        const top = Math.max(...d.values);
        assert.is(d.values[flat], top, "argmax of the flattened tensor");
        assert.is(d.values.indexOf(top), flat, "argmax of the flattened tensor takes the first maximum");
      }
    },
    { backend: backend() },
  );
});

/** What a long reduction is checked against: float64 loops over the values as stored. */
function reference(op: string, values: ArrayLike<number>, target: Int32Array, outSize: number, positions: number[]): number[] {
  const out: number[] = [];
  for (let j = 0; j < outSize; j++) out.push(0);
  const count = values.length / outSize;
  if (op === "sum" || op === "mean") {
    for (let i = 0; i < values.length; i++) out[target[i]] += values[i];
    return op === "mean" ? out.map((s) => s / count) : out;
  }
  if (op === "logSumExp") {
    const top = reference("max", values, target, outSize, positions);
    for (let i = 0; i < values.length; i++) out[target[i]] += Math.exp(values[i] - top[target[i]]);
    return out.map((s, j) => Math.log(s) + top[j]);
  }
  const larger = op === "max" || op === "argmax";
  const best = out.map(() => Number.NaN);
  const at = out.map(() => -1);
  for (let i = 0; i < values.length; i++) {
    const j = target[i];
    // strict comparison in row-major order: the first of tied extremes wins
    if (at[j] === -1 || (larger ? values[i] > best[j] : values[i] < best[j])) {
      best[j] = values[i];
      at[j] = positions[i];
    }
  }
  return op.startsWith("arg") ? at : best;
}

test("reductions over more than 1,000 elements agree with a float64 loop", async () => {
  const ops = ["sum", "mean", "max", "min", "argmax", "argmin", "logSumExp"] as const;
  const run: Record<(typeof ops)[number], (x: Tensor, axis: number | undefined) => Tensor> = {
    sum: (x, a) => sum(x, a),
    mean: (x, a) => mean(x, a),
    max: (x, a) => max(x, a),
    min: (x, a) => min(x, a),
    argmax: (x, a) => argmax(x, a),
    argmin: (x, a) => argmin(x, a),
    logSumExp: (x, a) => logSumExp(x, a),
  };
  await checkProperty(
    "long reductions",
    longReductionShapeArb().chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        // null: no axis, so every axis (for argmax, the position in the flattened tensor); null rather
        // than undefined so that a printed counterexample shows it
        axis: fc.constantFrom<(number | null)[]>(null, ...shape.map((_, i) => i), -1),
        dtype: fc.constantFrom<DType>("float32", "float64"),
        op: fc.constantFrom(...ops),
        seed: fc.nat(),
      }),
    ),
    async ({ shape, axis: given, dtype, op, seed }) => {
      const axis = given ?? undefined;
      const x = tensor(new Generator(seed).uniform(sizeOf(shape), -3, 3), shape, dtype);
      const values = await x.data();
      const list = axis === undefined ? shape.map((_, i) => i) : [axis < 0 ? axis + shape.length : axis];
      const target = outputIndex(shape, list);
      const outSize = sizeOf(keptShape(shape, list));
      // the position along the reduced axis (or in the flattened tensor), for argmax and argmin
      const strides = stridesOf(shape);
      const positions = Array.from(values, (_, i) => (axis === undefined ? i : Math.floor(i / strides[list[0]]) % shape[list[0]]));
      const expected = reference(op, values, target, outSize, positions);
      const y = run[op](x, axis);
      assert.equal(
        [...y.shape],
        shape.filter((_, i) => !list.includes(i)),
        `${op}: shape`,
      );
      const what = `${op} over axis ${axis} of ${dtype}[${shape}]`;
      if (op.startsWith("arg")) {
        assert.equal(Array.from(await y.data()), expected, what);
      } else if (op === "sum" || op === "mean") {
        const scale = Array.from(absSums(values, target, outSize), (s) => (op === "mean" ? s / (values.length / outSize) : s));
        assertArrayClose(await y.data(), expected, tolerance(backend(), dtype, "reduction"), { scale, what });
      } else {
        // max and min are exact; logSumExp rounds like any transcendental result
        assertArrayClose(await y.data(), expected, tolerance(backend(), dtype, op === "logSumExp" ? "transcendental" : "exact"), { what });
      }
    },
    { backend: backend() },
  );
});

test.run();

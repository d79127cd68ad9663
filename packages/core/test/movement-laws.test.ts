/**
 * @file Algebraic laws of the movement ops, as fast-check properties: reshape and permute undo, transpose
 * is an involution, split undoes concat, expand's gradient sums over the broadcast axes, slice undoes pad,
 * and tril and triu split a matrix in two. Movement only copies, so every comparison is exact.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  add,
  concat,
  expand,
  getBackend,
  grad,
  pad,
  permute,
  reshape,
  slice,
  split,
  type Tensor,
  tensor,
  transpose,
  tril,
  triu,
} from "../src/index.ts";
import { sizeOf, stridesOf } from "../src/shape.ts";
import { assertArrayClose, checkProperty, type ShapeOptions, shapeArb, tensorDataArb, tolerance, valuesArb } from "../src/testing/index.ts";

const backend = () => getBackend().name;
const SHAPES: ShapeOptions = { maxRank: 4, minDim: 0, maxDim: 4, maxSize: 64 };
const exact = () => tolerance(backend(), "float64", "exact");

type Data = { shape: number[]; values: number[] };
const f64 = (d: Data) => tensor(d.values, d.shape, "float64");

/** Asserts shape and values, exactly. */
async function assertSame(actual: Tensor, expected: Data, what: string): Promise<void> {
  assert.equal([...actual.shape], expected.shape, `${what}: shape`);
  assertArrayClose(await actual.data(), expected.values, exact(), { what });
}

/** The multi-index of a row-major flat position. */
function unravel(flat: number, shape: readonly number[]): number[] {
  return stridesOf(shape).map((s, i) => Math.floor(flat / s) % shape[i]);
}

/** The row-major flat position of a multi-index. */
function ravel(index: readonly number[], shape: readonly number[]): number {
  const strides = stridesOf(shape);
  return index.reduce((acc, k, i) => acc + k * strides[i], 0);
}

/** A permutation of 0..rank-1, with some entries written as negative axes. */
function permutationArb(rank: number): fc.Arbitrary<number[]> {
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc
    .shuffledSubarray(all, { minLength: rank, maxLength: rank })
    .chain((p) => fc.tuple(...p.map((a) => fc.boolean().map((negative) => (negative ? a - rank : a)))));
}

test("reshape there and back is the identity, and keeps row-major order", async () => {
  await checkProperty(
    "reshape round trip",
    tensorDataArb(SHAPES).chain((d) =>
      fc.record({
        d: fc.constant(d),
        // the same dimensions in another order, with size-1 axes inserted: the same number of elements
        order: fc.shuffledSubarray(d.shape, { minLength: d.shape.length, maxLength: d.shape.length }),
        ones: fc.array(fc.nat(4), { maxLength: 2 }),
        unknown: fc.nat(5),
      }),
    ),
    async ({ d, order, ones, unknown }) => {
      const target = [...order];
      for (const at of ones) target.splice(Math.min(at, target.length), 0, 1);
      // one entry may be left to inference, unless the rest multiply to 0 (then -1 is ambiguous)
      const u = unknown % (target.length + 1);
      const rest = target.filter((_, i) => i !== u);
      const shape = u < target.length && sizeOf(rest) > 0 ? target.map((s, i) => (i === u ? -1 : s)) : target;
      const x = f64(d);
      const y = reshape(x, shape);
      await assertSame(y, { shape: target, values: d.values }, `reshape [${d.shape}] to [${shape}]`);
      await assertSame(reshape(y, d.shape), d, `reshape [${target}] back to [${d.shape}]`);
    },
    { backend: backend() },
  );
});

test("permute by p moves axis p[i] to i, and permuting by the inverse undoes it", async () => {
  await checkProperty(
    "permute inverse",
    tensorDataArb(SHAPES).chain((d) => fc.tuple(fc.constant(d), permutationArb(d.shape.length))),
    async ([d, p]) => {
      const rank = d.shape.length;
      const axes = p.map((a) => (a < 0 ? a + rank : a));
      const inverse = new Array<number>(rank);
      axes.forEach((a, i) => {
        inverse[a] = i;
      });
      const y = permute(f64(d), p);
      // out[i₀..] = x[j] with j[p[k]] = i[k]
      const shape = axes.map((a) => d.shape[a]);
      const values = Array.from({ length: d.values.length }, (_, flat) => {
        const i = unravel(flat, shape);
        const j = new Array<number>(rank);
        axes.forEach((a, k) => {
          j[a] = i[k];
        });
        return d.values[ravel(j, d.shape)];
      });
      await assertSame(y, { shape, values }, `permute [${d.shape}] by [${p}]`);
      await assertSame(permute(y, inverse), d, `permute by [${p}] then [${inverse}]`);
    },
    { backend: backend() },
  );
});

test("transpose twice is the identity", async () => {
  await checkProperty(
    "transpose involution",
    tensorDataArb({ ...SHAPES, minRank: 1 }).chain((d) => {
      const axis = fc.integer({ min: -d.shape.length, max: d.shape.length - 1 });
      return fc.tuple(fc.constant(d), axis, axis);
    }),
    async ([d, a, b]) => {
      const x = f64(d);
      await assertSame(transpose(transpose(x, a, b), a, b), d, `transpose axes ${a} and ${b} of [${d.shape}] twice`);
    },
    { backend: backend() },
  );
});

test("split undoes concat, and concat undoes split", async () => {
  await checkProperty(
    "concat/split",
    fc
      .record({
        base: shapeArb({ ...SHAPES, minRank: 1, maxSize: 16 }),
        // empty pieces included: they must come back empty
        lengths: fc.array(fc.nat(3), { minLength: 1, maxLength: 4 }),
        axisSeed: fc.nat(),
        negative: fc.boolean(),
        pieceSize: fc.integer({ min: 1, max: 4 }),
      })
      .chain(({ base, lengths, axisSeed, negative, pieceSize }) => {
        const a = axisSeed % base.length;
        const shapes = lengths.map((n) => base.map((d, i) => (i === a ? n : d)));
        return fc.record({
          pieces: fc.tuple(...shapes.map((shape) => valuesArb(sizeOf(shape)).map((values) => ({ shape, values })))),
          axis: fc.constant(negative ? a - base.length : a),
          lengths: fc.constant(lengths),
          pieceSize: fc.constant(pieceSize),
        });
      }),
    async ({ pieces, axis, lengths, pieceSize }) => {
      const joined = concat(pieces.map(f64), axis);
      const back = split(joined, lengths, axis);
      assert.is(back.length, pieces.length, "split: number of pieces");
      for (const [k, piece] of back.entries()) await assertSame(piece, pieces[k], `piece ${k} of concat along ${axis}`);

      // the other way: pieces of a fixed size (the last one shorter, one empty piece for an empty axis)
      const whole = { shape: [...joined.shape], values: Array.from(await joined.data()) };
      const parts = split(joined, pieceSize, axis);
      const length = joined.shape.at(axis) as number;
      assert.is(parts.length, Math.max(1, Math.ceil(length / pieceSize)), "split: number of pieces of a fixed size");
      await assertSame(concat(parts, axis), whole, `concat of split(${pieceSize}) along ${axis}`);
    },
    { backend: backend() },
  );
});

test("the gradient of expand sums the upstream gradient over the broadcast axes", async () => {
  await checkProperty(
    "expand gradient",
    shapeArb({ ...SHAPES, maxSize: 48 })
      .chain((target) =>
        fc.record({
          target: fc.constant(target),
          // x drops some leading axes and has 1 where target may have anything
          drop: fc.integer({ min: 0, max: target.length }),
          ones: fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length }),
        }),
      )
      .chain(({ target, drop, ones }) => {
        const shape = target.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        return fc.record({
          x: valuesArb(sizeOf(shape)).map((values) => ({ shape, values })),
          target: fc.constant(target),
          upstream: valuesArb(sizeOf(target)),
        });
      }),
    async ({ x: d, target, upstream }) => {
      const x = f64(d).requiresGrad_();
      const y = expand(x, target);
      const [g] = grad(y, [x], { gradOutputs: [tensor(upstream, target, "float64")] });
      // every output element adds its upstream gradient into the element of x it copied
      const lead = target.length - d.shape.length;
      const expected = new Array<number>(d.values.length).fill(0);
      for (let flat = 0; flat < upstream.length; flat++) {
        const i = unravel(flat, target).slice(lead);
        expected[
          ravel(
            i.map((k, axis) => (d.shape[axis] === 1 ? 0 : k)),
            d.shape,
          )
        ] += upstream[flat];
      }
      assert.equal([...(g as Tensor).shape], d.shape);
      // the sums run in another order than the engine's: float64 rounding, bounded by what was added
      const scale = new Array<number>(d.values.length).fill(0);
      for (let flat = 0; flat < upstream.length; flat++) {
        const i = unravel(flat, target).slice(lead);
        scale[
          ravel(
            i.map((k, axis) => (d.shape[axis] === 1 ? 0 : k)),
            d.shape,
          )
        ] += Math.abs(upstream[flat]);
      }
      assertArrayClose(await (g as Tensor).data(), expected, tolerance(backend(), "float64", "reduction"), {
        scale,
        what: `d expand([${d.shape}] → [${target}])`,
      });
    },
    { backend: backend() },
  );
});

test("pad fills around the block with its value, and slicing the block out recovers the input", async () => {
  await checkProperty(
    "slice of pad",
    tensorDataArb(SHAPES).chain((d) =>
      fc.record({
        d: fc.constant(d),
        paddings: fc.tuple(...d.shape.map(() => fc.tuple(fc.nat(2), fc.nat(2)))),
        value: fc.double({ min: -5, max: 5, noNaN: true }),
      }),
    ),
    async ({ d, paddings, value }) => {
      const padded = pad(f64(d), paddings, value);
      const shape = d.shape.map((n, i) => paddings[i][0] + n + paddings[i][1]);
      const values = Array.from({ length: sizeOf(shape) }, (_, flat) => {
        const i = unravel(flat, shape).map((k, axis) => k - paddings[axis][0]);
        return i.every((k, axis) => k >= 0 && k < d.shape[axis]) ? d.values[ravel(i, d.shape)] : value;
      });
      await assertSame(padded, { shape, values }, `pad [${d.shape}] by ${JSON.stringify(paddings)}`);
      const before = paddings.map(([b]) => b);
      await assertSame(slice(padded, before, d.shape), d, "slice of pad");
      // negative begins count from the end: the same block
      const fromEnd = before.map((b, i) => (shape[i] > 0 && b > 0 ? b - shape[i] : b));
      await assertSame(slice(padded, fromEnd, d.shape), d, "slice of pad from negative begins");
    },
    { backend: backend() },
  );
});

test("tril(x, k) + triu(x, k + 1) = x, and tril keeps exactly column - row <= k", async () => {
  await checkProperty(
    "tril + triu",
    fc.tuple(
      // values away from 0, so that an element kept by both, or by neither, shows in the sum
      tensorDataArb({ ...SHAPES, minRank: 2 }, { avoid: [0], margin: 0.01 }),
      fc.integer({ min: -4, max: 4 }),
    ),
    async ([d, k]) => {
      const x = f64(d);
      await assertSame(add(tril(x, k), triu(x, k + 1)), d, `tril(x, ${k}) + triu(x, ${k + 1}) of [${d.shape}]`);
      const values = d.values.map((v, flat) => {
        const [row, col] = unravel(flat, d.shape).slice(-2);
        return col - row <= k ? v : 0;
      });
      await assertSame(tril(x, k), { shape: d.shape, values }, `tril(x, ${k}) of [${d.shape}]`);
    },
    { backend: backend() },
  );
});

test.run();

/**
 * @file Tensor factories: tensor() from every kind of data, constants, ranges, eye, and the seeded
 * random factories (determinism, statistics, ranges, multinomial, generator state).
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  arange,
  eye,
  full,
  fullLike,
  Generator,
  linspace,
  manualSeed,
  multinomial,
  normal,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  scalar,
  type Tensor,
  tensor,
  uniform,
  zeros,
  zerosLike,
} from "../src/index.ts";
import { assertRejects } from "../src/testing/index.ts";

const values = (t: Tensor) => Array.from(t.dataSync());

function stats(xs: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i];
    min = Math.min(min, xs[i]);
    max = Math.max(max, xs[i]);
  }
  const mean = sum / xs.length;
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / xs.length), min, max };
}

// ---- tensor() -----------------------------------------------------------------------------------

const fromData = suite("tensor() from data");

fromData("nested arrays give their own shape, row-major", () => {
  const t = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(t.shape, [2, 3]);
  assert.equal(values(t), [1, 2, 3, 4, 5, 6]);
  assert.equal(tensor([[[1], [2]]]).shape, [1, 2, 1]);
});

fromData("flat data with a shape is reshaped", () => {
  const t = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
  assert.equal(t.shape, [3, 2]);
  assert.equal(t.toArray(), [
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
});

fromData("typed arrays are copied, not aliased", () => {
  const source = new Float32Array([1, 2, 3, 4]);
  const t = tensor(source, [2, 2]);
  source[0] = 100;
  assert.equal(t.toArray(), [
    [1, 2],
    [3, 4],
  ]);
  const i = tensor(new Int32Array([7, -7]));
  assert.equal(values(i), [7, -7]);
});

fromData("rank 0: a number, a boolean, scalar()", () => {
  const t = tensor(3.5);
  assert.equal(t.shape, []);
  assert.is(t.rank, 0);
  assert.is(t.size, 1);
  assert.is(t.item(), 3.5);
  assert.is(tensor(false).item(), 0);
  assert.equal(scalar(2, "float64").shape, []);
  assert.is(scalar(2, "float64").dtype, "float64");
  // flat data of one element reshaped to rank 0
  assert.equal(tensor([4], []).shape, []);
});

fromData("zero-size tensors", () => {
  assert.equal(tensor([]).shape, [0]);
  assert.equal(tensor([[], []]).shape, [2, 0]);
  const z = tensor([], [3, 0, 2]);
  assert.equal(z.shape, [3, 0, 2]);
  assert.is(z.size, 0);
  assert.equal(z.toArray(), [[], [], []]);
});

fromData("non-rectangular nesting is refused", () => {
  assert.throws(() => tensor([[1, 2], [3]]), /tensor: nested arrays are not rectangular/);
  assert.throws(() => tensor([[1, 2], 3] as never), /tensor: nested arrays are not rectangular/);
  assert.throws(() => tensor([1, [2, 3]] as never), /tensor: expected a number or boolean at depth 1, got an array/);
});

fromData("a size mismatch names the value count and the shape's size", () => {
  assert.throws(
    () => tensor([1, 2, 3], [2, 2]),
    (e: Error) => /^tensor:/.test(e.message) && e.message.includes("3 values") && e.message.includes("[2,2]") && e.message.includes("4"),
  );
  assert.throws(() => tensor(new Float32Array(5), [2, 3]), /5 values do not fill shape \[2,3\] \(6 elements\)/);
});

fromData("non-numbers and bad shapes are refused", () => {
  assert.throws(() => tensor(["a"] as never), /tensor:/);
  assert.throws(() => tensor([1, 2], [-1, -2]), /tensor: shape \[-1,-2\] must hold non-negative integers/);
  assert.throws(() => tensor([1, 2], [1.5]), /non-negative integers/);
});

fromData("requiresGrad through options", () => {
  const t = tensor([1.5, 2], undefined, { requiresGrad: true });
  assert.ok(t.requiresGrad);
  assert.ok(t.isLeaf);
});

// ---- constants ----------------------------------------------------------------------------------

const constants = suite("constants");

constants("zeros, ones, full", () => {
  const z = zeros([2, 3]);
  assert.is(z.dtype, "float32");
  assert.equal(z.shape, [2, 3]);
  assert.ok(values(z).every((v) => v === 0));
  assert.ok(values(ones([4], { dtype: "int32" })).every((v) => v === 1));
  assert.is(ones([4], { dtype: "int32" }).dtype, "int32");
  const f = full([2, 2], 2.5, { dtype: "float64" });
  assert.is(f.dtype, "float64");
  assert.equal(values(f), [2.5, 2.5, 2.5, 2.5]);
  assert.is(full([1], true).dtype, "bool");
  // a constant is converted like a cast: 2.7 into int32 truncates
  assert.equal(values(full([2], 2.7, { dtype: "int32" })), [2, 2]);
  assert.equal(zeros([]).shape, []);
  assert.is(zeros([0, 5]).size, 0);
});

constants("zerosLike, onesLike, fullLike copy shape and dtype unless told otherwise", () => {
  const x = tensor([[1, 2, 3]], undefined, "float64");
  const z = zerosLike(x);
  assert.equal(z.shape, [1, 3]);
  assert.is(z.dtype, "float64");
  assert.equal(values(z), [0, 0, 0]);
  assert.equal(values(onesLike(x)), [1, 1, 1]);
  const f = fullLike(x, 4, { dtype: "int32" });
  assert.is(f.dtype, "int32");
  assert.equal(values(f), [4, 4, 4]);
  assert.is(fullLike(tensor([1, 2]), 7).dtype, "int32");
  // a like-factory does not copy requiresGrad: it is a new leaf
  assert.not.ok(zerosLike(tensor([1.5], undefined, { requiresGrad: true })).requiresGrad);
});

constants("unknown dtypes and bad shapes are refused", () => {
  assert.throws(() => zeros([2], { dtype: "uint8" as never }), /zeros: unknown dtype "uint8"/);
  assert.throws(() => ones([2, -1]), /ones: shape \[2,-1\]/);
});

// ---- ranges -------------------------------------------------------------------------------------

const ranges = suite("arange, linspace, eye");

ranges("arange with one argument counts from 0 (int32)", () => {
  const t = arange(5);
  assert.is(t.dtype, "int32");
  assert.equal(values(t), [0, 1, 2, 3, 4]);
});

ranges("arange with start, stop and a negative step", () => {
  assert.equal(values(arange(2, 6)), [2, 3, 4, 5]);
  assert.equal(values(arange(5, 0, -1)), [5, 4, 3, 2, 1]);
  // ceil((-4 - 3) / -3) = ceil(7/3) = 3 values: 3, 0, -3
  assert.equal(values(arange(3, -4, -3)), [3, 0, -3]);
});

ranges("arange with a float step is float32 and excludes stop", () => {
  const t = arange(0, 1, 0.25);
  assert.is(t.dtype, "float32");
  assert.equal(values(t), [0, 0.25, 0.5, 0.75]);
  // ceil((1 - 0) / 0.3) = 4 values: 0, 0.3, 0.6, 0.9
  assert.equal(values(arange(0, 1, 0.3)), [0, 0.3, 0.6, 0.9].map(Math.fround));
  assert.is(arange(0.5, 3).dtype, "float32");
});

ranges("arange can be empty; a zero step or non-finite bound is refused", () => {
  assert.equal(arange(0).shape, [0]);
  assert.equal(arange(3, 3).shape, [0]);
  // stepping away from stop gives nothing, not an error
  assert.equal(arange(0, -3).shape, [0]);
  assert.equal(arange(0, 3, -1).shape, [0]);
  assert.throws(() => arange(0, 3, 0), /arange: needs finite start, stop and a non-zero step/);
  assert.throws(() => arange(0, Number.POSITIVE_INFINITY), /arange:/);
});

ranges("arange with an explicit dtype", () => {
  const t = arange(3, undefined, 1, { dtype: "float64" });
  assert.is(t.dtype, "float64");
  assert.equal(values(t), [0, 1, 2]);
});

ranges("linspace includes both ends", () => {
  const t = linspace(0, 1, 5);
  assert.is(t.dtype, "float32");
  assert.equal(values(t), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(values(linspace(2, -2, 3)), [2, 0, -2]);
  assert.equal(values(linspace(7, 9, 1)), [7]);
  assert.equal(linspace(0, 1, 0).shape, [0]);
  // float64 keeps the exact thirds: 1/3 is not rounded to float32
  assert.equal(values(linspace(0, 1, 4, { dtype: "float64" })), [0, 1 / 3, 2 / 3, 1]);
  assert.throws(() => linspace(0, 1, 2.5), /linspace: n must be a non-negative integer/);
  assert.throws(() => linspace(0, 1, -1), /linspace:/);
});

ranges("eye, square and not", () => {
  assert.equal(eye(2).toArray(), [
    [1, 0],
    [0, 1],
  ]);
  assert.equal(eye(2, 3).toArray(), [
    [1, 0, 0],
    [0, 1, 0],
  ]);
  assert.equal(eye(3, 2).toArray(), [
    [1, 0],
    [0, 1],
    [0, 0],
  ]);
  assert.is(eye(2, 2, { dtype: "int32" }).dtype, "int32");
  assert.equal(eye(0).shape, [0, 0]);
  assert.throws(() => eye(-1), /eye:/);
});

// ---- random -------------------------------------------------------------------------------------

const random = suite("random factories");

const FACTORIES: [string, (options: { generator?: Generator; dtype?: "float32" | "float64" }) => Tensor][] = [
  ["randn", (o) => randn([64], o)],
  ["rand", (o) => rand([64], o)],
  ["uniform", (o) => uniform([64], -2, 3, o)],
  ["normal", (o) => normal([64], 5, 0.1, o)],
  ["randint", (o) => randint(-10, 10, [64], o)],
];

random("manualSeed makes the global generator repeat", () => {
  for (const [name, make] of FACTORIES) {
    manualSeed(123);
    const a = values(make({}));
    manualSeed(123);
    const b = values(make({}));
    assert.equal(a, b, name);
    manualSeed(124);
    assert.not.equal(values(make({})), a, `${name} with another seed`);
  }
});

random("successive calls continue the stream", () => {
  manualSeed(9);
  const first = values(rand([8]));
  const second = values(rand([8]));
  assert.not.equal(first, second);
  manualSeed(9);
  // one call of 16 draws the same numbers as two calls of 8
  assert.equal(values(rand([16])), [...first, ...second]);
});

random("explicit Generator objects are independent of the global one and of each other", () => {
  for (const [name, make] of FACTORIES) {
    const a = values(make({ generator: new Generator(42) }));
    manualSeed(0);
    rand([10]); // advancing the global generator must not matter
    const b = values(make({ generator: new Generator(42) }));
    assert.equal(a, b, name);
    assert.not.equal(values(make({ generator: new Generator(43) })), a, `${name} with another seed`);
  }
  // string seeds work too
  assert.equal(values(rand([4], { generator: new Generator("abc") })), values(rand([4], { generator: new Generator("abc") })));
});

random("float64 factories hold the generator's doubles; float32 rounds them once", () => {
  const exact = Array.from(new Generator(3).normal(7, 1, 2));
  const t64 = normal([7], 1, 2, { generator: new Generator(3), dtype: "float64" });
  assert.is(t64.dtype, "float64");
  assert.equal(values(t64), exact);
  const t32 = normal([7], 1, 2, { generator: new Generator(3) });
  assert.is(t32.dtype, "float32");
  assert.equal(values(t32), exact.map(Math.fround));
  assert.equal(values(rand([5], { generator: new Generator(4), dtype: "float64" })), Array.from(new Generator(4).uniform(5)));
});

random("random float factories refuse integer dtypes", () => {
  assert.throws(() => randn([2], { dtype: "int32" }), /randn: produces floats/);
  assert.throws(() => rand([2], { dtype: "bool" }), /rand: produces floats/);
});

random("randn: mean ≈ 0 and std ≈ 1 over 10,000 samples, with an odd count", () => {
  // the standard error of the mean is 1/√10000 = 0.01; 0.05 is five of them
  const s = stats(randn([10_001], { generator: new Generator(1) }).dataSync());
  assert.ok(Math.abs(s.mean) < 0.05, `mean ${s.mean}`);
  assert.ok(Math.abs(s.std - 1) < 0.05, `std ${s.std}`);
  // P(|z| > 6) is about 2e-9 per sample: a sample that far out means a broken transform
  assert.ok(s.min > -6 && s.max < 6, `range ${s.min}..${s.max}`);
  assert.ok(s.min < -2.5 && s.max > 2.5, "the tails are missing");
});

random("normal, rand and uniform have the requested moments and range", () => {
  const n = stats(normal([10_000], 3, 0.5, { generator: new Generator(2) }).dataSync());
  assert.ok(Math.abs(n.mean - 3) < 0.05 && Math.abs(n.std - 0.5) < 0.025, JSON.stringify(n));
  const r = stats(rand([10_000], { generator: new Generator(3) }).dataSync());
  // U(0,1): mean 1/2, std 1/√12 ≈ 0.2887
  assert.ok(Math.abs(r.mean - 0.5) < 0.02 && Math.abs(r.std - 1 / Math.sqrt(12)) < 0.02, JSON.stringify(r));
  assert.ok(r.min >= 0 && r.max < 1);
  const u = stats(uniform([10_000], -2, 6, { generator: new Generator(4) }).dataSync());
  // U(-2,6): mean 2, std 8/√12 ≈ 2.309
  assert.ok(Math.abs(u.mean - 2) < 0.15 && Math.abs(u.std - 8 / Math.sqrt(12)) < 0.1, JSON.stringify(u));
  assert.ok(u.min >= -2 && u.max < 6 && u.min < -1.9 && u.max > 5.9);
});

random("randint stays in [low, high) and reaches both ends", () => {
  const t = randint(-3, 4, [5000], { generator: new Generator(5) });
  assert.is(t.dtype, "int32");
  const seen = new Set(values(t));
  assert.equal(
    [...seen].sort((a, b) => a - b),
    [-3, -2, -1, 0, 1, 2, 3],
  );
  assert.equal(values(randint(7, 8, [4])), [7, 7, 7, 7]);
  assert.is(randint(0, 2, [3], { dtype: "float32" }).dtype, "float32");
  assert.throws(() => randint(3, 3, [2]), /randint: needs integers low < high, got low=3, high=3/);
  assert.throws(() => randint(0, 2.5, [2]), /randint:/);
});

random("Generator getState/setState resumes exactly", () => {
  const g = new Generator(77);
  g.uniform(13); // somewhere in the middle of the stream
  const state = g.getState();
  const next = Array.from(g.normal(9));
  const after = g.random();
  g.setState(state);
  assert.equal(Array.from(g.normal(9)), next);
  assert.is(g.random(), after);
  // a state restored into another generator continues the same stream
  const other = new Generator(0);
  other.setState(state);
  assert.equal(values(randn([9], { generator: other, dtype: "float64" })), next);
});

random("getState is a snapshot: drawing afterwards does not change it", () => {
  const g = new Generator(8);
  const state = g.getState();
  const copy = JSON.stringify(state);
  g.uniform(100);
  assert.is(JSON.stringify(state), copy);
});

// ---- multinomial --------------------------------------------------------------------------------

random("uniform and normal refuse bounds PyTorch refuses, instead of drawing from the wrong range", () => {
  assert.throws(() => uniform([3], 1, 0), /uniform: needs finite bounds with low <= high, got low=1, high=0/);
  assert.throws(() => uniform([3], 0, Number.POSITIVE_INFINITY), /uniform: needs finite bounds/);
  assert.throws(() => normal([2], 0, -1), /normal: needs a finite mean and a finite std >= 0, got mean=0, std=-1/);
  assert.throws(() => normal([2], Number.NaN, 1), /normal: needs a finite mean/);
});

const draws = suite("multinomial");

draws("with replacement follows the weights and never draws a zero weight", async () => {
  const t = await multinomial(tensor([0, 1, 0, 3]), 4000, { replacement: true, generator: new Generator(11) });
  assert.is(t.dtype, "int32");
  assert.equal(t.shape, [4000]);
  const counts = [0, 0, 0, 0];
  for (const v of t.dataSync()) counts[v]++;
  assert.is(counts[0], 0);
  assert.is(counts[2], 0);
  // weight 1 of 4: expected 1000, std √(4000·¼·¾) ≈ 27
  assert.ok(Math.abs(counts[1] - 1000) < 150, `counts ${counts}`);
});

draws("without replacement gives distinct categories, all positive-weight ones first", async () => {
  const g = new Generator(12);
  for (let trial = 0; trial < 50; trial++) {
    const t = await multinomial(tensor([0.5, 0, 2, 1, 0.1]), 4, { generator: g });
    const picks = values(t);
    assert.is(new Set(picks).size, 4, `repeats in ${picks}`);
    assert.not.ok(picks.includes(1), `zero weight drawn in ${picks}`);
  }
});

draws("rows of a [N, C] matrix are sampled independently", async () => {
  const probs = tensor([
    [1, 0, 0],
    [0, 0, 5],
  ]);
  const t = await multinomial(probs, 3, { replacement: true });
  assert.equal(t.shape, [2, 3]);
  assert.equal(t.toArray(), [
    [0, 0, 0],
    [2, 2, 2],
  ]);
});

draws("rounding cannot walk onto a trailing zero weight", async () => {
  // the largest double below 1, which Alea can return: u = r·total is then within rounding of total,
  // and the running subtraction 0.1, 0.1, 0.6 used to leave u >= 0 at the zero-weight last category
  class AtTheTop extends Generator {
    override random(): number {
      return 1 - 2 ** -53;
    }
  }
  const t = await multinomial(tensor([0.1, 0.1, 0.6, 0], undefined, "float64"), 1, { generator: new AtTheTop() });
  assert.equal(values(t), [2]);
});

draws("same generator seed, same draws", async () => {
  const p = tensor([1, 2, 3, 4]);
  const a = values(await multinomial(p, 3, { generator: new Generator(5) }));
  const b = values(await multinomial(p, 3, { generator: new Generator(5) }));
  assert.equal(a, b);
});

draws("errors", async () => {
  await assertRejects(multinomial(tensor([1, -1, 2]), 1), /multinomial: row 0 has a negative, infinite or NaN weight/);
  await assertRejects(multinomial(tensor([1, Number.NaN]), 1), /multinomial: row 0 has a negative/);
  await assertRejects(multinomial(tensor([1, 1]), 3), /multinomial: cannot draw 3 samples without replacement from 2 categories/);
  await assertRejects(multinomial(tensor([0, 0]), 1), /multinomial: row 0 has no positive weight/);
  // without replacement, the positive weights run out before the samples do
  await assertRejects(multinomial(tensor([1, 0, 0]), 2), /multinomial: row 0 has no positive weight left/);
  await assertRejects(multinomial(tensor([1, 1]), 0), /multinomial: numSamples must be a positive integer/);
  await assertRejects(multinomial(zeros([1, 2, 2]), 1), /multinomial: probs must be \[C\] or \[N, C\], got \[1,2,2\]/);
});

fromData.run();
constants.run();
ranges.run();
random.run();
draws.run();

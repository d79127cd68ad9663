/**
 * @file Initialisation: fans and gains against PyTorch's documented formulas, worked by hand; each
 * scheme's bounds and spread over 20,000 samples; repeatability from a seed; Linear's default bound.
 */

import { Generator, manualSeed, type Tensor } from "@tsgrad/core";
import { assertArrayClose, tolerance } from "@tsgrad/core/testing";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  Embedding,
  fans,
  gain,
  kaimingNormal,
  kaimingUniform,
  Linear,
  type Nonlinearity,
  normalInit,
  uniformInit,
  xavierNormal,
  xavierUniform,
  zerosInit,
} from "../src/index.ts";

const N = 20_000;

interface Stats {
  mean: number;
  std: number;
  min: number;
  max: number;
}

async function stats(t: Tensor): Promise<Stats> {
  const v = await t.data();
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of v) {
    sum += x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = sum / v.length;
  let sq = 0;
  for (const x of v) sq += (x - mean) ** 2;
  return { mean, std: Math.sqrt(sq / v.length), min, max };
}

/**
 * Sample mean and standard deviation within 5 standard errors of the truth: σ/√n for the mean and
 * σ/√(2n) for the std (normal samples; uniform ones spread less), so a correct scheme fails with
 * probability below 1e-6, while a wrong gain or fan (off by √2 or more) is far outside.
 */
function assertSpread(s: Stats, mean: number, std: number, what: string): void {
  const meanBound = (5 * std) / Math.sqrt(N);
  const stdBound = (5 * std) / Math.sqrt(2 * N);
  assert.ok(Math.abs(s.mean - mean) <= meanBound, `${what}: mean ${s.mean}, expected ${mean} ± ${meanBound}`);
  assert.ok(Math.abs(s.std - std) <= stdBound, `${what}: std ${s.std}, expected ${std} ± ${stdBound}`);
}

/** Every sample inside [-bound, bound], and the extremes near both ends (20,000 draws reach within 0.1%). */
function assertUniformBound(s: Stats, bound: number, what: string): void {
  assert.ok(s.min >= -bound && s.max <= bound, `${what}: samples in [${s.min}, ${s.max}], expected within ±${bound}`);
  assert.ok(s.min < -0.999 * bound && s.max > 0.999 * bound, `${what}: extremes ${s.min}, ${s.max} do not reach ±${bound}`);
}

// ---- fans and gains ---------------------------------------------------------------------------------

const formulas = suite("fans and gain");

formulas("fans of a weight [out, in, ...kernel]: fanIn = in·Πkernel, fanOut = out·Πkernel", () => {
  // a Linear weight [out 4, in 3] has no kernel axes
  assert.equal(fans([4, 3]), { fanIn: 3, fanOut: 4 });
  // a conv weight [out 8, in 4, 3, 3]: receptive field 3·3 = 9, so fanIn 4·9 = 36 and fanOut 8·9 = 72
  assert.equal(fans([8, 4, 3, 3]), { fanIn: 36, fanOut: 72 });
  assert.equal(fans([5, 0]), { fanIn: 0, fanOut: 5 });
});

formulas("fans need at least two axes", () => {
  assert.throws(() => fans([7]), /^init: fan in and fan out need a shape with at least 2 axes, got \[7\]$/);
  assert.throws(() => kaimingUniform([]), /init: fan in and fan out need a shape with at least 2 axes, got \[\]/);
});

formulas("gain per nonlinearity, as torch.nn.init.calculate_gain", () => {
  assert.is(gain("linear"), 1);
  assert.is(gain("sigmoid"), 1);
  assert.is(gain("tanh"), 5 / 3);
  assert.is(gain("relu"), Math.SQRT2);
  // leaky_relu: √(2 / (1 + slope²)); the default slope is 0.01, so √(2 / 1.0001)
  assert.is(gain("leaky_relu"), Math.sqrt(2 / 1.0001));
  // slope √5 (Linear's default): √(2 / 6) = 1/√3
  assert.ok(Math.abs(gain("leaky_relu", Math.sqrt(5)) - 1 / Math.sqrt(3)) < 1e-15);
  assert.is(gain("leaky_relu", 0), Math.SQRT2);
});

formulas("an unknown nonlinearity is refused with the list of known ones", () => {
  assert.throws(
    () => gain("gelu" as Nonlinearity),
    /^gain: nonlinearity must be one of linear, sigmoid, tanh, relu, leaky_relu, got "gelu"$/,
  );
  assert.throws(() => kaimingNormal([2, 2], { nonlinearity: "selu" as Nonlinearity }), /gain: nonlinearity must be one of .*got "selu"/);
});

// ---- schemes ----------------------------------------------------------------------------------------

const schemes = suite("schemes: bounds and spread over 20,000 samples");

schemes("uniformInit(low, high) stays in [low, high) with mean (low+high)/2 and std (high-low)/√12", async () => {
  const s = await stats(uniformInit([N], -2, 3, { generator: new Generator(1) }));
  assert.ok(s.min >= -2 && s.max < 3);
  // mean 1/2, std 5/√12
  assertSpread(s, 0.5, 5 / Math.sqrt(12), "uniformInit");
});

schemes("normalInit(mean, std)", async () => {
  assertSpread(await stats(normalInit([N], 1, 2, { generator: new Generator(2) })), 1, 2, "normalInit");
});

schemes("zerosInit is all zeros, in the dtype asked for", async () => {
  const z = zerosInit([3, 2], { dtype: "float64" });
  assert.is(z.dtype, "float64");
  assert.equal(Array.from(await z.data()), [0, 0, 0, 0, 0, 0]);
});

schemes("kaimingUniform: U(±gain·√(3/fan)); defaults leaky_relu with a = 0 and fanIn", async () => {
  // [200, 100]: fanIn 100, gain √2, bound √2·√(3/100) = √6/10, std bound/√3 = √2/10
  const s = await stats(kaimingUniform([200, 100], { generator: new Generator(3) }));
  assertUniformBound(s, Math.sqrt(6) / 10, "kaimingUniform");
  assertSpread(s, 0, Math.SQRT2 / 10, "kaimingUniform");
  // fanOut of [100, 200] is 100 too: the same bound
  assertUniformBound(await stats(kaimingUniform([100, 200], { mode: "fanOut", generator: new Generator(3) })), Math.sqrt(6) / 10, "fanOut");
  // tanh, fanIn 400: bound (5/3)·√(3/400) = (5/3)·√3/20 = √3/12
  assertUniformBound(
    await stats(kaimingUniform([50, 400], { nonlinearity: "tanh", generator: new Generator(4) })),
    Math.sqrt(3) / 12,
    "tanh",
  );
});

schemes("kaimingNormal: N(0, (gain/√fan)²)", async () => {
  // relu, fanIn 200: std √2/√200 = 0.1
  assertSpread(await stats(kaimingNormal([100, 200], { nonlinearity: "relu", generator: new Generator(5) })), 0, 0.1, "kaimingNormal");
  // leaky_relu with a = 1: gain √(2/2) = 1; fanOut 100 of [100, 200]: std 1/10
  assertSpread(await stats(kaimingNormal([100, 200], { a: 1, mode: "fanOut", generator: new Generator(6) })), 0, 0.1, "fanOut");
});

schemes("xavierUniform: U(±gain·√(6/(fanIn + fanOut)))", async () => {
  // [100, 200]: fanIn + fanOut = 300, bound √(6/300) = √0.02
  const s = await stats(xavierUniform([100, 200], { generator: new Generator(7) }));
  assertUniformBound(s, Math.sqrt(0.02), "xavierUniform");
  assertSpread(s, 0, Math.sqrt(0.02 / 3), "xavierUniform");
  // gain 3 triples it
  assertUniformBound(await stats(xavierUniform([100, 200], { gain: 3, generator: new Generator(7) })), 3 * Math.sqrt(0.02), "gain 3");
});

schemes("xavierNormal: N(0, gain²·2/(fanIn + fanOut))", async () => {
  // gain 2, [100, 200]: std 2·√(2/300)
  assertSpread(await stats(xavierNormal([100, 200], { gain: 2, generator: new Generator(8) })), 0, 2 * Math.sqrt(2 / 300), "xavierNormal");
});

schemes("Linear's default init is U(±1/√in) for weight and bias", async () => {
  // kaimingUniform with a = √5: gain 1/√3, bound √3·(1/√3)/√in = 1/√in = 1/20 for in = 400
  const layer = new Linear(400, 50, { generator: new Generator(9) });
  assertUniformBound(await stats(layer.weight), 1 / 20, "Linear weight");
  const bias = await stats(layer.bias as Tensor);
  assert.ok(bias.min >= -1 / 20 && bias.max <= 1 / 20, `bias in [${bias.min}, ${bias.max}]`);
  // 50 draws of U(±1/20) cover at least half the range
  assert.ok(bias.max - bias.min > 1 / 20);
});

schemes("Embedding's default init is N(0, 1)", async () => {
  assertSpread(await stats(new Embedding(200, 100, { generator: new Generator(10) }).weight), 0, 1, "Embedding");
});

// ---- seeds and options ------------------------------------------------------------------------------

const seeds = suite("seeds and options");

seeds("the same seed gives the same numbers; another seed does not", async () => {
  const draw = (seed: number) => kaimingUniform([4, 3], { generator: new Generator(seed) }).data();
  assert.equal(await draw(11), await draw(11));
  assert.not.equal(await draw(11), await draw(12));
  const layer = async (seed: number) => {
    const l = new Linear(3, 2, { generator: new Generator(seed) });
    return [await l.weight.data(), await (l.bias as Tensor).data()];
  };
  assert.equal(await layer(13), await layer(13));
});

seeds("without a generator, the global one is used: manualSeed makes it repeat", async () => {
  manualSeed(21);
  const first = await xavierNormal([3, 3]).data();
  const second = await xavierNormal([3, 3]).data();
  manualSeed(21);
  assert.equal(await xavierNormal([3, 3]).data(), first);
  assert.not.equal(second, first);
});

seeds("a generator is consumed in order: weight, then bias", async () => {
  // Linear(2, 1) draws 2 weights then 1 bias from one stream: the bias is the third number drawn
  const g = new Generator(14);
  const numbers = new Generator(14).uniform(3);
  const l = new Linear(2, 1, { generator: g });
  // weight bound 1/√2 maps u to (2u - 1)/√2; bias the same
  const expected = Array.from(numbers, (u) => (2 * u - 1) / Math.SQRT2);
  const got = [...(await l.weight.data()), ...(await (l.bias as Tensor).data())];
  assertArrayClose(got, expected, tolerance("reference", "float32", "elementwise"));
});

seeds("dtype passes through", () => {
  assert.is(kaimingUniform([2, 2], { dtype: "float64" }).dtype, "float64");
  assert.is(normalInit([2], 0, 1, { dtype: "float64" }).dtype, "float64");
  assert.is(new Linear(2, 2, { dtype: "float64" }).bias?.dtype, "float64");
});

seeds("bad arguments are refused, naming what was given", () => {
  assert.throws(() => uniformInit([2], 1, 0), /^uniformInit: needs finite bounds low <= high, got low=1, high=0$/);
  assert.throws(() => uniformInit([2], 0, Number.POSITIVE_INFINITY), /uniformInit: needs finite bounds .*high=Infinity/);
  assert.throws(() => normalInit([2], 0, -1), /^normalInit: needs a finite mean and a finite std >= 0, got mean=0, std=-1$/);
  assert.throws(() => normalInit([2], Number.NaN, 1), /normalInit: .*got mean=NaN, std=1/);
  assert.throws(() => kaimingUniform([2, 2], { mode: "fan_in" as "fanIn" }), /^kaiming: mode must be "fanIn" or "fanOut", got "fan_in"$/);
  assert.throws(() => kaimingNormal([2, 2], { mode: "out" as "fanOut" }), /kaiming: mode must be "fanIn" or "fanOut", got "out"/);
});

formulas.run();
schemes.run();
seeds.run();

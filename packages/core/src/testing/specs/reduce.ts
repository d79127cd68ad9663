/**
 * @file Specs of the reductions: sum, max, min, argmax, argmin (primitives) and mean, variance, std,
 * logSumExp (composites). Each example's expected values are worked out by hand in its comment; gradients
 * are for an upstream gradient of ones.
 */

import fc from "fast-check";
import { type Axes, argmax, argmin, logSumExp, max, mean, min, reshape, std, sum, type Tensor, tensor, variance } from "../../index.ts";
import { sizeOf } from "../../shape.ts";
import { type ShapeOptions, shapeArb, valuesArb } from "../arbitraries.ts";
import { discreteInputs, type InputData, type OpSpec, oneInput } from "./spec.ts";

const LN2 = Math.LN2;
const LN3 = Math.log(3);
const INF = Number.POSITIVE_INFINITY;
// no zero-size axes: max and min over one throw
const NONEMPTY: ShapeOptions = { maxRank: 3, minDim: 1, maxDim: 4, maxSize: 24 };
const t = (values: number[]) => tensor(values);
const notATensor = "x" as unknown as Tensor;

// [[1,2,3],[4,5,6]] and [[[1,2],[3,4]],[[5,6],[7,8]]]: the shared inputs of the sum and mean examples
const M23 = [
  [1, 2, 3],
  [4, 5, 6],
];
const C222 = [
  [
    [1, 2],
    [3, 4],
  ],
  [
    [5, 6],
    [7, 8],
  ],
];
const ones23 = [
  [1, 1, 1],
  [1, 1, 1],
];

/**
 * The axes and keepdims of a gradcheck property, picked from the shape: InputData has no room for axes,
 * and a hash of the shape makes random shapes cover every axis (undefined), one negative axis and several
 * axes, each with keepdims on and off.
 */
function pick(shape: readonly number[]): [Axes, boolean] {
  const h = shape.reduce((acc, d, i) => acc + d * (i + 2), shape.length);
  const keepdims = h % 2 === 0;
  if (h % 3 === 0) return [undefined, keepdims];
  if (h % 3 === 1 || shape.length < 2) return [-1, keepdims];
  return [[0, -1], keepdims];
}

/** How many elements fold into each output element under pick. */
function reducedCount(shape: readonly number[]): number {
  const [axes] = pick(shape);
  const list = axes === undefined || axes === null ? shape.map((_, i) => i) : [axes].flat().map((a) => (a < 0 ? a + shape.length : a));
  return sizeOf(list.map((a) => shape[a] ?? 1));
}

/**
 * One input whose values are pairwise at least 0.15 apart (distinct multiples of 1/4, jittered by less
 * than 0.1): max and min are kinked at ties, and std's square root wants a spread away from 0.
 */
function distinctInput(): fc.Arbitrary<InputData> {
  return shapeArb(NONEMPTY).chain((shape) => {
    const n = sizeOf(shape);
    return fc
      .tuple(fc.uniqueArray(fc.integer({ min: -12, max: 12 }), { minLength: n, maxLength: n }), valuesArb(n, { min: 0, max: 0.1 }))
      .map(([steps, jitter]) => [{ shape, values: steps.map((k, i) => k / 4 + jitter[i]) }]);
  });
}

const outOfRange = (call: () => unknown, op: string) => ({
  call,
  message: new RegExp(`${op}: axis 2 is out of range for a tensor of rank 2 \\(expected -2\\.\\.1\\)`),
});
const duplicate = (call: () => unknown, op: string) => ({
  call,
  message: new RegExp(`${op}: axis 1 appears more than once in \\[1,-1\\]`),
});

export const reduceSpecs: OpSpec[] = [
  {
    name: "sum",
    opClass: "reduction",
    kind: "primitive",
    fn: (x) => sum(x, ...pick(x.shape)),
    examples: [
      // columns of M23: [1+4, 2+5, 3+6]; every element feeds one output once
      { fn: (x) => sum(x, 0), args: [M23], out: [5, 7, 9], grads: [ones23] },
      { note: "negative axis, keepdims", fn: (x) => sum(x, -1, true), args: [M23], out: [[6], [15]], grads: [ones23] },
      // axes 0 and 2 of C222 leave the middle one: j=0: 1+2+5+6 = 14, j=1: 3+4+7+8 = 22
      {
        note: "several axes",
        fn: (x) => sum(x, [0, 2]),
        args: [C222],
        out: [14, 22],
        grads: [
          [
            [
              [1, 1],
              [1, 1],
            ],
            [
              [1, 1],
              [1, 1],
            ],
          ],
        ],
      },
      // 1+2+...+6 = 21
      { note: "every axis", args: [M23], out: 21, shape: [], grads: [ones23] },
      { note: "rank 0 accepts axis -1", fn: (x) => sum(x, -1), args: [3.5], out: 3.5, shape: [], grads: [1] },
      { note: "an empty sum is 0", fn: (x) => sum(x), args: [[]], out: 0, shape: [], grads: [[]] },
      { note: "empty rows sum to 0", fn: (x) => sum(x, 1), args: [[[], []]], out: [0, 0], shape: [2], grads: [[[], []]] },
      // a bool sum counts the trues in int32: [2, 3] (a bool result could only hold 1)
      {
        note: "bool sums to int32",
        fn: (x) => sum(x, 1),
        args: [
          [
            [
              [true, false, true],
              [true, true, true],
            ],
            "bool",
          ],
        ],
        out: [2, 3],
      },
      { note: "int32", fn: (x) => sum(x, -1, true), args: [[M23, "int32"]], out: [[6], [15]] },
    ],
    errors: [
      outOfRange(() => sum(t([1, 2, 3, 4]).reshape([2, 2]), 2), "sum"),
      duplicate(() => sum(t([1, 2, 3, 4]).reshape([2, 2]), [1, -1]), "sum"),
      { call: () => sum(notATensor), message: /sum: expected a Tensor, number or boolean, got string/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "max",
    kind: "primitive",
    fn: (x) => max(x, ...pick(x.shape)),
    examples: [
      // the two tied 3s share the gradient: 1/2 each (PyTorch's amax)
      { note: "ties split the gradient", args: [[1, 3, 3]], out: 3, shape: [], grads: [[0, 0.5, 0.5]] },
      // row maxima 5 and 7; row 1 has 7 twice, so 1/2 each
      {
        fn: (x) => max(x, 1, true),
        args: [
          [
            [1, 5, 2],
            [7, 0, 7],
          ],
        ],
        out: [[5], [7]],
        grads: [
          [
            [0, 1, 0],
            [0.5, 0, 0.5],
          ],
        ],
      },
      // over axes 0 and -1, per middle index: j=0: max(1,8,5,6) = 8, j=1: max(3,4,7,2) = 7
      {
        note: "several axes, one negative",
        fn: (x) => max(x, [0, -1]),
        args: [
          [
            [
              [1, 8],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 2],
            ],
          ],
        ],
        out: [8, 7],
        grads: [
          [
            [
              [0, 1],
              [0, 0],
            ],
            [
              [0, 0],
              [1, 0],
            ],
          ],
        ],
      },
      { note: "NaN propagates", args: [[1, Number.NaN, 3]], out: Number.NaN, shape: [] },
      {
        note: "NaN propagates per row",
        fn: (x) => max(x, -1),
        args: [
          [
            [1, Number.NaN],
            [2, 3],
          ],
        ],
        out: [Number.NaN, 3],
      },
      { note: "rank 0", args: [-2], out: -2, shape: [], grads: [1] },
      {
        note: "int32",
        fn: (x) => max(x, 0),
        args: [
          [
            [
              [1, 5],
              [7, 2],
            ],
            "int32",
          ],
        ],
        out: [7, 5],
      },
      { note: "-inf is a maximum like any other", args: [[-INF, -INF]], out: -INF, shape: [] },
      { note: "an empty tensor reduced over a non-empty axis", fn: (x) => max(reshape(x, [0, 3]), 1), args: [[]], out: [], shape: [0] },
    ],
    errors: [
      { call: () => max(tensor([], [0])), message: /max: cannot reduce over axis 0 of length 0 \(shape \[0\]\): it has no max/ },
      outOfRange(() => max(t([1, 2, 3, 4]).reshape([2, 2]), 2), "max"),
      duplicate(() => max(t([1, 2, 3, 4]).reshape([2, 2]), [1, -1]), "max"),
    ],
    // distinct values: central differences straddling a tie would see the kink
    inputs: distinctInput(),
  },
  {
    name: "min",
    kind: "primitive",
    fn: (x) => min(x, ...pick(x.shape)),
    examples: [
      { note: "ties split the gradient", args: [[2, 1, 1]], out: 1, shape: [], grads: [[0, 0.5, 0.5]] },
      // row minima: 1 and 0; row 1 has three 0s, so 1/3 each
      {
        fn: (x) => min(x, -1),
        args: [
          [
            [4, 1, 2],
            [0, 0, 0],
          ],
        ],
        out: [1, 0],
        grads: [
          [
            [0, 1, 0],
            [1 / 3, 1 / 3, 1 / 3],
          ],
        ],
      },
      // every axis with keepdims: min is -1, shape [1,1]
      {
        fn: (x) => min(x, undefined, true),
        args: [
          [
            [3, -1],
            [2, 5],
          ],
        ],
        out: [[-1]],
        shape: [1, 1],
        grads: [
          [
            [0, 1],
            [0, 0],
          ],
        ],
      },
      { note: "NaN propagates", args: [[Number.NaN, -1]], out: Number.NaN, shape: [] },
      { note: "bool", fn: (x) => min(x, 0), args: [[[[true, false]], "bool"]], out: [1, 0] },
    ],
    errors: [
      {
        call: () => min(tensor([], [2, 0]), 1),
        message: /min: cannot reduce over axis 1 of length 0 \(shape \[2,0\]\): it has no min/,
      },
      outOfRange(() => min(t([1, 2, 3, 4]).reshape([2, 2]), 2), "min"),
    ],
    inputs: distinctInput(),
  },
  {
    name: "argmax",
    parityInputs: discreteInputs(1, [-1, 0, 1, 2], { minDim: 1 }),
    kind: "primitive",
    fn: (x) => argmax(x, -1),
    nondifferentiable: true,
    examples: [
      // row 0: 5 at 1 and 2, row 1: 7 at 0 and 2; the first one wins
      {
        note: "first occurrence on ties",
        args: [
          [
            [1, 5, 5],
            [7, 0, 7],
          ],
        ],
        out: [1, 0],
      },
      // flattened [1,5,5,2]: the first 5 is at flat position 1
      {
        note: "no axis: the flattened position",
        fn: (x) => argmax(x),
        args: [
          [
            [1, 5],
            [5, 2],
          ],
        ],
        out: 1,
        shape: [],
      },
      // over axes [1, 2] of a [2, 2, 2] tensor: the position is h·2 + w within each 2×2 block;
      // block 0 [[1,9],[3,4]] peaks at (0,1) -> 1; block 1 [[0,2],[8,8]] peaks first at (1,0) -> 2
      {
        note: "several axes: the row-major position inside the reduced block",
        fn: (x) => argmax(x, [1, 2]),
        args: [
          [
            [
              [1, 9],
              [3, 4],
            ],
            [
              [0, 2],
              [8, 8],
            ],
          ],
        ],
        out: [1, 2],
      },
      // the same over axes [0, 2] with keepdims: for h = 0 the block is [[1,9],[0,2]] -> (0,1) -> 1;
      // for h = 1 it is [[3,4],[8,8]] -> (1,0) -> 2
      {
        note: "several non-adjacent axes, keepdims",
        fn: (x) => argmax(x, [0, -1], true),
        args: [
          [
            [
              [1, 9],
              [3, 4],
            ],
            [
              [0, 2],
              [8, 8],
            ],
          ],
        ],
        out: [[[1], [2]]],
        shape: [1, 2, 1],
      },
      {
        note: "no axis, keepdims",
        fn: (x) => argmax(x, undefined, true),
        args: [
          [
            [1, 5],
            [5, 2],
          ],
        ],
        out: [[1]],
        shape: [1, 1],
      },
      // column maxima: 7 in row 1, 5 in row 0
      {
        fn: (x) => argmax(x, 0, true),
        args: [
          [
            [1, 5],
            [7, 2],
          ],
        ],
        out: [[1, 0]],
      },
      { note: "NaN is the largest (NumPy)", fn: (x) => argmax(x), args: [[1, Number.NaN, 3, Number.NaN]], out: 1, shape: [] },
      { note: "rank 0", fn: (x) => argmax(x, 0), args: [4], out: 0, shape: [] },
      { note: "bool", args: [[[false, true, true], "bool"]], out: 1, shape: [] },
    ],
    errors: [
      { call: () => argmax(tensor([], [0])), message: /argmax: cannot take the position of an extreme in an empty tensor/ },
      { call: () => argmax(tensor([], [2, 0]), 1), message: /argmax: axis 1 has length 0 \(shape \[2,0\]\)/ },
      outOfRange(() => argmax(t([1, 2, 3, 4]).reshape([2, 2]), 2), "argmax"),
    ],
  },
  {
    name: "argmin",
    parityInputs: discreteInputs(1, [-1, 0, 1, 2], { minDim: 1 }),
    kind: "primitive",
    fn: (x) => argmin(x, -1),
    nondifferentiable: true,
    examples: [
      // row 0: 1 at 1 and 2, row 1: 0 at 0 and 2; the first one wins
      {
        note: "first occurrence on ties",
        args: [
          [
            [3, 1, 1],
            [0, 2, 0],
          ],
        ],
        out: [1, 0],
      },
      // flattened [4,-1,3,-1]: the first -1 is at 1
      {
        fn: (x) => argmin(x),
        args: [
          [
            [4, -1],
            [3, -1],
          ],
        ],
        out: 1,
        shape: [],
      },
      { note: "negative axis, keepdims", fn: (x) => argmin(x, -2, true), args: [[[4, -1]]], out: [[0, 0]] },
      { note: "int32", args: [[[5, -2, 7], "int32"]], out: 1, shape: [] },
    ],
    errors: [
      { call: () => argmin(tensor([], [3, 0])), message: /argmin: cannot take the position of an extreme in an empty tensor/ },
      { call: () => argmin(t([1, 2]), -2), message: /argmin: axis -2 is out of range for a tensor of rank 1 \(expected -1\.\.0\)/ },
    ],
  },

  // ---- composites ----
  {
    name: "mean",
    opClass: "reduction",
    kind: "composite",
    fn: (x) => mean(x, ...pick(x.shape)),
    examples: [
      // column means of M23: (1+4)/2, (2+5)/2, (3+6)/2; each element's weight is 1/2
      {
        fn: (x) => mean(x, 0),
        args: [M23],
        out: [2.5, 3.5, 4.5],
        grads: [
          [
            [0.5, 0.5, 0.5],
            [0.5, 0.5, 0.5],
          ],
        ],
      },
      // 21/6 = 3.5, weight 1/6
      {
        note: "every axis",
        args: [M23],
        out: 3.5,
        shape: [],
        grads: [
          [
            [1 / 6, 1 / 6, 1 / 6],
            [1 / 6, 1 / 6, 1 / 6],
          ],
        ],
      },
      // over axes 0 and -1 of C222: j=0: 14/4 = 3.5, j=1: 22/4 = 5.5; weight 1/4
      {
        note: "several axes, keepdims",
        fn: (x) => mean(x, [0, -1], true),
        args: [C222],
        out: [[[3.5], [5.5]]],
        shape: [1, 2, 1],
        grads: [
          [
            [
              [0.25, 0.25],
              [0.25, 0.25],
            ],
            [
              [0.25, 0.25],
              [0.25, 0.25],
            ],
          ],
        ],
      },
      // (0+1+0)/3 computed in float32: 1/3 rounds to Math.fround(1/3), which a float64 or int32 result would not give
      { note: "int32 averages in float32", fn: (x) => mean(x, -1), args: [[[[0, 1, 0]], "int32"]], out: [Math.fround(1 / 3)] },
      { note: "bool is the fraction of trues", args: [[[true, false, true, true], "bool"]], out: 0.75, shape: [] },
      { note: "rank 0", args: [-4], out: -4, shape: [], grads: [1] },
      { note: "an empty mean is 0/0 = NaN (torch.mean)", args: [[]], out: Number.NaN, shape: [] },
    ],
    errors: [
      outOfRange(() => mean(t([1, 2, 3, 4]).reshape([2, 2]), 2), "mean"),
      duplicate(() => mean(t([1, 2, 3, 4]).reshape([2, 2]), [1, -1]), "mean"),
    ],
    inputs: oneInput(),
  },
  {
    name: "variance",
    opClass: "reduction",
    kind: "composite",
    fn: (x) => {
      const [axes, keepdims] = pick(x.shape);
      return variance(x, axes, { keepdims });
    },
    examples: [
      // mean 3, deviations -2,-1,0,3, squares sum to 14, /(4-1) = 14/3; d/dx = 2(x-μ)/(n-1) (the mean's
      // own gradient drops out because the deviations sum to 0)
      { args: [[1, 2, 3, 6]], out: 14 / 3, shape: [], grads: [[-4 / 3, -2 / 3, 0, 2]] },
      // columns of [[1,2],[3,6]]: means 2 and 4, deviations ±1 and ±2, /(2-1): [2, 8]; d/dx = 2(x-μ)/1
      {
        note: "over an axis",
        fn: (x) => variance(x, 0),
        args: [
          [
            [1, 2],
            [3, 6],
          ],
        ],
        out: [2, 8],
        grads: [
          [
            [-2, -4],
            [2, 4],
          ],
        ],
      },
      // population variance per row: [1,3] has mean 2 and variance 1; [2,2] has 0; d/dx = 2(x-μ)/n
      {
        note: "correction 0, negative axis, keepdims",
        fn: (x) => variance(x, -1, { correction: 0, keepdims: true }),
        args: [
          [
            [1, 3],
            [2, 2],
          ],
        ],
        out: [[1], [0]],
        grads: [
          [
            [-1, 1],
            [0, 0],
          ],
        ],
      },
      { note: "one element with correction 1 is 0/0 = NaN (torch.var)", args: [[5]], out: Number.NaN, shape: [] },
    ],
    errors: [
      outOfRange(() => variance(t([1, 2, 3, 4]).reshape([2, 2]), 2), "variance"),
      duplicate(() => variance(t([1, 2, 3, 4]).reshape([2, 2]), [1, -1]), "variance"),
    ],
    // with correction 1 each output needs at least two elements, else it divides by 0
    inputs: oneInput().filter(([d]) => reducedCount(d.shape) >= 2),
    gradgrad: true,
  },
  {
    name: "std",
    opClass: "reduction",
    kind: "composite",
    fn: (x) => {
      const [axes, keepdims] = pick(x.shape);
      return std(x, axes, { keepdims });
    },
    examples: [
      // [1,3]: mean 2, variance (1+1)/1 = 2, std √2; d std = (x-μ)/((n-1)·std) = ∓1/√2
      { args: [[1, 3]], out: Math.SQRT2, shape: [], grads: [[-Math.SQRT1_2, Math.SQRT1_2]] },
      // population std per row: [1,3] → 1, [0,4] → mean 2, variance 4, std 2; d std = (x-μ)/(n·std): ∓1/2 both rows
      {
        note: "correction 0, negative axis, keepdims",
        fn: (x) => std(x, -1, { correction: 0, keepdims: true }),
        args: [
          [
            [1, 3],
            [0, 4],
          ],
        ],
        out: [[1], [2]],
        grads: [
          [
            [-0.5, 0.5],
            [-0.5, 0.5],
          ],
        ],
      },
    ],
    errors: [
      outOfRange(() => std(t([1, 2, 3, 4]).reshape([2, 2]), 2), "std"),
      duplicate(() => std(t([1, 2, 3, 4]).reshape([2, 2]), [1, -1]), "std"),
    ],
    // distinct values keep the variance, and so the square root's slope, away from 0
    inputs: distinctInput().filter(([d]) => reducedCount(d.shape) >= 2),
  },
  {
    name: "logSumExp",
    opClass: "reduction",
    kind: "composite",
    fn: (x) => logSumExp(x, ...pick(x.shape)),
    examples: [
      // ln(e^0 + e^ln3) = ln 4; the gradient is the softmax: [1/4, 3/4]
      { args: [[0, LN3]], out: 2 * LN2, shape: [], grads: [[0.25, 0.75]] },
      // rows: ln(1 + 3) = ln 4 and ln(2 + 2) = ln 4; softmaxes [1/4, 3/4] and [1/2, 1/2]
      {
        fn: (x) => logSumExp(x, -1, true),
        args: [
          [
            [0, LN3],
            [LN2, LN2],
          ],
        ],
        out: [[2 * LN2], [2 * LN2]],
        grads: [
          [
            [0.25, 0.75],
            [0.5, 0.5],
          ],
        ],
      },
      // ln(2e^1000) = 1000 + ln 2 without overflowing e^1000
      {
        note: "stable at ±1000",
        fn: (x) => logSumExp(x, 1),
        args: [
          [
            [1000, 1000],
            [-1000, -1000],
          ],
        ],
        out: [1000 + LN2, -1000 + LN2],
      },
      // ln(0 + 0) = -inf, ln(e^inf + e) = inf: the infinite maximum must not be subtracted (inf - inf = NaN)
      {
        note: "infinite maxima",
        fn: (x) => logSumExp(x, -1),
        args: [
          [
            [-INF, -INF],
            [INF, 1],
          ],
        ],
        out: [-INF, INF],
      },
      { note: "an empty sum of exponentials is 0, and ln 0 = -inf", args: [[]], out: -INF, shape: [] },
      { note: "rank 0", args: [2], out: 2, shape: [], grads: [1] },
    ],
    errors: [
      outOfRange(() => logSumExp(t([1, 2, 3, 4]).reshape([2, 2]), 2), "logSumExp"),
      duplicate(() => logSumExp(t([1, 2, 3, 4]).reshape([2, 2]), [1, -1]), "logSumExp"),
    ],
    inputs: oneInput(),
    gradgrad: true,
  },
];

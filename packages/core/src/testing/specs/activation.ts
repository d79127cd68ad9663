/**
 * @file Specs of the activation and normalisation composites (softmax, logSoftmax, softplus, gelu,
 * layerNorm, dropout) and of the cast primitive. Gradients are for an upstream gradient of ones unless
 * an example multiplies by weights to make them informative (softmax's rows sum to a constant, so ones
 * give it a zero gradient).
 */

import fc from "fast-check";
import {
  add,
  cast,
  type DType,
  dropout,
  Generator,
  gelu,
  layerNorm,
  logSoftmax,
  mul,
  softmax,
  softplus,
  type Tensor,
  tensor,
} from "../../index.ts";
import { shapeArb, valuesArb } from "../arbitraries.ts";
import { type InputData, type OpSpec, oneInput } from "./spec.ts";

const E = Math.E;
const LN2 = Math.LN2;
const LN3 = Math.log(3);
const f = (values: number[] | number[][]) => tensor(values, undefined, "float64");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const sigma = (x: number) => 1 / (1 + Math.exp(-x));

// gelu: Φ(1) = (1 + erf(1/√2))/2 with erf(1/√2) = 0.6826894921370859 (the 68% of one standard deviation);
// φ(1) = e^{-1/2}/√(2π); d/dx x·Φ(x) = Φ(x) + x·φ(x)
const ERF_1_SQRT2 = 0.6826894921370859;
const PHI1 = 0.5 * (1 + ERF_1_SQRT2);
const pdf1 = Math.exp(-0.5) / Math.sqrt(2 * Math.PI);
// gelu tanh form at ±1: u = √(2/π)·(1 + 0.044715), t = tanh u; d/dx = (1 + tanh)/2 + x/2·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²)
const C = Math.sqrt(2 / Math.PI);
const T1 = Math.tanh(C * 1.044715);
const DT1 = 0.5 * (1 - T1 * T1) * C * (1 + 3 * 0.044715);

// layerNorm of [1, 3]: mean 2, centred [-1, 1], variance 1, so y = [-r, r] with r = 1/√(1 + eps)
const EPS = 1e-5;
const R = 1 / Math.sqrt(1 + EPS);

// dropout masks: new Generator(0).uniform(4) = [0.595, 0.130, 0.479, 0.682]; an element is kept where u >= p

/** x [...lead, ...norm] with weight and bias of shape norm (one or two trailing axes). */
const layerNormInputs: fc.Arbitrary<InputData> = fc
  .tuple(shapeArb({ maxRank: 2, maxDim: 3 }), shapeArb({ minRank: 1, maxRank: 2, maxDim: 3 }))
  .chain(([lead, norm]) =>
    fc.tuple(valuesArb(size(lead) * size(norm)), valuesArb(size(norm)), valuesArb(size(norm))).map(
      ([xv, wv, bv]): InputData => [
        { shape: [...lead, ...norm], values: xv },
        { shape: norm, values: wv },
        { shape: norm, values: bv },
      ],
    ),
  );

const castTo = (dtype: DType) => (x: Tensor) => cast(x, dtype);

export const activationSpecs: OpSpec[] = [
  {
    name: "softmax",
    opClass: "reduction",
    kind: "primitive",
    fn: (x) => softmax(x),
    examples: [
      // e^0 : e^{ln 3} = 1 : 3; the outputs sum to 1 whatever x is, so a gradient of ones gives 0
      { args: [[0, LN3]], out: [0.25, 0.75], grads: [[0, 0]] },
      // weighting output 0 alone: ∂s₀/∂x = s₀·(e₀ - s) = [1/4·3/4, -1/4·3/4]
      { note: "weighted", fn: (x) => mul(softmax(x), f([1, 0])), args: [[0, LN3]], out: [0.25, 0], grads: [[3 / 16, -3 / 16]] },
      // down each column: [0, ln 3] -> [1/4, 3/4], [0, 0] -> [1/2, 1/2]
      {
        note: "axis 0",
        fn: (x) => softmax(x, 0),
        args: [
          [
            [0, 0],
            [LN3, 0],
          ],
        ],
        out: [
          [0.25, 0.5],
          [0.75, 0.5],
        ],
      },
      // the row maximum is subtracted first: e^{±2e4} would overflow
      { note: "no overflow at ±1e4", args: [[1e4, -1e4, 1e4]], out: [0.5, 0, 0.5], grads: [[0, 0, 0]] },
      // a -inf logit (a mask) gets probability 0 and no gradient
      {
        note: "masked logit",
        fn: (x) => mul(softmax(x), f([5, 1, 0])),
        args: [[Number.NEGATIVE_INFINITY, 0, LN3]],
        out: [0, 0.25, 0],
        grads: [[0, 3 / 16, -3 / 16]],
      },
      { note: "rank 0 is a single class", args: [2], out: 1, shape: [] },
      { note: "an empty axis", args: [[[], []]], out: [], shape: [2, 0] },
    ],
    errors: [{ call: () => softmax(f([1, 2]), 1), message: /softmax: axis 1 is out of range for a tensor of rank 1 \(expected -1..0\)/ }],
    inputs: oneInput(),
    gradgrad: true,
  },
  {
    name: "logSoftmax",
    opClass: "reduction",
    kind: "primitive",
    fn: (x) => logSoftmax(x),
    examples: [
      // ln(1/4), ln(3/4); d/dxⱼ Σᵢ(xᵢ - lse) = 1 - n·sⱼ = [1 - 2/4, 1 - 6/4]
      { args: [[0, LN3]], out: [-2 * LN2, LN3 - 2 * LN2], grads: [[0.5, -0.5]] },
      // x - lse with lse = 1e4 exactly (e^{-2e4} vanishes next to 1): [0, -2e4]; gradient 1 - 2·[1, 0]
      { note: "finite at ±1e4", args: [[1e4, -1e4]], out: [0, -2e4], grads: [[-1, 1]] },
      // per column: [0, ln 3] -> [ln 1/4, ln 3/4], [0, 0] -> [-ln 2, -ln 2]
      {
        note: "axis 0",
        fn: (x) => logSoftmax(x, 0),
        args: [
          [
            [0, 0],
            [LN3, 0],
          ],
        ],
        out: [
          [-2 * LN2, -LN2],
          [LN3 - 2 * LN2, -LN2],
        ],
        grads: [
          [
            [0.5, 0],
            [-0.5, 0],
          ],
        ],
      },
      // a -inf logit stays -inf and the others are as if it were absent: lse = ln(1 + 3); gradient 1 - 3·[0, 1/4, 3/4]
      {
        note: "masked logit",
        args: [[Number.NEGATIVE_INFINITY, 0, LN3]],
        out: [Number.NEGATIVE_INFINITY, -2 * LN2, LN3 - 2 * LN2],
        grads: [[1, 0.25, -1.25]],
      },
      { note: "an empty axis", args: [[[], []]], out: [], shape: [2, 0] },
      // (x − m) − log(1 + e^{-10}): the top class is −log(1 + e^{-10}) = −4.5398899e-5, kept in float32
      // (rounded once), where 1000 − (1000 + 4.54e-5) would round the sum to 1000 first: 0 or −6.1e-5
      {
        note: "exact at large logits, in float32",
        fn: (x) => logSoftmax(cast(x, "float32")),
        args: [[1000, 990]],
        out: [Math.fround(-Math.log1p(Math.exp(-10))), Math.fround(-10 - Math.log1p(Math.exp(-10)))],
      },
    ],
    errors: [{ call: () => logSoftmax(f([[1, 2]]), -3), message: /logSoftmax: axis -3 is out of range for a tensor of rank 2/ }],
    inputs: oneInput(),
  },
  {
    name: "softplus",
    opClass: "transcendental",
    kind: "composite",
    fn: (x) => softplus(x),
    examples: [
      // ln(1 + e^x): ln 2, ln 4, ln(4/3); the slope is σ(x): 1/2, 3/4, 1/4
      { args: [[0, LN3, -LN3]], out: [LN2, 2 * LN2, 2 * LN2 - LN3], grads: [[0.5, 0.75, 0.25]] },
      // ln(1 + e^{βx})/β with β = 2: at x = ln3/2, ln 4 / 2; at 0, ln 2 / 2; slope σ(βx): 3/4, 1/2
      { note: "beta", fn: (x) => softplus(x, { beta: 2 }), args: [[LN3 / 2, 0]], out: [LN2, LN2 / 2], grads: [[0.75, 0.5]] },
      // βx > threshold gives x itself (slope 1); at βx = threshold exactly, still the smooth form: ln(1 + e)
      {
        note: "threshold",
        fn: (x) => softplus(x, { threshold: 1 }),
        args: [[2, 1, 0.5]],
        out: [2, Math.log(1 + E), Math.log(1 + Math.exp(0.5))],
        grads: [[1, sigma(1), sigma(0.5)]],
      },
      // the default threshold is 20 in βx: x = 15 with β = 2 is past it
      { note: "threshold is in units of βx", fn: (x) => softplus(x, { beta: 2 }), args: [[15]], out: [15], grads: [[1]] },
      // no overflow either way: 1000 passes through, softplus(-1000) = e^{-1000} = 0 in float64
      { note: "±1000", args: [[1000, -1000]], out: [1000, 0], grads: [[1, 0]] },
    ],
    errors: [
      { call: () => softplus(f([1]), { beta: 0 }), message: /softplus: beta must be positive, got 0/ },
      { call: () => softplus(f([1]), { beta: Number.NaN }), message: /softplus: beta must be positive, got NaN/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "gelu",
    opClass: "transcendental",
    kind: "primitive",
    fn: (x) => gelu(x),
    examples: [
      // x·Φ(x): 0, Φ(1), -Φ(-1) = -(1 - Φ(1)); slope Φ(x) + x·φ(x): 1/2, Φ(1) + φ(1), 1 - Φ(1) - φ(1)
      { args: [[0, 1, -1]], out: [0, PHI1, -(1 - PHI1)], grads: [[0.5, PHI1 + pdf1, 1 - PHI1 - pdf1]] },
      // (1 + tanh u)/2 at x = 1 and -(1 - tanh u)/2 at x = -1 (tanh is odd)
      {
        note: "tanh form",
        fn: (x) => gelu(x, { approximate: "tanh" }),
        args: [[0, 1, -1]],
        out: [0, 0.5 * (1 + T1), -0.5 * (1 - T1)],
        grads: [[0.5, 0.5 * (1 + T1) + DT1, 0.5 * (1 - T1) - DT1]],
      },
      { note: "explicit none", fn: (x) => gelu(x, { approximate: "none" }), args: [[1]], out: [PHI1] },
    ],
    errors: [
      {
        call: () => gelu(f([1]), { approximate: "fast" as "tanh" }),
        message: /gelu: approximate must be "none" or "tanh", got "fast"/,
      },
    ],
    inputs: oneInput(),
  },
  {
    // the tanh form is a primitive of its own (gelu with approximate: "tanh" calls it)
    name: "geluTanh",
    opClass: "transcendental",
    kind: "primitive",
    fn: (x) => gelu(x, { approximate: "tanh" }),
    examples: [
      // (1 + tanh u)/2 at x = 1 and -(1 - tanh u)/2 at x = -1 (tanh is odd); slope 1/2 at 0
      { args: [[0, 1, -1]], out: [0, 0.5 * (1 + T1), -0.5 * (1 - T1)], grads: [[0.5, 0.5 * (1 + T1) + DT1, 0.5 * (1 - T1) - DT1]] },
      // far out the form is x (u = 14.5, so 1 + tanh u is 2 to float64 precision) and 0 at -10 (as x·σ(2u))
      { note: "saturated", args: [[10, -10]], out: [10, -10 / (1 + Math.exp(2 * Math.sqrt(2 / Math.PI) * (10 + 0.044715 * 1000)))] },
    ],
    errors: [
      { call: () => gelu("x" as unknown as Tensor, { approximate: "tanh" }), message: /gelu: the input must be a Tensor, got string "x"/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "layerNorm",
    opClass: "reduction",
    kind: "primitive",
    fn: (x, weight, bias) => layerNorm(x, weight.shape, weight, bias),
    examples: [
      // rows [1,3] and [0,4]: centred [-1,1] (variance 1) and [-2,2] (variance 4); each normalised row sums
      // to 0 whatever x is, so a gradient of ones gives 0
      {
        note: "no weight or bias",
        fn: (x) => layerNorm(x, [2]),
        args: [
          [
            [1, 3],
            [0, 4],
          ],
        ],
        out: [
          [-R, R],
          [-2 / Math.sqrt(4 + EPS), 2 / Math.sqrt(4 + EPS)],
        ],
        grads: [
          [
            [0, 0],
            [0, 0],
          ],
        ],
      },
      // y = [-r, r]; out = w·y + b. With g = w = [2, 3] reaching y: dx = r·(g - mean g - y·mean(g·y)), mean g = 5/2,
      // mean(g·y) = r/2: dx = r·[-1/2 + r²/2, 1/2 - r²/2]; dw = y; db = 1
      {
        args: [[[1, 3]], [2, 3], [0.5, -0.5]],
        out: [[-2 * R + 0.5, 3 * R - 0.5]],
        grads: [[[R * (-0.5 + (R * R) / 2), R * (0.5 - (R * R) / 2)]], [-R, R], [1, 1]],
      },
      // over the last two axes of [1,2,2]: mean 5/2, centred [-3/2,-1/2,1/2,3/2], variance (9+1+1+9)/16 = 5/4
      {
        note: "two trailing axes",
        fn: (x) => layerNorm(x, [2, 2]),
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
          ],
        ],
        out: [
          [
            [-1.5, -0.5],
            [0.5, 1.5],
          ].map((row) => row.map((c) => c / Math.sqrt(1.25 + EPS))),
        ],
        shape: [1, 2, 2],
      },
      // a constant row has variance 0: the output is the bias (eps keeps it finite)
      { note: "constant row", fn: (x, w, b) => layerNorm(x, [2], w, b), args: [[[5, 5]], [2, 3], [1, -1]], out: [[1, -1]] },
    ],
    errors: [
      {
        call: () => layerNorm(f([[1, 2]]), [2], undefined, undefined, -1),
        message: /layerNorm: eps must be a non-negative finite number, got -1/,
      },
      {
        call: () => layerNorm(f([[1, 2]]), [2], undefined, undefined, Number.NaN),
        message: /layerNorm: eps must be a non-negative finite number, got NaN/,
      },
      {
        call: () => layerNorm(f([[1, 2]]), [3]),
        message: /layerNorm: normalizedShape \[3\] must be the trailing axes of the input \[1,2\]/,
      },
      { call: () => layerNorm(f([[1, 2]]), []), message: /layerNorm: normalizedShape \[\] must be the trailing axes/ },
      { call: () => layerNorm(f([[1, 2]]), [2], f([1, 2, 3])), message: /layerNorm: weight has shape \[3\], expected \[2\]/ },
      { call: () => layerNorm(f([[1, 2]]), [2], undefined, f([[1, 2]])), message: /layerNorm: bias has shape \[1,2\], expected \[2\]/ },
    ],
    inputs: layerNormInputs,
  },
  {
    name: "dropout",
    kind: "composite",
    // a fresh generator per call, so every evaluation of a gradient check sees the same mask
    fn: (x) => dropout(x, 0.5, { generator: new Generator(3) }),
    examples: [
      // p = 1/2 keeps u >= 1/2: mask [1,0,0,1], scaled by 1/(1 - p) = 2
      {
        note: "p = 0.5, mask from Generator(0)",
        fn: (x) => dropout(x, 0.5, { generator: new Generator(0) }),
        args: [[1, 2, 3, 4]],
        out: [2, 0, 0, 8],
        grads: [[2, 0, 0, 2]],
      },
      // p = 1/4 keeps u >= 1/4: mask [1,0,1,1], scaled by 4/3; the mask follows the flat order of a [2,2]
      {
        note: "p = 0.25, rank 2",
        fn: (x) => dropout(x, 0.25, { generator: new Generator(0) }),
        args: [
          [
            [3, 6],
            [9, 12],
          ],
        ],
        out: [
          [4, 0],
          [12, 16],
        ],
        grads: [
          [
            [4 / 3, 0],
            [4 / 3, 4 / 3],
          ],
        ],
      },
      { note: "not training: identity", fn: (x) => dropout(x, 0.5, { training: false }), args: [[1, -2]], out: [1, -2], grads: [[1, 1]] },
      { note: "p = 0: identity", fn: (x) => dropout(x, 0), args: [[1, -2]], out: [1, -2], grads: [[1, 1]] },
      { note: "p = 1: zeros", fn: (x) => dropout(x, 1), args: [[1, -2]], out: [0, -0], grads: [[0, 0]] },
    ],
    errors: [
      { call: () => dropout(f([1]), 1.5), message: /dropout: p must be in \[0, 1\], got 1.5/ },
      { call: () => dropout(f([1]), -0.1), message: /dropout: p must be in \[0, 1\], got -0.1/ },
      { call: () => dropout(f([1]), Number.NaN), message: /dropout: p must be in \[0, 1\], got NaN/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "cast",
    kind: "primitive",
    fn: castTo("float32"),
    examples: [
      // rounds to the nearest float32; 1e-50 is below float32's smallest subnormal; the gradient passes through
      {
        note: "float64 -> float32",
        args: [[0.1, 1 / 3, 1e-50]],
        out: [Math.fround(0.1), Math.fround(1 / 3), 0],
        grads: [[1, 1, 1]],
      },
      { note: "float32 -> float64", fn: castTo("float64"), args: [[[0.1], "float32"]], out: [Math.fround(0.1)], grads: [[1]] },
      // the float32 rounding stays when coming back; the chain's gradient is still 1
      {
        note: "float64 -> float32 -> float64",
        fn: (x) => cast(cast(x, "float32"), "float64"),
        args: [[0.1, 2 ** 30 + 1]],
        out: [Math.fround(0.1), 2 ** 30],
        grads: [[1, 1]],
      },
      // float -> int32 -> bool: 0.7 truncates to 0, so it becomes false although 0.7 != 0
      { note: "float -> int32 -> bool", fn: (x) => cast(cast(x, "int32"), "bool"), args: [[0.7, -1.2]], out: [0, 1] },
      { note: "same dtype returns the input", fn: castTo("float64"), args: [[1.5]], out: [1.5], grads: [[1]] },
      // toward zero, as PyTorch: 1.7 -> 1, -1.7 -> -1, -0.5 -> 0
      { note: "float -> int32 truncates", fn: castTo("int32"), args: [[1.7, -1.7, 2.5, -0.5, 0]], out: [1, -1, 2, 0, 0] },
      // x != 0, and NaN != 0
      { note: "float -> bool", fn: castTo("bool"), args: [[0, -0.5, 2, Number.NaN, -0]], out: [0, 1, 1, 1, 0] },
      { note: "int32 -> bool", fn: castTo("bool"), args: [[[0, 3, -1], "int32"]], out: [0, 1, 1] },
      { note: "bool -> float32", fn: castTo("float32"), args: [[[true, false], "bool"]], out: [1, 0] },
      { note: "int32 -> float64", fn: castTo("float64"), args: [[[3, -2], "int32"]], out: [3, -2] },
      // x + trunc(x): only the float path carries a gradient; truncation is flat, so none flows through it
      {
        note: "no gradient through an int32 result",
        fn: (x) => add(x, cast(x, "int32")),
        args: [[1.7, -1.7]],
        out: [2.7, -2.7],
        grads: [[1, 1]],
      },
      // x·float(i): the float input gets i, the int32 input none
      {
        note: "gradient to float inputs only",
        fn: (x, i) => mul(x, cast(i, "float64")),
        args: [
          [1, 2],
          [[3, 4], "int32"],
        ],
        out: [3, 8],
        grads: [[3, 4], null],
      },
    ],
    errors: [
      {
        call: () => cast(f([1]), "float16" as DType),
        message: /cast: unknown dtype "float16"; expected float32, float64, int32 or bool/,
      },
      { call: () => cast([1, 2] as unknown as Tensor, "float32"), message: /cast: the input must be a Tensor, got an array \[1,2\]/ },
    ],
    // float32 rounding is a staircase: the step of float64 central differences (1e-6) sees it unless the
    // values are small enough that float32's spacing (below 2^-34 under 5e-4) is far finer than the step
    inputs: oneInput({ min: -5e-4, max: 5e-4 }),
  },
];

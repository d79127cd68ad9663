/**
 * @file Specs of the elementwise primitives and composites. Each example's expected values are worked
 * out by hand in its comment; gradients are for an upstream gradient of ones.
 */

import {
  abs,
  add,
  clamp,
  div,
  eq,
  erf,
  exp,
  ge,
  gt,
  le,
  log,
  log1p,
  logicalAnd,
  logicalNot,
  logicalOr,
  lt,
  maskedFill,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  reciprocal,
  relu,
  rsqrt,
  sigmoid,
  sign,
  sqrt,
  square,
  sub,
  type Tensor,
  tanh,
  tensor,
  where,
} from "../../index.ts";
import { apart, broadcastInputs, discreteInputs, type OpSpec, oneInput } from "./spec.ts";

const E = Math.E;
const t = (values: number[]) => tensor(values);
const notATensor = "x" as unknown as Tensor;
const badOperand = { call: () => exp(notATensor), message: /exp: expected a Tensor, number or boolean, got string/ };
const mismatch = (fn: (a: Tensor, b: Tensor) => Tensor, name: string) => ({
  call: () => fn(tensor([[1, 2, 3]]), tensor([[1, 2]])),
  message: new RegExp(`${name}: shapes \\[1,3\\] and \\[1,2\\] cannot be broadcast together \\(axis -1: 3 vs 2\\)`),
});
const typeError = (fn: (a: Tensor) => Tensor, name: string) => ({
  call: () => fn(notATensor),
  message: new RegExp(`${name}: expected a Tensor, number or boolean, got string`),
});

export const elementwiseSpecs: OpSpec[] = [
  // ---- unary primitives ----
  {
    name: "neg",
    kind: "primitive",
    fn: neg,
    // -x; d(-x) = -1
    examples: [{ args: [[1, -2, 0]], out: [-1, 2, -0], grads: [[-1, -1, -1]] }],
    errors: [typeError(neg, "neg")],
    inputs: oneInput(),
  },
  {
    name: "exp",
    opClass: "transcendental",
    kind: "primitive",
    fn: exp,
    // e^0 = 1, e^1 = e, e^-1 = 1/e; d e^x = e^x
    examples: [{ args: [[0, 1, -1]], out: [1, E, 1 / E], grads: [[1, E, 1 / E]] }],
    errors: [badOperand],
    inputs: oneInput(),
    gradgrad: true,
  },
  {
    name: "log",
    opClass: "transcendental",
    kind: "primitive",
    fn: log,
    // ln 1 = 0, ln e = 1, ln 0 = -inf; d ln x = 1/x
    examples: [
      { args: [[1, E, 0.5]], out: [0, 1, -Math.LN2], grads: [[1, 1 / E, 2]] },
      { note: "log 0 = -inf, log of a negative is NaN", args: [[0, -1]], out: [Number.NEGATIVE_INFINITY, Number.NaN] },
    ],
    errors: [typeError(log, "log")],
    inputs: oneInput({ min: 0.2, max: 4 }),
  },
  {
    name: "log1p",
    opClass: "transcendental",
    kind: "primitive",
    fn: log1p,
    // ln(1 + x); d = 1/(1 + x)
    examples: [{ args: [[0, E - 1, 1]], out: [0, 1, Math.LN2], grads: [[1, 1 / E, 0.5]] }],
    errors: [typeError(log1p, "log1p")],
    inputs: oneInput({ min: -0.8, max: 3 }),
  },
  {
    name: "sqrt",
    opClass: "transcendental",
    kind: "primitive",
    fn: sqrt,
    // √4 = 2, √9 = 3; d √x = 1/(2√x): 1/4, 1/6
    examples: [{ args: [[4, 9, 0.25]], out: [2, 3, 0.5], grads: [[0.25, 1 / 6, 1]] }],
    errors: [typeError(sqrt, "sqrt")],
    inputs: oneInput({ min: 0.2, max: 4 }),
  },
  {
    name: "tanh",
    opClass: "transcendental",
    kind: "primitive",
    fn: tanh,
    // tanh 0 = 0, tanh(ln 2) = (2 - 1/2)/(2 + 1/2) = 0.6; d = 1 - tanh²: 1, 0.64
    examples: [{ args: [[0, Math.LN2, -Math.LN2]], out: [0, 0.6, -0.6], grads: [[1, 0.64, 0.64]] }],
    errors: [typeError(tanh, "tanh")],
    inputs: oneInput(),
    gradgrad: true,
  },
  {
    name: "sigmoid",
    opClass: "transcendental",
    kind: "primitive",
    fn: sigmoid,
    // σ(0) = 1/2, σ(ln 3) = 3/4; d = σ(1 - σ): 1/4, 3/16; stays finite at ±1000
    examples: [
      { args: [[0, Math.log(3), -Math.log(3)]], out: [0.5, 0.75, 0.25], grads: [[0.25, 3 / 16, 3 / 16]] },
      { note: "no overflow at ±1000", args: [[1000, -1000]], out: [1, 0], grads: [[0, 0]] },
    ],
    errors: [typeError(sigmoid, "sigmoid")],
    inputs: oneInput({ min: -6, max: 6 }),
  },
  {
    name: "erf",
    opClass: "transcendental",
    kind: "primitive",
    fn: erf,
    // erf 0 = 0, erf(±∞) = ±1, erf 1 = 0.8427007929497149 (tables); d erf = 2/√π·e^{-x²}
    examples: [
      {
        args: [[0, 1, -1]],
        out: [0, 0.8427007929497149, -0.8427007929497149],
        grads: [[2 / Math.sqrt(Math.PI), 2 / Math.sqrt(Math.PI) / E, 2 / Math.sqrt(Math.PI) / E]],
      },
      { args: [[Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5]], out: [1, -1, 0.5204998778130465] },
    ],
    errors: [typeError(erf, "erf")],
    inputs: oneInput(),
  },
  {
    name: "relu",
    kind: "primitive",
    fn: relu,
    // max(x, 0); gradient 1 for x > 0, 0 for x <= 0 (0 at the kink, as PyTorch)
    examples: [{ args: [[-1, 0, 2]], out: [0, 0, 2], grads: [[0, 0, 1]] }],
    errors: [typeError(relu, "relu")],
    inputs: oneInput({ avoid: [0] }),
  },
  {
    name: "abs",
    kind: "primitive",
    fn: abs,
    // |x|; gradient sign(x), 0 at 0 (PyTorch)
    examples: [{ args: [[-2, 0, 3]], out: [2, 0, 3], grads: [[-1, 0, 1]] }],
    errors: [typeError(abs, "abs")],
    inputs: oneInput({ avoid: [0] }),
  },
  {
    name: "sign",
    kind: "primitive",
    fn: sign,
    // -1, 0, 1; piecewise constant, so the gradient is 0
    examples: [{ args: [[-2, 0, 3]], out: [-1, 0, 1], grads: [[0, 0, 0]] }],
    errors: [typeError(sign, "sign")],
    inputs: oneInput({ avoid: [0] }),
  },
  {
    name: "logicalNot",
    parityInputs: discreteInputs(1, [-1, 0, 0.5, 2]),
    kind: "primitive",
    fn: logicalNot,
    nondifferentiable: true,
    examples: [
      { args: [[[true, false], "bool"]], out: [0, 1] },
      { note: "any dtype: true where zero", args: [[0, 2, -1]], out: [1, 0, 0] },
    ],
    errors: [typeError(logicalNot, "logicalNot")],
  },

  // ---- binary primitives ----
  {
    name: "add",
    kind: "primitive",
    fn: add,
    examples: [
      // [1,2] + [[10],[20]] broadcasts to [[11,12],[21,22]]; each input's gradient sums over its broadcast axes
      {
        args: [
          [1, 2],
          [[10], [20]],
        ],
        out: [
          [11, 12],
          [21, 22],
        ],
        grads: [
          [2, 2],
          [[2], [2]],
        ],
      },
      { note: "a JS number is a weak scalar", fn: (x) => add(x, 0.5), args: [[1, 2]], out: [1.5, 2.5], grads: [[1, 1]] },
    ],
    errors: [
      mismatch(add, "add"),
      { call: () => add(tensor([1]), null as unknown as Tensor), message: /add: expected a Tensor, number or boolean, got null/ },
    ],
    inputs: broadcastInputs(2),
    gradgrad: true,
  },
  {
    name: "sub",
    kind: "primitive",
    fn: sub,
    // [5,7] - [2] = [3,5]; d/da = 1, d/db = -1 summed over the broadcast: -2
    examples: [{ args: [[5, 7], [2]], out: [3, 5], grads: [[1, 1], [-2]] }],
    errors: [mismatch(sub, "sub")],
    inputs: broadcastInputs(2),
  },
  {
    name: "mul",
    kind: "primitive",
    fn: mul,
    // [2,3]·[[4],[5]] = [[8,12],[10,15]]; d/da = b summed over rows: 4+5 = 9 each; d/db = a summed: 2+3 = 5
    examples: [
      {
        args: [
          [2, 3],
          [[4], [5]],
        ],
        out: [
          [8, 12],
          [10, 15],
        ],
        grads: [
          [9, 9],
          [[5], [5]],
        ],
      },
    ],
    errors: [mismatch(mul, "mul")],
    inputs: broadcastInputs(2),
    gradgrad: true,
  },
  {
    name: "div",
    kind: "primitive",
    fn: div,
    // [6,3]/[2,4] = [3,0.75]; d/da = 1/b = [0.5,0.25]; d/db = -a/b² = [-1.5,-0.1875]
    examples: [
      {
        args: [
          [6, 3],
          [2, 4],
        ],
        out: [3, 0.75],
        grads: [
          [0.5, 0.25],
          [-1.5, -0.1875],
        ],
      },
      {
        note: "true division of int32",
        args: [
          [[7, 1], "int32"],
          [[2, 0], "int32"],
        ],
        out: [3.5, Number.POSITIVE_INFINITY],
      },
    ],
    errors: [mismatch(div, "div")],
    inputs: broadcastInputs(2, { min: 0.5, max: 3 }),
    gradgrad: true,
  },
  {
    name: "pow",
    opClass: "transcendental",
    kind: "primitive",
    fn: pow,
    // 2³ = 8, 9^0.5 = 3; d/da = b·a^(b-1) = 12, 1/6; d/db = a^b·ln a = 8 ln 2, 3 ln 9
    examples: [
      {
        args: [
          [2, 9],
          [3, 0.5],
        ],
        out: [8, 3],
        grads: [
          [12, 0.5 / 3],
          [8 * Math.LN2, 3 * Math.log(9)],
        ],
      },
      // 0^2 = 0: d/db is 0 there rather than 0·ln 0 = NaN; a^0 = 1 with d/da = 0, as PyTorch
      {
        note: "zero base and zero exponent",
        args: [
          [0, 5],
          [2, 0],
        ],
        out: [0, 1],
        grads: [
          [0, 0],
          [0, Math.log(5)],
        ],
      },
    ],
    errors: [mismatch(pow, "pow")],
    inputs: broadcastInputs(2, { min: 0.5, max: 2 }),
    gradgrad: true,
  },
  {
    name: "maximum",
    kind: "primitive",
    fn: maximum,
    // max([1,5,3],[4,2,3]) = [4,5,3]; the tie at 3 splits the gradient: 1/2 each (PyTorch)
    examples: [
      {
        args: [
          [1, 5, 3],
          [4, 2, 3],
        ],
        out: [4, 5, 3],
        grads: [
          [0, 1, 0.5],
          [1, 0, 0.5],
        ],
      },
    ],
    errors: [mismatch(maximum, "maximum")],
    // the gradcheck property keeps a and b apart: central differences straddling a tie see the kink
    inputs: broadcastInputs(2).filter(apart()),
  },
  {
    name: "minimum",
    kind: "primitive",
    fn: minimum,
    // min([1,5,3],[4,2,3]) = [1,2,3]; tie splits 1/2 each
    examples: [
      {
        args: [
          [1, 5, 3],
          [4, 2, 3],
        ],
        out: [1, 2, 3],
        grads: [
          [1, 0, 0.5],
          [0, 1, 0.5],
        ],
      },
    ],
    errors: [mismatch(minimum, "minimum")],
    inputs: broadcastInputs(2).filter(apart()),
  },
  ...(
    [
      ["eq", eq, [0, 1, 0]],
      ["ne", ne, [1, 0, 1]],
      ["lt", lt, [1, 0, 0]],
      ["le", le, [1, 1, 0]],
      ["gt", gt, [0, 0, 1]],
      ["ge", ge, [0, 1, 1]],
    ] as const
  ).map(
    ([name, fn, out]): OpSpec => ({
      name,
      kind: "primitive",
      fn,
      nondifferentiable: true,
      parityInputs: discreteInputs(2, [-1, 0, 0.5, 2]),
      // [1,2,3] against 2
      examples: [{ fn: (x) => fn(x, 2), args: [[1, 2, 3]], out: [...out] }],
      errors: [mismatch(fn, name)],
    }),
  ),
  {
    name: "logicalAnd",
    parityInputs: discreteInputs(2, [-1, 0, 0.5, 2]),
    kind: "primitive",
    fn: logicalAnd,
    nondifferentiable: true,
    examples: [
      {
        args: [
          [[true, true, false], "bool"],
          [[true, false, false], "bool"],
        ],
        out: [1, 0, 0],
      },
    ],
    errors: [mismatch(logicalAnd, "logicalAnd")],
  },
  {
    name: "logicalOr",
    parityInputs: discreteInputs(2, [-1, 0, 0.5, 2]),
    kind: "primitive",
    fn: logicalOr,
    nondifferentiable: true,
    examples: [
      {
        args: [
          [[true, true, false], "bool"],
          [[true, false, false], "bool"],
        ],
        out: [1, 1, 0],
      },
    ],
    errors: [mismatch(logicalOr, "logicalOr")],
  },
  {
    name: "where",
    kind: "primitive",
    fn: (a, b) => where(gt(a, 0), a, b),
    // picks a where a > 0: [1, b, 3]; the gradient goes to the picked side only
    examples: [
      {
        args: [
          [1, -1, 3],
          [10, 20, 30],
        ],
        out: [1, 20, 3],
        grads: [
          [1, 0, 1],
          [0, 1, 0],
        ],
      },
    ],
    errors: [
      { call: () => where(t([1, 0]), 1, 2), message: /where: the condition must be a bool tensor, got int32/ },
      { call: () => where(gt(t([1, 0]), 0), t([1, 2, 3]), 0), message: /where: shapes \[2\] and \[3\] and \[\] cannot be broadcast/ },
    ],
    inputs: broadcastInputs(2, { avoid: [0] }),
  },

  // ---- composites ----
  {
    name: "square",
    kind: "composite",
    fn: square,
    // x²; d = 2x
    examples: [{ args: [[3, -2]], out: [9, 4], grads: [[6, -4]] }],
    errors: [typeError(square, "mul")],
    inputs: oneInput(),
  },
  {
    name: "reciprocal",
    kind: "composite",
    fn: reciprocal,
    // 1/x; d = -1/x²
    examples: [{ args: [[2, -4]], out: [0.5, -0.25], grads: [[-0.25, -1 / 16]] }],
    errors: [typeError(reciprocal, "div")],
    inputs: oneInput({ min: 0.5, max: 3 }),
  },
  {
    name: "rsqrt",
    opClass: "transcendental",
    kind: "composite",
    fn: rsqrt,
    // 1/√x; d = -1/(2 x^{3/2}): at 4, -1/16
    examples: [{ args: [[4, 0.25]], out: [0.5, 2], grads: [[-1 / 16, -4]] }],
    errors: [typeError(rsqrt, "sqrt")],
    inputs: oneInput({ min: 0.5, max: 3 }),
  },
  {
    name: "clamp",
    kind: "composite",
    fn: (x) => clamp(x, -1, 2),
    // clamp to [-1, 2]; gradient 1 inside the closed interval (bounds included, as PyTorch), 0 outside
    examples: [{ args: [[-3, -1, 0.5, 2, 5]], out: [-1, -1, 0.5, 2, 2], grads: [[0, 1, 1, 1, 0]] }],
    errors: [{ call: () => clamp(t([1])), message: /clamp: needs at least one of min and max/ }],
    inputs: oneInput({ avoid: [-1, 2] }),
  },
  {
    name: "maskedFill",
    kind: "composite",
    fn: (x) => maskedFill(x, tensor([true, false, true]), -5),
    // masked positions become -5 and get no gradient
    examples: [{ args: [[1, 2, 3]], out: [-5, 2, -5], grads: [[0, 1, 0]] }],
    errors: [
      { call: () => maskedFill(t([1, 2]), t([1, 0]), 0), message: /maskedFill: the mask must be a bool tensor, got int32/ },
      {
        call: () => maskedFill(t([1, 2]), tensor([[true], [false]]), 0),
        message: /maskedFill: the mask's shape \[2,1\] must broadcast to x's shape \[2\]/,
      },
    ],
    inputs: oneInput({}, { minRank: 1, maxRank: 1, maxDim: 3, minDim: 3 }),
  },
];

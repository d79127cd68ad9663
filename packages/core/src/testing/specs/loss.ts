/**
 * @file Specs of the loss composites: crossEntropy (int32 class targets, ignoreIndex, labelSmoothing,
 * reductions), binaryCrossEntropyWithLogits (with and without posWeight) and mse. The gradient of
 * cross-entropy with respect to the logits is softmax - target distribution, divided by the number of
 * kept targets for the mean; that is how the expected gradients below are worked out.
 */

import fc from "fast-check";
import { binaryCrossEntropyWithLogits, crossEntropy, mse, type Reduction, tensor } from "../../index.ts";
import { shapeArb, valuesArb } from "../arbitraries.ts";
import type { InputData, OpSpec } from "./spec.ts";

const LN2 = Math.LN2;
const LN3 = Math.log(3);
const f = (values: number[] | number[][]) => tensor(values, undefined, "float64");
const i32 = (values: number[]) => tensor(values, undefined, "int32");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bad = "avg" as Reduction;

// two rows used throughout: softmax([0, ln 3]) = [1/4, 3/4] and softmax([0, 0]) = [1/2, 1/2]
const ROWS = [
  [0, LN3],
  [0, 0],
];

/** logits [...lead, C] and int32 targets [...lead] in 0..C-1, some -100 (ignored), at least one kept. */
const crossEntropyInputs: fc.Arbitrary<InputData> = fc
  .tuple(shapeArb({ maxRank: 2, maxDim: 3 }), fc.integer({ min: 1, max: 4 }))
  .chain(([lead, classes]) => {
    const target = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: classes - 1 }) },
      { weight: 1, arbitrary: fc.constant(-100) },
    );
    return fc
      .tuple(
        valuesArb(size(lead) * classes),
        fc.array(target, { minLength: size(lead), maxLength: size(lead) }).filter((ts) => ts.some((t) => t !== -100)),
      )
      .map(
        ([lv, tv]): InputData => [
          { shape: [...lead, classes], values: lv },
          { shape: lead, values: tv, dtype: "int32" },
        ],
      );
  });

/** Two float tensors of one shape; the second in [lo, hi]. */
const sameShapeInputs = (lo: number, hi: number): fc.Arbitrary<InputData> =>
  shapeArb({ maxRank: 3, maxDim: 3, maxSize: 12 }).chain((shape) =>
    fc.tuple(valuesArb(size(shape)), valuesArb(size(shape), { min: lo, max: hi })).map(
      ([a, b]): InputData => [
        { shape, values: a },
        { shape, values: b },
      ],
    ),
  );

export const lossSpecs: OpSpec[] = [
  {
    name: "crossEntropy",
    opClass: "reduction",
    kind: "composite",
    fn: (logits, targets) => crossEntropy(logits, targets),
    examples: [
      // -ln(1/2); gradient softmax - onehot = [1/2 - 1, 1/2]
      { args: [[[0, 0]], [[0], "int32"]], out: LN2, shape: [], grads: [[[-0.5, 0.5]], null] },
      // mean of -ln(3/4) = 2 ln 2 - ln 3 and -ln(1/2) = ln 2; gradients [1/4, 3/4 - 1]/2 and [1/2 - 1, 1/2]/2
      {
        note: "mean over rows",
        args: [ROWS, [[1, 0], "int32"]],
        out: (3 * LN2 - LN3) / 2,
        grads: [
          [
            [1 / 8, -1 / 8],
            [-1 / 4, 1 / 4],
          ],
          null,
        ],
      },
      {
        note: "sum",
        fn: (l, t) => crossEntropy(l, t, { reduction: "sum" }),
        args: [ROWS, [[1, 0], "int32"]],
        out: 3 * LN2 - LN3,
        grads: [
          [
            [1 / 4, -1 / 4],
            [-1 / 2, 1 / 2],
          ],
          null,
        ],
      },
      {
        note: "none",
        fn: (l, t) => crossEntropy(l, t, { reduction: "none" }),
        args: [ROWS, [[1, 0], "int32"]],
        out: [2 * LN2 - LN3, LN2],
        grads: [
          [
            [1 / 4, -1 / 4],
            [-1 / 2, 1 / 2],
          ],
          null,
        ],
      },
      // the ignored row (-100, the default) adds nothing and the mean is over the one kept row
      {
        note: "default ignoreIndex: the mean is over kept targets only",
        args: [ROWS, [[1, -100], "int32"]],
        out: 2 * LN2 - LN3,
        grads: [
          [
            [1 / 4, -1 / 4],
            [0, 0],
          ],
          null,
        ],
      },
      {
        note: "custom ignoreIndex",
        fn: (l, t) => crossEntropy(l, t, { ignoreIndex: 0 }),
        args: [ROWS, [[1, 0], "int32"]],
        out: 2 * LN2 - LN3,
        grads: [
          [
            [1 / 4, -1 / 4],
            [0, 0],
          ],
          null,
        ],
      },
      {
        note: "ignored rows give 0 with reduction none",
        fn: (l, t) => crossEntropy(l, t, { reduction: "none" }),
        args: [ROWS, [[-100, 0], "int32"]],
        out: [0, LN2],
      },
      // ε = 0.2, C = 2: target distribution q = 0.8·onehot + 0.1 = [0.9, 0.1]; loss = 0.8·nll + 0.2·(-mean log p)
      // = 0.8·2 ln 2 + 0.2·(2 ln 2 - ln3/2) = 2 ln 2 - 0.1 ln 3; gradient softmax - q = [1/4 - 0.9, 3/4 - 0.1]
      {
        note: "labelSmoothing",
        fn: (l, t) => crossEntropy(l, t, { labelSmoothing: 0.2 }),
        args: [[[0, LN3]], [[0], "int32"]],
        out: 2 * LN2 - 0.1 * LN3,
        grads: [[[-0.65, 0.65]], null],
      },
      // one sample: logits [C] with a rank-0 target
      {
        note: "rank-0 target",
        args: [
          [0, LN3],
          [1, "int32"],
        ],
        out: 2 * LN2 - LN3,
        grads: [[0.25, -0.25], null],
      },
      // [B, T, C] logits with [B, T] targets: the rows of ROWS again, as a batch of one
      { note: "leading axes", args: [[ROWS], [[[1, 0]], "int32"]], out: (3 * LN2 - LN3) / 2 },
      // a masked-out class (logit -inf) that is not the target costs nothing and gets no gradient
      { note: "a -inf logit off the target", args: [[[Number.NEGATIVE_INFINITY, 0]], [[1], "int32"]], out: 0, grads: [[[0, 0]], null] },
      // 0/0, as PyTorch
      { note: "every target ignored: NaN", args: [ROWS, [[-100, -100], "int32"]], out: Number.NaN },
    ],
    errors: [
      {
        call: () => crossEntropy(f([[0, 0]]), i32([0, 1])),
        message: /crossEntropy: logits \[1,2\] need targets of shape \[1\], got \[2\]/,
      },
      {
        call: () => crossEntropy(f([[0, 0]]), i32([2])),
        message: /crossEntropy: index 2 at flat position 0 is out of range: expected 0 <= index < 2/,
      },
      {
        call: () => crossEntropy(f([[0, 0]]), i32([-1])),
        message: /crossEntropy: index -1 at flat position 0 is out of range: expected 0 <= index < 2/,
      },
      {
        call: () => crossEntropy(f([[0, 0]]), tensor([0], undefined, "float32")),
        message: /crossEntropy: indices must be int32, got float32/,
      },
      {
        call: () => crossEntropy(i32([0, 0]), tensor(0, undefined, "int32")),
        message: /crossEntropy: logits must be float32 or float64, got int32/,
      },
      { call: () => crossEntropy(tensor(0, undefined, "float64"), i32([])), message: /crossEntropy: logits need a class axis/ },
      {
        call: () => crossEntropy(f([[0, 0]]), i32([0]), { labelSmoothing: 1.5 }),
        message: /crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5/,
      },
      {
        call: () => crossEntropy(f([[0, 0]]), i32([0]), { reduction: bad }),
        message: /crossEntropy: reduction must be "mean", "sum" or "none", got "avg"/,
      },
    ],
    inputs: crossEntropyInputs,
  },
  {
    name: "binaryCrossEntropyWithLogits",
    opClass: "reduction",
    kind: "composite",
    fn: (logits, targets) => binaryCrossEntropyWithLogits(logits, targets),
    examples: [
      // softplus(x) - x·t: x = 0, t = 1 gives ln 2; x = ln 3, t = 0 gives ln 4. Mean 3/2 ln 2.
      // d/dx = (σ(x) - t)/2 = [-1/4, 3/8]; d/dt = -x/2 = [0, -ln3/2]
      {
        args: [
          [0, LN3],
          [1, 0],
        ],
        out: 1.5 * LN2,
        grads: [
          [-0.25, 0.375],
          [0, -LN3 / 2],
        ],
      },
      // soft target: ln 4 - ln3/4; d/dx = 3/4 - 1/4, d/dt = -ln 3
      { note: "soft target", args: [[LN3], [0.25]], out: 2 * LN2 - 0.25 * LN3, grads: [[0.5], [-LN3]] },
      // max(x, 0) - x·t + log1p(e^{-|x|}): 100 and 100, with e^{-100} lost next to 100; d/dx (σ(x) - t)/2 = [1/2, -1/2]
      {
        note: "stable at logits ±100",
        args: [
          [100, -100],
          [0, 1],
        ],
        out: 100,
        grads: [
          [0.5, -0.5],
          [-50, 50],
        ],
      },
      // right answers at ±100 cost log1p(e^{-100}) ≈ 4e-44, zero to float64 next to the atol
      {
        note: "confident and right at ±100",
        fn: (x, t) => binaryCrossEntropyWithLogits(x, t, { reduction: "none" }),
        args: [
          [100, -100],
          [1, 0],
        ],
        out: [0, 0],
        grads: [
          [0, 0],
          [-100, 100],
        ],
      },
      // posWeight p = 3 weighs the positive term: -[p·t·log σ(x) + (1-t)·log(1 - σ(x))] = [3 ln 2, ln 2] at x = 0.
      // d/dx = (1 - t) - (1 + (p-1)t)·σ(-x) = [-3/2, 1/2]; d/dt = -x + (p-1)·softplus(-x) = 2 ln 2
      {
        note: "posWeight, sum",
        fn: (x, t) => binaryCrossEntropyWithLogits(x, t, { posWeight: 3, reduction: "sum" }),
        args: [
          [0, 0],
          [1, 0],
        ],
        out: 4 * LN2,
        grads: [
          [-1.5, 0.5],
          [2 * LN2, 2 * LN2],
        ],
      },
      // x = 100, t = 0: 100; x = -100, t = 1: 3·100. d/dx = [1 - σ(-100), -3σ(100)] = [1, -3];
      // d/dt = -x + 2·softplus(-x) = [-100, 100 + 200]
      {
        note: "posWeight stable at ±100",
        fn: (x, t) => binaryCrossEntropyWithLogits(x, t, { posWeight: 3, reduction: "none" }),
        args: [
          [100, -100],
          [0, 1],
        ],
        out: [100, 300],
        grads: [
          [1, -3],
          [-100, 300],
        ],
      },
      // a posWeight per class broadcasts over the last axis: [2 ln 2, 4 ln 2]
      {
        note: "posWeight tensor",
        fn: (x, t) => binaryCrossEntropyWithLogits(x, t, { posWeight: f([2, 4]), reduction: "none" }),
        args: [[[0, 0]], [[1, 1]]],
        out: [[2 * LN2, 4 * LN2]],
      },
      // int32 targets are cast to the logits' dtype and get no gradient
      {
        note: "int32 targets",
        args: [
          [0, LN3],
          [[1, 0], "int32"],
        ],
        out: 1.5 * LN2,
        grads: [[-0.25, 0.375], null],
      },
    ],
    errors: [
      {
        call: () => binaryCrossEntropyWithLogits(f([0, 0]), f([1])),
        message: /binaryCrossEntropyWithLogits: logits \[2\] and targets \[1\] must have the same shape/,
      },
      {
        call: () => binaryCrossEntropyWithLogits(f([0]), f([1]), { reduction: bad }),
        message: /binaryCrossEntropyWithLogits: reduction must be "mean", "sum" or "none", got "avg"/,
      },
      {
        // integer logits would cast soft targets to integers and give wrong losses silently
        call: () => binaryCrossEntropyWithLogits(tensor([0, 2]), f([0.5, 0.5])),
        message: /binaryCrossEntropyWithLogits: logits must be float32 or float64, got int32/,
      },
      {
        call: () => binaryCrossEntropyWithLogits(f([[0, 0, 0]]), f([[1, 1, 1]]), { posWeight: f([1, 2]) }),
        message: /binaryCrossEntropyWithLogits: posWeight of shape \[2\] must broadcast to the logits' shape \[1,3\]/,
      },
    ],
    inputs: sameShapeInputs(0, 1),
  },
  {
    name: "mse",
    opClass: "reduction",
    kind: "composite",
    fn: (a, b) => mse(a, b),
    examples: [
      // (0 + 4 + 9)/3; d/da = 2(a - b)/3 = [0, 4/3, 2], d/db its negative
      {
        args: [
          [1, 2, 3],
          [1, 0, 0],
        ],
        out: 13 / 3,
        grads: [
          [0, 4 / 3, 2],
          [-0, -4 / 3, -2],
        ],
      },
      {
        note: "sum",
        fn: (a, b) => mse(a, b, { reduction: "sum" }),
        args: [
          [1, 2, 3],
          [1, 0, 0],
        ],
        out: 13,
        grads: [
          [0, 4, 6],
          [0, -4, -6],
        ],
      },
      {
        note: "none",
        fn: (a, b) => mse(a, b, { reduction: "none" }),
        args: [
          [1, 2, 3],
          [1, 0, 0],
        ],
        out: [0, 4, 9],
        grads: [
          [0, 4, 6],
          [0, -4, -6],
        ],
      },
      { note: "rank 0", args: [2, 5], out: 9, shape: [], grads: [-6, 6] },
    ],
    errors: [
      { call: () => mse(f([1, 2]), f([[1, 2]])), message: /mse: prediction \[2\] and target \[1,2\] must have the same shape/ },
      { call: () => mse(f([1]), f([1]), { reduction: bad }), message: /mse: reduction must be "mean", "sum" or "none", got "avg"/ },
    ],
    inputs: sameShapeInputs(-3, 3),
  },
];

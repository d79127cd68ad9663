/**
 * @file Specs of the indexing ops: gather and scatterAdd (primitives, each the other's gradient), topk
 * (its registered primitive gives int32 positions only), and the composites indexSelect and embedding.
 * Index inputs are int32; the gradcheck properties draw them in range for the shapes they index.
 */

import fc from "fast-check";
import { embedding, gather, indexSelect, mul, scatterAdd, tensor, topk } from "../../index.ts";
import { shapeArb, valuesArb } from "../arbitraries.ts";
import { discreteInputs, type InputData, type OpSpec } from "./spec.ts";

const f = (values: number[][]) => tensor(values, undefined, "float64");
const i32 = (values: number[] | number[][]) => tensor(values, undefined, "int32");

/** n int32 index values in 0..limit-1. */
function indexValues(n: number, limit: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: limit - 1 }), { minLength: n, maxLength: n });
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * x of rank 1..3 and an int32 index of the same rank for axis 0: any length along axis 0 (zero
 * included), no longer than x on the other axes. With `src`, a float tensor of the index's shape too.
 */
function axis0Inputs(withSrc: boolean): fc.Arbitrary<InputData> {
  return shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((xShape) =>
    fc.tuple(...xShape.map((d, i) => fc.integer({ min: i === 0 ? 0 : 1, max: i === 0 ? 4 : d }))).chain((indexShape) =>
      fc
        .tuple(valuesArb(size(xShape)), indexValues(size(indexShape), xShape[0]), valuesArb(size(indexShape)))
        .map(([xv, iv, sv]): InputData => {
          const x = { shape: xShape, values: xv };
          const index = { shape: indexShape, values: iv, dtype: "int32" as const };
          return withSrc ? [x, index, { shape: indexShape, values: sv }] : [x, index];
        }),
    ),
  );
}

/** Upstream weights for scatterAdd, distinct so that each src gradient shows where that element went. */
const W = () =>
  f([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);

export const indexingSpecs: OpSpec[] = [
  {
    name: "gather",
    kind: "primitive",
    fn: (x, index) => gather(x, 0, index),
    examples: [
      // out[i][j] = x[index[i][j]][j]: [[x20, x01], [x10, x11]]; each read element gets a gradient of 1
      {
        args: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          [
            [
              [2, 0],
              [1, 1],
            ],
            "int32",
          ],
        ],
        out: [
          [5, 2],
          [3, 4],
        ],
        grads: [
          [
            [0, 1],
            [1, 1],
            [1, 0],
          ],
          null,
        ],
      },
      // axis 1: out[i][j] = x[i][index[i][j]]: [[x02, x00], [x11, x11]]; x11 is read twice, its gradients add up to 2
      {
        note: "axis 1, repeated index",
        fn: (x, index) => gather(x, 1, index),
        args: [
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          [
            [
              [2, 0],
              [1, 1],
            ],
            "int32",
          ],
        ],
        out: [
          [3, 1],
          [5, 5],
        ],
        grads: [
          [
            [1, 0, 1],
            [0, 2, 0],
          ],
          null,
        ],
      },
      // index [2,1] reads column 0 only: [[x20], [x00]]
      {
        note: "index narrower than x off the gather axis",
        args: [
          [
            [1, 2, 3],
            [4, 5, 6],
            [7, 8, 9],
          ],
          [[[2], [0]], "int32"],
        ],
        out: [[7], [1]],
        grads: [
          [
            [1, 0, 0],
            [0, 0, 0],
            [1, 0, 0],
          ],
          null,
        ],
      },
      // index [3,2] on x [2,2]: longer along the gather axis is fine; [[x10,x01],[x00,x01],[x10,x11]]
      {
        note: "index longer than x along the gather axis",
        args: [
          [
            [1, 2],
            [3, 4],
          ],
          [
            [
              [1, 0],
              [0, 0],
              [1, 1],
            ],
            "int32",
          ],
        ],
        out: [
          [3, 2],
          [1, 2],
          [3, 4],
        ],
        grads: [
          [
            [1, 2],
            [2, 1],
          ],
          null,
        ],
      },
      // a rank-0 tensor has one position along axis 0, as in PyTorch
      { note: "rank 0", args: [7, [0, "int32"]], out: 7, shape: [], grads: [1, null] },
      // 1-D: [x2, x2, x0]
      {
        note: "rank 1",
        args: [
          [10, 20, 30],
          [[2, 2, 0], "int32"],
        ],
        out: [30, 30, 10],
        grads: [[1, 0, 2], null],
      },
      // axis -1 of a rank-3 tensor: out[0][r][j] = x[0][r][index[0][r][j]]
      {
        note: "axis -1 of rank 3",
        fn: (x, index) => gather(x, -1, index),
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
          ],
          [[[[1], [0]]], "int32"],
        ],
        out: [[[2], [3]]],
        grads: [
          [
            [
              [0, 1],
              [1, 0],
            ],
          ],
          null,
        ],
      },
    ],
    errors: [
      {
        call: () => gather(f([[1, 2]]), 0, i32([[1, 0]])),
        message: /gather: index 1 at flat position 0 is out of range: expected 0 <= index < 1/,
      },
      {
        call: () => gather(f([[1, 2]]), 1, i32([[1, -1]])),
        message: /gather: index -1 at flat position 1 is out of range: expected 0 <= index < 2/,
      },
      { call: () => gather(f([[1, 2]]), 1, tensor([[0, 1]], undefined, "float32")), message: /gather: indices must be int32, got float32/ },
      {
        call: () => gather(f([[1, 2]]), 1, i32([0, 1])),
        message: /gather: index must have the same rank as the input: got \[2\] for \[1,2\]/,
      },
      {
        call: () => gather(f([[1, 2]]), 1, i32([[0], [1]])),
        message: /gather: index shape \[2,1\] exceeds the input shape \[1,2\] on axis 0/,
      },
      {
        call: () => gather(f([[1, 2]]), 2, i32([[0]])),
        message: /gather: axis 2 is out of range for a tensor of rank 2 \(expected -2..1\)/,
      },
      {
        call: () => gather(tensor(7, undefined, "float64"), 0, tensor(1, undefined, "int32")),
        message: /gather: index 1 at flat position 0 is out of range: expected 0 <= index < 1/,
      },
    ],
    inputs: axis0Inputs(false),
  },
  {
    name: "scatterAdd",
    opClass: "reduction",
    kind: "primitive",
    fn: (base, index, src) => scatterAdd(base, 0, index, src),
    examples: [
      // column 0: index [0,2,0] adds src [1,3,5]: row 0 += 1 + 5, row 2 += 3; column 1: index [1,0,1] adds
      // [2,4,6]: row 1 += 2 + 6, row 0 += 4. Base ones: [[7,5],[1,9],[4,1]]. Repeated targets add up.
      {
        args: [
          [
            [1, 1],
            [1, 1],
            [1, 1],
          ],
          [
            [
              [0, 1],
              [2, 0],
              [0, 1],
            ],
            "int32",
          ],
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        ],
        out: [
          [7, 5],
          [1, 9],
          [4, 1],
        ],
        grads: [
          [
            [1, 1],
            [1, 1],
            [1, 1],
          ],
          null,
          [
            [1, 1],
            [1, 1],
            [1, 1],
          ],
        ],
      },
      // the same scatter times W: base's gradient is W, src[i][j]'s is W at its target: W[index[i][j]][j]
      {
        note: "weighted upstream: each src gradient reads W where that element landed",
        fn: (base, index, src) => mul(scatterAdd(base, 0, index, src), W()),
        args: [
          [
            [0, 0],
            [0, 0],
            [0, 0],
          ],
          [
            [
              [0, 1],
              [2, 0],
              [0, 1],
            ],
            "int32",
          ],
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        ],
        // [[6,4],[0,8],[3,0]] times W
        out: [
          [6, 8],
          [0, 32],
          [15, 0],
        ],
        grads: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          null,
          [
            [1, 4],
            [5, 2],
            [1, 4],
          ],
        ],
      },
      // axis 1, index [1,2] narrower than base [2,3] on axis 0: row 0 gets 1 + 2 added at column 2
      {
        note: "axis 1, repeated index, index narrower than base",
        fn: (base, index, src) => scatterAdd(base, 1, index, src),
        args: [
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          [[[2, 2]], "int32"],
          [[1, 2]],
        ],
        out: [
          [1, 2, 6],
          [4, 5, 6],
        ],
        grads: [
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
          null,
          [[1, 1]],
        ],
      },
    ],
    errors: [
      {
        call: () => scatterAdd(f([[0, 0]]), 1, i32([[2]]), f([[1]])),
        message: /scatterAdd: index 2 at flat position 0 is out of range: expected 0 <= index < 2/,
      },
      {
        call: () => scatterAdd(f([[0, 0]]), 1, i32([[1, 0]]), f([[1]])),
        message: /scatterAdd: index \[1,2\] and src \[1,1\] must have the same shape/,
      },
      {
        call: () => scatterAdd(f([[0, 0]]), 1, tensor([[1]], undefined, "float64"), f([[1]])),
        message: /scatterAdd: indices must be int32, got float64/,
      },
      {
        call: () => scatterAdd(f([[0, 0]]), 0, i32([1]), tensor([1], undefined, "float64")),
        message: /scatterAdd: index must have the same rank as the input: got \[1\] for \[1,2\]/,
      },
      {
        call: () => scatterAdd(tensor(0, undefined, "float64"), 0, tensor(3, undefined, "int32"), tensor(1, undefined, "float64")),
        message: /scatterAdd: index 3 at flat position 0 is out of range: expected 0 <= index < 1/,
      },
    ],
    inputs: axis0Inputs(true),
  },
  {
    // the registered primitive returns int32 positions and has no gradient; the values exported topk()
    // also returns are a gather, so their gradient is checked here by example and in indexing-laws.test.ts
    name: "topk",
    parityInputs: discreteInputs(1, [-1, 0, 1, 2], { minRank: 1, minDim: 2 }),
    kind: "primitive",
    fn: (x) => topk(x, 2).indices,
    nondifferentiable: true,
    examples: [
      // the two 5s tie: the lower position (1) comes first
      { note: "largest, tie by lower index", args: [[1, 5, 3, 5, 2]], out: [1, 3] },
      // values read at those positions; each picked element gets a gradient of 1
      { note: "values", fn: (x) => topk(x, 2).values, args: [[1, 5, 3, 5, 2]], out: [5, 5], grads: [[0, 1, 0, 1, 0]] },
      { note: "smallest", fn: (x) => topk(x, 2, { largest: false }).indices, args: [[1, 5, 3, 5, 2]], out: [0, 4] },
      // the two 1s tie for smallest: positions 1 then 2
      {
        note: "smallest, tie by lower index",
        fn: (x) => topk(x, 2, { largest: false }).values,
        args: [[2, 1, 1, 3]],
        out: [1, 1],
        grads: [[0, 1, 1, 0]],
      },
      // per column: [1,4,3] -> 4 (row 1), 3 (row 2); [6,2,5] -> 6 (row 0), 5 (row 2)
      {
        note: "axis 0",
        fn: (x) => topk(x, 2, { axis: 0 }).values,
        args: [
          [
            [1, 6],
            [4, 2],
            [3, 5],
          ],
        ],
        out: [
          [4, 6],
          [3, 5],
        ],
        grads: [
          [
            [0, 1],
            [1, 0],
            [1, 1],
          ],
        ],
      },
      {
        note: "axis 0 positions",
        fn: (x) => topk(x, 2, { axis: 0 }).indices,
        args: [
          [
            [1, 6],
            [4, 2],
            [3, 5],
          ],
        ],
        out: [
          [1, 0],
          [2, 2],
        ],
      },
      // axis 1 of [1,3,2]: per (0, :, j) the largest of [1,3,7] is row 2, of [9,2,8] row 0
      {
        note: "middle axis of rank 3",
        fn: (x) => topk(x, 1, { axis: 1 }).indices,
        args: [
          [
            [
              [1, 9],
              [3, 2],
              [7, 8],
            ],
          ],
        ],
        out: [[[2, 0]]],
      },
      { note: "NaN counts as the largest, as PyTorch", fn: (x) => topk(x, 1).values, args: [[1, Number.NaN, 3]], out: [Number.NaN] },
      { note: "k = 0", fn: (x) => topk(x, 0).values, args: [[1, 2, 3]], out: [], shape: [0] },
    ],
    errors: [
      { call: () => topk(f([[1, 2, 3]]), 4), message: /topk: k = 4 must be an integer in 0..3 \(the length of axis 1\)/ },
      { call: () => topk(f([[1, 2, 3]]), -1), message: /topk: k = -1 must be an integer in 0..3/ },
      { call: () => topk(f([[1, 2, 3]]), 2, { axis: 0 }), message: /topk: k = 2 must be an integer in 0..1 \(the length of axis 0\)/ },
      { call: () => topk(f([[1, 2, 3]]), 1.5), message: /topk: k = 1.5 must be an integer/ },
      { call: () => topk(tensor(1), 1), message: /topk: needs a tensor with at least one axis/ },
      { call: () => topk(f([[1, 2, 3]]), 1, { axis: 2 }), message: /topk: axis 2 is out of range for a tensor of rank 2/ },
    ],
  },
  {
    name: "indexSelect",
    opClass: "reduction",
    kind: "composite",
    fn: (x, index) => indexSelect(x, 0, index),
    examples: [
      // rows 2, 0, 2; row 2 is picked twice, so its gradient is 2
      {
        args: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          [[2, 0, 2], "int32"],
        ],
        out: [
          [5, 6],
          [1, 2],
          [5, 6],
        ],
        grads: [
          [
            [1, 1],
            [0, 0],
            [2, 2],
          ],
          null,
        ],
      },
      // column 1 of each row
      {
        note: "axis 1",
        fn: (x, index) => indexSelect(x, 1, index),
        args: [
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          [[1], "int32"],
        ],
        out: [[2], [5]],
        grads: [
          [
            [0, 1, 0],
            [0, 1, 0],
          ],
          null,
        ],
      },
      { note: "rank 0", args: [7, [[0], "int32"]], out: 7, shape: [], grads: [1, null] },
      {
        note: "an empty index selects nothing",
        args: [
          [
            [1, 2],
            [3, 4],
          ],
          [[], "int32"],
        ],
        out: [],
        shape: [0, 2],
        grads: [
          [
            [0, 0],
            [0, 0],
          ],
          null,
        ],
      },
    ],
    errors: [
      { call: () => indexSelect(f([[1, 2]]), 0, i32([[0]])), message: /indexSelect: index must be 1-D, got shape \[1,1\]/ },
      {
        call: () => indexSelect(f([[1, 2]]), 1, i32([0, 2])),
        message: /indexSelect: index 2 at flat position 1 is out of range: expected 0 <= index < 2/,
      },
      {
        call: () => indexSelect(f([[1, 2]]), 0, tensor([0], undefined, "float32")),
        message: /indexSelect: indices must be int32, got float32/,
      },
      { call: () => indexSelect(f([[1, 2]]), -3, i32([0])), message: /indexSelect: axis -3 is out of range for a tensor of rank 2/ },
      {
        call: () => indexSelect(tensor(7, undefined, "float64"), 0, i32([0, 0])),
        message: /indexSelect: a rank-0 input takes exactly one index, got shape \[2\]/,
      },
      {
        call: () => indexSelect(tensor(7, undefined, "float64"), 0, i32([1])),
        message: /indexSelect: index 1 at flat position 0 is out of range: expected 0 <= index < 1/,
      },
    ],
    inputs: shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((xShape) =>
      fc.integer({ min: 0, max: 4 }).chain((n) =>
        fc.tuple(valuesArb(size(xShape)), indexValues(n, xShape[0])).map(
          ([xv, iv]): InputData => [
            { shape: xShape, values: xv },
            { shape: [n], values: iv, dtype: "int32" },
          ],
        ),
      ),
    ),
  },
  {
    name: "embedding",
    opClass: "reduction",
    kind: "composite",
    fn: (weight, ids) => embedding(weight, ids),
    examples: [
      // rows 2, 0, 2, 1 of the weight; row 2 is used twice
      {
        args: [
          [
            [0, 1],
            [2, 3],
            [4, 5],
          ],
          [
            [
              [2, 0],
              [2, 1],
            ],
            "int32",
          ],
        ],
        out: [
          [
            [4, 5],
            [0, 1],
          ],
          [
            [4, 5],
            [2, 3],
          ],
        ],
        grads: [
          [
            [1, 1],
            [1, 1],
            [2, 2],
          ],
          null,
        ],
      },
      {
        note: "a rank-0 id gives one row of shape [dim]",
        args: [
          [
            [0, 1],
            [2, 3],
          ],
          [1, "int32"],
        ],
        out: [2, 3],
        shape: [2],
        grads: [
          [
            [0, 0],
            [1, 1],
          ],
          null,
        ],
      },
    ],
    errors: [
      {
        call: () => embedding(tensor([1, 2, 3], undefined, "float64"), i32([0])),
        message: /embedding: weight must be \[vocab, dim\], got \[3\]/,
      },
      {
        call: () => embedding(f([[1], [2]]), i32([[0, 2]])),
        message: /embedding: index 2 at flat position 1 is out of range: expected 0 <= index < 2/,
      },
      { call: () => embedding(f([[1], [2]]), tensor([0], undefined, "float32")), message: /embedding: indices must be int32, got float32/ },
    ],
    inputs: fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), shapeArb({ maxRank: 2, maxDim: 3 }))
      .chain(([vocab, dim, idShape]) =>
        fc.tuple(valuesArb(vocab * dim), indexValues(size(idShape), vocab)).map(
          ([wv, iv]): InputData => [
            { shape: [vocab, dim], values: wv },
            { shape: idShape, values: iv, dtype: "int32" },
          ],
        ),
      ),
  },
];

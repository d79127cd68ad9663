/**
 * @file Specs of the movement primitives (reshape, permute, expand, slice, pad, concat) and composites
 * (unsqueeze, squeeze, flatten, transpose, narrow, stack, split, chunk, tril, triu). Each example's
 * expected values are worked out by hand in its comment; gradients are for an upstream gradient of ones.
 *
 * An upstream gradient of ones cannot tell where an element went, so examples marked "routed" multiply
 * the output by its 1-based row-major positions first: an input element's gradient is then the position
 * it landed at (the sum of them when it was copied).
 */

import fc from "fast-check";
import {
  chunk,
  concat,
  expand,
  flatten,
  mul,
  narrow,
  pad,
  permute,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  type Tensor,
  tensor,
  transpose,
  tril,
  triu,
  unsqueeze,
  zeros,
} from "../../index.ts";
import { sizeOf } from "../../shape.ts";
import { type ShapeOptions, shapeArb, valuesArb } from "../arbitraries.ts";
import { type InputData, type OpSpec, oneInput } from "./spec.ts";

// zero-size axes included, as in spec.ts
const SMALL: ShapeOptions = { maxRank: 3, minDim: 0, maxDim: 4, maxSize: 24 };

/** y times its 1-based row-major positions (see the file comment). */
function routed(y: Tensor): Tensor {
  return mul(
    y,
    tensor(
      Array.from({ length: y.size }, (_, i) => i + 1),
      y.shape,
      "float64",
    ),
  );
}

/** The pieces of a split, each times its 1-based number and joined again, so each piece's gradient shows which it was. */
function numbered(pieces: Tensor[], axis: number): Tensor {
  return concat(
    pieces.map((p, i) => mul(p, i + 1)),
    axis,
  );
}

// two 2×3 matrices, for the batched tril/triu examples
const B23 = [
  [
    [1, 2, 3],
    [4, 5, 6],
  ],
  [
    [7, 8, 9],
    [10, 11, 12],
  ],
];
const M23 = [
  [1, 2, 3],
  [4, 5, 6],
];
const ones23 = [
  [1, 1, 1],
  [1, 1, 1],
];
const x23 = () => tensor(M23, undefined, "float64");
const notATensor = "x" as unknown as Tensor;

/** One input of rank at least `minRank`. */
const rankedInput = (minRank: number) => oneInput({}, { minRank });

/**
 * Inputs that concat along the last axis: one shape but for that axis, where each piece has its own
 * length, 0 included (an empty piece must still get its empty gradient).
 */
function concatInputs(): fc.Arbitrary<InputData> {
  return fc
    .tuple(
      shapeArb({ minRank: 0, maxRank: 2, minDim: 0, maxDim: 3 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
    )
    .chain(([outer, lengths]) =>
      fc.tuple(
        ...lengths.map((n) => {
          const shape = [...outer, n];
          return valuesArb(sizeOf(shape)).map((values) => ({ shape, values }));
        }),
      ),
    );
}

/** 1 to 3 inputs of one shape, for stack. */
function sameShapeInputs(): fc.Arbitrary<InputData> {
  return fc
    .tuple(shapeArb({ ...SMALL, maxSize: 8 }), fc.integer({ min: 1, max: 3 }))
    .chain(([shape, n]) => fc.tuple(...Array.from({ length: n }, () => valuesArb(sizeOf(shape)).map((values) => ({ shape, values })))));
}

export const movementSpecs: OpSpec[] = [
  // ---- primitives ----
  {
    name: "reshape",
    kind: "primitive",
    // the shape read backwards has the same size and, for rank > 1, regroups the elements
    fn: (x) => reshape(x, [...x.shape].reverse()),
    examples: [
      // row-major order is kept, so position k of the output is element k of the input: routed gradients count 1..6
      {
        note: "-1 inferred as 6/2 = 3, routed",
        fn: (x) => routed(reshape(x, [-1, 2])),
        args: [M23],
        out: [
          [1, 4],
          [9, 16],
          [25, 36],
        ],
        grads: [M23],
      },
      { note: "to rank 0", fn: (x) => reshape(x, []), args: [[7]], out: 7, shape: [], grads: [[1]] },
      { note: "zero-size", fn: (x) => reshape(x, [3, 0]), args: [[]], out: [], shape: [3, 0], grads: [[]] },
      {
        note: "int32",
        fn: (x) => reshape(x, [3, 2]),
        args: [[M23, "int32"]],
        out: [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
      },
    ],
    errors: [
      {
        call: () => reshape(x23(), [4, 2]),
        message: /reshape: cannot reshape \[2,3\] \(6 elements\) into \[4,2\] \(8 elements\)/,
      },
      { call: () => reshape(x23(), [4, -1]), message: /reshape: cannot reshape \[2,3\] \(6 elements\) into \[4,-1\]/ },
      {
        call: () => reshape(x23(), [-1, -1]),
        message: /reshape: invalid target shape \[-1,-1\]: use non-negative sizes and at most one -1/,
      },
    ],
    inputs: oneInput(),
  },
  {
    name: "permute",
    kind: "primitive",
    // a rotation of the axes (not its own inverse, unlike a swap, so a backward that forgot to invert fails)
    fn: (x) =>
      permute(
        x,
        x.shape.map((_, i) => (i + 1) % x.rank),
      ),
    examples: [
      // out[j][i] = x[i][j]; routed: x[0][j] lands at position 2j+1, x[1][j] at 2j+2
      {
        note: "routed",
        fn: (x) => routed(permute(x, [1, 0])),
        args: [M23],
        out: [
          [1, 8],
          [6, 20],
          [15, 36],
        ],
        grads: [
          [
            [1, 3, 5],
            [2, 4, 6],
          ],
        ],
      },
      // x: [2,1,2] = [[[1,2]],[[3,4]]]; perm [2,0,-2] → out[k][i][j] = x[i][j][k], shape [2,2,1]:
      // [[[1],[3]],[[2],[4]]]; routed: x000 → 1, x100 → 2, x001 → 3, x101 → 4
      {
        note: "rank 3, negative axis, routed",
        fn: (x) => routed(permute(x, [2, 0, -2])),
        args: [[[[1, 2]], [[3, 4]]]],
        out: [
          [[1], [6]],
          [[6], [16]],
        ],
        grads: [[[[1, 3]], [[2, 4]]]],
      },
      { note: "rank 0", fn: (x) => permute(x, []), args: [5], out: 5, shape: [], grads: [1] },
    ],
    errors: [
      { call: () => permute(x23(), [0, 0]), message: /permute: \[0,0\] is not a permutation of the axes/ },
      { call: () => permute(x23(), [0]), message: /permute: needs 2 axes for shape \[2,3\], got \[0\]/ },
      { call: () => permute(x23(), [0, 2]), message: /permute: axis 2 is out of range for a tensor of rank 2 \(expected -2\.\.1\)/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "expand",
    kind: "primitive",
    // a new leading axis of 2, and every size-1 axis stretched to 3
    fn: (x) => expand(x, [2, ...x.shape.map((d) => (d === 1 ? 3 : d))]),
    examples: [
      // each row copied 3 times; routed: x0 lands at 1,2,3 (sum 6), x1 at 4,5,6 (sum 15)
      {
        note: "a size-1 axis, routed",
        fn: (x) => routed(expand(x, [2, 3])),
        args: [[[1], [2]]],
        out: [
          [1, 2, 3],
          [8, 10, 12],
        ],
        grads: [[[6], [15]]],
      },
      // [1,2] repeated in 3 rows: each element has 3 copies, so its gradient sums to 3 (the engine sums it back)
      {
        note: "a new leading axis",
        fn: (x) => expand(x, [3, 2]),
        args: [[1, 2]],
        out: [
          [1, 2],
          [1, 2],
          [1, 2],
        ],
        grads: [[3, 3]],
      },
      // [[1],[2]] to [2,2,3] (-1 keeps the 2): every element has 2·3 = 6 copies
      {
        note: "both at once, -1 keeps an axis",
        fn: (x) => expand(x, [2, -1, 3]),
        args: [[[1], [2]]],
        out: [
          [
            [1, 1, 1],
            [2, 2, 2],
          ],
          [
            [1, 1, 1],
            [2, 2, 2],
          ],
        ],
        grads: [[[6], [6]]],
      },
      {
        note: "rank 0 to [2,2]: four copies",
        fn: (x) => expand(x, [2, 2]),
        args: [5],
        out: [
          [5, 5],
          [5, 5],
        ],
        grads: [4],
      },
      {
        note: "to a zero-size axis: no copies, gradient 0",
        fn: (x) => expand(x, [0, 2]),
        args: [[1, 2]],
        out: [],
        shape: [0, 2],
        grads: [[0, 0]],
      },
    ],
    errors: [
      {
        call: () => expand(tensor([[1, 2]]), [2, 3]),
        message: /expand: shapes \[1,2\] and \[2,3\] cannot be broadcast together \(axis -1: 2 vs 3\)/,
      },
      { call: () => expand(tensor([[1, 2]]), [2]), message: /expand: cannot expand \[1,2\] to fewer axes \[2\]/ },
      { call: () => expand(tensor([1, 2]), [-1, 2]), message: /expand: invalid target shape \[-1,2\]/ },
    ],
    inputs: oneInput(),
    gradgrad: true,
  },
  {
    name: "slice",
    kind: "primitive",
    // drops the first element of every axis longer than 1 (a negative begin) and the last of every axis longer than 2
    fn: (x) =>
      slice(
        x,
        x.shape.map((d) => (d > 1 ? 1 - d : 0)),
        x.shape.map((d) => (d > 2 ? d - 2 : -1)),
      ),
    examples: [
      // begin [-1,1] is [1,1]; size -1 runs to the end: row 1, columns 1..2
      {
        note: "negative begin, size -1",
        fn: (x) => slice(x, [-1, 1], [-1, -1]),
        args: [M23],
        out: [[5, 6]],
        grads: [
          [
            [0, 0, 0],
            [0, 1, 1],
          ],
        ],
      },
      {
        note: "missing trailing axes are taken whole",
        fn: (x) => slice(x, [1]),
        args: [M23],
        out: [[4, 5, 6]],
        grads: [
          [
            [0, 0, 0],
            [1, 1, 1],
          ],
        ],
      },
      // column 1: [[2],[5]]; routed: x01 → 1, x11 → 2
      {
        note: "explicit size, routed",
        fn: (x) => routed(slice(x, [0, 1], [2, 1])),
        args: [M23],
        out: [[2], [10]],
        grads: [
          [
            [0, 1, 0],
            [0, 2, 0],
          ],
        ],
      },
      {
        note: "an empty slice",
        fn: (x) => slice(x, [0, 1], [2, 0]),
        args: [M23],
        out: [],
        shape: [2, 0],
        grads: [
          [
            [0, 0, 0],
            [0, 0, 0],
          ],
        ],
      },
    ],
    errors: [
      {
        call: () => slice(x23(), [0, 2], [1, 2]),
        message: /slice: begin \[0,2\] and size \[1,2\] do not fit inside shape \[2,3\] \(axis 1\)/,
      },
      { call: () => slice(x23(), [0, 0, 0]), message: /slice: got 3 begin and 0 size entries for a tensor of rank 2/ },
      { call: () => slice(x23(), [-3]), message: /slice: begin \[-3\] and size \[\] do not fit inside shape \[2,3\] \(axis 0\)/ },
    ],
    inputs: oneInput(),
    gradgrad: true,
  },
  {
    name: "pad",
    kind: "primitive",
    // one row/column after every axis, one before every other axis, filled with 0.5
    fn: (x) =>
      pad(
        x,
        x.shape.map((_, i) => [i % 2, 1] as const),
        0.5,
      ),
    examples: [
      // a row of 9s above, a column of 9s on the right: [[9,9,9],[1,2,9]]; routed: x00 → 4, x01 → 5
      {
        note: "non-zero value, routed",
        fn: (x) =>
          routed(
            pad(
              x,
              [
                [1, 0],
                [0, 1],
              ],
              9,
            ),
          ),
        args: [[[1, 2]]],
        out: [
          [9, 18, 27],
          [4, 10, 54],
        ],
        grads: [[[4, 5]]],
      },
      // the padding is constant: only the original block gets a gradient
      {
        note: "missing axes get no padding",
        fn: (x) => pad(x, [[0, 1]]),
        args: [
          [
            [1, 2],
            [3, 4],
          ],
        ],
        out: [
          [1, 2],
          [3, 4],
          [0, 0],
        ],
        grads: [
          [
            [1, 1],
            [1, 1],
          ],
        ],
      },
      { note: "1-D, both sides", fn: (x) => pad(x, [[2, 1]], -1), args: [[1, 2]], out: [-1, -1, 1, 2, -1], grads: [[1, 1]] },
      { note: "int32 pads with int32", fn: (x) => pad(x, [[1, 1]], 7), args: [[[1, 2], "int32"]], out: [7, 1, 2, 7] },
      { note: "an empty tensor becomes all padding", fn: (x) => pad(x, [[1, 1]], 3), args: [[]], out: [3, 3], grads: [[]] },
    ],
    errors: [
      { call: () => pad(tensor([[1, 2]]), [[-1, 0]]), message: /pad: paddings must be non-negative integers, got \[\[-1,0\]\]/ },
      {
        call: () =>
          pad(tensor([1, 2]), [
            [1, 0],
            [0, 1],
          ]),
        message: /pad: got 2 padding pairs for a tensor of rank 1/,
      },
      { call: () => pad(tensor([1, 2]), [[1, 0]], "0" as unknown as number), message: /pad: value must be a number, got string/ },
    ],
    inputs: oneInput(),
    gradgrad: true,
  },
  {
    name: "concat",
    kind: "primitive",
    fn: (...xs) => concat(xs, -1),
    examples: [
      // rows stacked: [[1,2],[3,4],[5,6]]; routed: a gets positions 1,2 and b 3..6
      {
        note: "axis 0, routed",
        fn: (a, b) => routed(concat([a, b], 0)),
        args: [
          [[1, 2]],
          [
            [3, 4],
            [5, 6],
          ],
        ],
        out: [
          [1, 4],
          [9, 16],
          [25, 36],
        ],
        grads: [
          [[1, 2]],
          [
            [3, 4],
            [5, 6],
          ],
        ],
      },
      // along the last axis: [[1,3,4],[2,5,6]]; routed: a0 → 1, b00 → 2, b01 → 3, a1 → 4, b10 → 5, b11 → 6
      {
        note: "axis -1, routed",
        fn: (a, b) => routed(concat([a, b], -1)),
        args: [
          [[1], [2]],
          [
            [3, 4],
            [5, 6],
          ],
        ],
        out: [
          [1, 6, 12],
          [8, 25, 36],
        ],
        grads: [
          [[1], [4]],
          [
            [2, 3],
            [5, 6],
          ],
        ],
      },
      { note: "three pieces, one empty", args: [[1], [], [2, 3]], out: [1, 2, 3], grads: [[1], [], [1, 1]] },
      // int32 and float64 join as float64; only the float input gets a gradient
      { note: "dtypes promote", args: [[[1, 2], "int32"], [0.5]], out: [1, 2, 0.5], grads: [null, [1]] },
      { note: "one tensor", args: [[4, 5]], out: [4, 5], grads: [[1, 1]] },
    ],
    errors: [
      { call: () => concat([tensor([[1, 2]]), tensor([[3, 4, 5]])]), message: /concat: shapes \[1,2\], \[1,3\] differ outside axis 0/ },
      { call: () => concat([]), message: /concat: needs at least one tensor/ },
      { call: () => concat([tensor(1), tensor(2)]), message: /concat: cannot concatenate rank-0 tensors; use stack/ },
      {
        call: () => concat([tensor([1]), tensor([2])], 1),
        message: /concat: axis 1 is out of range for a tensor of rank 1 \(expected -1\.\.0\)/,
      },
      { call: () => concat([tensor([1]), notATensor]), message: /concat: expected a Tensor, number or boolean, got string/ },
    ],
    inputs: concatInputs(),
    gradgrad: true,
  },

  // ---- composites ----
  {
    name: "unsqueeze",
    kind: "composite",
    fn: (x) => unsqueeze(x, -1),
    examples: [
      { fn: (x) => unsqueeze(x, 0), args: [[1, 2]], out: [[1, 2]], grads: [[1, 1]] },
      { note: "-1 appends", fn: (x) => unsqueeze(x, -1), args: [[1, 2]], out: [[1], [2]], shape: [2, 1], grads: [[1, 1]] },
      { note: "between axes", fn: (x) => unsqueeze(x, 1), args: [M23], out: [[[1, 2, 3]], [[4, 5, 6]]], shape: [2, 1, 3], grads: [ones23] },
      { note: "rank 0", fn: (x) => unsqueeze(x, 0), args: [5], out: [5], shape: [1], grads: [1] },
    ],
    errors: [
      {
        call: () => unsqueeze(x23(), 3),
        message: /unsqueeze: axis 3 is out of range for inserting an axis into a tensor of rank 2 \(expected -3\.\.2\)/,
      },
    ],
    inputs: oneInput(),
  },
  {
    name: "squeeze",
    kind: "composite",
    // every size-1 axis goes
    fn: (x) => squeeze(x),
    examples: [
      { note: "every size-1 axis", args: [[[[1], [2]]]], out: [1, 2], shape: [2], grads: [[[[1], [1]]]] },
      { note: "one axis", fn: (x) => squeeze(x, 0), args: [[[[1], [2]]]], out: [[1], [2]], shape: [2, 1], grads: [[[[1], [1]]]] },
      {
        note: "several axes, one negative",
        fn: (x) => squeeze(x, [-1, 0]),
        args: [[[[1], [2]]]],
        out: [1, 2],
        shape: [2],
        grads: [[[[1], [1]]]],
      },
      { note: "down to rank 0", args: [[[5]]], out: 5, shape: [], grads: [[[1]]] },
    ],
    errors: [
      { call: () => squeeze(zeros([1, 2, 1]), 1), message: /squeeze: axis 1 has length 2, not 1 \(shape \[1,2,1\]\)/ },
      { call: () => squeeze(zeros([1, 2, 1]), 3), message: /squeeze: axis 3 is out of range for a tensor of rank 3 \(expected -3\.\.2\)/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "flatten",
    kind: "composite",
    fn: (x) => flatten(x),
    examples: [
      {
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
        ],
        out: [1, 2, 3, 4, 5, 6, 7, 8],
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
      // axes 1..end of [2,2,2] merge into 4
      {
        note: "from axis 1",
        fn: (x) => flatten(x, 1),
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
        ],
        out: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
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
      // axes 0..1 merge into 4 rows of 2
      {
        note: "up to axis 1",
        fn: (x) => flatten(x, 0, 1),
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
        ],
        out: [
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
        ],
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
      { note: "rank 0 becomes [1]", args: [5], out: [5], shape: [1], grads: [1] },
    ],
    errors: [
      { call: () => flatten(zeros([2, 3, 4]), 2, 1), message: /flatten: startAxis 2 comes after endAxis 1/ },
      { call: () => flatten(zeros([2, 3]), 2), message: /flatten: axis 2 is out of range for a tensor of rank 2 \(expected -2\.\.1\)/ },
    ],
    inputs: oneInput(),
  },
  {
    name: "transpose",
    kind: "composite",
    fn: (x) => transpose(x),
    examples: [
      // the matrix transpose; routed as for permute [1,0]
      {
        note: "routed",
        fn: (x) => routed(transpose(x)),
        args: [M23],
        out: [
          [1, 8],
          [6, 20],
          [15, 36],
        ],
        grads: [
          [
            [1, 3, 5],
            [2, 4, 6],
          ],
        ],
      },
      // swapping axes 0 and 2 of [1,2,2] = [[[1,2],[3,4]]] gives [2,2,1]: out[k][j][0] = x[0][j][k]
      {
        note: "any two axes",
        fn: (x) => transpose(x, 0, -1),
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
          ],
        ],
        out: [
          [[1], [3]],
          [[2], [4]],
        ],
        grads: [
          [
            [
              [1, 1],
              [1, 1],
            ],
          ],
        ],
      },
      { note: "rank 1 is left alone", args: [[1, 2]], out: [1, 2], grads: [[1, 1]] },
    ],
    errors: [
      {
        call: () => transpose(zeros([2, 3]), 0, 2),
        message: /transpose: axis 2 is out of range for a tensor of rank 2 \(expected -2\.\.1\)/,
      },
    ],
    inputs: oneInput(),
  },
  {
    name: "narrow",
    kind: "composite",
    // the last half (rounded up) of axis 0, from a negative start
    fn: (x) => narrow(x, 0, -Math.ceil(x.shape[0] / 2), Math.ceil(x.shape[0] / 2)),
    examples: [
      // columns 1..2 (start -2 is 1)
      {
        note: "negative start",
        fn: (x) => narrow(x, 1, -2, 2),
        args: [M23],
        out: [
          [2, 3],
          [5, 6],
        ],
        grads: [
          [
            [0, 1, 1],
            [0, 1, 1],
          ],
        ],
      },
      {
        fn: (x) => narrow(x, 0, 1, 1),
        args: [M23],
        out: [[4, 5, 6]],
        grads: [
          [
            [0, 0, 0],
            [1, 1, 1],
          ],
        ],
      },
      {
        note: "length 0",
        fn: (x) => narrow(x, -1, 3, 0),
        args: [M23],
        out: [],
        shape: [2, 0],
        grads: [
          [
            [0, 0, 0],
            [0, 0, 0],
          ],
        ],
      },
    ],
    errors: [
      {
        call: () => narrow(x23(), 1, 2, 2),
        message:
          /narrow: start 2 and length 2 do not fit axis 1 of length 3 \(shape \[2,3\]\): expected -3 <= start <= 3, length >= 0 and start \+ length <= 3/,
      },
      // slice would read a length of -1 as "to the end"
      { call: () => narrow(x23(), 1, 1, -1), message: /narrow: start 1 and length -1 do not fit axis 1 of length 3/ },
      { call: () => narrow(x23(), 2, 0, 1), message: /narrow: axis 2 is out of range for a tensor of rank 2 \(expected -2\.\.1\)/ },
      { call: () => narrow(tensor(1), 0, 0, 1), message: /narrow: cannot narrow a rank-0 tensor: it has no axis/ },
    ],
    inputs: rankedInput(1),
  },
  {
    name: "stack",
    kind: "composite",
    fn: (...xs) => stack(xs, -1),
    examples: [
      {
        fn: (a, b) => stack([a, b]),
        args: [
          [1, 2],
          [3, 4],
        ],
        out: [
          [1, 2],
          [3, 4],
        ],
        grads: [
          [1, 1],
          [1, 1],
        ],
      },
      // along a new last axis: [[1,3],[2,4]]; routed: a0 → 1, b0 → 2, a1 → 3, b1 → 4
      {
        note: "axis -1, routed",
        fn: (a, b) => routed(stack([a, b], -1)),
        args: [
          [1, 2],
          [3, 4],
        ],
        out: [
          [1, 6],
          [6, 16],
        ],
        grads: [
          [1, 3],
          [2, 4],
        ],
      },
      { note: "rank 0 inputs", fn: (a, b, c) => stack([a, b, c]), args: [2, 3, 4], out: [2, 3, 4], grads: [1, 1, 1] },
    ],
    errors: [
      { call: () => stack([tensor([1, 2]), tensor([3, 4, 5])]), message: /stack: shapes \[2\], \[3\] differ/ },
      { call: () => stack([]), message: /stack: needs at least one tensor/ },
      { call: () => stack([tensor([1]), "x" as unknown as Tensor]), message: /stack: the tensors\[1\] must be a Tensor, got string "x"/ },
      {
        call: () => stack([tensor([1, 2])], 2),
        message: /stack: axis 2 is out of range for inserting an axis into a tensor of rank 1 \(expected -2\.\.1\)/,
      },
    ],
    inputs: sameShapeInputs(),
  },
  {
    name: "split",
    kind: "composite",
    fn: (x) => numbered(split(x, 2, -1), -1),
    examples: [
      // pieces [1,2], [3,4], [5] (the last is shorter), times 1, 2, 3: [1,2,6,8,15]
      { note: "piece size 2", args: [[1, 2, 3, 4, 5]], out: [1, 2, 6, 8, 15], grads: [[1, 1, 2, 2, 3]] },
      // sections [1,2] of the rows: [[1,2]] and [[3,4],[5,6]], times 1 and 2
      {
        note: "sections",
        fn: (x) => numbered(split(x, [1, 2], 0), 0),
        args: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        ],
        out: [
          [1, 2],
          [6, 8],
          [10, 12],
        ],
        grads: [
          [
            [1, 1],
            [2, 2],
            [2, 2],
          ],
        ],
      },
      // sections [1,0,2] along axis 1: the middle piece is empty; the last one is [[2,3]]
      // with no piece at all, the concat of the pieces would fail
      {
        note: "an empty axis gives one empty piece (torch.split)",
        fn: (x) => numbered(split(x, 2), 0),
        args: [[]],
        out: [],
        shape: [0],
        grads: [[]],
      },
      {
        note: "one piece, with an empty one before it",
        fn: (x) => split(x, [1, 0, 2], 1)[2],
        args: [[[1, 2, 3]]],
        out: [[2, 3]],
        grads: [[[0, 1, 1]]],
      },
    ],
    errors: [
      {
        call: () => split(tensor([1, 2, 3, 4, 5]), [1, 3]),
        message: /split: sections \[1,3\] must be non-negative and add up to the axis length 5/,
      },
      { call: () => split(tensor([1, 2, 3]), 0), message: /split: piece size must be a positive integer, got 0/ },
      { call: () => split(tensor(1), 1), message: /split: cannot split a rank-0 tensor: it has no axis/ },
      { call: () => split(tensor([1, 2, 3]), 1, 1), message: /split: axis 1 is out of range for a tensor of rank 1 \(expected -1\.\.0\)/ },
    ],
    inputs: rankedInput(1),
  },
  {
    name: "chunk",
    kind: "composite",
    fn: (x) => numbered(chunk(x, 2, 0), 0),
    examples: [
      // 5 in 2 chunks: pieces of ⌈5/2⌉ = 3: [1,2,3], [4,5], times 1 and 2
      { args: [[1, 2, 3, 4, 5]], out: [1, 2, 3, 8, 10], grads: [[1, 1, 1, 2, 2]] },
      // 6 in 4 chunks: pieces of ⌈6/4⌉ = 2, so only 3 of them (torch.chunk); times 1, 2, 3
      {
        note: "fewer chunks than asked",
        fn: (x) => numbered(chunk(x, 4), 0),
        args: [[1, 2, 3, 4, 5, 6]],
        out: [1, 2, 6, 8, 15, 18],
        grads: [[1, 1, 2, 2, 3, 3]],
      },
      // columns in 2 chunks of 1: [[1],[3]] and [[2],[4]], times 1 and 2
      {
        note: "negative axis",
        fn: (x) => numbered(chunk(x, 2, -1), -1),
        args: [
          [
            [1, 2],
            [3, 4],
          ],
        ],
        out: [
          [1, 4],
          [3, 8],
        ],
        grads: [
          [
            [1, 2],
            [1, 2],
          ],
        ],
      },
    ],
    errors: [
      { call: () => chunk(tensor([1, 2]), 0), message: /chunk: chunks must be a positive integer, got 0/ },
      { call: () => chunk(tensor([1, 2]), 2, 1), message: /chunk: axis 1 is out of range for a tensor of rank 1 \(expected -1\.\.0\)/ },
    ],
    inputs: rankedInput(1),
  },
  {
    name: "tril",
    kind: "composite",
    fn: (x) => tril(x, 1),
    examples: [
      // keep column - row <= 1 in each [2,3] matrix: row 0 keeps columns 0..1, row 1 keeps all
      {
        note: "k = 1, batched, not square",
        fn: (x) => tril(x, 1),
        args: [B23],
        out: [
          [
            [1, 2, 0],
            [4, 5, 6],
          ],
          [
            [7, 8, 0],
            [10, 11, 12],
          ],
        ],
        grads: [
          [
            [
              [1, 1, 0],
              [1, 1, 1],
            ],
            [
              [1, 1, 0],
              [1, 1, 1],
            ],
          ],
        ],
      },
      // column - row <= -1: row 0 keeps nothing, row 1 keeps column 0
      {
        note: "k = -1",
        fn: (x) => tril(x, -1),
        args: [M23],
        out: [
          [0, 0, 0],
          [4, 0, 0],
        ],
        grads: [
          [
            [0, 0, 0],
            [1, 0, 0],
          ],
        ],
      },
      // tall [3,2]: column - row <= 0
      {
        note: "k = 0, tall",
        fn: (x) => tril(x),
        args: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        ],
        out: [
          [1, 0],
          [3, 4],
          [5, 6],
        ],
        grads: [
          [
            [1, 0],
            [1, 1],
            [1, 1],
          ],
        ],
      },
      {
        note: "int32",
        fn: (x) => tril(x),
        args: [
          [
            [
              [1, 2],
              [3, 4],
            ],
            "int32",
          ],
        ],
        out: [
          [1, 0],
          [3, 4],
        ],
      },
    ],
    errors: [{ call: () => tril(tensor([1, 2])), message: /tril: needs a tensor with at least 2 axes, got shape \[2\]/ }],
    inputs: rankedInput(2),
  },
  {
    name: "triu",
    kind: "composite",
    fn: (x) => triu(x, -1),
    examples: [
      // keep column - row >= -1 in a tall [3,2]: only row 2, column 0 (offset -2) goes
      {
        note: "k = -1, tall",
        fn: (x) => triu(x, -1),
        args: [
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        ],
        out: [
          [1, 2],
          [3, 4],
          [0, 6],
        ],
        grads: [
          [
            [1, 1],
            [1, 1],
            [0, 1],
          ],
        ],
      },
      // column - row >= 1 in each [2,3] matrix: row 0 keeps columns 1..2, row 1 keeps column 2
      {
        note: "k = 1, batched, not square",
        fn: (x) => triu(x, 1),
        args: [B23],
        out: [
          [
            [0, 2, 3],
            [0, 0, 6],
          ],
          [
            [0, 8, 9],
            [0, 0, 12],
          ],
        ],
        grads: [
          [
            [
              [0, 1, 1],
              [0, 0, 1],
            ],
            [
              [0, 1, 1],
              [0, 0, 1],
            ],
          ],
        ],
      },
      {
        note: "k = 0",
        fn: (x) => triu(x),
        args: [
          [
            [1, 2],
            [3, 4],
          ],
        ],
        out: [
          [1, 2],
          [0, 4],
        ],
        grads: [
          [
            [1, 1],
            [0, 1],
          ],
        ],
      },
    ],
    errors: [{ call: () => triu(tensor(3)), message: /triu: needs a tensor with at least 2 axes, got shape \[\]/ }],
    inputs: rankedInput(2),
  },
];

/**
 * @file Specs of matmul (the primitive, NumPy semantics: 1-D operands, broadcast batch axes) and the
 * composite linear. Gradients are for an upstream gradient of ones: dA = 1·Bᵀ (row sums of B), dB = Aᵀ·1
 * (column sums of A), summed over broadcast batch axes.
 */

import fc from "fast-check";
import { linear, matmul, type Tensor, tensor, zeros } from "../../index.ts";
import { broadcastShapesArb, shapeArb, valuesArb } from "../arbitraries.ts";
import type { InputData, OpSpec } from "./spec.ts";

const f = (values: number[] | number[][]) => tensor(values, undefined, "float64");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const data = (...shapes: number[][]): fc.Arbitrary<InputData> =>
  fc.tuple(...shapes.map((s) => valuesArb(size(s)))).map((vs) => vs.map((values, i) => ({ shape: shapes[i], values })));

const dim = fc.integer({ min: 1, max: 3 });
// an empty inner axis now and then: the product is zeros and the gradients are empty
const inner = fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: dim });
const rarely = fc.nat(3).map((v) => v === 0);

/** Two operands with broadcastable batch axes and a shared inner dimension; sometimes 1-D. */
export const matmulInputs: fc.Arbitrary<InputData> = fc
  .record({ batch: broadcastShapesArb(2, { maxRank: 2, maxDim: 2 }), m: dim, k: inner, n: dim, vecA: rarely, vecB: rarely })
  .chain(({ batch: [ba, bb], m, k, n, vecA, vecB }) => data(vecA ? [k] : [...ba, m, k], vecB ? [k] : [...bb, k, n]));

/** Operands stored for op(A)·op(B) with the given flags: A as [..., K, M] when transposed, B as [..., N, K]. */
const transposedInputs = (transposeA: boolean, transposeB: boolean): fc.Arbitrary<InputData> =>
  fc
    .record({ batch: broadcastShapesArb(2, { maxRank: 2, maxDim: 2 }), m: dim, k: inner, n: dim })
    .chain(({ batch: [ba, bb], m, k, n }) => data([...ba, ...(transposeA ? [k, m] : [m, k])], [...bb, ...(transposeB ? [n, k] : [k, n])]));

/** x [..., in], weight [out, in], bias [out]. */
const linearInputs: fc.Arbitrary<InputData> = fc
  .tuple(shapeArb({ maxRank: 2, maxDim: 3 }), dim, dim)
  .chain(([lead, features, out]) => data([...lead, features], [out, features], [out]));

export const matmulSpecs: OpSpec[] = [
  {
    name: "matmul",
    opClass: "matmul",
    kind: "primitive",
    fn: (a, b) => matmul(a, b),
    examples: [
      // [[1·5+2·7, 1·6+2·8], [3·5+4·7, 3·6+4·8]]; dA rows = row sums of B [11, 15]; dB rows = column sums of A [4, 6]
      {
        args: [
          [
            [1, 2],
            [3, 4],
          ],
          [
            [5, 6],
            [7, 8],
          ],
        ],
        out: [
          [19, 22],
          [43, 50],
        ],
        grads: [
          [
            [11, 15],
            [11, 15],
          ],
          [
            [4, 4],
            [6, 6],
          ],
        ],
      },
      // a 1-D left operand is a row vector: [1+8, 2+10, 3+12]; dv = row sums of B; dB[i][j] = v[i]
      {
        note: "vector @ matrix",
        args: [
          [1, 2],
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
        ],
        out: [9, 12, 15],
        grads: [
          [6, 15],
          [
            [1, 1, 1],
            [2, 2, 2],
          ],
        ],
      },
      // a 1-D right operand is a column vector: [5+12, 15+24]; dA[i][j] = v[j]; dv = column sums of A
      {
        note: "matrix @ vector",
        args: [
          [
            [1, 2],
            [3, 4],
          ],
          [5, 6],
        ],
        out: [17, 39],
        grads: [
          [
            [5, 6],
            [5, 6],
          ],
          [4, 6],
        ],
      },
      // the dot product 4 + 10 + 18, of rank 0; each gradient is the other vector
      {
        note: "vector @ vector gives rank 0",
        args: [
          [1, 2, 3],
          [4, 5, 6],
        ],
        out: 32,
        shape: [],
        grads: [
          [4, 5, 6],
          [1, 2, 3],
        ],
      },
      // [2,1,2,3] @ [3,3,2] -> [2,3,2,2]: out[i][j] = A_i @ B_j. A_0 = rows e0, e1 picks rows 0 and 1 of
      // B_j; A_1 = [[0,0,1],[2,1,1]] gives row 2 of B_j, then 2·row0 + row1 + row2.
      // dA_i = Σ_j 1·B_jᵀ: every row is Σ_j (row sums of B_j) = [3,7,11] + [1,1,0] + [0,0,2] = [4,8,13].
      // dB_j = Σ_i A_iᵀ·1: every column is Σ_i (column sums of A_i) = [1,1,0] + [2,1,2] = [3,2,2].
      {
        note: "broadcast batch axes",
        args: [
          [
            [
              [
                [1, 0, 0],
                [0, 1, 0],
              ],
            ],
            [
              [
                [0, 0, 1],
                [2, 1, 1],
              ],
            ],
          ],
          [
            [
              [1, 2],
              [3, 4],
              [5, 6],
            ],
            [
              [1, 0],
              [0, 1],
              [0, 0],
            ],
            [
              [0, 0],
              [0, 0],
              [1, 1],
            ],
          ],
        ],
        out: [
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [1, 0],
              [0, 1],
            ],
            [
              [0, 0],
              [0, 0],
            ],
          ],
          [
            [
              [5, 6],
              [10, 14],
            ],
            [
              [0, 0],
              [2, 1],
            ],
            [
              [1, 1],
              [1, 1],
            ],
          ],
        ],
        grads: [
          [
            [
              [
                [4, 8, 13],
                [4, 8, 13],
              ],
            ],
            [
              [
                [4, 8, 13],
                [4, 8, 13],
              ],
            ],
          ],
          [
            [
              [3, 3],
              [2, 2],
              [2, 2],
            ],
            [
              [3, 3],
              [2, 2],
              [2, 2],
            ],
            [
              [3, 3],
              [2, 2],
              [2, 2],
            ],
          ],
        ],
      },
      // a vector against a batch of matrices: [1,2] @ B_b for each b
      {
        note: "vector @ batch",
        args: [
          [1, 2],
          [
            [[1], [2]],
            [[3], [4]],
          ],
        ],
        out: [[5], [11]],
        grads: [
          [4, 6],
          [
            [[1], [2]],
            [[1], [2]],
          ],
        ],
      },
      // an empty inner axis sums nothing: zeros
      { note: "inner dimension 0", fn: (a) => matmul(a, zeros([0, 2], { dtype: "float64" })), args: [[[]]], out: [[0, 0]] },
      // int32 operands stay int32
      {
        note: "int32",
        args: [
          [[[1, 2]], "int32"],
          [[[3], [4]], "int32"],
        ],
        out: [[11]],
      },
    ],
    errors: [
      { call: () => matmul(zeros([2, 3]), zeros([4, 5])), message: /matmul: inner dimensions differ: \[2,3\] @ \[4,5\]/ },
      { call: () => matmul(tensor(2), f([1, 2])), message: /matmul: both operands need at least one axis, got \[\] @ \[2\]/ },
      { call: () => matmul(f([1, 2]), tensor(2)), message: /matmul: both operands need at least one axis, got \[2\] @ \[\]/ },
      {
        call: () => matmul(tensor([true, false]), tensor([true, true])),
        message: /matmul: bool tensors cannot be multiplied; cast them first/,
      },
      {
        call: () => matmul(zeros([2, 2, 3]), zeros([3, 3, 2])),
        message: /matmul: shapes \[2\] and \[3\] cannot be broadcast together \(axis -1: 2 vs 3\)/,
      },
      { call: () => matmul(f([1]), "x" as unknown as Tensor), message: /matmul: expected a Tensor, number or boolean, got string/ },
    ],
    inputs: matmulInputs,
    gradgrad: true,
  },
  {
    name: "linear",
    opClass: "matmul",
    kind: "composite",
    fn: (x, weight, bias) => linear(x, weight, bias),
    examples: [
      // x·Wᵀ = [1, 2, 1+2] plus bias; dx = column sums of W; dW rows are x; db is ones
      {
        args: [
          [[1, 2]],
          [
            [1, 0],
            [0, 1],
            [1, 1],
          ],
          [0.5, -0.5, 0],
        ],
        out: [[1.5, 1.5, 3]],
        grads: [
          [[2, 2]],
          [
            [1, 2],
            [1, 2],
            [1, 2],
          ],
          [1, 1, 1],
        ],
      },
      // without a bias, on a 1-D input and a batch of two: the weight's gradient sums both rows of x
      {
        note: "no bias",
        fn: (x, weight) => linear(x, weight),
        args: [
          [
            [1, 2],
            [3, 4],
          ],
          [[2, -1]],
        ],
        out: [[0], [2]],
        grads: [
          [
            [2, -1],
            [2, -1],
          ],
          [[4, 6]],
        ],
      },
      { note: "1-D input", fn: (x, weight) => linear(x, weight), args: [[3, 4], [[2, -1]]], out: [2], grads: [[2, -1], [[3, 4]]] },
    ],
    errors: [
      { call: () => linear(f([[1, 2]]), f([1, 2])), message: /linear: weight must be \[out, in\], got \[2\]/ },
      {
        call: () => linear(f([[1, 2, 3]]), f([[1, 2]])),
        message: /linear: input's last axis is 3 but the weight \[1,2\] expects 2/,
      },
      { call: () => linear(tensor(1, undefined, "float64"), f([[1]])), message: /linear: the input needs at least one axis/ },
    ],
    inputs: linearInputs,
  },
  // op(A)·op(B) with an operand read transposed in place. A = [[1,2],[3,4]], B = [[5,6],[7,8]] as in the
  // first matmul example, so each result is a product of the same matrices transposed:
  //   Aᵀ·B = [[1·5+3·7, 1·6+3·8], [2·5+4·7, 2·6+4·8]] = [[26, 30], [38, 44]]
  //   A·Bᵀ = [[1·5+2·6, 1·7+2·8], [3·5+4·6, 3·7+4·8]] = [[17, 23], [39, 53]]
  //   Aᵀ·Bᵀ = [[1·5+3·6, 1·7+3·8], [2·5+4·6, 2·7+4·8]] = [[23, 31], [34, 46]]
  // Gradients for ones upstream G: Aᵀ·B gives dA = B·Gᵀ (row sums of B: 11, 15) and dB = A·G (row sums of
  // A: 3, 7); A·Bᵀ gives dA = G·B (column sums of B: 12, 14) and dB = Gᵀ·A (column sums of A: 4, 6);
  // Aᵀ·Bᵀ gives dA = Bᵀ·G (dA[i][j] = column sum i of B) and dB = G·Aᵀ (dB[i][j] = row sum j of A).
  ...(
    [
      [
        true,
        false,
        [
          [26, 30],
          [38, 44],
        ],
        [
          [11, 11],
          [15, 15],
        ],
        [
          [3, 3],
          [7, 7],
        ],
      ],
      [
        false,
        true,
        [
          [17, 23],
          [39, 53],
        ],
        [
          [12, 14],
          [12, 14],
        ],
        [
          [4, 6],
          [4, 6],
        ],
      ],
      [
        true,
        true,
        [
          [23, 31],
          [34, 46],
        ],
        [
          [12, 12],
          [14, 14],
        ],
        [
          [3, 7],
          [3, 7],
        ],
      ],
    ] as const
  ).map(
    ([transposeA, transposeB, out, gradA, gradB]): OpSpec => ({
      name: `matmul${transposeA ? " transposeA" : ""}${transposeB ? " transposeB" : ""}`,
      opClass: "matmul",
      kind: "composite",
      fn: (a, b) => matmul(a, b, { transposeA, transposeB }),
      examples: [
        {
          args: [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
          out: out.map((r) => [...r]),
          grads: [gradA.map((r) => [...r]), gradB.map((r) => [...r])],
        },
      ],
      errors: [
        {
          call: () => matmul(zeros([2, 3]), zeros([4, 5]), { transposeA, transposeB }),
          message: new RegExp(`matmul: inner dimensions differ: \\[2,3\\]${transposeA ? "ᵀ" : ""} @ \\[4,5\\]${transposeB ? "ᵀ" : ""}`),
        },
        {
          call: () =>
            transposeA ? matmul(f([1, 2]), f([[1, 2]]), { transposeA, transposeB }) : matmul(f([[1, 2]]), f([1, 2]), { transposeB }),
          message: /matmul: a transposed operand needs at least two axes, got \[/,
        },
      ],
      inputs: transposedInputs(transposeA, transposeB),
      gradgrad: true,
    }),
  ),
];

/** @file Batched matrix multiplication with broadcasting of the batch axes (NumPy's matmul). */

import { fail, fmtShape } from "../errors.ts";
import { broadcastShapes } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { type TensorLike, unify } from "./cast.ts";
import { add } from "./elementwise.ts";
import { squeeze, transpose, unsqueeze } from "./movement.ts";
import { apply, defineOp } from "./registry.ts";

const matmulDef = defineOp({
  name: "matmul",
  forward: (be, [a, b]) => {
    const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
    const shape = [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]];
    return { storage: be.matmul(a, b, shape), shape, dtype: a.dtype };
  },
  // d(A·B) = dy·Bᵀ for A and Aᵀ·dy for B; the engine sums broadcast batch axes back
  backward: ({ inputs: [a, b] }, dy) => [() => matmul(dy, transpose(b)), () => matmul(transpose(a), dy)],
});

/**
 * a @ b with NumPy semantics: the last two axes multiply as matrices, leading (batch) axes broadcast.
 * A 1-D a is a row vector and a 1-D b a column vector; the added axis is removed from the result.
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = unify("matmul", [a, b]);
  if (x.rank === 0 || y.rank === 0) {
    fail("matmul", `both operands need at least one axis, got ${fmtShape(x.shape)} @ ${fmtShape(y.shape)}`);
  }
  if (x.dtype === "bool") fail("matmul", "bool tensors cannot be multiplied; cast them first");
  const a2 = x.rank === 1 ? unsqueeze(x, 0) : x;
  const b2 = y.rank === 1 ? unsqueeze(y, 1) : y;
  const k = a2.shape[a2.rank - 1];
  if (k !== b2.shape[b2.rank - 2]) {
    fail("matmul", `inner dimensions differ: ${fmtShape(x.shape)} @ ${fmtShape(y.shape)}`);
  }
  broadcastShapes("matmul", a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  let out = apply(matmulDef, [a2, b2], undefined);
  if (y.rank === 1) out = squeeze(out, -1);
  if (x.rank === 1) out = squeeze(out, x.rank === 1 && y.rank === 1 ? 0 : -2);
  return out;
}

/** x·Wᵀ + b with W stored [out, in], as PyTorch's Linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (weight.rank !== 2) fail("linear", `weight must be [out, in], got ${fmtShape(weight.shape)}`);
  if (x.rank === 0) fail("linear", "the input needs at least one axis (in-features last), got shape []");
  if (x.shape[x.rank - 1] !== weight.shape[1]) {
    fail("linear", `input's last axis is ${x.shape[x.rank - 1]} but the weight ${fmtShape(weight.shape)} expects ${weight.shape[1]}`);
  }
  const out = matmul(x, transpose(weight));
  return bias ? add(out, bias) : out;
}

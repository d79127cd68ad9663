/** @file Batched matrix multiplication with broadcasting of the batch axes (NumPy's matmul). */

import { checkOptionalTensor, checkOptions, checkTensor } from "../args.ts";
import { fail, fmtShape } from "../errors.ts";
import { broadcastShapes, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { type TensorLike, unify } from "./cast.ts";
import { add } from "./elementwise.ts";
import { reshape, squeeze, unsqueeze } from "./movement.ts";
import { apply, defineOp, type OpDef } from "./registry.ts";

interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

const matmulDef: OpDef<MatmulAttrs> = defineOp<MatmulAttrs>({
  name: "matmul",
  forward: (be, [a, b], { transposeA, transposeB }) => {
    const m = a.shape[a.shape.length - (transposeA ? 1 : 2)];
    const n = b.shape[b.shape.length - (transposeB ? 2 : 1)];
    // two matrices (every linear layer) need no batch broadcast
    const shape =
      a.shape.length === 2 && b.shape.length === 2
        ? [m, n]
        : [...broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
    return { storage: be.matmul(a, b, shape, transposeA, transposeB), shape, dtype: a.dtype };
  },
  // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC. Where an operand is stored transposed, its
  // gradient is the transpose of that, computed as one product with the right flags (no copies); the
  // engine sums broadcast batch axes back
  backward: ({ inputs: [a, b], attrs: { transposeA: ta, transposeB: tb } }, dy) => [
    () => (ta ? product(b, dy, tb, true) : product(dy, b, false, !tb)),
    () => (tb ? product(dy, a, true, ta) : product(a, dy, !ta, false)),
  ],
});

const product = (a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
  apply(matmulDef, [a, b], { transposeA, transposeB });

export interface MatmulOptions {
  /** Multiply by the transpose of a's last two axes, read in place (tfjs's transposeA). */
  transposeA?: boolean;
  /** Multiply by the transpose of b's last two axes, read in place. */
  transposeB?: boolean;
}

/**
 * a @ b with NumPy semantics: the last two axes multiply as matrices, leading (batch) axes broadcast.
 * A 1-D a is a row vector and a 1-D b a column vector; the added axis is removed from the result.
 * `transposeA` / `transposeB` multiply by a transposed operand without copying it (both need 2-D or more).
 */
export function matmul(a: TensorLike, b: TensorLike, options: MatmulOptions = {}): Tensor {
  checkOptions("matmul", options, ["transposeA", "transposeB"]);
  const { transposeA = false, transposeB = false } = options;
  const [x, y] = unify("matmul", [a, b]);
  if (x.rank === 0 || y.rank === 0) {
    fail("matmul", `both operands need at least one axis, got ${fmtShape(x.shape)} @ ${fmtShape(y.shape)}`);
  }
  if (x.dtype === "bool") fail("matmul", "bool tensors cannot be multiplied; cast them first");
  if ((transposeA && x.rank < 2) || (transposeB && y.rank < 2)) {
    fail("matmul", `a transposed operand needs at least two axes, got ${fmtShape(x.shape)} @ ${fmtShape(y.shape)}`);
  }
  const a2 = x.rank === 1 ? unsqueeze(x, 0) : x;
  const b2 = y.rank === 1 ? unsqueeze(y, 1) : y;
  const k = a2.shape[a2.rank - (transposeA ? 2 : 1)];
  if (k !== b2.shape[b2.rank - (transposeB ? 1 : 2)]) {
    const t = (flag: boolean) => (flag ? "ᵀ" : "");
    fail("matmul", `inner dimensions differ: ${fmtShape(x.shape)}${t(transposeA)} @ ${fmtShape(y.shape)}${t(transposeB)}`);
  }
  // the batch axes must broadcast: forward's broadcastShapes refuses them, naming matmul
  let out = product(a2, b2, transposeA, transposeB);
  if (y.rank === 1) out = squeeze(out, -1);
  if (x.rank === 1) out = squeeze(out, x.rank === 1 && y.rank === 1 ? 0 : -2);
  return out;
}

/**
 * x·Wᵀ + b with W stored [out, in], as PyTorch's Linear. The leading axes of x fold into the rows of one
 * matrix and W is read transposed in place, so forward and backward are one product each, with no copies.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  // checked here, so a disposed weight is reported by linear rather than by the matmul inside it
  checkTensor("linear", x);
  checkTensor("linear", weight, "the weight");
  checkOptionalTensor("linear", bias, "the bias");
  if (weight.rank !== 2) fail("linear", `weight must be [out, in], got ${fmtShape(weight.shape)}`);
  if (x.rank === 0) fail("linear", "the input needs at least one axis (in-features last), got shape []");
  const [outFeatures, inFeatures] = weight.shape;
  if (x.shape[x.rank - 1] !== inFeatures) {
    fail("linear", `input's last axis is ${x.shape[x.rank - 1]} but the weight ${fmtShape(weight.shape)} expects ${inFeatures}`);
  }
  const lead = x.shape.slice(0, -1);
  const rows = x.rank === 2 ? x : reshape(x, [sizeOf(lead), inFeatures]); // (N, in)
  let out = matmul(rows, weight, { transposeB: true }); // (N, out)
  if (x.rank !== 2) out = reshape(out, [...lead, outFeatures]);
  return bias ? add(out, bias) : out;
}

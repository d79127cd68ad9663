/** @file The cast primitive, and turning JS numbers into tensors next to a tensor operand (weak scalars). */

import { checkTensor } from "../args.ts";
import type { Backend } from "../backend/backend.ts";
import { getBackend } from "../backend/backend.ts";
import { type DType, isDType, isFloat, promoteTypes, promoteWithScalar, scalarDType, toTypedArray } from "../dtype.ts";
import { checkBackendHolds, fail } from "../errors.ts";
import { Tensor, uploadTensor } from "../tensor.ts";
import { apply, defineOp } from "./registry.ts";

export type TensorLike = Tensor | number | boolean;

const castDef = defineOp<{ dtype: DType }>({
  name: "cast",
  forward: (be, [x], { dtype }) => ({ storage: be.cast(x, dtype), shape: x.shape, dtype }),
  // d cast(x) = dy, in x's dtype (the engine casts); no gradient flows into an int or bool input
  backward: ({ inputs: [x] }, dy) => [isFloat(x.dtype) ? () => dy : null],
});

/** Converts to another dtype: int32 truncates toward zero, bool is (x != 0). Same dtype returns x itself. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor("cast", x, "the input");
  if (!isDType(dtype)) fail("cast", `unknown dtype ${JSON.stringify(dtype)}; expected float32, float64, int32 or bool`);
  if (x.dtype === dtype) return x;
  checkBackendHolds("cast", x.backend, dtype);
  return apply(castDef, [x], { dtype });
}

/** A one-element tensor of rank 0. */
export function scalarOn(backend: Backend, value: number | boolean, dtype: DType): Tensor {
  return uploadTensor("scalar", backend, toTypedArray([value], dtype), [], dtype);
}

function checkOperand(op: string, x: unknown): asserts x is TensorLike {
  if (x instanceof Tensor || typeof x === "number" || typeof x === "boolean") return;
  fail(op, `expected a Tensor, number or boolean, got ${x === null ? "null" : typeof x}`);
}

/** x as a tensor; a JS number becomes a scalar on the current backend. */
export function asTensor(op: string, x: TensorLike): Tensor {
  checkOperand(op, x);
  return x instanceof Tensor ? x : scalarOn(getBackend(), x, scalarDType(x));
}

/**
 * Brings operands to one dtype: tensors promote along bool < int32 < float32 < float64, JS numbers are
 * weak and follow the tensors (see dtype.ts). `minimum` lifts the result dtype (int32 for arithmetic on
 * bool, float32 for float-only math). Casts are recorded, so gradients flow back through them.
 */
export function unify(op: string, operands: readonly TensorLike[], minimum: DType = "bool"): Tensor[] {
  // the common case, first and without allocations: tensors of one dtype that needs no lift
  const first = operands[0];
  if (first instanceof Tensor && promoteTypes(first.dtype, minimum) === first.dtype) {
    let same = true;
    for (let i = 0; i < operands.length && same; i++) {
      const x = operands[i];
      same = x instanceof Tensor && x.dtype === first.dtype;
    }
    if (same) {
      // a disposed operand is reported by the op the caller used
      for (let i = 0; i < operands.length; i++) (operands[i] as Tensor).buffer(op);
      return operands.slice() as Tensor[];
    }
  }
  for (const x of operands) {
    checkOperand(op, x);
    // a disposed operand is reported by the op the caller used, not by a cast inside it
    if (x instanceof Tensor) x.buffer(op);
  }
  const tensors = operands.filter((x): x is Tensor => x instanceof Tensor);
  let dtype: DType;
  if (tensors.length === 0) {
    dtype = operands.map((x) => scalarDType(x as number | boolean)).reduce(promoteTypes);
  } else {
    dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
    for (const x of operands) if (!(x instanceof Tensor)) dtype = promoteWithScalar(dtype, x);
  }
  dtype = promoteTypes(dtype, minimum);
  const backend = tensors[0]?.backend ?? getBackend();
  return operands.map((x) => (x instanceof Tensor ? cast(x, dtype) : scalarOn(backend, x, dtype)));
}

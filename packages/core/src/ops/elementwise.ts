/**
 * @file Elementwise primitives: unary math, binary arithmetic with NumPy broadcasting, comparisons, where.
 *
 * Subgradients follow PyTorch: relu'(0) = 0 and abs'(0) = 0; maximum and minimum split the gradient
 * equally between tied inputs; sign has gradient 0 everywhere.
 */

import { checkTensor } from "../args.ts";
import type { BinaryOp, UnaryOp } from "../backend/backend.ts";
import { type DType, isFloat } from "../dtype.ts";
import { fail } from "../errors.ts";
import { broadcastShapes, sameShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { cast, type TensorLike, unify } from "./cast.ts";
import { apply, type BackwardRule, defineOp, NOT_DIFFERENTIABLE } from "./registry.ts";

// ---- unary -----------------------------------------------------------------------------------------

function unaryOp(name: UnaryOp, backward: BackwardRule<undefined> | typeof NOT_DIFFERENTIABLE, outDType?: DType) {
  return defineOp({
    name,
    forward: (be, [x]) => {
      const dtype = outDType ?? x.dtype;
      return { storage: be.unary(name, x, dtype), shape: x.shape, dtype };
    },
    backward,
  });
}

const negDef = unaryOp("neg", (_, dy) => [() => neg(dy)]);
// d exp(x) = exp(x)·dy: reuse the saved output
const expDef = unaryOp("exp", ({ output }, dy) => [() => mul(dy, output)]);
// d log(x) = dy / x
const logDef = unaryOp("log", ({ inputs: [x] }, dy) => [() => div(dy, x)]);
// d log1p(x) = dy / (1 + x)
const log1pDef = unaryOp("log1p", ({ inputs: [x] }, dy) => [() => div(dy, add(x, 1))]);
// d sqrt(x) = dy / (2·sqrt(x))
const sqrtDef = unaryOp("sqrt", ({ output }, dy) => [() => div(dy, mul(output, 2))]);
// d tanh(x) = (1 - tanh²(x))·dy
const tanhDef = unaryOp("tanh", ({ output }, dy) => [() => mul(dy, sub(1, mul(output, output)))]);
// d σ(x) = σ(x)(1 - σ(x))·dy
const sigmoidDef = unaryOp("sigmoid", ({ output }, dy) => [() => mul(dy, mul(output, sub(1, output)))]);
// d erf(x) = 2/√π · exp(-x²)·dy
const erfDef = unaryOp("erf", ({ inputs: [x] }, dy) => [() => mul(dy, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))]);
// d relu(x) = dy where x > 0, else 0 (so 0 at x = 0, as in PyTorch)
const reluDef = unaryOp("relu", ({ inputs: [x] }, dy) => [() => where(gt(x, 0), dy, 0)]);
// d |x| = sign(x)·dy (0 at x = 0, as in PyTorch)
const absDef = unaryOp("abs", ({ inputs: [x] }, dy) => [() => mul(dy, sign(x))]);
// sign is piecewise constant: gradient 0 everywhere
const signDef = unaryOp("sign", (_, dy) => [() => mul(dy, 0)]);
const logicalNotDef = unaryOp("logicalNot", NOT_DIFFERENTIABLE, "bool");

/** Float-only math: int32 and bool inputs compute in float32. */
const floatUnary = (def: ReturnType<typeof unaryOp>) => (x: TensorLike) => apply(def, unify(def.name, [x], "float32"), undefined);
/** Sign-preserving ops keep int32; bool computes in int32. */
const numericUnary = (def: ReturnType<typeof unaryOp>) => (x: TensorLike) => apply(def, unify(def.name, [x], "int32"), undefined);

export const neg = numericUnary(negDef);
export const exp = floatUnary(expDef);
export const log = floatUnary(logDef);
export const log1p = floatUnary(log1pDef);
export const sqrt = floatUnary(sqrtDef);
export const tanh = floatUnary(tanhDef);
export const sigmoid = floatUnary(sigmoidDef);
export const erf = floatUnary(erfDef);
export const relu = numericUnary(reluDef);
export const abs = numericUnary(absDef);
export const sign = numericUnary(signDef);
/** True where x is zero (or false). */
export const logicalNot = (x: TensorLike) => apply(logicalNotDef, unify("logicalNot", [x]), undefined);

// ---- binary ----------------------------------------------------------------------------------------

function binaryOp(name: BinaryOp, backward: BackwardRule<undefined> | typeof NOT_DIFFERENTIABLE, outDType?: DType) {
  return defineOp({
    name,
    forward: (be, [a, b]) => {
      const shape = broadcastShapes(name, a.shape, b.shape);
      const dtype = outDType ?? a.dtype;
      return { storage: be.binary(name, a, b, shape, dtype), shape, dtype };
    },
    backward,
  });
}

const addDef = binaryOp("add", (_, dy) => [() => dy, () => dy]);
const subDef = binaryOp("sub", (_, dy) => [() => dy, () => neg(dy)]);
const mulDef = binaryOp("mul", ({ inputs: [a, b] }, dy) => [() => mul(dy, b), () => mul(dy, a)]);
// d(a/b) = dy/b, and -a/b²·dy = -(a/b)/b·dy
const divDef = binaryOp("div", ({ inputs: [, b], output }, dy) => [() => div(dy, b), () => neg(mul(dy, div(output, b)))]);
// d aᵇ/da = b·aᵇ⁻¹ (0 where b = 0); d aᵇ/db = aᵇ·ln a (0 where a = 0 and b >= 0), as in PyTorch
const powDef = binaryOp("pow", ({ inputs: [a, b], output }, dy) => [
  () => mul(dy, where(eq(b, 0), 0, mul(b, pow(a, sub(b, 1))))),
  () => mul(dy, where(logicalAnd(eq(a, 0), ge(b, 0)), 0, mul(output, log(a)))),
]);
// ties split the gradient equally between a and b, as in PyTorch
const tieShare = (winner: Tensor, a: Tensor, b: Tensor, dy: Tensor) =>
  mul(dy, add(cast(winner, dy.dtype), mul(cast(eq(a, b), dy.dtype), 0.5)));
const maximumDef = binaryOp("maximum", ({ inputs: [a, b] }, dy) => [
  () => tieShare(gt(a, b), a, b, dy),
  () => tieShare(lt(a, b), a, b, dy),
]);
const minimumDef = binaryOp("minimum", ({ inputs: [a, b] }, dy) => [
  () => tieShare(lt(a, b), a, b, dy),
  () => tieShare(gt(a, b), a, b, dy),
]);

const compareDef = (name: BinaryOp) => binaryOp(name, NOT_DIFFERENTIABLE, "bool");
const eqDef = compareDef("eq");
const neDef = compareDef("ne");
const ltDef = compareDef("lt");
const leDef = compareDef("le");
const gtDef = compareDef("gt");
const geDef = compareDef("ge");
const logicalAndDef = compareDef("logicalAnd");
const logicalOrDef = compareDef("logicalOr");

/** Binary arithmetic: bool computes in int32 (true + true = 2). */
const arithmetic = (def: ReturnType<typeof binaryOp>) => (a: TensorLike, b: TensorLike) =>
  apply(def, unify(def.name, [a, b], "int32"), undefined);
const comparison = (def: ReturnType<typeof binaryOp>) => (a: TensorLike, b: TensorLike) => apply(def, unify(def.name, [a, b]), undefined);

export const add = arithmetic(addDef);
export const sub = arithmetic(subDef);
export const mul = arithmetic(mulDef);
/** True division: int32 / int32 gives float32, as in PyTorch. */
export const div = (a: TensorLike, b: TensorLike) => apply(divDef, unify("div", [a, b], "float32"), undefined);
export const pow = arithmetic(powDef);
export const maximum = arithmetic(maximumDef);
export const minimum = arithmetic(minimumDef);
export const eq = comparison(eqDef);
export const ne = comparison(neDef);
export const lt = comparison(ltDef);
export const le = comparison(leDef);
export const gt = comparison(gtDef);
export const ge = comparison(geDef);
export const logicalAnd = comparison(logicalAndDef);
export const logicalOr = comparison(logicalOrDef);

// ---- where -----------------------------------------------------------------------------------------

const whereDef = defineOp({
  name: "where",
  forward: (be, [cond, a, b]) => {
    const shape = broadcastShapes("where", cond.shape, a.shape, b.shape);
    return { storage: be.where(cond, a, b, shape), shape, dtype: a.dtype };
  },
  // the gradient goes to whichever branch was picked; the condition gets none
  backward: ({ inputs: [cond] }, dy) => [null, () => where(cond, dy, 0), () => where(cond, 0, dy)],
});

/** Picks a where cond is true, else b, elementwise with broadcasting. cond must be bool. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor("where", cond, "the condition");
  const [c] = unify("where", [cond]);
  if (c.dtype !== "bool") fail("where", `the condition must be a bool tensor, got ${c.dtype} (compare with gt, eq, ... first)`);
  const [x, y] = unify("where", [a, b]);
  return apply(whereDef, [c, x, y], undefined);
}

// ---- composites ------------------------------------------------------------------------------------

/** x² */
export const square = (x: TensorLike) => mul(x, x);
/** 1 / x */
export const reciprocal = (x: TensorLike) => div(1, x);
/** 1 / √x */
export const rsqrt = (x: TensorLike) => div(1, sqrt(x));

/**
 * Limits x to [min, max]; either bound may be omitted. The gradient is dy inside the closed interval and
 * 0 outside, as in PyTorch (so a value exactly at a bound still gets its gradient).
 */
export function clamp(x: Tensor, min?: TensorLike, max?: TensorLike): Tensor {
  checkTensor("clamp", x, "the input");
  if (min === undefined && max === undefined) fail("clamp", "needs at least one of min and max");
  let out = x;
  if (min !== undefined) out = where(lt(out, min), min, out);
  if (max !== undefined) out = where(gt(out, max), max, out);
  return out;
}

/** Replaces the elements where mask is true with value (the mask broadcasts against x). */
export function maskedFill(x: Tensor, mask: Tensor, value: TensorLike): Tensor {
  checkTensor("maskedFill", x, "the input");
  checkTensor("maskedFill", mask, "the mask");
  if (mask.dtype !== "bool") fail("maskedFill", `the mask must be a bool tensor, got ${mask.dtype}`);
  if (!isFloat(x.dtype) && typeof value === "number" && !Number.isInteger(value)) {
    fail("maskedFill", `value ${value} does not fit a ${x.dtype} tensor`);
  }
  if (!sameShape(broadcastShapes("maskedFill", x.shape, mask.shape), x.shape)) {
    fail("maskedFill", `the mask's shape [${mask.shape}] must broadcast to x's shape [${x.shape}], not enlarge it`);
  }
  const [v] = unify("maskedFill", [value]);
  return where(mask, cast(v, x.dtype), x);
}

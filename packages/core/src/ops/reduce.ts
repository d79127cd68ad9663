/**
 * @file Reductions over any axes, with keepdims: sum, max, min (primitives), argmax, argmin, and the
 * composites mean, logSumExp, variance and std.
 *
 * `axes` may be a number, a list, or undefined (every axis). max and min split the gradient equally
 * among tied maxima, as PyTorch does for `amax`/`amin` and full reductions.
 */

import { checkOptions, checkTensor } from "../args.ts";
import type { ReduceOp } from "../backend/backend.ts";
import { type DType, floatResult } from "../dtype.ts";
import { fail } from "../errors.ts";
import { zeros } from "../factories.ts";
import { normalizeAxes, reducedShape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { cast, type TensorLike, unify } from "./cast.ts";
import { abs, add, div, eq, exp, log, lt, mul, sqrt, sub, where } from "./elementwise.ts";
import { expand, permute, reshape } from "./movement.ts";
import { apply, defineOp, NOT_DIFFERENTIABLE } from "./registry.ts";

/** An axis, a list of axes, or every axis (undefined or null, as tfjs and NumPy's axis=None). */
export type Axes = number | readonly number[] | null | undefined;

interface ReduceAttrs {
  axes: number[];
  keepdims: boolean;
}

/** dy brought back to x's shape: reinsert the reduced axes as 1, then broadcast. */
function spread(dy: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return expand(reshape(dy, reducedShape(x.shape, axes, true)), x.shape);
}

function reduceDef(name: ReduceOp, outDType: (dtype: DType) => DType) {
  return defineOp<ReduceAttrs>({
    name,
    forward: (be, [x], { axes, keepdims }) => ({
      storage: be.reduce(name, x, axes, outDType(x.dtype)),
      shape: reducedShape(x.shape, axes, keepdims),
      dtype: outDType(x.dtype),
    }),
    backward:
      name === "sum"
        ? // d Σx = dy, copied to every summed element
          ({ inputs: [x], attrs: { axes } }, dy) => [() => spread(dy, x, axes)]
        : // the gradient goes to the elements equal to the extreme, shared equally among ties
          ({ inputs: [x], output, attrs: { axes } }, dy) => [
            () => {
              const hit = cast(eq(x, spread(output, x, axes)), dy.dtype);
              const count = reduceSum(hit, axes, true);
              return mul(spread(dy, x, axes), div(hit, count));
            },
          ],
  });
}

const sumDef = reduceDef("sum", (dtype) => (dtype === "bool" ? "int32" : dtype));
const maxDef = reduceDef("max", (dtype) => dtype);
const minDef = reduceDef("min", (dtype) => dtype);

function reduceSum(x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return apply(sumDef, [x], { axes: [...axes], keepdims });
}

function reduction(def: typeof sumDef, x: TensorLike, axes: Axes, keepdims: boolean): Tensor {
  const [t] = unify(def.name, [x]);
  const list = normalizeAxes(def.name, axes, t.rank);
  if (def !== sumDef) {
    for (const a of list) {
      if (t.shape[a] === 0) fail(def.name, `cannot reduce over axis ${a} of length 0 (shape [${t.shape}]): it has no ${def.name}`);
    }
  }
  return apply(def, [t], { axes: list, keepdims });
}

/**
 * Σ over axes (every axis when omitted or null). bool sums to int32; an int32 (or bool) sum is exact, and
 * one whose result leaves int32's range is refused with an error, never wrapped (cast to float64 first).
 */
export const sum = (x: TensorLike, axes?: Axes, keepdims = false) => reduction(sumDef, x, axes, keepdims);
export const max = (x: TensorLike, axes?: Axes, keepdims = false) => reduction(maxDef, x, axes, keepdims);
export const min = (x: TensorLike, axes?: Axes, keepdims = false) => reduction(minDef, x, axes, keepdims);

/** The mean over axes; int32 and bool inputs average in float32. */
export function mean(x: TensorLike, axes?: Axes, keepdims = false): Tensor {
  const [t] = unify("mean", [x]);
  const list = normalizeAxes("mean", axes, t.rank);
  const count = sizeOf(list.map((a) => t.shape[a]));
  return div(sum(cast(t, floatResult(t.dtype)), list, keepdims), count);
}

/**
 * Variance with Bessel's correction by default (`correction: 1`, as torch.var); `correction: 0` gives the
 * population variance that layerNorm uses.
 */
export function variance(x: Tensor, axes?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor {
  checkTensor("variance", x, "the input");
  checkOptions("variance", options, ["correction", "keepdims"]);
  const { correction = 1, keepdims = false } = options;
  const list = normalizeAxes("variance", axes, x.rank);
  const count = sizeOf(list.map((a) => x.shape[a]));
  const centered = sub(x, mean(x, list, true));
  return div(sum(mul(centered, centered), list, keepdims), Math.max(count - correction, 0));
}

/** √variance (see variance for `correction`). */
export function std(x: Tensor, axes?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor {
  checkTensor("std", x, "the input");
  checkOptions("std", options, ["correction", "keepdims"]);
  // axes are checked here so that a bad one is reported by std, the op the caller used
  return sqrt(variance(x, normalizeAxes("std", axes, x.rank), options));
}

/** log Σ exp(x), computed stably by factoring out the maximum. */
export function logSumExp(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  checkTensor("logSumExp", x, "the input");
  const list = normalizeAxes("logSumExp", axes, x.rank);
  // NOTE: the shift carries no gradient (the result does not depend on it), so detach it; that also
  // keeps a tie in the max from splitting a gradient that must not exist. An infinite maximum shifts by
  // 0 instead, as in torch.logsumexp: all -inf (a fully masked row) would give -inf - -inf = NaN rather
  // than -inf, and +inf would give NaN rather than +inf. An empty axis has no maximum; its result is
  // log 0 = -inf, also with shift 0.
  const empty = list.some((a) => x.shape[a] === 0);
  const top = empty ? zeros(reducedShape(x.shape, list, true), { dtype: x.dtype, backend: x.backend }) : max(x, list, true).detach();
  const shift = where(lt(abs(top), Number.POSITIVE_INFINITY), top, 0);
  const out = add(log(sum(exp(sub(x, shift)), list, true)), shift);
  return keepdims ? out : reshape(out, reducedShape(x.shape, list, false));
}

// ---- arg reductions ----------------------------------------------------------------------------------

interface ArgAttrs {
  axis: number;
  keepdims: boolean;
}

const argDef = (name: "argmax" | "argmin") =>
  defineOp<ArgAttrs>({
    name,
    forward: (be, [x], { axis, keepdims }) => ({
      storage: be.argReduce(name, x, axis),
      shape: reducedShape(x.shape, [axis], keepdims),
      dtype: "int32",
    }),
    backward: NOT_DIFFERENTIABLE,
  });
const argmaxDef = argDef("argmax");
const argminDef = argDef("argmin");

/**
 * Positions of extremes over `axes`: one axis, several (the position is then row-major within the block
 * the reduced axes span, so `argmax(x, [1, 2])` of a [B, H, W] tensor is h·W + w), or all of them
 * (undefined: the position in the flattened tensor, as in PyTorch and NumPy).
 */
function argReduction(def: typeof argmaxDef, x: Tensor, axes: Axes, keepdims: boolean): Tensor {
  const [t] = unify(def.name, [x]);
  const list = normalizeAxes(def.name, axes, t.rank);
  if (axes === undefined && t.size === 0) fail(def.name, "cannot take the position of an extreme in an empty tensor");
  for (const a of list) if (t.shape[a] === 0) fail(def.name, `axis ${a} has length 0 (shape [${t.shape}]): it has no extreme`);
  // move the reduced axes to the end and merge them into one, then take the extreme along it
  const kept = t.shape.map((_, i) => i).filter((i) => !list.includes(i));
  const merged = reshape(permute(t, [...kept, ...list]), [...kept.map((i) => t.shape[i]), sizeOf(list.map((i) => t.shape[i]))]);
  const out = apply(def, [merged], { axis: kept.length, keepdims: false });
  return keepdims ? reshape(out, reducedShape(t.shape, list, true)) : out;
}

/** int32 position of the first maximum over axes (see argReduction for several axes and for none). */
export const argmax = (x: Tensor, axes?: Axes, keepdims = false) => argReduction(argmaxDef, x, axes, keepdims);
/** int32 position of the first minimum over axes (see argReduction for several axes and for none). */
export const argmin = (x: Tensor, axes?: Axes, keepdims = false) => argReduction(argminDef, x, axes, keepdims);

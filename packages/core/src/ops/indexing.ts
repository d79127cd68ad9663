/**
 * @file Indexing: gather and scatterAdd (primitives, each the other's gradient), indexSelect and
 * embedding (composites), and topk.
 *
 * Index values are checked on the host before any kernel runs, because a GPU kernel cannot report an
 * out-of-range read: it returns garbage or zeros. Indices made from host data (`tensor([...], ...,
 * "int32")`) carry their values with them; on backends that can read synchronously any index can be
 * checked; elsewhere (an index computed on WebGPU) the check waits for the next readback on that backend,
 * which throws it before returning anything (deferred-checks.ts).
 */

import { checkOptions, checkTensor } from "../args.ts";
import { deferIndexCheck } from "../deferred-checks.ts";
import type { TypedArray } from "../dtype.ts";
import { fail, fmtShape } from "../errors.ts";
import { zeros } from "../factories.ts";
import { normalizeAxis } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { unify } from "./cast.ts";
import { expand, reshape, transpose } from "./movement.ts";
import { apply, defineOp, NOT_DIFFERENTIABLE } from "./registry.ts";

/** The values of an int32 index tensor, for host-side validation; null where they are only on the device. */
function indexValues(op: string, index: Tensor): TypedArray | null {
  const host = index.buffer(op).hostCopy;
  if (host) return host;
  if (index.backend.canReadSync) return index.dataSync();
  return null;
}

/**
 * Throws unless every index value v satisfies 0 <= v < limit (or v is one of `allowed`); for an index
 * that lives only on an asynchronous device, queues the same check for the next readback.
 */
export function checkIndexRange(op: string, index: Tensor, limit: number, allowed: readonly number[] = []): void {
  checkTensor(op, index, "the index");
  if (index.dtype !== "int32") fail(op, `indices must be int32, got ${index.dtype}`);
  const values = indexValues(op, index);
  if (values === null) {
    deferIndexCheck(op, index.buffer(op), index.shape, index.dtype, limit, allowed);
    return;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if ((v < 0 || v >= limit) && !allowed.includes(v)) {
      fail(op, `index ${v} at flat position ${i} is out of range: expected 0 <= index < ${limit}`);
    }
  }
}

// ---- gather and scatterAdd ---------------------------------------------------------------------------

const gatherDef = defineOp<{ axis: number }>({
  name: "gather",
  forward: (be, [x, index], { axis }) => ({ storage: be.gather(x, axis, index), shape: index.shape, dtype: x.dtype }),
  // each picked element sends its gradient back to where it was read from; repeats add up
  backward: ({ inputs: [x, index], attrs: { axis } }, dy) => [
    () => scatterAddUnchecked(zeros(x.shape, { dtype: dy.dtype, backend: dy.backend }), axis, index, dy),
    null,
  ],
});

const scatterAddDef = defineOp<{ axis: number }>({
  name: "scatterAdd",
  forward: (be, [base, index, src], { axis }) => ({
    storage: be.scatterAdd(base, axis, index, src),
    shape: base.shape,
    dtype: base.dtype,
  }),
  // base passes through unchanged; each src element reads its gradient from where it was added
  backward: ({ inputs: [, index], attrs: { axis } }, dy) => [() => dy, null, () => gatherUnchecked(dy, axis, index)],
});

function checkIndexShape(op: string, x: Tensor, axis: number, index: Tensor): number {
  if (index.rank !== x.rank) {
    fail(op, `index must have the same rank as the input: got ${fmtShape(index.shape)} for ${fmtShape(x.shape)}`);
  }
  const a = normalizeAxis(op, axis, x.rank);
  index.shape.forEach((d, i) => {
    if (i !== a && d > x.shape[i]) {
      fail(op, `index shape ${fmtShape(index.shape)} exceeds the input shape ${fmtShape(x.shape)} on axis ${i}`);
    }
  });
  return a;
}

/** The number of valid positions along an axis; a rank-0 tensor has one (axis 0 and -1 name it, as in PyTorch). */
function lengthAlong(x: Tensor, axis: number): number {
  return x.rank === 0 ? 1 : x.shape[axis];
}

function gatherUnchecked(x: Tensor, axis: number, index: Tensor): Tensor {
  return apply(gatherDef, [x, index], { axis });
}

function scatterAddUnchecked(base: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  return apply(scatterAddDef, [base, index, src], { axis });
}

/** out[i][j] = x[index[i][j]][j] for axis 0 (and likewise for other axes), as torch.gather. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkTensor("gather", x, "the input");
  checkTensor("gather", index, "the index");
  const a = checkIndexShape("gather", x, axis, index);
  checkIndexRange("gather", index, lengthAlong(x, a));
  return gatherUnchecked(x, a, index);
}

/** A copy of base with out[index[i][j]][j] += src[i][j] for axis 0 (torch.scatter_add); index and src share a shape. */
export function scatterAdd(base: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  checkTensor("scatterAdd", base, "the base");
  checkTensor("scatterAdd", index, "the index");
  checkTensor("scatterAdd", src, "src");
  const a = checkIndexShape("scatterAdd", base, axis, index);
  if (index.shape.some((d, i) => d !== src.shape[i]) || index.rank !== src.rank) {
    fail("scatterAdd", `index ${fmtShape(index.shape)} and src ${fmtShape(src.shape)} must have the same shape`);
  }
  checkIndexRange("scatterAdd", index, lengthAlong(base, a));
  const [b, s] = unify("scatterAdd", [base, src]);
  return scatterAddUnchecked(b, a, index, s);
}

/** The slices of x at the given positions along axis (index is 1-D), as torch.index_select. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  checkTensor("indexSelect", x, "the input");
  checkTensor("indexSelect", index, "the index");
  if (index.rank !== 1) fail("indexSelect", `index must be 1-D, got shape ${fmtShape(index.shape)}`);
  const a = normalizeAxis("indexSelect", axis, x.rank);
  if (x.rank === 0 && index.size !== 1) fail("indexSelect", `a rank-0 input takes exactly one index, got shape ${fmtShape(index.shape)}`);
  checkIndexRange("indexSelect", index, lengthAlong(x, a));
  return selectUnchecked(x, a, index);
}

function selectUnchecked(x: Tensor, a: number, index: Tensor): Tensor {
  const shape = x.shape.map((d, i) => (i === a ? index.size : d));
  const along = x.shape.map((_, i) => (i === a ? index.size : 1));
  return gatherUnchecked(x, a, expand(reshape(index, along), shape));
}

/** Rows of weight [V, D] picked by integer ids of any shape: the result has shape [...ids.shape, D]. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  checkTensor("embedding", weight, "the weight");
  checkTensor("embedding", ids, "the ids");
  if (weight.rank !== 2) fail("embedding", `weight must be [vocab, dim], got ${fmtShape(weight.shape)}`);
  // checked here rather than in indexSelect, so that a bad id is reported against the op the user called
  checkIndexRange("embedding", ids, weight.shape[0]);
  const rows = selectUnchecked(weight, 0, reshape(ids, [ids.size]));
  return reshape(rows, [...ids.shape, weight.shape[1]]);
}

// ---- topk ------------------------------------------------------------------------------------------

const topkDef = defineOp<{ k: number; largest: boolean }>({
  name: "topk",
  forward: (be, [x], { k, largest }) => ({
    storage: be.topk(x, k, largest),
    shape: [...x.shape.slice(0, -1), k],
    dtype: "int32",
  }),
  backward: NOT_DIFFERENTIABLE,
});

/**
 * The k largest (or smallest) entries along an axis, best first, with their int32 positions. Ties keep
 * the lower position first. Gradients flow to the picked entries through a gather.
 */
export function topk(x: Tensor, k: number, options: { axis?: number; largest?: boolean } = {}): { values: Tensor; indices: Tensor } {
  checkTensor("topk", x, "the input");
  checkOptions("topk", options, ["axis", "largest"]);
  const { axis = -1, largest = true } = options;
  if (x.rank === 0) fail("topk", "needs a tensor with at least one axis");
  const a = normalizeAxis("topk", axis, x.rank);
  if (!Number.isInteger(k) || k < 0 || k > x.shape[a]) {
    fail("topk", `k = ${k} must be an integer in 0..${x.shape[a]} (the length of axis ${a})`);
  }
  const last = x.rank - 1;
  const moved = a === last ? x : transpose(x, a, last);
  const indices = apply(topkDef, [moved], { k, largest });
  const values = gatherUnchecked(moved, last, indices);
  return a === last ? { values, indices } : { values: transpose(values, a, last), indices: transpose(indices, a, last) };
}

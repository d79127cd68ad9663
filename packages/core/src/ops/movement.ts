/**
 * @file Movement primitives (reshape, permute, expand, slice, pad, concat) and the composites built on
 * them (transpose, squeeze, unsqueeze, flatten, broadcastTo, stack, split, chunk, tril, triu).
 *
 * Every tensor is dense and row-major: reshape shares its input's buffer, the others copy.
 */

import { checkNumberList, checkTensor, checkTensorList } from "../args.ts";
import { describeValue, fail, fmtShape } from "../errors.ts";
import { arange } from "../factories.ts";
import { broadcastShapes, checkSize, normalizeAxis, sameShape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { unify } from "./cast.ts";
import { ge, le, sub, where } from "./elementwise.ts";
import { apply, defineOp } from "./registry.ts";

// ---- reshape ---------------------------------------------------------------------------------------

const reshapeDef = defineOp<{ shape: number[] }>({
  name: "reshape",
  forward: (_, [x], { shape }) => ({ storage: x.storage, shape, dtype: x.dtype }),
  backward: ({ inputs: [x] }, dy) => [() => reshape(dy, x.shape)],
  view: true,
});

/** Same elements in a new shape; one entry may be -1 (inferred). Shares the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor("reshape", x, "the input");
  checkNumberList("reshape", shape, "the shape");
  const target = [...shape];
  const unknown = target.filter((d) => d === -1).length;
  if (unknown > 1 || target.some((d) => !Number.isInteger(d) || d < -1)) {
    fail("reshape", `invalid target shape ${fmtShape(target)}: use non-negative sizes and at most one -1`);
  }
  if (unknown === 1) {
    const known = sizeOf(target.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      fail("reshape", `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(target)}`);
    }
    target[target.indexOf(-1)] = x.size / known;
  }
  if (sizeOf(target) !== x.size) {
    fail("reshape", `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(target)} (${sizeOf(target)} elements)`);
  }
  if (sameShape(target, x.shape)) return x;
  return apply(reshapeDef, [x], { shape: target });
}

/**
 * Where a new axis goes in a tensor of `rank` axes: 0..rank, negative counting from the end (-1 appends).
 * normalizeAxis(rank + 1) has the right range, but its message would name a rank the tensor does not have.
 */
function insertionAxis(where: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank - 1 || axis > rank) {
    fail(where, `axis ${axis} is out of range for inserting an axis into a tensor of rank ${rank} (expected ${-rank - 1}..${rank})`);
  }
  return axis < 0 ? axis + rank + 1 : axis;
}

/** Inserts an axis of length 1 at `axis` (which may be rank, to append). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor("unsqueeze", x, "the input");
  const a = insertionAxis("unsqueeze", axis, x.rank);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes axes of length 1: the given ones (each must have length 1), or all of them. */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  checkTensor("squeeze", x, "the input");
  if (axes === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  if (typeof axes !== "number") checkNumberList("squeeze", axes, "the axes");
  const list = (typeof axes === "number" ? [axes] : [...axes]).map((a) => normalizeAxis("squeeze", a, x.rank));
  for (const a of list) {
    if (x.shape[a] !== 1) fail("squeeze", `axis ${a} has length ${x.shape[a]}, not 1 (shape ${fmtShape(x.shape)})`);
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !list.includes(i)),
  );
}

/** Merges axes startAxis..endAxis (inclusive) into one; with no arguments, a 1-D copy. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  checkTensor("flatten", x, "the input");
  if (x.rank === 0) return reshape(x, [1]);
  const s = normalizeAxis("flatten", startAxis, x.rank);
  const e = normalizeAxis("flatten", endAxis, x.rank);
  if (s > e) fail("flatten", `startAxis ${startAxis} comes after endAxis ${endAxis}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

// ---- permute ---------------------------------------------------------------------------------------

const permuteDef = defineOp<{ perm: number[] }>({
  name: "permute",
  forward: (be, [x], { perm }) => ({ storage: be.permute(x, perm), shape: perm.map((p) => x.shape[p]), dtype: x.dtype }),
  // undo the permutation: axis perm[i] of x became axis i of the output
  backward: ({ attrs: { perm } }, dy) => [() => permute(dy, inversePermutation(perm))],
});

function inversePermutation(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inverse[p] = i;
  });
  return inverse;
}

/** Reorders axes: output axis i is input axis perm[i]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  checkTensor("permute", x, "the input");
  checkNumberList("permute", perm, "the permutation");
  if (perm.length !== x.rank) fail("permute", `needs ${x.rank} axes for shape ${fmtShape(x.shape)}, got [${perm}]`);
  const list = perm.map((p) => normalizeAxis("permute", p, x.rank));
  if (new Set(list).size !== list.length) fail("permute", `[${perm}] is not a permutation of the axes`);
  if (list.every((p, i) => p === i)) return x;
  return apply(permuteDef, [x], { perm: list });
}

/** Swaps two axes (the last two by default, i.e. the matrix transpose of a batch). */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  checkTensor("transpose", x, "the input");
  if (x.rank < 2 && axis0 === -2 && axis1 === -1) return x;
  const a = normalizeAxis("transpose", axis0, x.rank);
  const b = normalizeAxis("transpose", axis1, x.rank);
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

// ---- expand ----------------------------------------------------------------------------------------

const expandDef = defineOp<{ shape: number[] }>({
  name: "expand",
  forward: (be, [x], { shape }) => ({ storage: be.expand(x, shape), shape, dtype: x.dtype }),
  // the engine sums dy back over the broadcast axes, which is exactly expand's vector-Jacobian product
  backward: (_, dy) => [() => dy],
});

function expandAs(where: string, x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(where, x);
  checkNumberList(where, shape, "the target shape");
  if (shape.length < x.rank) {
    fail(where, `cannot expand ${fmtShape(x.shape)} to fewer axes ${fmtShape(shape)}`);
  }
  const target = shape.map((d, i) => (d === -1 ? (x.shape[i - (shape.length - x.rank)] ?? -1) : d));
  if (target.some((d) => !Number.isInteger(d) || d < 0)) fail(where, `invalid target shape ${fmtShape(shape)}`);
  const out = broadcastShapes(where, x.shape, target);
  if (!sameShape(out, target)) fail(where, `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  if (sameShape(target, x.shape)) return x;
  checkSize(where, target, x.dtype);
  return apply(expandDef, [x], { shape: target });
}

/** Broadcasts x to `shape` with NumPy rules (-1 keeps a dimension). PyTorch's expand, NumPy's broadcast_to. */
export const expand = (x: Tensor, shape: readonly number[]): Tensor => expandAs("expand", x, shape);
/** expand under NumPy's name (its errors say broadcastTo). */
export const broadcastTo = (x: Tensor, shape: readonly number[]): Tensor => expandAs("broadcastTo", x, shape);

// ---- slice and pad ---------------------------------------------------------------------------------

const sliceDef = defineOp<{ begin: number[]; size: number[] }>({
  name: "slice",
  forward: (be, [x], { begin, size }) => ({ storage: be.slice(x, begin, size), shape: size, dtype: x.dtype }),
  // the gradient lands where the slice came from; zeros elsewhere
  backward: ({ inputs: [x], attrs: { begin, size } }, dy) => [
    () =>
      pad(
        dy,
        begin.map((b, i) => [b, x.shape[i] - b - size[i]]),
      ),
  ],
});

/**
 * The block starting at `begin` with `size` elements per axis (tfjs's slice). Missing trailing axes are
 * taken whole; a negative begin counts from the end; size -1 means "to the end".
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  checkTensor("slice", x, "the input");
  checkNumberList("slice", begin, "begin");
  if (size !== undefined) checkNumberList("slice", size, "size");
  if (begin.length > x.rank || (size && size.length > x.rank)) {
    fail("slice", `got ${begin.length} begin and ${size?.length ?? 0} size entries for a tensor of rank ${x.rank}`);
  }
  const b = x.shape.map((d, i) => {
    const v = begin[i] ?? 0;
    return v < 0 ? v + d : v;
  });
  const s = x.shape.map((d, i) => {
    const v = size?.[i] ?? -1;
    return v === -1 ? d - b[i] : v;
  });
  x.shape.forEach((d, i) => {
    if (!Number.isInteger(b[i]) || !Number.isInteger(s[i]) || b[i] < 0 || s[i] < 0 || b[i] + s[i] > d) {
      fail("slice", `begin [${begin}] and size [${size ?? []}] do not fit inside shape ${fmtShape(x.shape)} (axis ${i})`);
    }
  });
  if (sameShape(s, x.shape)) return x;
  return apply(sliceDef, [x], { begin: b, size: s });
}

/** The elements start..end-1 along one axis (negative positions count from the end), like x[..., start:end]. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  checkTensor("narrow", x, "the input");
  if (x.rank === 0) fail("narrow", "cannot narrow a rank-0 tensor: it has no axis");
  const a = normalizeAxis("narrow", axis, x.rank);
  const d = x.shape[a];
  // checked here rather than left to slice, which would read a length of -1 as "to the end"
  const first = start < 0 ? start + d : start;
  if (!Number.isInteger(first) || !Number.isInteger(length) || first < 0 || length < 0 || first + length > d) {
    fail(
      "narrow",
      `start ${start} and length ${length} do not fit axis ${a} of length ${d} (shape ${fmtShape(x.shape)}): ` +
        `expected ${-d} <= start <= ${d}, length >= 0 and start + length <= ${d}`,
    );
  }
  const begin = x.shape.map((_, i) => (i === a ? first : 0));
  const size = x.shape.map((d, i) => (i === a ? length : d));
  return slice(x, begin, size);
}

const padDef = defineOp<{ before: number[]; after: number[]; value: number }>({
  name: "pad",
  forward: (be, [x], { before, after, value }) => ({
    storage: be.pad(x, before, after, value),
    shape: x.shape.map((d, i) => before[i] + d + after[i]),
    dtype: x.dtype,
  }),
  // only the original block's gradient flows back
  backward: ({ inputs: [x], attrs: { before } }, dy) => [() => slice(dy, before, x.shape)],
});

/** Pads each axis with [before, after] elements of `value` (tfjs's pad; missing axes get no padding). */
export function pad(x: Tensor, paddings: readonly (readonly [number, number])[], value = 0): Tensor {
  checkTensor("pad", x, "the input");
  if (!Array.isArray(paddings) || !paddings.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => typeof n === "number"))) {
    fail("pad", `paddings must be an array of [before, after] pairs, one per axis, got ${JSON.stringify(paddings) ?? String(paddings)}`);
  }
  if (paddings.length > x.rank) fail("pad", `got ${paddings.length} padding pairs for a tensor of rank ${x.rank}`);
  const before = x.shape.map((_, i) => paddings[i]?.[0] ?? 0);
  const after = x.shape.map((_, i) => paddings[i]?.[1] ?? 0);
  if ([...before, ...after].some((p) => !Number.isInteger(p) || p < 0)) {
    fail("pad", `paddings must be non-negative integers, got ${JSON.stringify(paddings)}`);
  }
  if (typeof value !== "number") fail("pad", `value must be a number, got ${typeof value}`);
  if ([...before, ...after].every((p) => p === 0)) return x;
  return apply(padDef, [x], { before, after, value });
}

// ---- concat, stack, split ----------------------------------------------------------------------------

const concatDef = defineOp<{ axis: number }>({
  name: "concat",
  forward: (be, xs, { axis }) => {
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0);
    return { storage: be.concat(xs, axis, shape), shape, dtype: xs[0].dtype };
  },
  // each input gets its own stretch of dy back
  backward: ({ inputs, attrs: { axis } }, dy) => {
    let start = 0;
    return inputs.map((x) => {
      const begin = start;
      start += x.shape[axis];
      return () => narrow(dy, axis, begin, x.shape[axis]);
    });
  },
});

/** Joins tensors along an existing axis; all other dimensions must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs)) fail("concat", `expected an array of tensors, got ${describeValue(xs)}`);
  if (xs.length === 0) fail("concat", "needs at least one tensor");
  const tensors = unify("concat", xs);
  const rank = tensors[0].rank;
  if (rank === 0) fail("concat", "cannot concatenate rank-0 tensors; use stack");
  const a = normalizeAxis("concat", axis, rank);
  for (const t of tensors) {
    if (t.rank !== rank || t.shape.some((d, i) => i !== a && d !== tensors[0].shape[i])) {
      fail("concat", `shapes ${tensors.map((x) => fmtShape(x.shape)).join(", ")} differ outside axis ${a}`);
    }
  }
  if (tensors.length === 1) return tensors[0];
  return apply(concatDef, tensors, { axis: a });
}

/** Joins same-shape tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  checkTensorList("stack", xs, "the tensors");
  if (xs.length === 0) fail("stack", "needs at least one tensor");
  for (const x of xs) {
    if (!sameShape(x.shape, xs[0].shape)) fail("stack", `shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} differ`);
  }
  const a = insertionAxis("stack", axis, xs[0].rank);
  return concat(
    xs.map((x) => unsqueeze(x, a)),
    a,
  );
}

/**
 * Splits along an axis, as torch.split: a number gives pieces of that size (the last may be smaller);
 * a list gives the size of each piece and must add up to the axis length.
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  checkTensor("split", x, "the input");
  if (typeof sizeOrSections !== "number") checkNumberList("split", sizeOrSections, "the section sizes");
  if (x.rank === 0) fail("split", "cannot split a rank-0 tensor: it has no axis");
  const a = normalizeAxis("split", axis, x.rank);
  const length = x.shape[a];
  let sizes: number[];
  if (typeof sizeOrSections === "number") {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0)
      fail("split", `piece size must be a positive integer, got ${sizeOrSections}`);
    sizes = [];
    for (let s = 0; s < length; s += sizeOrSections) sizes.push(Math.min(sizeOrSections, length - s));
    // an empty axis still gives one (empty) piece, as in torch.split, so that concat(split(x)) is x
    if (length === 0) sizes.push(0);
  } else {
    sizes = [...sizeOrSections];
    const total = sizes.reduce((n, s) => n + s, 0);
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== length) {
      fail("split", `sections [${sizes}] must be non-negative and add up to the axis length ${length}`);
    }
  }
  let start = 0;
  return sizes.map((s) => {
    const piece = narrow(x, a, start, s);
    start += s;
    return piece;
  });
}

/** Splits into `chunks` nearly equal pieces along an axis, as torch.chunk. */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  checkTensor("chunk", x, "the input");
  if (!Number.isInteger(chunks) || chunks <= 0) fail("chunk", `chunks must be a positive integer, got ${chunks}`);
  const length = x.shape[normalizeAxis("chunk", axis, x.rank)];
  return split(x, Math.max(1, Math.ceil(length / chunks)), axis);
}

// ---- tril and triu ---------------------------------------------------------------------------------

/** True where column - row satisfies `keep`, over the last two axes of x. */
function triangleMask(where: string, x: Tensor, k: number, keep: (offset: Tensor) => Tensor): Tensor {
  // NaN would compare false everywhere and zero the whole tensor
  checkTensor(where, x);
  if (!Number.isSafeInteger(k)) fail(where, `the diagonal offset k must be an integer, got ${k}`);
  if (x.rank < 2) fail(where, `needs a tensor with at least 2 axes, got shape ${fmtShape(x.shape)}`);
  const [rows, cols] = x.shape.slice(-2);
  const offset = sub(arange(0, cols, 1, { backend: x.backend }), reshape(arange(0, rows, 1, { backend: x.backend }), [rows, 1]));
  return keep(offset);
}

/** Keeps the lower triangle of the last two axes (column - row <= k), zeroes the rest. */
export function tril(x: Tensor, k = 0): Tensor {
  return where(
    triangleMask("tril", x, k, (offset) => le(offset, k)),
    x,
    0,
  );
}

/** Keeps the upper triangle of the last two axes (column - row >= k), zeroes the rest. */
export function triu(x: Tensor, k = 0): Tensor {
  return where(
    triangleMask("triu", x, k, (offset) => ge(offset, k)),
    x,
    0,
  );
}

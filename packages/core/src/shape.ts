/** @file Shape arithmetic shared by ops, backends and the autograd engine. */

import { bytesPerElement, type DType } from "./dtype.ts";
import { fail, fmtShape } from "./errors.ts";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  if (!Array.isArray(shape)) fail("sizeOf", `a shape must be an array of sizes, got ${typeof shape}`);
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkShape(where: string, shape: readonly unknown[]): number[] {
  if (!Array.isArray(shape)) fail(where, `a shape must be an array of sizes such as [2, 3], got ${shape === null ? "null" : typeof shape}`);
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      fail(where, `shape ${fmtShape(shape as number[])} must hold non-negative integers`);
    }
  }
  return [...(shape as number[])];
}

/**
 * The most bytes one tensor may take: 4 GiB, what a JavaScript typed array and a 32-bit WebAssembly
 * memory hold. Checked before anything is allocated, so a size past it is an error naming the op.
 */
export const MAX_TENSOR_BYTES = 2 ** 32;

/** Refuses a tensor of `shape` and `dtype` larger than MAX_TENSOR_BYTES, naming `where`, the shape and the bytes. */
export function checkSize(where: string, shape: Shape, dtype: DType): void {
  checkShape(where, shape);
  const bytes = sizeOf(shape) * bytesPerElement(dtype);
  if (bytes > MAX_TENSOR_BYTES) {
    fail(
      where,
      `a ${dtype} tensor of shape ${fmtShape(shape)} needs ${bytes.toLocaleString("en-US")} bytes; one tensor holds at most ${MAX_TENSOR_BYTES.toLocaleString("en-US")} (4 GiB)`,
    );
  }
}

/** NumPy broadcasting: align on the right; each pair of dimensions must be equal or contain a 1. */
export function broadcastShapes(where: string, ...shapes: Shape[]): number[] {
  // every op with two operands passes through here: plain loops, and each size checked where it is read
  let rank = 0;
  for (const s of shapes) {
    if (!Array.isArray(s)) checkShape(typeof where === "string" ? where : "broadcastShapes", s);
    if (s.length > rank) rank = s.length;
  }
  const out: number[] = [];
  for (let i = 0; i < rank; i++) out.push(1);
  for (const shape of shapes) {
    for (let i = 0; i < shape.length; i++) {
      const axis = rank - shape.length + i;
      const d = shape[i];
      if (typeof d !== "number" || !Number.isInteger(d) || d < 0) checkShape(typeof where === "string" ? where : "broadcastShapes", shape);
      if (d === out[axis] || d === 1) continue;
      if (out[axis] === 1) {
        out[axis] = d;
        continue;
      }
      fail(
        where,
        `shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together ` + `(axis ${axis - rank}: ${out[axis]} vs ${d})`,
      );
    }
  }
  return out;
}

/** Whether `shape` broadcasts to exactly `target` (NumPy rules, without enlarging target). */
export function broadcastsTo(shape: Shape, target: Shape): boolean {
  checkShape("broadcastsTo", shape);
  checkShape("broadcastsTo", target);
  const offset = target.length - shape.length;
  return offset >= 0 && shape.every((d, i) => d === 1 || d === target[offset + i]);
}

/**
 * Strides that read a tensor of `shape` as if it had been broadcast to `target`: broadcast axes get
 * stride 0. `target` must be a valid broadcast of `shape`.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  const offset = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[offset + i] = shape[i] === 1 ? 0 : own[i];
  return out;
}

/**
 * Turns a possibly negative axis into 0..rank-1, or throws naming the op. A rank-0 tensor accepts 0 and -1,
 * as in PyTorch.
 */
export function normalizeAxis(where: string, axis: number, rank: number): number {
  const n = Math.max(rank, 1);
  if (typeof axis !== "number") fail(where, `an axis must be an integer, got ${axis === null ? "null" : typeof axis}`);
  if (!Number.isInteger(axis) || axis < -n || axis >= n) {
    fail(where, `axis ${axis} is out of range for a tensor of rank ${rank} (expected ${-n}..${n - 1})`);
  }
  return axis < 0 ? axis + n : axis;
}

/**
 * Normalises an axes argument: undefined means every axis; a number or a list of numbers is normalised,
 * sorted and checked for duplicates.
 */
export function normalizeAxes(where: string, axes: number | readonly number[] | null | undefined, rank: number): number[] {
  // null is "every axis", as in tfjs and NumPy (axis=None)
  if (axes === undefined || axes === null) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axes !== "number" && !Array.isArray(axes)) {
    fail(where, `axes must be an axis, a list of axes, or null/undefined for every axis; got ${typeof axes}`);
  }
  const list = typeof axes === "number" ? [axes] : [...axes];
  if (rank === 0) {
    for (const a of list) normalizeAxis(where, a, 0);
    return [];
  }
  const out = list.map((a) => normalizeAxis(where, a, rank)).sort((x, y) => x - y);
  for (let i = 1; i < out.length; i++) {
    if (out[i] === out[i - 1]) fail(where, `axis ${out[i]} appears more than once in ${JSON.stringify(list)}`);
  }
  return out;
}

/** The shape a reduction over `axes` produces, with or without the reduced axes kept as 1. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/**
 * The axes along which a gradient of shape `from` must be summed to get back to `to`, the shape of an
 * input that was broadcast: leading axes that `to` lacks, and axes where `to` has 1 and `from` does not.
 */
export function broadcastReductionAxes(from: Shape, to: Shape): number[] {
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  return axes;
}

/**
 * @file Host-side shape work for the kernels: merging axes that can be walked as one, and packing shapes
 * and strides into the fixed-length meta arrays the kernels read.
 */

import { fail } from "../../errors.ts";
import { MAX_RANK, META_LENGTH } from "./kernels/kernel-this.ts";

/**
 * Drops axes of length 1 and merges each axis into its outer neighbour where every stride set allows it
 * (outer stride = inner stride · inner length), so that most strided ops walk one or two axes. Returns
 * dims and strides innermost first, the order the kernels read them in.
 */
export function coalesce(shape: readonly number[], strideSets: readonly (readonly number[])[]): { dims: number[]; strides: number[][] } {
  const dims: number[] = [];
  const strides: number[][] = strideSets.map(() => []);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const d = shape[axis];
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strideSets.every((s, k) => s[axis] === strides[k][last] * dims[last])) {
      dims[last] *= d;
      continue;
    }
    dims.push(d);
    strideSets.forEach((s, k) => {
      strides[k].push(s[axis]);
    });
  }
  return { dims, strides };
}

/** A meta array: `fields` maps each start offset to the values written from there. */
export function meta(where: string, fields: Record<number, readonly number[] | number>): Float32Array {
  const out = new Float32Array(META_LENGTH);
  for (const [start, values] of Object.entries(fields)) {
    const list = typeof values === "number" ? [values] : values;
    if (Number(start) + list.length > META_LENGTH) fail(where, `meta field at ${start} overflows the ${META_LENGTH}-entry meta array`);
    out.set(list, Number(start));
  }
  return out;
}

/** Throws unless a (coalesced) rank fits the kernels' fixed loops. */
export function checkRank(where: string, rank: number): void {
  if (rank > MAX_RANK) {
    fail(where, `the gpujs backend handles at most ${MAX_RANK} axes that cannot be merged, got ${rank}`);
  }
}

/** Innermost-first copy of an outermost-first list. */
export function inner(values: readonly number[]): number[] {
  return [...values].reverse();
}

/**
 * @file Iteration spaces for the strided kernels: an output shape and, per operand, the element strides
 * it is read with (0 on broadcast axes), merged into at most four axes.
 *
 * Adjacent axes merge when every operand steps over them as over one axis; axes of size 1 vanish. What
 * is left is padded in front with size-1 axes to exactly four, the form the kernels read.
 */

import type { Shape } from "../../shape.ts";

export const SPACE_RANK = 4;

/** The merged sizes and strides (each of length 4), or null when more than four axes remain. */
export function iterationSpace(shape: Shape, strides: readonly (readonly number[])[]): { sizes: number[]; strides: number[][] } | null {
  const sizes: number[] = [];
  const merged: number[][] = strides.map(() => []);
  for (let axis = 0; axis < shape.length; axis++) {
    const size = shape[axis];
    if (size === 1) continue;
    const last = sizes.length - 1;
    if (last >= 0 && strides.every((s, k) => merged[k][last] === s[axis] * size)) {
      sizes[last] *= size;
      for (const [k, s] of strides.entries()) merged[k][last] = s[axis];
      continue;
    }
    sizes.push(size);
    for (const [k, s] of strides.entries()) merged[k].push(s[axis]);
  }
  if (sizes.length > SPACE_RANK) return null;
  while (sizes.length < SPACE_RANK) {
    sizes.unshift(1);
    for (const m of merged) m.unshift(0);
  }
  return { sizes, strides: merged };
}

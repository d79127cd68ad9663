/** @file Test support: small float64 matrix algebra on the host, the independent reference the tensor code is checked against. */

import { gelu, tensor } from "@tsgrad/core";
import type { Activation } from "../../src/index.ts";

export type Matrix = number[][];

export function fromFlat(values: ArrayLike<number>, rows: number, cols: number, offset = 0): Matrix {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => values[offset + i * cols + j]));
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

export function scale(a: Matrix, s: number): Matrix {
  return a.map((row) => row.map((v) => v * s));
}

export function transpose(a: Matrix): Matrix {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

export function identity(n: number): Matrix {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

/** The inverse by Gauss-Jordan elimination with partial pivoting (well-conditioned test matrices only). */
export function inverse(a: Matrix): Matrix {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...identity(n)[i]]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) pivot = r;
    [m[c], m[pivot]] = [m[pivot], m[c]];
    const p = m[c][c];
    if (Math.abs(p) < 1e-12) throw new Error("inverse: singular matrix");
    m[c] = m[c].map((v) => v / p);
    for (let r = 0; r < n; r++) if (r !== c) m[r] = m[r].map((v, j) => v - m[r][c] * m[c][j]);
  }
  return m.map((row) => row.slice(n));
}

/** The numerical rank: Gram-Schmidt on the rows, counting those with a residual above tol·(largest row norm). */
export function rank(a: Matrix, tol = 1e-9): number {
  const basis: number[][] = [];
  const largest = Math.max(...a.map((r) => Math.hypot(...r)));
  for (const row of a) {
    let v = [...row];
    for (const b of basis) {
      const dot = v.reduce((s, x, i) => s + x * b[i], 0);
      v = v.map((x, i) => x - dot * b[i]);
    }
    const norm = Math.hypot(...v);
    if (norm > tol * largest) basis.push(v.map((x) => x / norm));
  }
  return basis.length;
}

/** σ on the host; GELU goes through core's gelu (erf has no host function), the rest are plain Math. */
export async function activate(a: Matrix, activation: Activation): Promise<Matrix> {
  if (activation === "identity") return a;
  if (activation === "tanh") return a.map((r) => r.map(Math.tanh));
  if (activation === "relu") return a.map((r) => r.map((v) => Math.max(v, 0)));
  const values = await gelu(tensor(a, undefined, "float64")).data();
  return fromFlat(values, a.length, a[0].length);
}

export function maxAbsDiff(a: Matrix, b: Matrix): number {
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
}

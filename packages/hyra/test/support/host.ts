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

export function subtract(a: Matrix, b: Matrix): Matrix {
  return a.map((row, i) => row.map((v, j) => v - b[i][j]));
}

/** The Frobenius norm of one matrix or of several taken together. */
export function frobenius(...ms: Matrix[]): number {
  return Math.sqrt(ms.reduce((s, m) => s + m.reduce((t, row) => t + row.reduce((u, v) => u + v * v, 0), 0), 0));
}

/** [a_1 | a_2 | …]: the blocks side by side (same row count). */
export function hstack(blocks: Matrix[]): Matrix {
  return blocks[0].map((_, i) => blocks.flatMap((b) => b[i]));
}

/**
 * The thin SVD a = U·diag(S)·Vᵀ (S descending) by one-sided Jacobi rotations (Hestenes): the columns
 * are rotated until orthogonal, which keeps float64's relative accuracy on small matrices where
 * forming aᵀa would square the condition number.
 */
export function svd(a: Matrix): { U: Matrix; S: number[]; V: Matrix } {
  if (a.length < a[0].length) {
    const t = svd(transpose(a));
    return { U: t.V, S: t.S, V: t.U };
  }
  const [m, n] = [a.length, a[0].length];
  const W = a.map((row) => [...row]);
  const V = identity(n);
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let [alpha, beta, gamma] = [0, 0, 0];
        for (let i = 0; i < m; i++) {
          alpha += W[i][p] * W[i][p];
          beta += W[i][q] * W[i][q];
          gamma += W[i][p] * W[i][q];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // the rotation angle that makes columns p and q orthogonal (the smaller root of t² + 2ζt - 1 = 0)
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (const M of [W, V]) {
          for (const row of M) [row[p], row[q]] = [c * row[p] - s * row[q], s * row[p] + c * row[q]];
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => Math.hypot(...W.map((row) => row[j])));
  const order = norms.map((_, j) => j).sort((i, j) => norms[j] - norms[i]);
  return {
    U: W.map((row) => order.map((j) => (norms[j] > 0 ? row[j] / norms[j] : 0))),
    S: order.map((j) => norms[j]),
    V: V.map((row) => order.map((j) => row[j])),
  };
}

/** The singular values at or above tol·(the largest): those a float64 matrix of O(1) entries really has. */
function kept(S: number[], tol: number): number {
  return S.filter((s) => s > tol * S[0]).length;
}

/** The Moore-Penrose pseudo-inverse, dropping singular values below tol·(the largest). */
export function pinv(a: Matrix, tol = 1e-12): Matrix {
  const { U, S, V } = svd(a);
  const k = kept(S, tol);
  return V.map((row) => U.map((u) => row.slice(0, k).reduce((sum, v, j) => sum + (v * u[j]) / S[j], 0)));
}

/** x minus its projection onto the row space of a: zero iff every row of x is a combination of a's rows. */
export function outsideRowSpace(x: Matrix, a: Matrix, tol = 1e-12): Matrix {
  const { S, V } = svd(a);
  const basis = V.map((row) => row.slice(0, kept(S, tol))); // (cols, k), orthonormal columns
  return subtract(x, matmul(matmul(x, basis), transpose(basis)));
}

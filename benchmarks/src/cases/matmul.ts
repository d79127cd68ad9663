/** @file Matmul cases: inputs, and the Σ|a||b| scale its check uses (rounding grows with what a dot product adds up). */

import type { Generator } from "@tsgrad/core";
import type { CaseParams, HostTensors } from "../types.ts";
import type { Check } from "./check.ts";
import { randomTensor } from "./random.ts";

type Params = Extract<CaseParams, { kind: "matmul" }>;

/** a (batch, m, k) and b (batch, k, n) from N(0, 1), each stored transposed where the case says; a plain matrix when batch is 1. */
export function matmulInputs(p: Params, gen: Generator): HostTensors {
  const lead = p.batch > 1 ? [p.batch] : [];
  return {
    a: randomTensor(gen, [...lead, ...(p.transposeA ? [p.k, p.m] : [p.m, p.k])]),
    b: randomTensor(gen, [...lead, ...(p.transposeB ? [p.n, p.k] : [p.k, p.n])]),
  };
}

/** Σ_k |op(a)[i,k]|·|op(b)[k,j]| for every output element, in float64 on the host. */
function magnitudes(p: Params, a: Float32Array, b: Float32Array): Float32Array {
  const { batch, m, k, n } = p;
  const at = (s: number, i: number, t: number) => Math.abs(a[s * m * k + (p.transposeA ? t * m + i : i * k + t)]);
  const bt = (s: number, t: number, j: number) => Math.abs(b[s * k * n + (p.transposeB ? j * k + t : t * n + j)]);
  const out = new Float32Array(batch * m * n);
  const row = new Float64Array(n);
  for (let s = 0; s < batch; s++) {
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let t = 0; t < k; t++) {
        const x = at(s, i, t);
        for (let j = 0; j < n; j++) row[j] += x * bt(s, t, j);
      }
      out.set(row, (s * m + i) * n);
    }
  }
  return out;
}

export function matmulChecks(p: Params, inputs: HostTensors, _expected: Record<string, Float32Array>): Check[] {
  return [{ name: "out", cls: "matmul", scale: magnitudes(p, inputs.a.data, inputs.b.data), terms: p.k }];
}

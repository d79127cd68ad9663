/** @file Elementwise, softmax, layerNorm and reduction cases: inputs, and how each output is compared. */

import type { Generator } from "@tsgrad/core";
import type { CaseParams, HostTensors } from "../types.ts";
import { absOf, type Check } from "./check.ts";
import { randomTensor } from "./random.ts";

type Params = Extract<CaseParams, { kind: "binary" | "unary" | "softmax" | "layerNorm" | "reduce" }>;

export function elementwiseInputs(p: Params, gen: Generator): HostTensors {
  switch (p.kind) {
    case "binary":
      return { a: randomTensor(gen, [p.size]), b: randomTensor(gen, [p.size]) };
    case "unary":
      return { x: randomTensor(gen, [p.size]) };
    default:
      // a shift and a spread per row, so that softmax's max-shift and layerNorm's centring matter
      return { x: randomTensor(gen, [p.rows, p.cols], 2, 0.5) };
  }
}

/** Σ|x| along each row: the magnitudes a row sum adds up. */
function rowMagnitudes(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.abs(x[r * cols + c]);
    out[r] = s;
  }
  return out;
}

export function elementwiseChecks(p: Params, inputs: HostTensors, expected: Record<string, Float32Array>): Check[] {
  const out = expected.out;
  switch (p.kind) {
    case "binary":
      return [{ name: "out", cls: "elementwise" }];
    case "unary":
      return [{ name: "out", cls: "transcendental" }];
    case "softmax":
      // y = e/Σe: the sum's relative rounding carries over to every y, so the scale is |y|
      return [{ name: "out", cls: "reduction", scale: absOf(out), terms: p.cols }];
    case "layerNorm":
      // (x − mean)/σ: an error in the mean or σ moves y by about (|y| + 1) times its relative size
      return [{ name: "out", cls: "reduction", scale: out.map((y) => Math.abs(y) + 1), terms: p.cols }];
    case "reduce":
      // a max is one of its inputs, exactly; a sum is bounded by what it adds up
      return p.op === "max"
        ? [{ name: "out", cls: "exact" }]
        : [{ name: "out", cls: "reduction", scale: rowMagnitudes(inputs.x.data, p.rows, p.cols), terms: p.cols }];
  }
}

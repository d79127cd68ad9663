/**
 * @file The catalogue of cases: which sizes each mode runs, how much work a call does, the seeded host
 * inputs every library receives, and what the correctness check compares.
 */

import { Generator } from "@tsgrad/core";
import type { CaseParams, CaseSpec, HostTensors } from "../types.ts";
import { chainChecks, chainInputs, chainOps } from "./chain.ts";
import type { Check } from "./check.ts";
import { elementwiseChecks, elementwiseInputs } from "./elementwise.ts";
import { adapterShape, encoderChecks, encoderFlops, encoderInputs } from "./encoder.ts";
import { finetuneChecks, finetuneFlops, finetuneInputs } from "./finetune.ts";
import { matmulChecks, matmulInputs } from "./matmul.ts";

export type Mode = "quick" | "full" | "smoke";

const F32 = 4;
const M = 1 << 20;

function matmulCase(
  batch: number,
  m: number,
  k: number,
  n: number,
  quick: boolean,
  note: string,
  transposeA = false,
  transposeB = false,
): CaseSpec {
  const square = batch === 1 && m === k && k === n && !transposeA && !transposeB;
  // the stored shapes, with ᵀ on an operand read transposed
  const shape = `[${transposeA ? `${k}×${m}]ᵀ` : `${m}×${k}]`}·[${transposeB ? `${n}×${k}]ᵀ` : `${k}×${n}]`}`;
  return {
    id: `matmul ${square ? `${n}³` : batch > 1 ? `${batch}×${shape}` : shape}`,
    group: "matmul",
    params: { kind: "matmul", batch, m, k, n, ...(transposeA ? { transposeA } : {}), ...(transposeB ? { transposeB } : {}) },
    quick,
    unit: "GFLOP/s",
    work: 2 * batch * m * k * n,
    note,
  };
}

function sizeName(n: number): string {
  return n >= M && n % M === 0 ? `${n / M}M` : String(n);
}

/** Every case of a mode; quick is the subset of full marked `quick`, smoke is every case at a tiny size. */
export function catalogue(mode: Mode): CaseSpec[] {
  const tiny = mode === "smoke";
  const cases: CaseSpec[] = [];
  const squares = tiny ? [8] : [64, 128, 256, 512, 1024];
  for (const n of squares) cases.push(matmulCase(1, n, n, n, tiny || n === 128 || n === 256, "square"));
  const d = tiny ? 4 : 128;
  const t = tiny ? 6 : 512;
  cases.push(matmulCase(1, t, d, d, tiny, "transformer: attention projection"));
  cases.push(matmulCase(1, t, d, 4 * d, true, "transformer: MLP up"));
  cases.push(matmulCase(1, t, 4 * d, d, tiny, "transformer: MLP down"));
  cases.push(
    tiny ? matmulCase(2, 4, 3, 4, true, "batched attention scores") : matmulCase(32, 64, 32, 64, true, "batched attention scores"),
  );
  // what linear layers and attention really compute, with the transposed operand read in place
  cases.push(matmulCase(1, t, d, 4 * d, true, "linear forward x·Wᵀ (MLP up, W stored [out, in])", false, true));
  cases.push(matmulCase(1, 4 * d, t, d, tiny, "linear weight gradient dyᵀ·x (MLP up)", true, false));
  cases.push(
    tiny
      ? matmulCase(2, 4, 3, 4, true, "batched attention scores Q·Kᵀ", false, true)
      : matmulCase(32, 64, 32, 64, true, "batched attention scores Q·Kᵀ (K stored [T, d_h])", false, true),
  );

  const size = tiny ? 64 : M;
  for (const op of ["add", "mul"] as const) {
    cases.push({
      id: `${op} ${sizeName(size)}`,
      group: "elementwise",
      params: { kind: "binary", op, size },
      quick: tiny || op === "add",
      unit: "GB/s",
      work: 3 * size * F32,
      note: "float32, two inputs, bytes read + written",
    });
  }
  for (const op of ["exp", "gelu"] as const) {
    cases.push({
      id: `${op} ${sizeName(size)}`,
      group: "elementwise",
      params: { kind: "unary", op, size },
      quick: true,
      unit: "GB/s",
      work: 2 * size * F32,
      note: op === "gelu" ? "exact (erf) GELU, bytes read + written" : "bytes read + written",
    });
  }
  const [rows, cols] = tiny ? [4, 8] : [512, 512];
  for (const kind of ["softmax", "layerNorm"] as const) {
    cases.push({
      id: `${kind} [${rows},${cols}]`,
      group: "elementwise",
      params: { kind, rows, cols },
      quick: true,
      unit: "GB/s",
      work: 2 * rows * cols * F32,
      note: kind === "softmax" ? "over the last axis, bytes read + written" : "no affine, eps 1e-5, bytes read + written",
    });
  }
  const [rRows, rCols] = tiny ? [4, 8] : [1024, 1024];
  for (const op of ["sum", "max"] as const) {
    cases.push({
      id: `${op} rows [${rRows},${rCols}]`,
      group: "reduction",
      params: { kind: "reduce", op, rows: rRows, cols: rCols },
      quick: tiny || op === "sum",
      unit: "GB/s",
      work: (rRows * rCols + rRows) * F32,
      note: "over the last axis, bytes read + written",
    });
  }

  const encoder = tiny ? { batch: 2, seq: 4, dModel: 8, heads: 2, hidden: 16 } : { batch: 8, seq: 64, dModel: 128, heads: 4, hidden: 512 };
  const layer = `pre-LN encoder layer, batch ${encoder.batch}, seq ${encoder.seq}, d_model ${encoder.dModel}, ${encoder.heads} heads, FFN ${encoder.hidden}, GELU, MSE loss`;
  const { r, alpha } = adapterShape({ kind: "encoder", train: true, adapter: "lora", ...encoder });
  const frozen = `on q and v of the frozen layer (r ${r}, alpha ${alpha}): forward, backward, AdamW on the adapters only`;
  const encoderCases = [
    { id: "encoder train step", train: true, adapter: "none", quick: true, note: "forward, backward of all weights, AdamW update" },
    { id: "encoder forward", train: false, adapter: "none", quick: true, note: "forward only" },
    { id: "encoder train step, LoRA q,v", train: true, adapter: "lora", quick: false, note: `LoRA ${frozen}` },
    { id: "encoder train step, HyRA q,v", train: true, adapter: "hyra", quick: false, note: `HyRA (m = d_h, exact GELU) ${frozen}` },
  ] as const;
  for (const c of encoderCases) {
    const params = { kind: "encoder" as const, train: c.train, adapter: c.adapter, ...encoder };
    cases.push({
      id: c.id,
      group: "training",
      params,
      quick: c.quick,
      unit: "ms",
      work: encoderFlops(params),
      note: `${layer}; ${c.note}`,
    });
  }

  const study = tiny
    ? { layers: 1, dModel: 8, heads: 2, hidden: 16, batch: 2, seq: 4, vocab: 10, classes: 2 }
    : { layers: 2, dModel: 64, heads: 4, hidden: 256, batch: 16, seq: 64, vocab: 96, classes: 2 };
  for (const method of ["hyra", "lora", "full"] as const) {
    const params = { kind: "finetune" as const, method, ...study };
    const what = method === "full" ? "every weight trained" : `${method === "hyra" ? "HyRA" : "LoRA"} on q and v (r 8) and the head`;
    cases.push({
      id: `fine-tune step, ${method === "full" ? "full" : method === "hyra" ? "HyRA" : "LoRA"}`,
      group: "training",
      params,
      quick: method === "hyra",
      unit: "ms",
      work: finetuneFlops(params),
      note: `the study's classifier: ${study.layers} layers, d ${study.dModel}, ${study.heads} heads, batch ${study.batch}, sequence ${study.seq}, cross-entropy, AdamW; ${what} (tsgrad only)`,
      tsgradOnly: true,
    });
  }

  const chain = { kind: "chain" as const, length: tiny ? 31 : 1000, size: tiny ? 4 : 16 };
  const ops = chainOps(chain);
  cases.push({
    id: `autodiff chain ${ops}`,
    group: "autodiff",
    params: chain,
    quick: true,
    unit: "µs/op",
    work: ops,
    note: `${ops} tiny ops on ${chain.size} floats (mul, add, tanh, ..., sum), forward + backward, per op`,
  });
  return mode === "quick" ? cases.filter((c) => c.quick) : cases;
}

/** The cases whose id contains any of the filters (case-insensitive); all of them without filters. */
export function selectCases(cases: CaseSpec[], filters: string[]): CaseSpec[] {
  if (filters.length === 0) return cases;
  const wanted = filters.map((f) => f.toLowerCase());
  return cases.filter((c) => wanted.some((f) => c.id.toLowerCase().includes(f)));
}

/** A seed of its own per case, so adding a case never changes another case's inputs. */
function seedOf(id: string): number {
  let h = 2166136261;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

/** The inputs of a case, made on the host from a seeded generator: every process makes the same ones. */
export function caseInputs(spec: CaseSpec): HostTensors {
  const gen = new Generator(seedOf(spec.id));
  const p = spec.params;
  switch (p.kind) {
    case "matmul":
      return matmulInputs(p, gen);
    case "encoder":
      return encoderInputs(p, gen);
    case "chain":
      return chainInputs(p, gen);
    case "finetune":
      return finetuneInputs(p, gen);
    default:
      return elementwiseInputs(p, gen);
  }
}

/** How each output of a case is compared, given the inputs and the reference backend's outputs. */
export function caseChecks(params: CaseParams, inputs: HostTensors, expected: Record<string, Float32Array>): Check[] {
  switch (params.kind) {
    case "matmul":
      return matmulChecks(params, inputs, expected);
    case "encoder":
      return encoderChecks(params, expected);
    case "chain":
      return chainChecks(expected);
    case "finetune":
      return finetuneChecks(expected);
    default:
      return elementwiseChecks(params, inputs, expected);
  }
}
export { compareOutputs } from "./check.ts";

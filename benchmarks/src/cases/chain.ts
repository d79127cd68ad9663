/**
 * @file The autodiff-overhead case: a chain of tiny ops (×0.999, +0.001, tanh, repeated; then a sum),
 * forward and backward, so that the time is the framework's per-op cost, not arithmetic. The constants
 * keep the values near a fixed point (y ≈ 0.14) where the gradient neither vanishes nor explodes.
 */

import type { Generator } from "@tsgrad/core";
import type { CaseParams, HostTensors } from "../types.ts";
import type { Check } from "./check.ts";
import { randomTensor } from "./random.ts";

type Params = Extract<CaseParams, { kind: "chain" }>;

/** The repeated ops, in order; the chain ends with one sum, so `length` counts it. */
export const CHAIN_STEP = [{ op: "mul", value: 0.999 }, { op: "add", value: 0.001 }, { op: "tanh" }] as const;

/** How many times the step repeats, so that steps·3 + 1 (the sum) ≤ length. */
export function chainSteps(p: Params): number {
  return Math.floor((p.length - 1) / CHAIN_STEP.length);
}

/** The ops the chain really runs, the sum included. */
export function chainOps(p: Params): number {
  return chainSteps(p) * CHAIN_STEP.length + 1;
}

export function chainInputs(p: Params, gen: Generator): HostTensors {
  return { x: randomTensor(gen, [p.size], 0.5) };
}

export function chainChecks(_expected: Record<string, Float32Array>): Check[] {
  return [
    { name: "value", cls: "chain" },
    { name: "grad", cls: "chain" },
  ];
}

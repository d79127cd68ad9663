/**
 * @file The study's workload: one fine-tuning step of a small text classifier, with HyRA or LoRA on q and
 * v (the head trained too, as PEFT's modules_to_save) or with every weight trained.
 *
 *     tokens (B, T) -> embedding + learned positions (B, T, d) -> 2 pre-LN blocks -> LayerNorm -> mean
 *     over T (B, d) -> linear head (B, classes) -> cross-entropy against the labels, then AdamW
 *
 * It is tsgrad's own model (@tsgrad/nn and @tsgrad/hyra), so only tsgrad backends run it, each checked
 * against the reference backend; its floor is absolute (40 ms a step), not a ratio to a peer.
 */

import type { Generator } from "@tsgrad/core";
import type { CaseParams, HostTensors } from "../types.ts";
import type { Check } from "./check.ts";

type Params = Extract<CaseParams, { kind: "finetune" }>;

/** Token ids and labels, drawn on the host (as float32, the one form host tensors take). */
export function finetuneInputs(p: Params, gen: Generator): HostTensors {
  const ids = gen.integers(p.batch * p.seq, 0, p.vocab);
  const labels = gen.integers(p.batch, 0, p.classes);
  return {
    ids: { shape: [p.batch, p.seq], data: Float32Array.from(ids) },
    labels: { shape: [p.batch], data: Float32Array.from(labels) },
  };
}

/** Forward FLOPs of the blocks and the head (multiply-adds counted as two), times three for a step. */
export function finetuneFlops(p: Params): number {
  const { batch, seq, dModel: c, hidden, layers } = p;
  const perToken = layers * (2 * (4 * c * c) + 2 * (2 * c * hidden) + 2 * (2 * seq * c));
  return batch * seq * perToken * 3;
}

export function finetuneChecks(expected: Record<string, Float32Array>): Check[] {
  // a mean of 16 cross-entropies; its change over one step is small, so it gets an absolute bound
  return [
    { name: "loss", cls: "loss" },
    { name: "lossDelta", cls: "lossDelta", atol: 1e-5 * Math.max(1, Math.abs(expected.loss[0])) },
  ];
}

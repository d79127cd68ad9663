/** @file From raw samples to what a report shows: medians, spreads, throughput, and tsgrad/peer ratios taken within each round. */

import type { CaseResult, ParticipantRecord } from "./harness.ts";
import type { CaseSpec, Unit } from "./types.ts";

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The case's figure of merit for a time per call: throughput, or the time itself for "ms" and "µs/op". */
export function metric(unit: Unit, work: number, ms: number): number {
  switch (unit) {
    case "GFLOP/s":
    case "GB/s":
      return work / (ms * 1e6);
    case "µs/op":
      return (ms * 1000) / work;
    case "ms":
      return ms;
  }
}

/** Higher is better for throughputs, lower for times. */
export const higherIsBetter = (unit: Unit): boolean => unit === "GFLOP/s" || unit === "GB/s";

export interface Summary {
  participant: string;
  case: string;
  ok: boolean;
  error?: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  metric: number;
  firstCallMs?: number;
  /** Median time of each round, in round order. */
  roundMedians: number[];
  rssPeakBytes: number;
  devicePeakBytes: number | null;
  cpuPerWall: number | null;
}

function roundMedians(result: CaseResult): Map<number, number> {
  const byRound = new Map<number, number[]>();
  for (const s of result.samples) byRound.set(s.round, [...(byRound.get(s.round) ?? []), s.ms]);
  return new Map([...byRound].sort((a, b) => a[0] - b[0]).map(([round, ms]) => [round, median(ms)]));
}

export function summarize(result: CaseResult, spec: CaseSpec): Summary {
  const ms = result.samples.map((s) => s.ms);
  const ok = result.ok && ms.length > 0;
  const m = median(ms);
  return {
    participant: result.participant,
    case: result.case,
    ok,
    error: result.error ?? (ok ? undefined : "no samples"),
    medianMs: m,
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    metric: metric(spec.unit, spec.work, m),
    firstCallMs: result.firstCallMs,
    roundMedians: [...roundMedians(result).values()],
    rssPeakBytes: result.rssPeakBytes,
    devicePeakBytes: result.devicePeakBytes,
    cpuPerWall: result.cpuPerWall.length ? median(result.cpuPerWall) : null,
  };
}

export interface Ratio {
  tsgrad: string;
  peer: string;
  case: string;
  /** tsgrad's time over the peer's, per round in which both ran: above 1, tsgrad is slower. */
  perRound: number[];
  median: number;
}

/** tsgrad time / peer time for every tsgrad backend, peer and case that both completed. */
export function ratios(participants: ParticipantRecord[], results: CaseResult[]): Ratio[] {
  const ran = participants.filter((p) => p.status === "ran");
  const find = (participant: string, id: string) => results.find((r) => r.participant === participant && r.case === id && r.ok);
  const out: Ratio[] = [];
  const caseIds = [...new Set(results.map((r) => r.case))];
  for (const t of ran.filter((p) => p.kind === "tsgrad")) {
    for (const peer of ran.filter((p) => p.kind === "peer")) {
      for (const id of caseIds) {
        const [a, b] = [find(t.id, id), find(peer.id, id)];
        if (!a || !b) continue;
        const [ra, rb] = [roundMedians(a), roundMedians(b)];
        const perRound = [...ra.keys()].filter((round) => rb.has(round)).map((round) => ra.get(round)! / rb.get(round)!);
        if (perRound.length) out.push({ tsgrad: t.id, peer: peer.id, case: id, perRound, median: median(perRound) });
      }
    }
  }
  return out;
}

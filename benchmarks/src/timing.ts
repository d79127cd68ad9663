/** @file The timing loop a worker runs for one case and round: warm-up, then samples long enough to be measured. */

import type { Mode } from "./cases/index.ts";
import type { Runner, Sample, Timing } from "./types.ts";

/** Quick must stay under 3 minutes on a 2-core machine; full takes its time; smoke only proves that everything runs. */
export const TIMINGS: Record<Mode, Timing & { requestTimeoutMs: number }> = {
  quick: { rounds: 3, warmupMs: 30, minSampleMs: 10, samplesPerRound: 3, budgetMs: 250, capMs: 6_000, requestTimeoutMs: 300_000 },
  full: { rounds: 5, warmupMs: 200, minSampleMs: 50, samplesPerRound: 5, budgetMs: 2_000, capMs: 60_000, requestTimeoutMs: 900_000 },
  smoke: { rounds: 2, warmupMs: 0, minSampleMs: 0, samplesPerRound: 1, budgetMs: 0, capMs: 600_000, requestTimeoutMs: 120_000 },
};

// Node's process gives resident memory and CPU time; a browser page (web/) has no process, and its
// rounds report 0 bytes and no CPU share
const host = (globalThis as { process?: NodeJS.Process }).process;
const rss = () => host?.memoryUsage.rss() ?? 0;

export interface RoundTiming {
  samples: Sample[];
  rssPeakBytes: number;
  cpuPerWall: number | null;
  /** The latest estimate of one call's time, which sizes the next round's samples. */
  estimateMs: number;
}

/** Time of one call including its sync: what a first call or a lone sample costs. */
export async function timeOneCall(runner: Runner): Promise<number> {
  const start = performance.now();
  await runner.call();
  await runner.sync();
  return performance.now() - start;
}

/**
 * Warms up, then takes up to `samplesPerRound` samples. Each sample runs the call back to back as many
 * times as fit in `minSampleMs` (by the estimate so far), then syncs once, so a queueing backend is
 * measured at its throughput and every call is finished before the clock stops.
 */
export async function measureRound(runner: Runner, timing: Timing, round: number, estimateMs: number): Promise<RoundTiming> {
  // the first call and the check have already warmed a slow call up: rerunning it would only spend the budget
  if (estimateMs < timing.budgetMs / 2) {
    const start = performance.now();
    let calls = 0;
    // synced call by call: a backend that queues work returns at once, and unsynced calls would pile up
    do {
      await runner.call();
      await runner.sync();
      calls++;
    } while (performance.now() - start < timing.warmupMs);
    estimateMs = (performance.now() - start) / calls;
  }

  const calls = Math.max(1, Math.ceil(timing.minSampleMs / Math.max(estimateMs, 1e-3)));
  const samples: Sample[] = [];
  let rssPeakBytes = rss();
  const cpuStart = host?.cpuUsage();
  const start = performance.now();
  for (let s = 0; s < timing.samplesPerRound; s++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await runner.call();
    await runner.sync();
    const ms = (performance.now() - t0) / calls;
    samples.push({ round, ms, calls });
    estimateMs = ms;
    rssPeakBytes = Math.max(rssPeakBytes, rss());
    if (performance.now() - start > timing.budgetMs) break;
  }
  const wall = performance.now() - start;
  const cpu = host?.cpuUsage(cpuStart);
  return { samples, rssPeakBytes, cpuPerWall: cpu && wall > 0 ? (cpu.user + cpu.system) / 1000 / wall : null, estimateMs };
}
export { metric } from "./stats.ts";

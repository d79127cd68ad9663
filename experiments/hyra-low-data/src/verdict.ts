/**
 * @file The study's verdict (PROTOCOL.md): paired differences of two methods' accuracies
 * (same subset, same seed) per training fraction with t-based confidence intervals, the pass rule for
 * "reproduced", and the smallest fraction at which a method reaches a reference's accuracy on all data.
 */

import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import type { Cell, RunOutcome } from "@tsgrad/training";

export interface PairedDifference {
  fraction: number;
  /** Seeds with a run of both methods. */
  n: number;
  /** Mean of a − b over those seeds, as a fraction of 1 (0.02 is 2 points). */
  mean: number;
  /** The t-based confidence interval of the mean; NaN when n < 2 (nothing to estimate a spread from). */
  low: number;
  high: number;
}

/** Half the width of the t-based interval of a mean of n values with sample standard deviation sd. */
export function tHalfWidth(sd: number, n: number, level = 0.95): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`tHalfWidth: level must be in (0, 1), got ${level}`);
  return tQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
}

/** The mean of xs and its t-based interval; NaN bounds when there are fewer than two values. */
export function meanInterval(xs: readonly number[], level = 0.95): { mean: number; low: number; high: number } {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, low: Number.NaN, high: Number.NaN };
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const half = tHalfWidth(sd, n, level);
  return { mean, low: mean - half, high: mean + half };
}

/** a − b per fraction, paired by seed; fractions in increasing order. */
export function pairedDifferences(runs: readonly RunOutcome[], a: string, b: string, level = 0.95): PairedDifference[] {
  if (!(level > 0 && level < 1)) throw new RangeError(`pairedDifferences: level must be in (0, 1), got ${level}`);
  const fractions = [...new Set(runs.map((r) => r.fraction))].sort((x, y) => x - y);
  const out: PairedDifference[] = [];
  for (const fraction of fractions) {
    const of = (method: string) =>
      new Map(runs.filter((r) => r.method === method && r.fraction === fraction).map((r) => [r.seed, r.accuracy]));
    const as = of(a);
    const bs = of(b);
    const diffs = [...as].filter(([seed]) => bs.has(seed)).map(([seed, acc]) => acc - (bs.get(seed) as number));
    if (diffs.length > 0) out.push({ fraction, n: diffs.length, ...meanInterval(diffs, level) });
  }
  return out;
}

export type Verdict = "REPRODUCED" | "NOT REPRODUCED";

/** Points of accuracy with their sign: +3.1, −0.4. */
export const points = (v: number) => `${v >= 0 ? "+" : "−"}${Math.abs(100 * v).toFixed(1)}`;
const interval = (d: PairedDifference) =>
  Number.isNaN(d.low) ? `${points(d.mean)} (one seed, no interval)` : `${points(d.mean)} [${points(d.low)}, ${points(d.high)}]`;

/**
 * The protocol's pass rule for "a beats b with little data": the interval of a − b lies above 0 at two or
 * more of the three smallest fractions, and does not lie below 0 at 100 %. Returns the verdict and why.
 */
export function reproductionVerdict(diffs: readonly PairedDifference[]): { verdict: Verdict; why: string } {
  const smallest = [...diffs].sort((x, y) => x.fraction - y.fraction).slice(0, 3);
  const wins = smallest.filter((d) => d.low > 0);
  const full = diffs.find((d) => d.fraction === 100);
  const ok = wins.length >= 2 && full !== undefined && !(full.high < 0);
  const at = smallest.map((d) => `${d.fraction} %: ${interval(d)}`).join("; ");
  const why =
    full === undefined
      ? `no paired runs at 100 %; ${at}`
      : `above 0 at ${wins.length} of the ${smallest.length} smallest fractions (${at}); 100 %: ${interval(full)}${full.high < 0 ? ", below 0" : ""}`;
  return { verdict: ok ? "REPRODUCED" : "NOT REPRODUCED", why };
}

/** The smallest fraction at which `method`'s mean accuracy reaches `reference`'s at 100 %; null if none does. */
export function fractionToMatch(cells: readonly Cell[], method: string, reference: string): number | null {
  const target = cells.find((c) => c.method === reference && c.fraction === 100);
  if (!target) return null;
  const reached = cells.filter((c) => c.method === method && c.mean >= target.mean).map((c) => c.fraction);
  return reached.length === 0 ? null : Math.min(...reached);
}

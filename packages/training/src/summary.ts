/**
 * @file What a set of finished runs says: accuracy per method and training fraction as mean, standard
 * deviation and range over seeds; the Markdown table; and one sentence generated from the numbers, which
 * says plainly when the seeds cannot separate two methods (their ranges overlap).
 */

export interface RunOutcome {
  method: string;
  fraction: number;
  seed: number;
  accuracy: number;
}

export interface Cell {
  method: string;
  fraction: number;
  n: number;
  mean: number;
  std: number;
  low: number;
  high: number;
}

export function aggregate(runs: readonly RunOutcome[]): Cell[] {
  const groups = new Map<string, RunOutcome[]>();
  for (const r of runs) {
    const key = `${r.method}\u0000${r.fraction}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const values = rs.map((r) => r.accuracy);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    // the sample standard deviation; 0 for a single seed (nothing to estimate it from)
    const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
    return {
      method: rs[0].method,
      fraction: rs[0].fraction,
      n: values.length,
      mean,
      std,
      low: Math.min(...values),
      high: Math.max(...values),
    };
  });
}

const pct = (v: number) => `${(100 * v).toFixed(1)}`;

/** Methods in the given order as rows, fractions as columns: "mean ± std (n)"; optionally one more column per method. */
export function markdownTable(
  cells: readonly Cell[],
  methods: readonly string[],
  extra?: { name: string; values: Readonly<Record<string, string>> },
): string {
  const fractions = [...new Set(cells.map((c) => c.fraction))].sort((a, b) => a - b);
  const header = `| method | ${fractions.map((f) => `${f} %`).join(" | ")} |${extra ? ` ${extra.name} |` : ""}`;
  const rule = `| --- | ${fractions.map(() => "---:").join(" | ")} |${extra ? " ---: |" : ""}`;
  const rows = methods
    .filter((m) => cells.some((c) => c.method === m))
    .map((m) => {
      const cols = fractions.map((f) => {
        const c = cells.find((x) => x.method === m && x.fraction === f);
        return c ? `${pct(c.mean)} ± ${pct(c.std)} (${c.n})` : "–";
      });
      return `| ${m} | ${cols.join(" | ")} |${extra ? ` ${extra.values[m] ?? ""} |` : ""}`;
    });
  return [header, rule, ...rows].join("\n");
}

/**
 * One sentence comparing `a` with `b` at each fraction: which is ahead by how much, and whether the seeds
 * separate them (the ranges over seeds do not overlap) or not.
 */
export function verdict(cells: readonly Cell[], a: string, b: string): string {
  const fractions = [...new Set(cells.map((c) => c.fraction))].sort((x, y) => x - y);
  const parts: string[] = [];
  let separated = 0;
  let compared = 0;
  for (const f of fractions) {
    const ca = cells.find((c) => c.method === a && c.fraction === f);
    const cb = cells.find((c) => c.method === b && c.fraction === f);
    if (!ca || !cb) continue;
    compared++;
    const overlap = ca.low <= cb.high && cb.low <= ca.high;
    if (!overlap) separated++;
    // the difference of the numbers as printed, so that the sentence agrees with the table
    const diff = Number(pct(ca.mean)) - Number(pct(cb.mean));
    const lead = Math.abs(diff) < 0.05 ? `${a} and ${b} tie` : `${diff > 0 ? a : b} is ahead by ${Math.abs(diff).toFixed(1)} points`;
    // the leader's number first, so "lora is ahead (84.7 % against 83.4 %)" reads the way it is meant
    const [first, second] = diff < 0 ? [cb, ca] : [ca, cb];
    parts.push(
      `at ${f} % of the training data ${lead} (${pct(first.mean)} % against ${pct(second.mean)} %${overlap ? ", ranges overlap" : ""})`,
    );
  }
  if (compared === 0) return `No fraction has runs of both ${a} and ${b}.`;
  const n = Math.min(...cells.filter((c) => c.method === a || c.method === b).map((c) => c.n));
  const conclusion =
    separated === 0
      ? `with ${n} seed${n === 1 ? "" : "s"} per cell the ranges overlap everywhere, so these runs cannot separate ${a} from ${b}`
      : `the seeds separate them at ${separated} of ${compared} fractions`;
  return `${parts.join("; ")}: ${conclusion}.`.replace(/^./, (c) => c.toUpperCase());
}

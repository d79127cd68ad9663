/** @file The report of a run: its JSON form (every sample), and the Markdown tables printed and written beside it. */

import type { MachineFacts } from "@tsgrad/training/node";
import type { CaseResult, ParticipantRecord } from "./harness.ts";
import { higherIsBetter, median, type Ratio, type Summary } from "./stats.ts";
import { targetsMarkdown } from "./targets.ts";
import type { CaseSpec, Timing } from "./types.ts";

export const SCHEMA = "tsgrad-bench/1";

export interface Report {
  schema: typeof SCHEMA;
  /** The exact command that produced the report. */
  command: string;
  mode: "quick" | "full" | "smoke";
  machine: MachineFacts;
  timing: Timing;
  participants: ParticipantRecord[];
  cases: CaseSpec[];
  /** Every sample of every participant and case. */
  results: CaseResult[];
  summaries: Summary[];
  ratios: Ratio[];
}

/** Three significant digits, thousands separated; never exponent notation. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4;
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms < 0.1 ? `${fmt(ms * 1000)} µs` : `${fmt(ms)} ms`;
}

function fmtBytes(bytes: number | null): string {
  if (bytes === null) return "–";
  return bytes >= 2 ** 20 ? `${fmt(bytes / 2 ** 20)} MiB` : `${fmt(bytes / 2 ** 10)} KiB`;
}

/** A Markdown table; numeric tables align right after the first column, text tables left. */
function table(header: string[], rows: string[][], numeric = true): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i === 0 || !numeric ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/** The error footnotes of a report, numbered in order of appearance. */
class Footnotes {
  readonly notes: string[] = [];
  mark(text: string): string {
    let i = this.notes.indexOf(text);
    if (i < 0) i = this.notes.push(text) - 1;
    return `error [${i + 1}]`;
  }
}

function ranParticipants(report: Report): ParticipantRecord[] {
  return report.participants.filter((p) => p.status === "ran");
}

function summaryOf(report: Report, participant: string, caseId: string): Summary | undefined {
  return report.summaries.find((s) => s.participant === participant && s.case === caseId);
}

/** Median time per call and the case's figure of merit, side by side for every participant. */
export function resultsTable(report: Report, notes = new Footnotes()): string {
  const ran = ranParticipants(report);
  const rows = report.cases.map((spec) => {
    const cells = ran.map((p) => {
      const s = summaryOf(report, p.id, spec.id);
      if (!s) return "–";
      if (!s.ok) return notes.mark(`${p.label}, ${spec.id}: ${s.error}`);
      return spec.unit === "ms" ? fmt(s.medianMs) : spec.unit === "µs/op" ? fmt(s.metric) : `${fmt(s.metric)} (${fmtMs(s.medianMs)})`;
    });
    return [spec.id, spec.unit === "ms" ? "ms" : spec.unit === "µs/op" ? "µs/op" : `${spec.unit} (time)`, ...cells];
  });
  return table(["case", "unit", ...ran.map((p) => p.label)], rows);
}

/** One table per tsgrad backend: its time over each peer's, as the median of the per-round ratios. */
export function ratioTables(report: Report): string {
  const ran = ranParticipants(report);
  const peers = ran.filter((p) => p.kind === "peer");
  const sections: string[] = [];
  for (const t of ran.filter((p) => p.kind === "tsgrad")) {
    const rows = report.cases.map((spec) => [
      spec.id,
      ...peers.map((peer) => {
        const r = report.ratios.find((x) => x.tsgrad === t.id && x.peer === peer.id && x.case === spec.id);
        return r ? `${fmt(r.median)}×` : "–";
      }),
    ]);
    sections.push(`**${t.label}** time / peer time (below 1: tsgrad is faster)\n\n${table(["case", ...peers.map((p) => p.label)], rows)}`);
  }
  return sections.join("\n\n");
}

function participantsTable(report: Report): string {
  const rows = report.participants.map((p) => {
    const { library, version, backend, device, threads, ...rest } = p.facts;
    const mode = [backend, device].filter((x) => x !== undefined).join(" / ");
    const other = Object.entries(rest)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ");
    const busy = report.summaries.filter((s) => s.participant === p.id && s.cpuPerWall !== null).map((s) => s.cpuPerWall!);
    return [
      p.label,
      p.status === "ran" ? "ran" : `skipped: ${p.reason}`,
      String(library ?? ""),
      String(version ?? ""),
      mode,
      threads === undefined ? "" : String(threads),
      busy.length ? fmt(median(busy)) : "",
      other,
    ];
  });
  const header = [
    "participant",
    "status",
    "library",
    "version",
    "backend / mode",
    "threads (declared)",
    "busy cores (measured)",
    "other facts",
  ];
  return table(header, rows, false);
}

function detailTable(report: Report, cell: (s: Summary, spec: CaseSpec) => string): string {
  const ran = ranParticipants(report);
  const rows = report.cases.map((spec) => [
    spec.id,
    ...ran.map((p) => {
      const s = summaryOf(report, p.id, spec.id);
      return s?.ok ? cell(s, spec) : "–";
    }),
  ]);
  return table(["case", ...ran.map((p) => p.label)], rows);
}

export function markdown(report: Report): string {
  const m = report.machine;
  const notes = new Footnotes();
  const results = resultsTable(report, notes);
  const t = report.timing;
  const targets = targetsMarkdown(report);
  const parts = [
    `# tsgrad benchmarks (${report.mode})`,
    [
      `Produced by \`${report.command}\` on ${m.date.slice(0, 10)}, at commit ${m.git}.`,
      `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; ` +
        `load average ${m.loadStart} at the start and ${m.loadEnd ?? "?"} at the end.`,
      `Each participant ran in its own process, in ${t.rounds} interleaved rounds per case; per round, a warm-up of at least ` +
        `${t.warmupMs} ms, then up to ${t.samplesPerRound} samples of at least ${t.minSampleMs} ms each (within ${t.budgetMs} ms); ` +
        `a participant that had spent ${t.capMs / 1000} s on a case ran no further rounds of it. ` +
        "A call ends when its result is ready (one element is read back at the end of each sample). " +
        "Every result was checked against the reference backend before it was timed.",
    ].join("\n"),
    ...(targets ? ["## The fast CPU backend's targets", targets] : []),
    "## Participants",
    "Busy cores: CPU time over wall time while sampling, the median over cases (the library's own threads and the driver's count).\n\n" +
      participantsTable(report),
    "## Median per call, side by side",
    `Throughput (higher is better) with the median time per call, or the time itself for \`ms\` and \`µs/op\` (lower is better).\n\n${results}`,
    "## tsgrad / peer",
    `Ratios of times measured in the same rounds: the median over rounds of (tsgrad's median / the peer's median).\n\n${ratioTables(report)}`,
    "## Spread: fastest and slowest sample per call",
    detailTable(report, (s) => {
      const rounds = s.roundMedians.length < t.rounds ? ` (${s.roundMedians.length} of ${t.rounds} rounds)` : "";
      return `${fmtMs(s.minMs)} – ${fmtMs(s.maxMs)}${rounds}`;
    }),
    "## First call (compilation, caches and the first run), apart from the steady state",
    detailTable(report, (s) => (s.firstCallMs === undefined ? "–" : fmtMs(s.firstCallMs))),
    "## Memory: peak RSS of the process, and peak bytes held by the library during one call (inputs and results included)",
    detailTable(report, (s) => `${fmtBytes(s.rssPeakBytes)} / ${fmtBytes(s.devicePeakBytes)}`),
    "## CPU time / wall time while sampling (about how many cores were busy)",
    detailTable(report, (s) => (s.cpuPerWall === null ? "–" : fmt(s.cpuPerWall))),
    "## Cases",
    table(
      ["case", "what is measured", "better"],
      report.cases.map((c) => [c.id, c.note, higherIsBetter(c.unit) ? "higher" : "lower"]),
      false,
    ),
  ];
  if (notes.notes.length) parts.push("## Errors", notes.notes.map((n, i) => `${i + 1}. ${n.replaceAll("\n", " ")}`).join("\n"));
  return `${parts.join("\n\n")}\n`;
}

/** The part of the report worth printing at the end of a run: results, ratios and errors. */
export function consoleSummary(report: Report): string {
  const notes = new Footnotes();
  const results = resultsTable(report, notes);
  const skipped = report.participants.filter((p) => p.status !== "ran").map((p) => `- skipped ${p.label}: ${p.reason}`);
  const errors = notes.notes.map((n, i) => `[${i + 1}] ${n.replaceAll("\n", " ")}`);
  return [results, ratioTables(report), ...skipped, ...errors].join("\n\n");
}

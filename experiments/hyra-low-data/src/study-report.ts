/**
 * @file The low-data study's report from its stored runs: per task the accuracy table at the chosen
 * learning rates, the verdicts (HyRA against LoRA and against the parameter-matched LoRA), the fraction
 * each method needs to reach LoRA's 100 %, trainable parameters and wall time, the chosen learning rates
 * and two plots (accuracy with 95 % bands, paired differences with their intervals); then the ablations
 * as paired differences against HyRA's defaults. Pure: the caller writes the files.
 */

import type { TaskName } from "@tsgrad/datasets";
import {
  aggregate,
  type Cell,
  linePlot,
  markdownTable,
  type RunConfig,
  type RunOutcome,
  type RunResult,
  type StoredRun,
  type StudyMethod,
} from "@tsgrad/training/node";
import type { StudyPlan } from "./study.ts";
import { fractionToMatch, type PairedDifference, pairedDifferences, points, reproductionVerdict, tHalfWidth } from "./verdict.ts";

type Stored = StoredRun<RunConfig, RunResult>;

export interface StudyContext {
  command: string;
  git: string;
  date: string;
  node: string;
  backbone: string;
  /** Where PROTOCOL.md is, relative to the report's folder (the report links to it). */
  protocol: string;
}

const diffText = (d: PairedDifference | undefined) =>
  d === undefined ? "–" : Number.isNaN(d.low) ? `${points(d.mean)} (n ${d.n})` : `${points(d.mean)} [${points(d.low)}, ${points(d.high)}]`;

/** A mean's t-based 95 % interval, clamped to [0, 1] for a plot of accuracies. */
function band(c: Cell): { low: number; high: number } {
  if (c.n < 2) return { low: c.mean, high: c.mean };
  const half = tHalfWidth(c.std, c.n);
  return { low: Math.max(0, c.mean - half), high: Math.min(1, c.mean + half) };
}

const outcome = (s: Stored, method: string = s.config.method): RunOutcome => ({
  method,
  fraction: s.config.fraction,
  seed: s.config.seed,
  accuracy: s.result.testAccuracy,
});

export function studyReport(
  plan: StudyPlan,
  runs: { sweep: readonly Stored[]; final: readonly Stored[]; ablations: readonly Stored[] },
  chosenLrOf: (task: TaskName, method: StudyMethod, fraction: number) => number,
  context: StudyContext,
): { files: Record<string, string>; verdicts: { task: string; against: string; verdict: string; why: string }[] } {
  const files: Record<string, string> = {};
  const verdicts: { task: string; against: string; verdict: string; why: string }[] = [];
  const md: string[] = [
    "# The low-data study: report",
    "",
    `Made by \`${context.command}\` at commit ${context.git} on ${context.date} (Node ${context.node}), from the backbone ${context.backbone.slice(0, 16)}, following [PROTOCOL.md](${context.protocol}). Accuracies are test accuracies in %, mean ± standard deviation over seeds (runs); differences are in points, with t-based 95 % intervals over the paired seeds.`,
    "",
  ];
  const json: Record<string, unknown> = { context, plan, tasks: {} as Record<string, unknown> };
  for (const task of plan.tasks) {
    const chosen = [
      ...runs.sweep.filter((s) => s.config.task === task && s.config.lr === chosenLrOf(task, s.config.method, s.config.fraction)),
      ...runs.final.filter((s) => s.config.task === task),
    ];
    const outcomes = chosen.map((s) => outcome(s));
    const cells = aggregate(outcomes);
    const trainable = Object.fromEntries(
      plan.methods.map((m) => [m, String(chosen.find((s) => s.config.method === m)?.result.trainable ?? "")]),
    );
    md.push(`## ${task}`, "", markdownTable(cells, plan.methods, { name: "trainable parameters", values: trainable }), "");
    const taskVerdicts: Record<string, unknown> = {};
    const diffSeries: { name: string; diffs: PairedDifference[] }[] = [];
    for (const against of ["lora", "lora-matched"]) {
      if (!plan.methods.includes("hyra") || !plan.methods.includes(against as never)) continue;
      const diffs = pairedDifferences(outcomes, "hyra", against);
      const v = reproductionVerdict(diffs);
      verdicts.push({ task, against, ...v });
      taskVerdicts[against] = { ...v, diffs };
      diffSeries.push({ name: `hyra − ${against}`, diffs });
      md.push(`- HyRA against ${against}: **${v.verdict}**: ${v.why}.`);
    }
    md.push(
      "",
      "| method | reaches LoRA's 100 % at | wall time of its runs | chosen learning rate per fraction |",
      "| --- | ---: | ---: | --- |",
    );
    const toMatch: Record<string, number | null> = {};
    for (const m of plan.methods) {
      const mine = chosen.filter((s) => s.config.method === m);
      if (mine.length === 0) continue;
      toMatch[m] = fractionToMatch(cells, m, "lora");
      const seconds = mine.reduce((n, s) => n + s.result.seconds, 0);
      const lrs = plan.fractions.map((f) => `${f} %: ${chosenLrOf(task, m, f)}`).join(", ");
      md.push(`| ${m} | ${toMatch[m] === null ? "never" : `${toMatch[m]} %`} | ${seconds.toFixed(0)} s | ${lrs} |`);
    }
    md.push("", `![accuracy](${task}-accuracy.svg) ![differences](${task}-differences.svg)`, "");
    files[`${task}-accuracy.svg`] = linePlot({
      title: `${task}: test accuracy against training data (${plan.seeds.length} seeds, 95 % bands)`,
      xLabel: "training data (% of the pool, log scale)",
      yLabel: "test accuracy",
      xTicks: plan.fractions,
      series: plan.methods.map((m) => ({
        name: m,
        points: cells.filter((c) => c.method === m).map((c) => ({ x: c.fraction, mean: c.mean, ...band(c) })),
      })),
    });
    files[`${task}-differences.svg`] = linePlot({
      title: `${task}: HyRA's paired difference (points, 95 % intervals)`,
      xLabel: "training data (% of the pool, log scale)",
      yLabel: "difference in accuracy",
      xTicks: plan.fractions,
      series: diffSeries.map(({ name, diffs }) => ({
        name,
        points: diffs.map((d) => ({
          x: d.fraction,
          mean: d.mean,
          low: Number.isNaN(d.low) ? d.mean : d.low,
          high: Number.isNaN(d.high) ? d.mean : d.high,
        })),
      })),
    });
    (json.tasks as Record<string, unknown>)[task] = { cells, verdicts: taskVerdicts, fractionToMatchLora: toMatch };
  }
  const a = plan.ablations;
  if (a !== null) {
    const defaults = [
      ...runs.sweep.filter(
        (s) => s.config.task === a.task && s.config.method === "hyra" && s.config.lr === chosenLrOf(a.task, "hyra", s.config.fraction),
      ),
      ...runs.final.filter((s) => s.config.task === a.task && s.config.method === "hyra"),
    ].filter((s) => a.fractions.includes(s.config.fraction));
    md.push(
      `## Ablations (${a.task}): each variant − HyRA's defaults`,
      "",
      `| variant | ${a.fractions.map((f) => `${f} %`).join(" | ")} |`,
      `| --- | ${a.fractions.map(() => "---:").join(" | ")} |`,
    );
    const ablationJson: Record<string, unknown> = {};
    for (const [name, fields] of Object.entries(a.variants)) {
      const mine = runs.ablations.filter((s) => JSON.stringify(s.config.hyra) === JSON.stringify(fields));
      const diffs = pairedDifferences([...defaults.map((s) => outcome(s)), ...mine.map((s) => outcome(s, name))], name, "hyra");
      ablationJson[name] = { fields, diffs };
      md.push(`| ${name} | ${a.fractions.map((f) => diffText(diffs.find((d) => d.fraction === f))).join(" | ")} |`);
    }
    md.push("");
    json.ablations = ablationJson;
  }
  json.runs = [...runs.sweep, ...runs.final, ...runs.ablations];
  files["report.md"] = `${md.join("\n")}\n`;
  files["results.json"] = `${JSON.stringify(json, null, 2)}\n`;
  return { files, verdicts };
}

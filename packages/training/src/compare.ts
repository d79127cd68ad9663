/**
 * @file A comparison: every (method, fraction, seed) of a grid fine-tuned from one backbone on one task,
 * each finished run stored under its configuration (a rerun skips it), then the table, the sentence and
 * the plot written beside the runs. `--preset quick` is the README's main job.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fail } from "@tsgrad/core";
import { writeJsonFile } from "@tsgrad/models/node";
import { finetune, type RunConfig, type RunResult } from "./finetune.ts";
import { linePlot } from "./plot.ts";
import { formatDuration } from "./progress.ts";
import { RunStore, runKey, writeTextFiles } from "./store.ts";
import { aggregate, markdownTable, verdict } from "./summary.ts";
import { DEFAULT_LR, METHODS, type StudyMethod, type TaskData } from "./train.ts";

export interface Grid {
  /** The task's name; the data comes with compare's options. */
  task: string;
  methods: StudyMethod[];
  fractions: number[];
  seeds: number[];
  steps: number;
  batch: number;
  r: number;
  alpha: number;
  maxTokens: number;
  validate: boolean;
  /** One learning rate for every method; undefined: each method's DEFAULT_LR. */
  lr?: number;
}

export const PRESETS: Record<string, Grid> = {
  quick: {
    task: "spam",
    methods: ["linear-probe", "lora", "lora-matched", "mh-lora", "hyra"],
    fractions: [1, 10, 100],
    seeds: [1, 2],
    steps: 120,
    batch: 16,
    r: 8,
    alpha: 16,
    maxTokens: 64,
    validate: false,
  },
  // the backbone's floors: full fine-tuning and the probe on all the data, three seeds
  floors: {
    task: "sotu-party",
    methods: ["linear-probe", "full"],
    fractions: [100],
    seeds: [1, 2, 3],
    // two epochs of SOTU's pool: full fine-tuning's validation accuracy rose from 600 steps to 1200, the probe's did not
    steps: 1200,
    batch: 32,
    r: 8,
    alpha: 16,
    maxTokens: 128,
    validate: true,
  },
};

/**
 * Seconds per training step of each method (16 texts of 64 tokens; a step's cost grows with both) and
 * per run (loading, tokenizing, scoring), measured on this machine's class with the committed backbone
 * (the study's first runs: 1,000 steps took 16-20 s for the probe, 23-28 s for LoRA, 41 s for MH-LoRA);
 * for the estimate only.
 */
const STEP_SECONDS: Record<StudyMethod, number> = {
  "linear-probe": 0.015,
  lora: 0.022,
  "lora-matched": 0.022,
  "mh-lora": 0.037,
  hyra: 0.024,
  "hyra-compact": 0.024,
  vera: 0.022,
  full: 0.045,
};
const RUN_SECONDS = 3;

export function runsOf(grid: Grid, backbone: string): RunConfig[] {
  const out: RunConfig[] = [];
  for (const seed of grid.seeds)
    for (const fraction of grid.fractions)
      for (const method of grid.methods) {
        const { task, steps, batch, r, alpha, maxTokens, validate } = grid;
        out.push({
          task,
          method,
          fraction,
          seed,
          backbone,
          steps,
          batch,
          lr: grid.lr ?? DEFAULT_LR[method],
          r,
          alpha,
          maxTokens,
          validate,
        });
      }
  return out;
}

export function estimateSeconds(runs: readonly RunConfig[]): number {
  return runs.reduce((s, r) => s + RUN_SECONDS + STEP_SECONDS[r.method] * r.steps * (r.batch / 16) * (r.maxTokens / 64), 0);
}

export interface CompareOutcome {
  table: string;
  sentence: string;
  /** The backbone's floor, when the grid has full fine-tuning and the probe on all the data. */
  floor: string | null;
  files: { json: string; markdown: string; svg: string };
  ran: number;
  skipped: number;
}

export async function compare(
  grid: Grid,
  options: {
    /** The data of the task `grid.task` names (@tsgrad/datasets's loadTask). */
    task: TaskData;
    backboneDir: string;
    backboneHash: string;
    out: string;
    yes: boolean;
    /** Versions recorded in results.json beside this package's dependencies (the data packages', say). */
    versions?: Readonly<Record<string, string>>;
    log?: (line: string) => void;
  },
): Promise<CompareOutcome> {
  const log = options.log ?? ((line: string) => console.log(line));
  for (const m of grid.methods) if (!METHODS.includes(m)) fail("compare", `unknown method "${m}"; the methods are ${METHODS.join(", ")}`);
  const store = new RunStore<RunConfig, RunResult>(options.out);
  const runs = runsOf(grid, options.backboneHash);
  const todo: RunConfig[] = [];
  for (const run of runs) if ((await store.get(run)) === undefined) todo.push(run);
  const estimate = estimateSeconds(todo);
  log(
    `${runs.length} runs (${grid.methods.length} methods × ${grid.fractions.length} fractions × ${grid.seeds.length} seeds) on ${grid.task}; ` +
      `${runs.length - todo.length} done already, ${todo.length} to run (${todo.reduce((n, r) => n + r.steps, 0)} steps), about ${formatDuration(estimate)}`,
  );
  if (estimate > 300 && !options.yes) fail("compare", `this would take about ${formatDuration(estimate)}; add --yes to run it`);
  for (const [i, run] of todo.entries()) {
    // on a terminal each run draws its live bar; in a log the line after each run is enough
    const result = await finetune(run, options.backboneDir, { task: options.task, progress: Boolean(process.stderr.isTTY) });
    await store.put(run, result);
    log(
      `[${i + 1}/${todo.length}] ${run.method} ${run.fraction}% seed ${run.seed}: test accuracy ${(100 * result.testAccuracy).toFixed(1)} % (${result.seconds.toFixed(1)} s)`,
    );
  }

  // the grid's runs only: the folder may hold runs of other grids too
  const keys = new Set(runs.map(runKey));
  const stored = (await store.all()).filter((s) => keys.has(s.key));
  const cells = aggregate(
    stored.map((s) => ({ method: s.config.method, fraction: s.config.fraction, seed: s.config.seed, accuracy: s.result.testAccuracy })),
  );
  const trainable = Object.fromEntries(
    grid.methods.map((m) => [m, String(stored.find((s) => s.config.method === m)?.result.trainable ?? "")]),
  );
  const table = markdownTable(cells, grid.methods, { name: "trainable parameters", values: trainable });
  const sentence =
    grid.methods.includes("hyra") && grid.methods.includes("lora")
      ? verdict(cells, "hyra", "lora")
      : verdict(cells, grid.methods[grid.methods.length - 1], grid.methods[0]);
  const svg = linePlot({
    title: `${grid.task}: test accuracy against training data (${grid.seeds.length} seeds)`,
    xLabel: "training data (% of the pool, log scale)",
    yLabel: "test accuracy",
    xTicks: grid.fractions,
    series: grid.methods.map((m) => ({
      name: m,
      points: cells.filter((c) => c.method === m).map((c) => ({ x: c.fraction, mean: c.mean, low: c.low, high: c.high })),
    })),
  });
  const floor = backboneFloor(cells, grid.task, options.task);
  const files = {
    json: join(options.out, "results.json"),
    // the names writeTextFiles writes below
    markdown: join(options.out, "results.md"),
    svg: join(options.out, "accuracy.svg"),
  };
  const versions = {
    ...JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")).dependencies,
    ...options.versions,
  };
  const json = { grid, backbone: options.backboneHash, node: process.version, versions, cells, runs: stored };
  const markdown = `# ${grid.task}: test accuracy (%), mean ± std over seeds (runs)\n\n${table}\n\n${sentence}\n${floor ? `\n${floor}\n` : ""}`;
  await writeJsonFile(files.json, json, `compare ${files.json}`);
  await writeTextFiles(options.out, { "results.md": markdown, "accuracy.svg": svg }, "compare");
  return { table, sentence, floor, files, ran: todo.length, skipped: runs.length - todo.length };
}

/**
 * The backbone's floor on a task: fine-tuned in full on all the data, at least 5 points above both the
 * linear probe and the majority class (means over the seeds); null when the grid lacks those runs.
 */
export function backboneFloor(
  cells: readonly { method: string; fraction: number; mean: number; n: number }[],
  taskName: string,
  task: TaskData,
): string | null {
  const full = cells.find((c) => c.method === "full" && c.fraction === 100);
  const probe = cells.find((c) => c.method === "linear-probe" && c.fraction === 100);
  if (!full || !probe) return null;
  const majority = Math.max(...task.labels.map((l) => task.test.filter((e) => e.label === l).length)) / task.test.length;
  const met = full.mean >= probe.mean + 0.05 && full.mean >= majority + 0.05;
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  return (
    `The backbone's floor on ${taskName}: full fine-tuning ${pct(full.mean)} (${full.n} seeds) against the linear probe ${pct(probe.mean)} ` +
    `and the majority class ${pct(majority)}; at least 5 points above both: ${met ? "met" : "NOT met"}.`
  );
}

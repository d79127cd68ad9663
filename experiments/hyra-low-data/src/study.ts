/**
 * @file The low-data study of PROTOCOL.md (this experiment's folder) as a plan and its runs: the learning-rate sweep
 * (the first seed, every value), the rule that picks each method's value on validation, the other seeds
 * at that value, and HyRA's ablations at HyRA's value. Every run is stored under its configuration, so an
 * interrupted study resumes where it stopped; study-report.ts turns the stored runs into the report.
 */

import { relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { fail } from "@tsgrad/core";
import { loadTask, type TaskName } from "@tsgrad/datasets";
import {
  estimateSeconds,
  finetune,
  formatDuration,
  type HyraAblation,
  machineFacts,
  type RunConfig,
  type RunResult,
  RunStore,
  runKey,
  type StoredRun,
  type StudyMethod,
  writeTextFiles,
} from "@tsgrad/training/node";
import { studyReport } from "./study-report.ts";

/** The protocol the report follows, which it links to. */
const PROTOCOL_FILE = fileURLToPath(new URL("../PROTOCOL.md", import.meta.url));

/** The first edition's six arms: the methods the protocol fixed (the package offers more since). */
export const STUDY_METHODS = ["linear-probe", "lora", "lora-matched", "mh-lora", "hyra", "full"] as const satisfies readonly StudyMethod[];
export type StudyArm = (typeof STUDY_METHODS)[number];

export interface StudyPlan {
  tasks: TaskName[];
  methods: StudyArm[];
  fractions: number[];
  /** The first seed runs the sweep; the others run at the chosen learning rate. */
  seeds: number[];
  /** Training steps per fraction, the same for every method. */
  steps: Record<number, number>;
  batch: number;
  r: number;
  alpha: number;
  maxTokens: number;
  /** The learning rates swept per method. */
  lrs: Record<StudyArm, number[]>;
  ablations: { task: TaskName; fractions: number[]; variants: Record<string, HyraAblation> } | null;
}

const ADAPTER_LRS = [1e-3, 3e-3, 1e-2];

export const STUDY_PRESETS: Record<"full" | "toy", StudyPlan> = {
  full: {
    tasks: ["sotu-party", "spam"],
    methods: [...STUDY_METHODS],
    fractions: [1, 5, 10, 25, 100],
    seeds: [1, 2, 3, 4, 5],
    steps: { 1: 150, 5: 200, 10: 300, 25: 500, 100: 1000 },
    batch: 16,
    r: 8,
    alpha: 16,
    maxTokens: 64,
    lrs: {
      "linear-probe": [3e-3, 1e-2, 3e-2],
      lora: ADAPTER_LRS,
      "lora-matched": ADAPTER_LRS,
      "mh-lora": ADAPTER_LRS,
      hyra: ADAPTER_LRS,
      full: [3e-4, 1e-3, 3e-3],
    },
    ablations: {
      task: "sotu-party",
      fractions: [1, 5, 10, 100],
      variants: {
        "per-head Θ_B": { perHeadGenerator: true },
        "identity σ": { activation: "identity" },
        "rank mixing": { mixing: "rank" },
        "unshared seeds": { sharedSeeds: false },
      },
    },
  },
  // the whole pipeline in seconds on a toy backbone (the CLI test)
  toy: {
    tasks: ["spam"],
    methods: ["linear-probe", "lora", "lora-matched", "hyra"],
    fractions: [10, 100],
    seeds: [1, 2],
    steps: { 10: 3, 100: 3 },
    batch: 4,
    r: 2,
    alpha: 4,
    maxTokens: 16,
    lrs: {
      "linear-probe": [1e-2, 3e-2],
      lora: [3e-3, 1e-2],
      "lora-matched": [3e-3, 1e-2],
      "mh-lora": [3e-3],
      hyra: [3e-3, 1e-2],
      full: [1e-3],
    },
    ablations: { task: "spam", fractions: [10, 100], variants: { "per-head Θ_B": { perHeadGenerator: true } } },
  },
};

function run(
  plan: StudyPlan,
  backbone: string,
  task: TaskName,
  method: StudyMethod,
  fraction: number,
  seed: number,
  lr: number,
): RunConfig {
  const steps = plan.steps[fraction];
  if (steps === undefined) fail("study", `the plan has no step budget for fraction ${fraction}`);
  const { batch, r, alpha, maxTokens } = plan;
  return { task, method, fraction, seed, backbone, steps, batch, lr, r, alpha, maxTokens, validate: false };
}

/** The sweep: the first seed at every learning rate, scored on validation too. */
export function sweepRuns(plan: StudyPlan, backbone: string): RunConfig[] {
  const out: RunConfig[] = [];
  for (const task of plan.tasks)
    for (const method of plan.methods)
      for (const fraction of plan.fractions)
        for (const lr of plan.lrs[method]) out.push({ ...run(plan, backbone, task, method, fraction, plan.seeds[0], lr), validate: true });
  return out;
}

const cellKey = (task: string, method: string, fraction: number) => `${task}|${method}|${fraction}`;

/**
 * The protocol's rule, the same for every method: per method, task and fraction, the swept value with the
 * highest validation accuracy; a tie goes to the smaller value. Fails when a sweep run is missing.
 */
export function chooseLearningRates(
  plan: StudyPlan,
  sweep: readonly StoredRun<RunConfig, RunResult>[],
): Map<string, { lr: number; run: StoredRun<RunConfig, RunResult> }> {
  const chosen = new Map<string, { lr: number; run: StoredRun<RunConfig, RunResult> }>();
  for (const s of [...sweep].sort((a, b) => a.config.lr - b.config.lr)) {
    const key = cellKey(s.config.task, s.config.method, s.config.fraction);
    const best = chosen.get(key);
    const score = s.result.validationAccuracy;
    if (score === null) fail("study", `sweep run ${key} lr ${s.config.lr} has no validation accuracy`);
    if (best === undefined || score > (best.run.result.validationAccuracy as number)) chosen.set(key, { lr: s.config.lr, run: s });
  }
  for (const task of plan.tasks)
    for (const method of plan.methods)
      for (const fraction of plan.fractions)
        if (!chosen.has(cellKey(task, method, fraction))) fail("study", `no sweep runs for ${cellKey(task, method, fraction)}`);
  return chosen;
}

export function chosenLr(chosen: ReturnType<typeof chooseLearningRates>, task: string, method: string, fraction: number): number {
  const c = chosen.get(cellKey(task, method, fraction));
  if (c === undefined) fail("study", `no chosen learning rate for ${cellKey(task, method, fraction)}`);
  return c.lr;
}

/** The other seeds at each cell's chosen learning rate (the first seed's run is the sweep's). */
export function finalRuns(
  plan: StudyPlan,
  backbone: string,
  lrOf: (task: TaskName, method: StudyMethod, fraction: number) => number,
): RunConfig[] {
  const out: RunConfig[] = [];
  for (const task of plan.tasks)
    for (const method of plan.methods)
      for (const fraction of plan.fractions)
        for (const seed of plan.seeds.slice(1)) out.push(run(plan, backbone, task, method, fraction, seed, lrOf(task, method, fraction)));
  return out;
}

/** Each ablation at every one of its fractions and every seed, at HyRA's chosen learning rate. */
export function ablationRuns(
  plan: StudyPlan,
  backbone: string,
  lrOf: (task: TaskName, method: StudyMethod, fraction: number) => number,
): RunConfig[] {
  const a = plan.ablations;
  if (a === null) return [];
  const out: RunConfig[] = [];
  for (const hyra of Object.values(a.variants))
    for (const fraction of a.fractions)
      for (const seed of plan.seeds)
        out.push({ ...run(plan, backbone, a.task, "hyra", fraction, seed, lrOf(a.task, "hyra", fraction)), hyra });
  return out;
}

/** Every run's cost before any has run: the counts do not depend on which learning rate wins. */
export function studyCost(plan: StudyPlan, backbone: string): { runs: number; steps: number; seconds: number } {
  const any = () => 1e-3;
  const all = [...sweepRuns(plan, backbone), ...finalRuns(plan, backbone, any), ...ablationRuns(plan, backbone, any)];
  return { runs: all.length, steps: all.reduce((n, r) => n + r.steps, 0), seconds: estimateSeconds(all) };
}

/** Runs what is not stored yet, phase by phase; returns every stored run of the plan. */
export async function runStudy(
  plan: StudyPlan,
  options: { backboneDir: string; backboneHash: string; out: string; yes: boolean; log?: (line: string) => void },
): Promise<{
  sweep: StoredRun<RunConfig, RunResult>[];
  final: StoredRun<RunConfig, RunResult>[];
  ablations: StoredRun<RunConfig, RunResult>[];
  /** The learning rate the rule chose per task, method and fraction. */
  lrOf: (task: TaskName, method: StudyMethod, fraction: number) => number;
  ran: number;
}> {
  const log = options.log ?? ((line: string) => console.log(line));
  const store = new RunStore<RunConfig, RunResult>(options.out);
  const cost = studyCost(plan, options.backboneHash);
  log(`the study: ${cost.runs} runs, ${cost.steps} steps, about ${formatDuration(cost.seconds)} in all (finished runs are skipped)`);
  if (cost.seconds > 300 && !options.yes) fail("study", `this would take about ${formatDuration(cost.seconds)}; add --yes to run it`);
  let ran = 0;
  const ensure = async (phase: string, runs: readonly RunConfig[]) => {
    const out: StoredRun<RunConfig, RunResult>[] = [];
    for (const [i, config] of runs.entries()) {
      const stored = await store.get(config);
      if (stored !== undefined) {
        out.push({ key: runKey(config), config, result: stored });
        continue;
      }
      const result = await finetune(config, options.backboneDir, {
        task: loadTask(config.task as TaskName),
        progress: Boolean(process.stderr.isTTY),
      });
      await store.put(config, result);
      ran++;
      const variant = config.hyra ? ` ${JSON.stringify(config.hyra)}` : "";
      log(
        `[${phase} ${i + 1}/${runs.length}] ${config.task} ${config.method}${variant} ${config.fraction}% seed ${config.seed} lr ${config.lr}: test ${(100 * result.testAccuracy).toFixed(1)} % (${result.seconds.toFixed(1)} s)`,
      );
      out.push({ key: runKey(config), config, result });
    }
    return out;
  };
  const sweep = await ensure("sweep", sweepRuns(plan, options.backboneHash));
  const chosen = chooseLearningRates(plan, sweep);
  const lrOf = (task: TaskName, method: StudyMethod, fraction: number) => chosenLr(chosen, task, method, fraction);
  const final = await ensure("seeds", finalRuns(plan, options.backboneHash, lrOf));
  const ablations = await ensure("ablations", ablationRuns(plan, options.backboneHash, lrOf));
  return { sweep, final, ablations, lrOf, ran };
}

/** The whole study: the runs (resumed), then the report's files written atomically into `out`. */
export async function study(
  plan: StudyPlan,
  options: { backboneDir: string; backboneHash: string; out: string; yes: boolean; command: string; log?: (line: string) => void },
): Promise<{ verdicts: { task: string; against: string; verdict: string; why: string }[]; files: string[]; ran: number }> {
  const runs = await runStudy(plan, options);
  const facts = machineFacts();
  const { files, verdicts } = studyReport(plan, runs, runs.lrOf, {
    command: options.command,
    git: facts.git,
    date: facts.date,
    node: facts.node,
    backbone: options.backboneHash,
    protocol: relative(options.out, PROTOCOL_FILE).split(sep).join("/"),
  });
  return { verdicts, files: await writeTextFiles(options.out, files, "study"), ran: runs.ran };
}

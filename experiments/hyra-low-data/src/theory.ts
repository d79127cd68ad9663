/**
 * @file The theory's curve (PROTOCOL.md): a teacher attention layer with a planted q/v
 * update, either shared across heads (a HyRA of random weights: every head's factor from one generator)
 * or a control whose heads share nothing (an MH-LoRA of random weights), outputs with Gaussian noise; a
 * student of each family fitted to n samples by full-batch Adam until the loss stops moving, with
 * restarts; its test error and the error of its update against the planted one.
 */

import { join } from "node:path";
import { fail, Generator, manualSeed, mse, noGrad, randn, type Tensor, tensor, tidy } from "@tsgrad/core";
import { type AdapterLayer, getPeftModel, type PeftConfigInput, type PeftModel } from "@tsgrad/hyra/node";
import { AdamW, Module, MultiHeadAttention } from "@tsgrad/nn/node";
import { formatDuration, linePlot, RunStore, writeTextFiles } from "@tsgrad/training/node";
import { meanInterval } from "./verdict.ts";

export type Teacher = "shared" | "control";
export type Student = "lora" | "mh-lora" | "hyra";

export interface TheorySettings {
  d: number;
  heads: number;
  tokens: number;
  r: number;
  noise: number;
  maxSteps: number;
  /** Stop when the loss changed by less than this share over `window` steps. */
  tolerance: number;
  window: number;
  restarts: number;
  lr: number;
  testSize: number;
}

export const THEORY_DEFAULTS: TheorySettings = {
  d: 16,
  heads: 4,
  tokens: 8,
  r: 4,
  noise: 0.1,
  maxSteps: 1500,
  tolerance: 1e-4,
  window: 50,
  restarts: 2,
  lr: 0.05,
  testSize: 2048,
};

/** One attention layer, so the adapted paths are attn.q and attn.v. */
class Attn extends Module {
  attn: MultiHeadAttention;
  constructor(d: number, heads: number) {
    super();
    this.attn = new MultiHeadAttention(d, heads);
  }
  forward(x: Tensor): Tensor {
    return this.attn.forward(x);
  }
}

/** The frozen base shared by teacher and students of a seed, weights N(0, 1/d) (scores that vary). */
function base(s: TheorySettings, seed: number): Attn {
  const model = new Attn(s.d, s.heads);
  const rng = new Generator(seed);
  for (const [, p] of model.namedParameters()) noGrad(() => p.assign(tensor(rng.normal(p.size, 0, 1 / Math.sqrt(s.d)), [...p.shape])));
  return model;
}

async function deltas(peft: PeftModel<Attn>): Promise<Float64Array[]> {
  return Promise.all(
    ["q", "v"].map(async (p) =>
      Float64Array.from(await noGrad(() => (peft.model.attn.getSubmodule(p) as AdapterLayer).deltaWeight("default")).data()),
    ),
  );
}

const frobenius = (xs: readonly Float64Array[]) => Math.sqrt(xs.reduce((n, x) => n + x.reduce((m, v) => m + v * v, 0), 0));

export interface FitResult {
  teacher: Teacher;
  student: Student;
  n: number;
  seed: number;
  /** Test MSE against the teacher's noise-free outputs on fresh inputs. */
  testMse: number;
  /** ||ΔŴ − ΔW*||_F / ||ΔW*||_F over q and v. */
  updateError: number;
  steps: number;
  /** Whether the best restart met the tolerance before maxSteps. */
  converged: boolean;
}

/** Fits `student` to n samples of `teacher` at `seed` (the teacher, the samples and the inits). */
export async function fit(
  teacher: Teacher,
  student: Student,
  n: number,
  seed: number,
  s: TheorySettings = THEORY_DEFAULTS,
): Promise<FitResult> {
  const config = (method: Student, planted: boolean) =>
    ({ method, r: s.r, alpha: s.r, ...(planted ? { initLoraWeights: false } : {}) }) as PeftConfigInput;
  manualSeed(1000 * seed + 1);
  const taught = getPeftModel(base(s, seed), config(teacher === "shared" ? "hyra" : "mh-lora", true));
  const planted = await deltas(taught);
  manualSeed(1000 * seed + 2);
  const x = randn([n, s.tokens, s.d]);
  const xTest = randn([s.testSize, s.tokens, s.d]);
  const y = noGrad(() => taught.forward(x).add(randn([n, s.tokens, s.d]).mul(s.noise))).keep();
  const yTest = noGrad(() => taught.forward(xTest)).keep();
  let best: { loss: number; model: PeftModel<Attn>; steps: number; converged: boolean } | null = null;
  for (let restart = 0; restart < s.restarts; restart++) {
    manualSeed(1000 * seed + 10 + restart);
    const model = getPeftModel(base(s, seed), config(student, false));
    const opt = new AdamW(model.trainableParameters(), { lr: s.lr, weightDecay: 0 }); // Adam: no decay toward 0
    let loss = Number.POSITIVE_INFINITY;
    let previous = Number.POSITIVE_INFINITY;
    let steps = 0;
    let converged = false;
    while (steps < s.maxSteps && !converged) {
      const l = tidy(() => {
        opt.zeroGrad();
        const out = mse(model.forward(x), y);
        out.backward();
        opt.step();
        return out;
      });
      steps++;
      if (steps % s.window === 0) {
        loss = (await l.data())[0];
        if (Number.isFinite(previous) && Math.abs(previous - loss) <= s.tolerance * previous) converged = true;
        previous = loss;
      }
      l.dispose();
    }
    if (best === null || loss < best.loss) best = { loss, model, steps, converged };
  }
  const chosen = best as NonNullable<typeof best>;
  const testMse = (await noGrad(() => mse(chosen.model.forward(xTest), yTest)).data())[0];
  const got = await deltas(chosen.model);
  const updateError = frobenius(got.map((g, i) => g.map((v, j) => v - planted[i][j]))) / frobenius(planted);
  for (const t of [x, xTest, y, yTest]) t.dispose();
  return { teacher, student, n, seed, testMse, updateError, steps: chosen.steps, converged: chosen.converged };
}

/** The least-squares slope of log y against log x. */
export function logLogSlope(points: readonly { x: number; y: number }[]): number {
  const xs = points.map((p) => Math.log(p.x));
  const ys = points.map((p) => Math.log(p.y));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (!(sxx > 0)) throw new RangeError(`logLogSlope: needs at least two distinct x, got ${points.length} points`);
  return xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx;
}

export interface TheoryPlan {
  teachers: Teacher[];
  students: Student[];
  sizes: number[];
  seeds: number[];
  settings: TheorySettings;
}

export const THEORY_PRESETS: Record<"full" | "toy", TheoryPlan> = {
  full: {
    teachers: ["shared", "control"],
    students: ["lora", "mh-lora", "hyra"],
    sizes: [64, 128, 256, 512, 1024, 2048],
    seeds: [1, 2, 3, 4, 5],
    settings: THEORY_DEFAULTS,
  },
  toy: {
    teachers: ["shared", "control"],
    students: ["lora", "hyra"],
    sizes: [16, 32],
    seeds: [1, 2],
    settings: { ...THEORY_DEFAULTS, d: 8, heads: 2, tokens: 4, r: 2, maxSteps: 100, restarts: 1, testSize: 32 },
  },
};

type FitConfig = { teacher: Teacher; student: Student; n: number; seed: number; settings: TheorySettings };

/**
 * Seconds of one fit at most (every restart to its step cap): 1.5 ms a step plus 11 µs a sample, measured
 * at d 16 with 8 tokens on this machine class; a fit that meets its tolerance takes less.
 */
const fitSeconds = (c: FitConfig) => c.settings.restarts * c.settings.maxSteps * (1.5e-3 + 11e-6 * c.n * (c.settings.tokens / 8));

/** Every fit of the plan (stored under out/theory-runs, so a rerun skips them), then the report's files. */
export async function theory(
  plan: TheoryPlan,
  options: { out: string; yes: boolean; command: string; log?: (line: string) => void },
): Promise<{ files: string[]; ran: number; summary: string }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const store = new RunStore<FitConfig, FitResult>(join(options.out, "theory-runs"));
  const configs: FitConfig[] = [];
  for (const teacher of plan.teachers)
    for (const student of plan.students)
      for (const n of plan.sizes) for (const seed of plan.seeds) configs.push({ teacher, student, n, seed, settings: plan.settings });
  const stored = await Promise.all(configs.map((c) => store.get(c)));
  const todo = configs.filter((_, i) => stored[i] === undefined);
  const estimate = todo.reduce((t, c) => t + fitSeconds(c), 0);
  log(
    `the theory's curve: ${configs.length} fits, ${configs.length - todo.length} done already; at most ${formatDuration(estimate)} for the rest`,
  );
  if (estimate > 300 && !options.yes) fail("theory", `this could take ${formatDuration(estimate)}; add --yes to run it`);
  const results: FitResult[] = [];
  for (const [i, c] of configs.entries()) {
    let r = stored[i];
    if (r === undefined) {
      r = await fit(c.teacher, c.student, c.n, c.seed, c.settings);
      await store.put(c, r);
      log(
        `[${todo.indexOf(c) + 1}/${todo.length}] ${c.teacher} ${c.student} n ${c.n} seed ${c.seed}: update error ${r.updateError.toFixed(3)}, ${r.steps} steps${r.converged ? "" : " (cap)"}`,
      );
    }
    results.push(r);
  }
  const report = theoryReport(plan, results, options.command);
  return { files: await writeTextFiles(options.out, report.files, "theory"), ran: todo.length, summary: report.summary };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Tables of both errors per teacher, slopes with intervals over seeds, the smallest n's ratios to LoRA, log-log plots. */
export function theoryReport(
  plan: TheoryPlan,
  results: readonly FitResult[],
  command: string,
): { files: Record<string, string>; summary: string } {
  const files: Record<string, string> = {};
  const md = [
    "# The theory's curve",
    "",
    `Made by \`${command}\` (settings: ${JSON.stringify(plan.settings)}). Errors are means over ${plan.seeds.length} seeds; slopes are the least-squares slope of log error against log n per seed, mean [t-based 95 % interval].`,
    "",
  ];
  const json: Record<string, unknown> = { command, plan, results };
  const summary: string[] = [];
  const capped = results.filter((r) => !r.converged).length;
  for (const teacher of plan.teachers) {
    for (const [metric, label] of [
      ["updateError", "‖ΔŴ − ΔW*‖ / ‖ΔW*‖"],
      ["testMse", "test MSE"],
    ] as const) {
      md.push(
        `## ${teacher} teacher: ${label}`,
        "",
        `| student | ${plan.sizes.map((n) => `n ${n}`).join(" | ")} | slope |`,
        `| --- | ${plan.sizes.map(() => "---:").join(" | ")} | ---: |`,
      );
      for (const student of plan.students) {
        const mine = results.filter((r) => r.teacher === teacher && r.student === student);
        const at = (n: number) => mine.filter((r) => r.n === n).map((r) => r[metric]);
        const slopes = plan.seeds.map((seed) => logLogSlope(mine.filter((r) => r.seed === seed).map((r) => ({ x: r.n, y: r[metric] }))));
        const s = meanInterval(slopes);
        const slope = Number.isNaN(s.low) ? s.mean.toFixed(2) : `${s.mean.toFixed(2)} [${s.low.toFixed(2)}, ${s.high.toFixed(2)}]`;
        md.push(`| ${student} | ${plan.sizes.map((n) => mean(at(n)).toExponential(2)).join(" | ")} | ${slope} |`);
      }
      md.push("");
    }
    const n0 = plan.sizes[0];
    const errorAt = (student: Student) =>
      mean(results.filter((r) => r.teacher === teacher && r.student === student && r.n === n0).map((r) => r.updateError));
    if (plan.students.includes("hyra") && plan.students.includes("lora"))
      summary.push(`${teacher} teacher, n ${n0}: HyRA's update error is ${(errorAt("hyra") / errorAt("lora")).toFixed(2)}× LoRA's`);
    files[`theory-${teacher}.svg`] = linePlot({
      title: `${teacher} teacher: update error against samples (${plan.seeds.length} seeds, range)`,
      xLabel: "samples n (log scale)",
      yLabel: "relative update error (log scale)",
      xTicks: plan.sizes,
      xUnit: "",
      logY: true,
      series: plan.students.map((student) => ({
        name: student,
        points: plan.sizes.map((n) => {
          const v = results.filter((r) => r.teacher === teacher && r.student === student && r.n === n).map((r) => r.updateError);
          return { x: n, mean: mean(v), low: Math.min(...v), high: Math.max(...v) };
        }),
      })),
    });
  }
  const line = `${summary.join("; ")}. ${capped} of ${results.length} fits stopped at the step cap.`;
  md.push(line, "");
  files["theory.md"] = `${md.join("\n")}\n`;
  files["theory.json"] = `${JSON.stringify(json, null, 2)}\n`;
  return { files, summary: line };
}

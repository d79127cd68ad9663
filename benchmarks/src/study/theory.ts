/**
 * @file The theory's curve (docs/results/PROTOCOL.md): a teacher attention layer with a planted q/v
 * update, either shared across heads (a HyRA of random weights: every head's factor from one generator)
 * or a control whose heads share nothing (an MH-LoRA of random weights), outputs with Gaussian noise; a
 * student of each family fitted to n samples by full-batch Adam until the loss stops moving, with
 * restarts; its test error and the error of its update against the planted one.
 */

import { Generator, manualSeed, mse, noGrad, randn, type Tensor, tensor, tidy } from "@tsgrad/core";
import { type AdapterLayer, getPeftModel, type PeftConfigInput, type PeftModel } from "@tsgrad/hyra";
import { AdamW, Module, MultiHeadAttention } from "@tsgrad/nn";

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

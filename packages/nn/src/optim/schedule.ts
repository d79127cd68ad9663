/**
 * @file Learning-rate schedules as pure functions of the step (constant, linear warmup, cosine decay,
 * nanoGPT's warmup then cosine), and LRScheduler, which writes them into an optimiser's groups.
 */

import { checkOptions, fail } from "@tsgrad/core";
import { checkNumber } from "./checks.ts";

/** The learning rate for a step (0 for the first optimiser step). */
export type Schedule = (step: number) => number;

function checkStep(where: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) fail(where, `step must be a non-negative integer, got ${step}`);
}

function checkSteps(where: string, name: string, value: unknown, min: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    fail(where, `${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

/** The same rate at every step. */
export function constant(lr: number): Schedule {
  checkNumber("constant", "lr", lr, 0);
  return (step) => {
    checkStep("constant", step);
    return lr;
  };
}

/**
 * Rises linearly to `lr` over `warmupSteps` steps, then stays: step s < warmupSteps gets
 * lr·(s + 1)/(warmupSteps + 1), as nanoGPT does, so that the first step already moves (lr·0 would waste it).
 */
export function linearWarmup(options: { lr: number; warmupSteps: number }): Schedule {
  if (options === null || typeof options !== "object") fail("linearWarmup", "expects an options object such as { lr: 1e-3, ... }");
  checkOptions("linearWarmup", options, ["lr", "warmupSteps"]);
  const { lr, warmupSteps } = options;
  checkNumber("linearWarmup", "lr", lr, 0);
  checkSteps("linearWarmup", "warmupSteps", warmupSteps, 0);
  return (step) => {
    checkStep("linearWarmup", step);
    return step < warmupSteps ? (lr * (step + 1)) / (warmupSteps + 1) : lr;
  };
}

/**
 * Half a cosine from `lr` at step 0 down to `minLr` at step `decaySteps`, then `minLr`
 * (PyTorch's CosineAnnealingLR closed form, without restarts).
 */
export function cosineDecay(options: { lr: number; minLr?: number; decaySteps: number }): Schedule {
  if (options === null || typeof options !== "object") fail("cosineDecay", "expects an options object such as { lr: 1e-3, ... }");
  checkOptions("cosineDecay", options, ["lr", "minLr", "decaySteps"]);
  const { lr, minLr = 0, decaySteps } = options;
  checkNumber("cosineDecay", "lr", lr, 0);
  checkNumber("cosineDecay", "minLr", minLr, 0);
  if (minLr > lr) fail("cosineDecay", `minLr (${minLr}) must not exceed lr (${lr})`);
  checkSteps("cosineDecay", "decaySteps", decaySteps, 1);
  return (step) => {
    checkStep("cosineDecay", step);
    const ratio = Math.min(step, decaySteps) / decaySteps;
    return minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (lr - minLr);
  };
}

/**
 * nanoGPT's get_lr: linear warmup over `warmupSteps` (as linearWarmup), then a cosine from `lr` down to
 * `minLr`, reached at step `totalSteps` (nanoGPT's lr_decay_iters, counted from 0, warmup included),
 * and `minLr` after that.
 */
export function warmupCosine(options: { lr: number; minLr?: number; warmupSteps: number; totalSteps: number }): Schedule {
  if (options === null || typeof options !== "object") fail("warmupCosine", "expects an options object such as { lr: 1e-3, ... }");
  checkOptions("warmupCosine", options, ["lr", "minLr", "warmupSteps", "totalSteps"]);
  const { lr, minLr = 0, warmupSteps, totalSteps } = options;
  checkNumber("warmupCosine", "lr", lr, 0);
  checkNumber("warmupCosine", "minLr", minLr, 0);
  if (minLr > lr) fail("warmupCosine", `minLr (${minLr}) must not exceed lr (${lr})`);
  checkSteps("warmupCosine", "warmupSteps", warmupSteps, 0);
  checkSteps("warmupCosine", "totalSteps", totalSteps, warmupSteps + 1);
  return (step) => {
    checkStep("warmupCosine", step);
    if (step < warmupSteps) return (lr * (step + 1)) / (warmupSteps + 1);
    if (step > totalSteps) return minLr;
    const ratio = (step - warmupSteps) / (totalSteps - warmupSteps);
    return minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (lr - minLr);
  };
}

/** What LRScheduler needs of an optimiser: groups whose lr it may write. */
export interface HasParamGroups {
  paramGroups: { lr: number }[];
}

/**
 * Sets each group's lr from a schedule: schedule(0) at construction, schedule(t) after the t-th
 * `step()`. Call `step()` after each `optimizer.step()`, as with PyTorch's schedulers. One schedule
 * drives every group; give one per group when the groups' rates differ.
 */
export class LRScheduler {
  #step = 0;
  readonly #schedules: Schedule[];

  constructor(
    readonly optimizer: HasParamGroups,
    schedule: Schedule | readonly Schedule[],
  ) {
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) {
      fail("LRScheduler", `expected an optimiser (with paramGroups), got ${optimizer === null ? "null" : typeof optimizer}`);
    }
    const groups = optimizer.paramGroups.length;
    if (typeof schedule === "function") this.#schedules = Array.from({ length: groups }, () => schedule);
    else if (Array.isArray(schedule) && schedule.length === groups && schedule.every((s) => typeof s === "function")) {
      this.#schedules = [...schedule];
    } else {
      const got = Array.isArray(schedule) ? `a list of ${schedule.length}` : typeof schedule;
      fail("LRScheduler", `expected a schedule function or one per group (${groups}), got ${got}`);
    }
    this.#apply();
  }

  /** How many times step() has run (the step whose rate the groups now hold). */
  get lastStep(): number {
    return this.#step;
  }

  /** The rates the groups now hold. */
  lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  step(): void {
    this.#step++;
    this.#apply();
  }

  stateDict(): { step: number } {
    return { step: this.#step };
  }

  /** Restores the step count and writes that step's rates into the groups. */
  loadStateDict(dict: { step: number }): void {
    const step = dict?.step;
    if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
      fail("LRScheduler.loadStateDict", `expected { step } with a non-negative integer step, got ${String(step)}`);
    }
    this.#step = step;
    this.#apply();
  }

  #apply(): void {
    const groups = this.optimizer.paramGroups;
    if (groups.length !== this.#schedules.length) {
      fail("LRScheduler", `the optimiser now has ${groups.length} groups, but ${this.#schedules.length} schedules were given`);
    }
    const rates = this.#schedules.map((schedule, i) => {
      const lr = schedule(this.#step);
      if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
        fail("LRScheduler", `the schedule of group ${i} gave ${String(lr)} at step ${this.#step}; expected a finite number >= 0`);
      }
      return lr;
    });
    groups.forEach((g, i) => {
      g.lr = rates[i];
    });
  }
}

/**
 * @file How every downstream task is split: a fixed test set and a fixed validation set, held out by
 * group (a speech, a message, a document) with a split seed of their own, and nested, stratified
 * training subsets of the rest, drawn from the run's seed.
 *
 * The held-out sets never change with the run's seed, so every run of every method is scored on the
 * same examples. `subset(seed, fraction)` is a pure function of the task, the seed and the fraction:
 * each class's pool is permuted once per seed and a fraction takes a prefix of each permutation, so
 * the 1 % subset of a seed lies inside its 5 % subset, and so on, and every class keeps its share of
 * the pool (with at least one example, even at 1 %).
 */

import { Generator } from "@tsgrad/core";

/** One labelled example, plain data: tokenization happens later. */
export interface Example {
  readonly text: string;
  /** The class's name (one of the task's `labels`). */
  readonly label: string;
  /** The speech, message or document it comes from: the unit the split keeps on one side. */
  readonly group: string;
}

export interface Task {
  readonly name: string;
  /** The classes, in a fixed order (a label's index is its class id). */
  readonly labels: readonly string[];
  /** The fixed test set (at most `testSize` examples), the same for every seed. */
  readonly test: readonly Example[];
  /** The fixed validation set, shared by every fraction and seed. */
  readonly validation: readonly Example[];
  /** Every example of the groups left for training: `subset(seed, 1)`. */
  readonly pool: readonly Example[];
  /** Which groups each split holds (test and validation groups contribute no training example). */
  readonly groups: { readonly test: readonly string[]; readonly validation: readonly string[]; readonly pool: readonly string[] };
  /** The nested, stratified training subset of `fraction` of the pool for `seed` (1 and "1" are one seed, as for core's Generator), in pool order. */
  subset(seed: number | string, fraction: number): Example[];
  /** A run's training examples in the order it sees them: `subset(seed, fraction)` shuffled by the same seed. */
  trainingOrder(seed: number, fraction: number): Example[];
}

/** The training fractions of the low-data study. */
export const FRACTIONS = [0.01, 0.05, 0.1, 0.25, 1] as const;

/** Decides the held-out groups of every task; never the run's seed. */
export const SPLIT_SEED = "tsgrad-data-split-1";

export interface SplitSpec {
  /** Share of each class's groups held out for the test set. */
  testGroups: number;
  /** Share of each class's groups held out for the validation set. */
  validationGroups: number;
  /** At most this many test examples, drawn from the test groups. */
  testSize: number;
  /** At most this many validation examples, drawn from the validation groups. */
  validationSize: number;
}

/** A Fisher-Yates shuffle of a copy of `items`, driven by a seeded Generator. */
export function shuffled<T>(items: readonly T[], seed: number | string): T[] {
  const gen = new Generator(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(gen.random() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** Splits `total` into integer shares proportional to `counts` (largest remainder), summing to `total`. */
export function apportion(total: number, counts: readonly number[]): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum === 0) return counts.map(() => 0);
  const exact = counts.map((c) => (total * c) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((_, i) => i).sort((a, b) => exact[b] - out[b] - (exact[a] - out[a]) || a - b);
  for (const i of order) {
    if (left === 0) break;
    out[i]++;
    left--;
  }
  return out;
}

/** How many of a class's n pool examples a fraction takes: at least one, all of them at 1. */
export function classQuota(n: number, fraction: number): number {
  if (fraction === 1) return n;
  return Math.min(n, Math.max(1, Math.round(fraction * n)));
}

function checkFraction(fraction: number): void {
  if (typeof fraction !== "number" || !(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`subset: fraction must be a number in (0, 1], got ${String(fraction)}`);
  }
}

function checkSeed(seed: number | string): void {
  if (!((typeof seed === "number" && Number.isFinite(seed)) || typeof seed === "string")) {
    throw new TypeError(`subset: seed must be a finite number or a string, got ${String(seed)}`);
  }
}

/**
 * Takes `quota` examples from `groups` (each a list of example indices), spread over the groups:
 * each group's examples are shuffled and the groups take turns, so one long speech cannot fill a
 * held-out set by itself.
 */
function spreadSample(groups: readonly (readonly number[])[], quota: number, seed: string): number[] {
  const lists = groups.map((g, i) => shuffled(g, `${seed}/${i}`));
  const out: number[] = [];
  for (let round = 0; out.length < quota; round++) {
    let took = false;
    for (const list of lists) {
      if (round < list.length && out.length < quota) {
        out.push(list[round]);
        took = true;
      }
    }
    if (!took) break;
  }
  return out.sort((a, b) => a - b);
}

/** Builds a task from its examples (in a fixed order) and its split. Examples must be label-pure per group. */
export function splitTask(name: string, labels: readonly string[], examples: readonly Example[], spec: SplitSpec): Task {
  const groupLabel = new Map<string, string>();
  const groupIndices = new Map<string, number[]>();
  examples.forEach((e, i) => {
    if (!labels.includes(e.label)) throw new Error(`${name}: unknown label ${e.label}`);
    const seen = groupLabel.get(e.group);
    if (seen !== undefined && seen !== e.label) throw new Error(`${name}: group ${e.group} has labels ${seen} and ${e.label}`);
    groupLabel.set(e.group, e.label);
    const list = groupIndices.get(e.group);
    if (list) list.push(i);
    else groupIndices.set(e.group, [i]);
  });

  const held = { test: [] as string[], validation: [] as string[], pool: [] as string[] };
  const testPick: number[] = [];
  const validationPick: number[] = [];
  const classCounts = labels.map((l) => examples.filter((e) => e.label === l).length);
  const testQuota = apportion(Math.min(spec.testSize, examples.length), classCounts);
  const validationQuota = apportion(Math.min(spec.validationSize, examples.length), classCounts);

  labels.forEach((label, c) => {
    const groups = [...groupLabel].filter(([, l]) => l === label).map(([g]) => g);
    groups.sort();
    const order = shuffled(groups, `${SPLIT_SEED}/${name}/groups/${label}`);
    const nTest = Math.max(1, Math.round(spec.testGroups * order.length));
    const nValidation = Math.max(1, Math.round(spec.validationGroups * order.length));
    if (nTest + nValidation >= order.length) throw new Error(`${name}: too few groups of ${label} (${order.length}) to split`);
    const testGroups = order.slice(0, nTest);
    const validationGroups = order.slice(nTest, nTest + nValidation);
    held.test.push(...testGroups);
    held.validation.push(...validationGroups);
    held.pool.push(...order.slice(nTest + nValidation));
    const indices = (gs: string[]) => gs.map((g) => groupIndices.get(g)!);
    testPick.push(...spreadSample(indices(testGroups), testQuota[c], `${SPLIT_SEED}/${name}/test/${label}`));
    validationPick.push(...spreadSample(indices(validationGroups), validationQuota[c], `${SPLIT_SEED}/${name}/validation/${label}`));
  });

  const poolGroups = new Set(held.pool);
  const pool = Object.freeze(examples.filter((e) => poolGroups.has(e.group)));
  const pick = (indices: number[]) => Object.freeze(indices.sort((a, b) => a - b).map((i) => examples[i]));
  // each class's pool positions, fixed once; a seed permutes them
  const poolByClass = labels.map((l) => pool.flatMap((e, i) => (e.label === l ? [i] : [])));
  const freeze = (xs: string[]) => Object.freeze(xs.sort());

  const task: Task = Object.freeze({
    name,
    labels: Object.freeze([...labels]),
    test: pick(testPick),
    validation: pick(validationPick),
    pool,
    groups: Object.freeze({ test: freeze(held.test), validation: freeze(held.validation), pool: freeze(held.pool) }),
    subset(seed: number | string, fraction: number): Example[] {
      checkSeed(seed);
      checkFraction(fraction);
      const chosen: number[] = [];
      labels.forEach((label, c) => {
        const order = shuffled(poolByClass[c], `${name}/subset/${String(seed)}/${label}`);
        chosen.push(...order.slice(0, classQuota(order.length, fraction)));
      });
      return chosen.sort((a, b) => a - b).map((i) => pool[i]);
    },
    trainingOrder: (seed: number, fraction: number): Example[] => shuffled(task.subset(seed, fraction), seed),
  });
  return task;
}

/** Counts per label, for reports and tests. */
export function countLabels(examples: readonly Example[], labels: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of labels) out[l] = 0;
  for (const e of examples) out[e.label]++;
  return out;
}

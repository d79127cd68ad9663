/**
 * @file The study's plan against its protocol: the full preset's counts (PROTOCOL.md states
 * them), the learning-rate rule on planted validation scores (best wins, a tie goes to the smaller
 * value, a missing sweep run fails), and the ablations at HyRA's chosen value with their fields.
 */

import type { RunConfig, RunResult, StoredRun } from "@tsgrad/training/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ablationRuns, chooseLearningRates, chosenLr, finalRuns, STUDY_PRESETS, studyCost, sweepRuns } from "../src/study.ts";

const full = STUDY_PRESETS.full;

test("the full preset is the protocol's: 500 runs, 213,600 steps", () => {
  assert.is(sweepRuns(full, "b").length, 180);
  assert.is(finalRuns(full, "b", () => 1e-3).length, 240);
  assert.is(ablationRuns(full, "b", () => 1e-3).length, 80);
  const cost = studyCost(full, "b");
  assert.is(cost.runs, 500);
  assert.is(cost.steps, 213_600);
  assert.ok(sweepRuns(full, "b").every((r) => r.seed === 1 && r.validate && r.maxTokens === 64 && r.batch === 16));
  assert.ok(finalRuns(full, "b", () => 1e-3).every((r) => r.seed > 1 && !r.validate));
});

/** A sweep of one cell (spam, lora, 10 %) with the given validation accuracy per learning rate. */
function sweep(scores: Record<number, number>): StoredRun<RunConfig, RunResult>[] {
  const plan = { ...full, tasks: ["spam" as const], methods: ["lora" as const], fractions: [10] };
  return sweepRuns({ ...plan, lrs: { ...full.lrs, lora: Object.keys(scores).map(Number) } }, "b").map((config, i) => ({
    key: String(i),
    config,
    result: { testAccuracy: 0.5, validationAccuracy: scores[config.lr], trainable: 1, finalLoss: 0, seconds: 1 },
  }));
}

const oneCell = { ...full, tasks: ["spam" as const], methods: ["lora" as const], fractions: [10] };

test("the learning rate: the best validation accuracy, a tie to the smaller value", () => {
  assert.is(chosenLr(chooseLearningRates(oneCell, sweep({ 0.001: 0.7, 0.003: 0.8, 0.01: 0.75 })), "spam", "lora", 10), 0.003);
  assert.is(chosenLr(chooseLearningRates(oneCell, sweep({ 0.01: 0.8, 0.003: 0.8, 0.001: 0.6 })), "spam", "lora", 10), 0.003);
  assert.is(chosenLr(chooseLearningRates(oneCell, sweep({ 0.001: 0.8, 0.003: 0.8, 0.01: 0.8 })), "spam", "lora", 10), 0.001);
});

test("a missing sweep run or validation score fails by name", () => {
  assert.throws(
    () => chooseLearningRates({ ...oneCell, fractions: [10, 100] }, sweep({ 0.001: 0.7 })),
    /study: no sweep runs for spam\|lora\|100/,
  );
  const unscored = sweep({ 0.001: 0.7 }).map((s) => ({ ...s, result: { ...s.result, validationAccuracy: null } }));
  assert.throws(() => chooseLearningRates(oneCell, unscored), /has no validation accuracy/);
});

test("the ablations run at HyRA's chosen value, each with its one changed field", () => {
  const runs = ablationRuns(full, "b", (_task, method, fraction) => (method === "hyra" ? fraction / 1000 : Number.NaN));
  assert.ok(runs.every((r) => r.method === "hyra" && r.task === "sotu-party" && r.lr === r.fraction / 1000));
  assert.equal(
    [...new Set(runs.map((r) => JSON.stringify(r.hyra)))],
    ['{"perHeadGenerator":true}', '{"activation":"identity"}', '{"mixing":"rank"}', '{"sharedSeeds":false}'],
  );
});

test.run();

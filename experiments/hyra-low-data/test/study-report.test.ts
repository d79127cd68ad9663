/**
 * @file The study's report on planted runs, both ways: HyRA planted ahead of both LoRAs at every
 * fraction reads REPRODUCED twice, a planted tie reads NOT REPRODUCED; the tables, the chosen learning
 * rates (the best on validation), the fraction to reach LoRA's 100 % and the ablation rows are there.
 */

import type { RunConfig, RunResult, StoredRun } from "@tsgrad/training/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ablationRuns, chooseLearningRates, chosenLr, finalRuns, STUDY_PRESETS, type StudyPlan, sweepRuns } from "../src/study.ts";
import { studyReport } from "../src/study-report.ts";

const plan: StudyPlan = { ...STUDY_PRESETS.toy, seeds: [1, 2, 3, 4], fractions: [10, 25, 100], steps: { 10: 3, 25: 3, 100: 3 } };
const CONTEXT = {
  command: "npm run tsgrad -- study --preset toy",
  git: "abc1234",
  date: "2026-12-02",
  node: "v20",
  backbone: "f".repeat(64),
  protocol: "../PROTOCOL.md",
};

/** Accuracy per run: a base per fraction, a shift per seed (shared by methods), plus `gain` for HyRA. */
function planted(gain: (seed: number) => number) {
  const accuracy = (c: RunConfig) =>
    0.6 +
    c.fraction / 1000 +
    0.01 * c.seed +
    (c.method === "hyra" && c.hyra === undefined ? gain(c.seed) : 0) +
    (c.lr === 3e-3 ? 0.001 : 0);
  const store = (configs: RunConfig[]): StoredRun<RunConfig, RunResult>[] =>
    configs.map((config, i) => {
      const a = accuracy(config);
      return {
        key: String(i),
        config,
        result: { testAccuracy: a, validationAccuracy: config.validate ? a : null, trainable: 10, finalLoss: 0.1, seconds: 1 },
      };
    });
  const sweep = store(sweepRuns(plan, "b"));
  const chosen = chooseLearningRates(plan, sweep);
  const lrOf = (task: string, method: string, fraction: number) => chosenLr(chosen, task, method, fraction);
  const runs = { sweep, final: store(finalRuns(plan, "b", lrOf)), ablations: store(ablationRuns(plan, "b", lrOf)) };
  return studyReport(plan, runs, lrOf, CONTEXT);
}

test("a planted win reads REPRODUCED against both LoRAs, with the report's parts", () => {
  const { verdicts, files } = planted((seed) => 0.03 + 0.002 * (seed % 2));
  assert.equal(
    verdicts.map((v) => [v.against, v.verdict]),
    [
      ["lora", "REPRODUCED"],
      ["lora-matched", "REPRODUCED"],
    ],
  );
  const md = files["report.md"];
  assert.match(md, /Made by `npm run tsgrad -- study --preset toy` at commit abc1234/);
  assert.ok(md.includes("following [PROTOCOL.md](../PROTOCOL.md)."), "the link to the protocol, from the report's folder");
  assert.match(md, /\| hyra \| 66\.7 ± 1\.2 \(4\) \| 68\.2 ± 1\.2 \(4\) \| 75\.7 ± 1\.2 \(4\) \| 10 \|/);
  assert.match(md, /- HyRA against lora: \*\*REPRODUCED\*\*: above 0 at 3 of the 3 smallest fractions/);
  // 3e-3 scores best on validation wherever it was swept; the probe's sweep has no 3e-3
  assert.match(md, /\| lora \| 100 % \| \d+ s \| 10 %: 0\.003, 25 %: 0\.003, 100 %: 0\.003 \|/);
  assert.match(md, /\| linear-probe \| never \| \d+ s \| 10 %: 0\.01, 25 %: 0\.01, 100 %: 0\.01 \|/);
  // LoRA's 100 % is 72.6: HyRA only reaches it at 100 %, the probe (72.5) never
  assert.match(md, /\| hyra \| 100 % \|/);
  assert.match(md, /\| per-head Θ_B \| −3\.\d \[−3\.\d, −\d\.\d\] \|/);
  assert.ok(files["spam-accuracy.svg"].startsWith("<svg") && files["spam-differences.svg"].includes("hyra − lora"));
  assert.equal(Object.keys(JSON.parse(files["results.json"]).tasks), ["spam"]);
});

test("a planted tie reads NOT REPRODUCED against both", () => {
  const { verdicts } = planted((seed) => (seed % 2 ? 0.004 : -0.004));
  assert.equal(
    verdicts.map((v) => v.verdict),
    ["NOT REPRODUCED", "NOT REPRODUCED"],
  );
});

test.run();

/**
 * @file The committed runs reproduce: two of the study's stored runs (a linear probe and HyRA, spam at
 * 1 %), rerun from their configurations on the committed backbone and the wasm backend the study ran
 * on, give the same file but for the measured seconds, under the same run key.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setBackend } from "@tsgrad/core";
import { loadTask, type TaskName } from "@tsgrad/datasets";
import { finetune, type RunConfig, type RunResult, runKey, type StoredRun } from "@tsgrad/training/node";
import { test } from "uvu";
import * as assert from "uvu/assert";

const BACKBONE = fileURLToPath(new URL("../../../pretrained/gpt-text/", import.meta.url));
const RUNS = new URL("../results/runs/", import.meta.url);

for (const [file, what] of [
  ["88312a236c98a4d2.json", "linear-probe, spam 1 %, seed 1"],
  ["3c2de65d6858b9cf.json", "hyra, spam 1 %"],
] as const) {
  test(`${file} (${what}) reruns to the same result`, async () => {
    const stored = JSON.parse(readFileSync(new URL(file, RUNS), "utf8")) as StoredRun<RunConfig, RunResult>;
    assert.is(runKey(stored.config), stored.key, "the key is the configuration's");
    await setBackend("wasm");
    const { seconds, ...result } = await finetune(stored.config, BACKBONE, {
      task: loadTask(stored.config.task as TaskName),
      progress: false,
    });
    const { seconds: storedSeconds, ...expected } = stored.result;
    assert.ok(seconds > 0 && storedSeconds > 0);
    assert.equal(result, expected);
  });
}

test.run();

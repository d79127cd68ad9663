import { fail } from "@tsgrad/core";
import { predict } from "@tsgrad/training";
import { startBackend, taskOf } from "../args.ts";
import { defineCommand } from "../command.ts";
import { GPT_BACKBONE_DIR } from "../paths.ts";
import { loadRun } from "../saved-run.ts";

export const evaluateCommand = defineCommand({
  name: "evaluate",
  usage: "evaluate --run DIR [options]",
  summary: "score a saved run on its task's test set",
  about: "Scores a run saved by finetune on its task's test set.",
  options: {
    run: { value: "DIR", help: "the folder finetune --out wrote" },
    backbone: { value: "DIR", help: "the pretrained backbone", defaultNote: "default pretrained/gpt-text" },
  },
  async run(v) {
    if (v.run === undefined) fail("tsgrad", "evaluate needs --run DIR (a folder finetune --out wrote)");
    await startBackend(v);
    const { model, run, tokenize } = await loadRun(v.run, v.backbone ?? GPT_BACKBONE_DIR);
    const task = taskOf(run.config);
    const predicted = await predict(
      model,
      task.test.map((e) => tokenize(e.text)),
    );
    const correct = predicted.filter((p, i) => run.labels[p] === task.test[i].label).length;
    console.log(
      `${run.config.method} on ${run.config.task}: test accuracy ${((100 * correct) / task.test.length).toFixed(2)} % (${task.test.length} examples)`,
    );
  },
});

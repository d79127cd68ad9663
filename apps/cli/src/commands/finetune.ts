import { join } from "node:path";
import { loadTask, TASKS } from "@tsgrad/datasets";
import { DEFAULT_LR, finetune, METHODS, type RunConfig } from "@tsgrad/training/node";
import { integer, methodName, positive, startBackend, taskName } from "../args.ts";
import { defineCommand } from "../command.ts";
import { GPT_BACKBONE_DIR } from "../paths.ts";
import { backboneHash } from "../saved-run.ts";

export const finetuneCommand = defineCommand({
  name: "finetune",
  usage: "finetune --task NAME --method NAME [options]",
  summary: "fine-tune one method on one task and fraction, save the adapter (PEFT files) and head",
  options: {
    task: { value: "NAME", help: Object.keys(TASKS).join(", ") },
    method: { value: "NAME", help: METHODS.join(", ") },
    fraction: { value: "P", help: "percent of the training pool", default: "100" },
    steps: { value: "N", help: "training steps", default: "120" },
    batch: { value: "N", help: "examples per step", default: "16" },
    lr: { value: "X", help: "learning rate", defaultNote: "default per method" },
    r: { value: "N", help: "rank", default: "8" },
    alpha: { value: "X", help: "the adapters' scale numerator", default: "16" },
    "max-tokens": { value: "N", help: "tokens per text, longer texts keep their first; at most the backbone's block", default: "64" },
    backbone: { value: "DIR", help: "the pretrained backbone", defaultNote: "default pretrained/gpt-text" },
    out: {
      value: "DIR",
      help: "where the adapter (PEFT files) or head and run.json go",
      defaultNote: "default results/finetune-<task>-<method>",
    },
  },
  async run(v) {
    await startBackend(v);
    const task = taskName(v.task);
    const method = methodName(v.method);
    const backbone = v.backbone ?? GPT_BACKBONE_DIR;
    const config: RunConfig = {
      task,
      method,
      fraction: integer("fraction", v.fraction),
      seed: integer("seed", v.seed, undefined, 0),
      backbone: await backboneHash(backbone),
      steps: integer("steps", v.steps),
      batch: integer("batch", v.batch),
      lr: positive("lr", v.lr, DEFAULT_LR[method]),
      r: integer("r", v.r),
      alpha: positive("alpha", v.alpha),
      maxTokens: integer("max-tokens", v["max-tokens"]),
      validate: true,
    };
    const out = v.out ?? join("results", `finetune-${task}-${method}`);
    const result = await finetune(config, backbone, { task: loadTask(task), out });
    console.log(JSON.stringify(result, null, 2));
    console.log(`saved to ${out}`);
  },
});

/**
 * @file One fine-tuning run: a method (linear probe, LoRA, parameter-matched LoRA, MH-LoRA, HyRA or full
 * fine-tuning) trained on one task's training subset for one seed, from the pretrained backbone, then
 * scored on the task's fixed validation and test sets. The seed decides the subset (the task's nested
 * subsets), the head's and the adapters' initialisation, and the data order; nothing else varies.
 */

import { mkdir } from "node:fs/promises";
import { manualSeed, type Tensor } from "@tsgrad/core";
// adapter folders on disk, for saveRun
import "@tsgrad/hyra/node";
import { GPTClassifier, loadPretrained, writeJsonFile } from "@tsgrad/models/node";
import { type Module, save } from "@tsgrad/nn/node";
import { Progress } from "./progress.ts";
import {
  accuracy,
  adapt,
  cachedProbeLogits,
  encodeAll,
  type HyraAblation,
  type StudyMethod,
  type TaskData,
  type TaskExample,
  tokenLogits,
  trainClassifier,
} from "./train.ts";

export interface RunConfig {
  /** The task's name (the data itself comes from the caller, as a TaskData). */
  task: string;
  method: StudyMethod;
  /** Percent of the training pool: 1, 5, 10, 25 or 100. */
  fraction: number;
  seed: number;
  /** The backbone's weights file hash, so runs on another backbone never count as done. */
  backbone: string;
  steps: number;
  batch: number;
  lr: number;
  r: number;
  alpha: number;
  /** Tokens per text (longer texts keep their first maxTokens). */
  maxTokens: number;
  /** Score the validation set too (for choosing settings; the quick comparison skips it). */
  validate: boolean;
  /** HyRA's fields changed from its defaults (the study's ablations); only with method "hyra". */
  hyra?: HyraAblation;
}

export interface RunResult {
  testAccuracy: number;
  /** null when the run was not asked to score it. */
  validationAccuracy: number | null;
  trainable: number;
  finalLoss: number;
  seconds: number;
}

/**
 * The held-out sets, tokenized once per backbone, task and length: a comparison scores every run on the
 * same examples with the same tokenizer, and tokenizing 3,000 texts per run would cost more than a short run.
 */
const heldOut = new Map<string, { validation: number[][]; test: number[][] }>();

/** What `finetune --out` writes beside the weights: the run's configuration and result, and the labels. */
export const RUN_FILE = "run.json";

/**
 * Writes what a run trained into `dir`: an adapter method's adapter and head as PEFT files (saveAdapter),
 * a linear probe's head, or a fully fine-tuned classifier (safetensors), with run.json beside them.
 */
async function saveRun(dir: string, model: Module, config: RunConfig, result: RunResult, labels: readonly string[]): Promise<void> {
  const peft = model as unknown as { saveAdapter?: (dir: string) => Promise<void> };
  if (typeof peft.saveAdapter === "function") await peft.saveAdapter(dir);
  else if (config.method === "linear-probe") await save((model as GPTClassifier).head, `${dir}/head.safetensors`);
  else await save(model, `${dir}/classifier.safetensors`);
  await writeJsonFile(`${dir}/${RUN_FILE}`, { config, result, labels }, `finetune ${dir}`);
}

/** Trains `config` on `task` (the task that `config.task` names, loaded by the caller: @tsgrad/datasets's loadTask). */
export async function finetune(
  config: RunConfig,
  backboneDir: string,
  options: { task: TaskData; progress?: boolean; out?: string },
): Promise<RunResult> {
  const started = performance.now();
  const { task } = options;
  const labelOf = new Map(task.labels.map((l, i) => [l, i]));
  const train = task.trainingOrder(config.seed, config.fraction / 100);
  const { model: backbone, tokenizer } = await loadPretrained(backboneDir);
  manualSeed(config.seed);
  const classifier = new GPTClassifier(backbone, task.labels.length);
  const model = adapt(classifier, config) as Module & { forward(ids: Tensor, mask?: Tensor): Tensor };
  // a text longer than the backbone's context keeps its first tokens
  const maxTokens = Math.min(config.maxTokens, backbone.config.blockSize);
  // only the examples the steps reach are tokenized (all of a pool's 17,000-24,000 would take seconds)
  const reached = Math.min(train.length, config.steps * config.batch);
  const trainIds = encodeAll(tokenizer, train.slice(0, reached), maxTokens);
  const trainLabels = train.slice(0, reached).map((e) => labelOf.get(e.label) as number);
  const progress =
    options.progress === false ? null : new Progress(`${config.method} ${config.fraction}% seed ${config.seed}`, config.steps);
  model.train();
  // the data order: the seeded shuffle, then epochs over it in that order
  const probe = config.method === "linear-probe" ? cachedProbeLogits(classifier, trainIds) : null;
  const { finalLoss, trainable } = await trainClassifier(model, probe?.logits ?? tokenLogits(model, trainIds), trainLabels, {
    lr: config.lr,
    steps: config.steps,
    batch: config.batch,
    onLoss: (step, loss, lr) => progress?.update(step, { loss, lr }),
  });
  probe?.dispose();
  progress?.done();
  model.eval();
  const key = `${config.backbone}|${config.task}|${maxTokens}`;
  const sets = heldOut.get(key) ?? {
    validation: encodeAll(tokenizer, task.validation, maxTokens),
    test: encodeAll(tokenizer, task.test, maxTokens),
  };
  heldOut.set(key, sets);
  const score = (ids: number[][], examples: readonly TaskExample[]) =>
    accuracy(
      model,
      ids,
      examples.map((e) => labelOf.get(e.label) as number),
    );
  const result: RunResult = {
    validationAccuracy: sets.validation && config.validate ? await score(sets.validation, task.validation) : null,
    testAccuracy: await score(sets.test, task.test),
    trainable,
    finalLoss,
    seconds: (performance.now() - started) / 1000,
  };
  if (options.out !== undefined) {
    await mkdir(options.out, { recursive: true });
    await saveRun(options.out, model, config, result, task.labels);
  }
  model.dispose();
  return result;
}

/**
 * @file One fine-tuning run: a method (linear probe, LoRA, parameter-matched LoRA, MH-LoRA, HyRA or full
 * fine-tuning) trained on one task's training subset for one seed, from the pretrained backbone, then
 * scored on the task's fixed validation and test sets. The seed decides the subset (the task's nested
 * subsets), the head's and the adapters' initialisation, and the data order; nothing else varies.
 */

import { mkdir } from "node:fs/promises";
import { crossEntropy, fail, manualSeed, noGrad, type Tensor, tensor, tidy } from "@tsgrad/core";
import { adapterParameterCount, getPeftModel, type HyraOptions, type PeftConfigInput } from "@tsgrad/hyra/node";
import { GPTClassifier, loadPretrained, padBatch, type Tokenizer, writeJsonFile } from "@tsgrad/models/node";
import { AdamW, LRScheduler, type Module, save, warmupCosine } from "@tsgrad/nn/node";
import { type Example, loadTask, shuffled, type TaskName } from "../data/index.ts";
import { Progress } from "./progress.ts";

export const METHODS = ["linear-probe", "lora", "lora-matched", "mh-lora", "hyra", "full"] as const;
export type StudyMethod = (typeof METHODS)[number];

export interface RunConfig {
  task: TaskName;
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

/** The HyRA fields an ablation may change. */
export type HyraAblation = Partial<Pick<HyraOptions, "activation" | "mixing" | "perHeadGenerator" | "sharedSeeds">>;

export interface RunResult {
  testAccuracy: number;
  /** null when the run was not asked to score it. */
  validationAccuracy: number | null;
  trainable: number;
  finalLoss: number;
  seconds: number;
}

/** Per-method learning rates: a head alone and the adapters take larger steps than the whole network. */
export const DEFAULT_LR: Record<StudyMethod, number> = {
  "linear-probe": 1e-2,
  lora: 3e-3,
  "lora-matched": 3e-3,
  "mh-lora": 3e-3,
  hyra: 3e-3,
  full: 1e-3,
};

/** The parameter-matched LoRA's rank: raised until its trainable count on q and v reaches HyRA's at rank r. */
export function matchedLoraRank(d: number, heads: number, layers: number, r: number): number {
  const target = adapterParameterCount("hyra", { d, heads, r, layers });
  let rank = 1;
  while (rank < d && adapterParameterCount("lora", { d, heads, r: rank, layers }) < target) rank++;
  return rank;
}

/** The module that trains, with everything else frozen. */
function adapt(classifier: GPTClassifier, config: RunConfig): Module {
  const { method, r, alpha } = config;
  if (config.hyra !== undefined && method !== "hyra") fail("finetune", `hyra fields are for method "hyra", got method "${method}"`);
  const { nEmbd: d, nHead: heads, nLayer: layers } = classifier.backbone.config;
  if (method === "full") return classifier;
  if (method === "linear-probe") {
    for (const p of classifier.backbone.parameters()) p.requiresGrad = false;
    return classifier;
  }
  const common = { alpha, targetModules: ["q", "v"], modulesToSave: ["head"] };
  const matched = matchedLoraRank(d, heads, layers, r);
  const peft: Record<Exclude<StudyMethod, "full" | "linear-probe">, PeftConfigInput> = {
    lora: { method: "lora", r, ...common },
    // alpha scales with the rank so that the update's scale alpha/r is LoRA's
    "lora-matched": {
      method: "lora",
      ...common,
      r: matched,
      alpha: (alpha / r) * matched,
    },
    "mh-lora": { method: "mh-lora", r: Math.min(r, d / heads), ...common },
    hyra: { method: "hyra", r, ...common, ...config.hyra },
  };
  return getPeftModel(classifier, peft[method]);
}

function encodeAll(tokenizer: Tokenizer, examples: readonly Example[], maxTokens: number): number[][] {
  return examples.map((e) => tokenizer.encode(e.text).slice(0, maxTokens));
}

/**
 * The held-out sets, tokenized once per backbone, task and length: a comparison scores every run on the
 * same examples with the same tokenizer, and tokenizing 3,000 texts per run would cost more than a short run.
 */
const heldOut = new Map<string, { validation: number[][]; test: number[][] }>();

/** A classifier's predicted class of each token list, in batches of 64 (finetune's scores, evaluate and predict). */
export async function predict(
  model: { forward(ids: Tensor, mask?: Tensor): Tensor },
  ids: readonly (readonly number[])[],
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i += 64) {
    const predicted = tidy(() =>
      noGrad(() => {
        const { ids: x, paddingMask } = padBatch(ids.slice(i, i + 64));
        return model.forward(x, paddingMask).argmax(-1).keep();
      }),
    );
    out.push(...Array.from(await predicted.data()));
    predicted.dispose();
  }
  return out;
}

async function accuracy(model: { forward(ids: Tensor, mask?: Tensor): Tensor }, ids: number[][], labels: number[]): Promise<number> {
  const predicted = await predict(model, ids);
  return predicted.filter((p, i) => p === labels[i]).length / ids.length;
}

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

export async function finetune(
  config: RunConfig,
  backboneDir: string,
  options: { progress?: boolean; out?: string } = {},
): Promise<RunResult> {
  const started = performance.now();
  const task = loadTask(config.task);
  const labelOf = new Map(task.labels.map((l, i) => [l, i]));
  const train = shuffled(task.subset(config.seed, config.fraction / 100), config.seed);
  const { model: backbone, tokenizer } = await loadPretrained(backboneDir);
  manualSeed(config.seed);
  const classifier = new GPTClassifier(backbone, task.labels.length);
  const model = adapt(classifier, config) as Module & { forward(ids: Tensor, mask?: Tensor): Tensor };
  const params = model.parameters().filter((p) => p.requiresGrad);
  const trainable = params.reduce((n, p) => n + p.size, 0);
  const opt = new AdamW(params, { lr: config.lr, weightDecay: 0.01 });
  const schedule = new LRScheduler(
    opt,
    warmupCosine({ lr: config.lr, warmupSteps: Math.floor(config.steps / 10), totalSteps: config.steps }),
  );
  // a text longer than the backbone's context keeps its first tokens
  const maxTokens = Math.min(config.maxTokens, backbone.config.blockSize);
  // only the examples the steps reach are tokenized (all of a pool's 17,000-24,000 would take seconds)
  const reached = Math.min(train.length, config.steps * config.batch);
  const trainIds = encodeAll(tokenizer, train.slice(0, reached), maxTokens);
  const trainLabels = train.slice(0, reached).map((e) => labelOf.get(e.label) as number);
  const progress =
    options.progress === false ? null : new Progress(`${config.method} ${config.fraction}% seed ${config.seed}`, config.steps);
  model.train();
  let finalLoss = Number.NaN;
  // the data order: the seeded shuffle, then epochs over it in that order
  let cursor = 0;
  for (let step = 1; step <= config.steps; step++) {
    const rows: number[][] = [];
    const targets: number[] = [];
    for (let b = 0; b < Math.min(config.batch, trainIds.length); b++) {
      rows.push(trainIds[cursor]);
      targets.push(trainLabels[cursor]);
      cursor = (cursor + 1) % trainIds.length;
    }
    const loss = tidy(() => {
      opt.zeroGrad();
      const { ids, paddingMask } = padBatch(rows);
      const l = crossEntropy(model.forward(ids, paddingMask), tensor(targets, [targets.length], "int32"));
      l.backward();
      opt.step();
      return l;
    });
    schedule.step();
    if (step % 10 === 0 || step === config.steps) {
      finalLoss = (await loss.data())[0];
      progress?.update(step, { loss: finalLoss, lr: schedule.lastLr()[0] });
    }
    loss.dispose();
  }
  progress?.done();
  model.eval();
  const key = `${config.backbone}|${config.task}|${maxTokens}`;
  const sets = heldOut.get(key) ?? {
    validation: encodeAll(tokenizer, task.validation, maxTokens),
    test: encodeAll(tokenizer, task.test, maxTokens),
  };
  heldOut.set(key, sets);
  const score = (ids: number[][], examples: readonly Example[]) =>
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

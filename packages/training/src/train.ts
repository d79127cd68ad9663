/**
 * @file What a fine-tuning run does, with no file system and no data set of its own, so that the browser
 * page's live fine-tune runs the same code as `tsgrad finetune` and the study: which module trains for
 * each method (adapt), the optimiser and schedule with the training steps over tokenized examples
 * (trainClassifier), and predictions in batches.
 */

import { concat, crossEntropy, fail, indexSelect, noGrad, type Tensor, tensor, tidy } from "@tsgrad/core";
import { adapterParameterCount, getPeftModel, type HyraOptions, type PeftConfigInput } from "@tsgrad/hyra";
import { type GPTClassifier, padBatch, type Tokenizer } from "@tsgrad/models";
import { AdamW, LRScheduler, type Module, warmupCosine } from "@tsgrad/nn";

/** What a run can train: a head alone, an adapter method (hyra-compact is HyRA with small learned head embeddings), or everything. */
export const METHODS = ["linear-probe", "lora", "lora-matched", "mh-lora", "hyra", "hyra-compact", "vera", "full"] as const;
export type StudyMethod = (typeof METHODS)[number];

/** One labelled text of a task. */
export interface TaskExample {
  readonly text: string;
  readonly label: string;
}

/** What a run reads of a task: @tsgrad/datasets's Task has this shape (this package holds no data). */
export interface TaskData {
  /** The classes, in a fixed order (a label's index is its class id). */
  readonly labels: readonly string[];
  readonly validation: readonly TaskExample[];
  readonly test: readonly TaskExample[];
  /** A run's training examples in the order it sees them, for its seed and fraction (0 to 1] of the pool. */
  trainingOrder(seed: number, fraction: number): readonly TaskExample[];
}

/** The HyRA fields an ablation may change. */
export type HyraAblation = Partial<Pick<HyraOptions, "activation" | "mixing" | "perHeadGenerator" | "sharedSeeds">>;

/** Per-method learning rates: a head alone and the adapters take larger steps than the whole network. */
export const DEFAULT_LR: Record<StudyMethod, number> = {
  "linear-probe": 1e-2,
  lora: 3e-3,
  "lora-matched": 3e-3,
  "mh-lora": 3e-3,
  hyra: 3e-3,
  "hyra-compact": 3e-3,
  // VeRA trains two scaling vectors per layer over frozen random projections: its paper's rates are larger
  vera: 1e-2,
  full: 1e-3,
};

/** What adapt reads of a run's configuration. */
export interface AdaptConfig {
  method: StudyMethod;
  r: number;
  alpha: number;
  hyra?: HyraAblation;
}

/** The parameter-matched LoRA's rank: raised until its trainable count on q and v reaches HyRA's at rank r. */
export function matchedLoraRank(d: number, heads: number, layers: number, r: number): number {
  const target = adapterParameterCount("hyra", { d, heads, r, layers });
  let rank = 1;
  while (rank < d && adapterParameterCount("lora", { d, heads, r: rank, layers }) < target) rank++;
  return rank;
}

/** The module that trains, with everything else frozen. */
export function adapt(classifier: GPTClassifier, config: AdaptConfig): Module {
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
    // each head's seed is a learned embedding of a quarter of the head size, far below B_h's d_h × r
    "hyra-compact": { method: "hyra", r, ...common, headEmbedding: Math.max(1, Math.floor(d / heads / 4)) },
    // VeRA has no alpha: its update's scale is its trained vectors'; r is the shared projections' rank
    vera: { method: "vera", r, targetModules: common.targetModules, modulesToSave: common.modulesToSave },
  };
  return getPeftModel(classifier, peft[method]);
}

export function encodeAll(tokenizer: Tokenizer, examples: readonly { text: string }[], maxTokens: number): number[][] {
  return examples.map((e) => tokenizer.encode(e.text).slice(0, maxTokens));
}

/** How a batch of training examples, by index, becomes class logits (B, classes). */
export type BatchLogits = (rows: readonly number[]) => Tensor;

/** The model on the examples' tokens, right-padded per batch. */
export function tokenLogits(model: { forward(ids: Tensor, mask?: Tensor): Tensor }, ids: readonly (readonly number[])[]): BatchLogits {
  return (rows) => {
    const { ids: x, paddingMask } = padBatch(rows.map((r) => ids[r]));
    return model.forward(x, paddingMask);
  };
}

/**
 * A linear probe's logits from cached features: its backbone is frozen, so each example's pooled hidden
 * state is computed once (in batches of 64, without gradients) and every step runs only the head on
 * them, as the study's protocol allows for the probe. Its numbers match the uncached run's up to the
 * rounding of batches padded to other lengths.
 */
export function cachedProbeLogits(
  classifier: GPTClassifier,
  ids: readonly (readonly number[])[],
): { logits: BatchLogits; dispose(): void } {
  const chunks: Tensor[] = [];
  for (let i = 0; i < ids.length; i += 64) {
    chunks.push(
      tidy(() =>
        noGrad(() => {
          const { ids: x, paddingMask } = padBatch(ids.slice(i, i + 64));
          return classifier.pooled(x, paddingMask).keep();
        }),
      ),
    );
  }
  // concat of one tensor may hand back that tensor itself, which must then stay alive
  const features = chunks.length === 1 ? chunks[0] : tidy(() => concat(chunks, 0).keep()); // (N, C)
  if (chunks.length > 1) for (const c of chunks) c.dispose();
  return {
    logits: (rows) => classifier.head.forward(indexSelect(features, 0, tensor([...rows], [rows.length], "int32"))),
    dispose: () => features.dispose(),
  };
}

/**
 * Trains for `steps` steps on batches taken in order from the examples (epochs over them, in that order),
 * calling `onLoss(step, loss)` every `every` steps and at the last; returns the last loss reported.
 */
export async function trainSteps(
  logitsOf: BatchLogits,
  opt: AdamW,
  schedule: LRScheduler,
  labels: readonly number[],
  options: { steps: number; batch: number; every?: number; onLoss?: (step: number, loss: number) => void | Promise<void> },
): Promise<number> {
  const { steps, batch, every = 10 } = options;
  let finalLoss = Number.NaN;
  let cursor = 0;
  for (let step = 1; step <= steps; step++) {
    const rows: number[] = [];
    for (let b = 0; b < Math.min(batch, labels.length); b++) {
      rows.push(cursor);
      cursor = (cursor + 1) % labels.length;
    }
    const loss = tidy(() => {
      opt.zeroGrad();
      const targets = tensor(
        rows.map((r) => labels[r]),
        [rows.length],
        "int32",
      );
      const l = crossEntropy(logitsOf(rows), targets);
      l.backward();
      opt.step();
      return l;
    });
    schedule.step();
    if (step % every === 0 || step === steps) {
      finalLoss = (await loss.data())[0];
      await options.onLoss?.(step, finalLoss);
    }
    loss.dispose();
  }
  return finalLoss;
}

/**
 * Fine-tunes the trainable parameters of `model` (what adapt left trainable): AdamW (weight decay 0.01)
 * with a linear warmup over the first tenth of the steps and a cosine decay, through trainSteps. The one
 * training loop of `tsgrad finetune`, the comparisons, the study and the browser page.
 */
export async function trainClassifier(
  model: Module,
  logitsOf: BatchLogits,
  labels: readonly number[],
  options: {
    lr: number;
    steps: number;
    batch: number;
    every?: number;
    onLoss?: (step: number, loss: number, lr: number) => void | Promise<void>;
  },
): Promise<{ finalLoss: number; trainable: number }> {
  const { lr, steps, batch, every, onLoss } = options;
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr, weightDecay: 0.01 });
  const schedule = new LRScheduler(opt, warmupCosine({ lr, warmupSteps: Math.floor(steps / 10), totalSteps: steps }));
  const finalLoss = await trainSteps(logitsOf, opt, schedule, labels, {
    steps,
    batch,
    every,
    onLoss: (step, loss) => onLoss?.(step, loss, schedule.lastLr()[0]),
  });
  return { finalLoss, trainable: params.reduce((n, p) => n + p.size, 0) };
}

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

export async function accuracy(model: { forward(ids: Tensor, mask?: Tensor): Tensor }, ids: number[][], labels: number[]): Promise<number> {
  const predicted = await predict(model, ids);
  return predicted.filter((p, i) => p === labels[i]).length / ids.length;
}

/**
 * @file Pretraining the study's backbone: a byte-level BPE trained on the corpus, then a small GPT trained
 * on random windows of it (AdamW, warmup and cosine decay, clipped gradients), measured in bits per
 * character on held-out chapters against a unigram character model of the same text, and saved with its
 * tokenizer and a record of how it was made.
 */

import { crossEntropy, Generator, manualSeed, noGrad, type Tensor, tensor, tidy } from "@tsgrad/core";
import { ByteBPETokenizer, GPT, savePretrained } from "@tsgrad/models/node";
import { AdamW, clipGradNorm, LRScheduler, warmupCosine } from "@tsgrad/nn/node";
import { Progress } from "./progress.ts";

export interface PretrainSettings {
  /** The corpus's name (@tsgrad/datasets's pretrainingText); the text comes with pretrain's arguments. */
  corpus: string;
  /** BPE merges on top of the 256 bytes. */
  merges: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  batch: number;
  steps: number;
  lr: number;
  seed: number;
}

// the committed backbone's settings: 4,096 merges make most SOTU chunks (4.2 characters a token) fit in
// the 128-token context whole; with 1,024 merges and 64 tokens, full fine-tuning missed the SOTU floor
export const PRETRAIN_DEFAULTS: PretrainSettings = {
  corpus: "moby-dick+brown+sotu",
  merges: 4096,
  nLayer: 2,
  nHead: 4,
  nEmbd: 64,
  blockSize: 128,
  batch: 16,
  steps: 3000,
  lr: 3e-3,
  seed: 1,
};

export interface PretrainResult {
  settings: PretrainSettings;
  /** Held-out bits per character of the GPT, and of a unigram character model fitted on the training text. */
  bitsPerChar: number;
  unigramBitsPerChar: number;
  trainTokens: number;
  validationChars: number;
  parameters: number;
  seconds: number;
}

/** Bits per character of the validation text under character frequencies counted on the training text (add-one). */
export function unigramBitsPerChar(train: string, validation: string): number {
  const counts = new Map<string, number>();
  for (const ch of train) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const seen = new Set([...counts.keys(), ...validation]);
  const total = [...counts.values()].reduce((a, b) => a + b, 0) + seen.size;
  let bits = 0;
  let n = 0;
  for (const ch of validation) {
    bits -= Math.log2(((counts.get(ch) ?? 0) + 1) / total);
    n++;
  }
  return bits / n;
}

/** Held-out bits per character: the summed cross-entropy of consecutive windows, over the text's characters. */
export async function bitsPerChar(model: GPT, ids: Int32Array, chars: number, maxWindows = 256): Promise<number> {
  const T = model.config.blockSize;
  const windows = Math.min(maxWindows, Math.floor((ids.length - 1) / T));
  let nats = 0;
  let tokens = 0;
  const batch = 16;
  for (let w0 = 0; w0 < windows; w0 += batch) {
    const rows = Math.min(batch, windows - w0);
    const x: number[] = [];
    const y: number[] = [];
    for (let r = 0; r < rows; r++) {
      const start = (w0 + r) * T;
      for (let t = 0; t < T; t++) {
        x.push(ids[start + t]);
        y.push(ids[start + t + 1]);
      }
    }
    const loss = tidy(() =>
      noGrad(() => crossEntropy(model.forward(tensor(x, [rows, T], "int32")), tensor(y, [rows, T], "int32"), { reduction: "sum" }).keep()),
    );
    nats += (await loss.data())[0];
    loss.dispose();
    tokens += rows * T;
  }
  // the windows cover `tokens` of the text's tokens: scale the characters to the same share
  const coveredChars = (chars * tokens) / (ids.length - 1);
  return nats / Math.LN2 / coveredChars;
}

/** Pretrains on `text`, the training and held-out text of the corpus that `settings.corpus` names. */
export async function pretrain(
  settings: PretrainSettings,
  text: { readonly train: string; readonly validation: string },
  out: string | null,
  options: { progress?: boolean } = {},
): Promise<PretrainResult> {
  const started = performance.now();
  const { train, validation } = text;
  // the merges are counted over all the training text (seconds): a prefix would be Moby-Dick's alone
  const tokenizer = ByteBPETokenizer.train(train, settings.merges);
  const trainIds = Int32Array.from(tokenizer.encode(train));
  const validationIds = Int32Array.from(tokenizer.encode(validation));
  manualSeed(settings.seed);
  const generator = new Generator(settings.seed);
  const model = new GPT(
    {
      vocabSize: tokenizer.vocabSize,
      blockSize: settings.blockSize,
      nLayer: settings.nLayer,
      nHead: settings.nHead,
      nEmbd: settings.nEmbd,
    },
    { generator },
  );
  const opt = new AdamW(model.parameters(), { lr: settings.lr, weightDecay: 0.1, betas: [0.9, 0.95] });
  const schedule = new LRScheduler(
    opt,
    warmupCosine({
      lr: settings.lr,
      minLr: settings.lr / 10,
      warmupSteps: Math.min(100, Math.ceil(settings.steps / 10)),
      totalSteps: settings.steps,
    }),
  );
  const { batch: B, blockSize: T } = settings;
  const progress = options.progress === false ? null : new Progress("pretrain", settings.steps);
  for (let step = 1; step <= settings.steps; step++) {
    const x = new Array<number>(B * T);
    const y = new Array<number>(B * T);
    for (let b = 0; b < B; b++) {
      const start = Math.floor(generator.random() * (trainIds.length - T - 1));
      for (let t = 0; t < T; t++) {
        x[b * T + t] = trainIds[start + t];
        y[b * T + t] = trainIds[start + t + 1];
      }
    }
    const loss: Tensor = tidy(() => {
      opt.zeroGrad();
      const l = model.loss(tensor(x, [B, T], "int32"), tensor(y, [B, T], "int32"));
      l.backward();
      clipGradNorm(model.parameters(), 1);
      opt.step();
      return l;
    });
    schedule.step();
    if (progress && (step % 20 === 0 || step === settings.steps))
      progress.update(step, { loss: (await loss.data())[0], lr: schedule.lastLr()[0] });
    loss.dispose();
  }
  progress?.done();
  model.eval();
  const result: PretrainResult = {
    settings,
    bitsPerChar: await bitsPerChar(model, validationIds, validation.length),
    unigramBitsPerChar: unigramBitsPerChar(train, validation),
    trainTokens: trainIds.length,
    validationChars: validation.length,
    parameters: model.numParameters(),
    seconds: (performance.now() - started) / 1000,
  };
  if (out !== null) await savePretrained(out, model, tokenizer);
  model.dispose();
  return result;
}

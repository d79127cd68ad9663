/**
 * @file The page's live fine-tune: the committed backbone (pretrained/gpt-text, fetched) fine-tuned on a
 * small subset of the spam task (web/data/spam.json) with LoRA and then with HyRA, by the same training
 * loop as `tsgrad finetune` (@tsgrad/training's trainClassifier), with the quick preset's settings: 64
 * tokens, batches of 16, rank 8, alpha 16, q and v adapted, the head trained, each method's default
 * learning rate.
 */

import { manualSeed, setBackend } from "@tsgrad/core";
import { GPTClassifier, loadPretrainedFromBytes } from "@tsgrad/models";
import type { Module } from "@tsgrad/nn";
import { accuracy, adapt, DEFAULT_LR, encodeAll, tokenLogits, trainClassifier } from "@tsgrad/training";
import type { Reply, RunOptions } from "./protocol.ts";

interface PageData {
  labels: string[];
  train: { text: string; label: number }[];
  test: { text: string; label: number }[];
}

const MAX_TOKENS = 64;
const BATCH = 16;

async function fetchBytes(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`fetch ${path}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function fineTune(options: RunOptions, post: (reply: Reply) => void): Promise<void> {
  const files = Object.fromEntries(
    await Promise.all(["config.json", "model.safetensors", "tokenizer.json"].map(async (f) => [f, await fetchBytes(`backbone/${f}`)])),
  );
  const data = JSON.parse(new TextDecoder().decode(await fetchBytes("data/spam.json"))) as PageData;
  // the default wasm backend, whatever the panels before left current (the benchmarks end on their last backend)
  const backend = await setBackend("wasm");
  post({ type: "facts", facts: { "fine-tune backend": backend.name } });
  const steps = options.smoke ? 40 : 120;
  for (const method of ["lora", "hyra"] as const) {
    const started = performance.now();
    const { model: backbone, tokenizer } = await loadPretrainedFromBytes(files, { name: "backbone" });
    manualSeed(1);
    const classifier = new GPTClassifier(backbone, data.labels.length);
    const model = adapt(classifier, { method, r: 8, alpha: 16 }) as Module & { forward: GPTClassifier["forward"] };
    const ids = encodeAll(tokenizer, data.train, MAX_TOKENS);
    model.train();
    const { trainable } = await trainClassifier(
      model,
      tokenLogits(model, ids),
      data.train.map((e) => e.label),
      { lr: DEFAULT_LR[method], steps, batch: BATCH, every: 1, onLoss: (step, loss) => post({ type: "loss", method, step, loss }) },
    );
    model.eval();
    const testIds = encodeAll(tokenizer, data.test, MAX_TOKENS);
    const score = await accuracy(
      model,
      testIds,
      data.test.map((e) => e.label),
    );
    post({ type: "accuracy", method, accuracy: score, trainable, seconds: (performance.now() - started) / 1000 });
    model.dispose();
  }
}

/** @file A run folder that `tsgrad finetune --out` wrote, read back as a classifier; the backbone's hash that names runs. */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { fail, type Tensor } from "@tsgrad/core";
import { loadAdapter } from "@tsgrad/hyra/node";
import { GPTClassifier, loadPretrained, readJsonFile } from "@tsgrad/models/node";
import { load, type Module } from "@tsgrad/nn/node";
import { readCappedFile } from "@tsgrad/safetensors/node";
import { RUN_FILE, type RunConfig } from "@tsgrad/training/node";

/** The SHA-256 of the backbone's weights file: runs on another backbone are other runs. */
export async function backboneHash(dir: string): Promise<string> {
  const bytes = await readCappedFile(join(dir, "model.safetensors"), 1 << 30, "tsgrad");
  return createHash("sha256").update(bytes).digest("hex");
}

export interface SavedRun {
  config: RunConfig;
  labels: string[];
}

async function readRun(dir: string): Promise<SavedRun> {
  const path = join(dir, RUN_FILE);
  const { value } = await readJsonFile(path, 1 << 20, `tsgrad ${path}`);
  const run = value as { config?: RunConfig; labels?: unknown } | null;
  if (!run?.config || !Array.isArray(run.labels)) fail("tsgrad", `${path} is not a run file (no config or labels)`);
  return run as SavedRun;
}

/** The classifier of a saved run: the backbone, the head and the adapter it trained, in eval mode. */
export async function loadRun(
  dir: string,
  backboneDir: string,
): Promise<{ model: Module & { forward(ids: Tensor, mask?: Tensor): Tensor }; run: SavedRun; tokenize: (t: string) => number[] }> {
  const run = await readRun(dir);
  const { model: backbone, tokenizer } = await loadPretrained(backboneDir);
  const classifier = new GPTClassifier(backbone, run.labels.length);
  let model: Module = classifier;
  if (run.config.method === "linear-probe") await load(classifier.head, join(dir, "head.safetensors"));
  else if (run.config.method === "full") await load(classifier, join(dir, "classifier.safetensors"));
  else model = await loadAdapter(classifier, dir);
  model.eval();
  return {
    model: model as Module & { forward(ids: Tensor, mask?: Tensor): Tensor },
    run,
    tokenize: (t) => tokenizer.encode(t).slice(0, Math.min(run.config.maxTokens, backbone.config.blockSize)),
  };
}

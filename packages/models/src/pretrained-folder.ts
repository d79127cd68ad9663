/**
 * @file A saved model's folder on disk (Node): savePretrained writes the three files pretrained.ts
 * describes, loadPretrained reads them through the file policy.
 *
 * The three are one save. The old config is removed first, then the weights and the tokenizer are
 * written (each atomically), and the config last, recording what it was saved with. A save killed
 * halfway leaves no config, so nothing loads, or files the config's record does not match, which the
 * load refuses by name.
 */

import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeValue, fail, type Generator } from "@tsgrad/core";
import { fileRecord, readSafetensorsFile, saveTensors } from "@tsgrad/nn/node";
import type { GPTConfig } from "./config.ts";
import { GPT } from "./gpt.ts";
import { readJsonFile, writeJsonFile } from "./json-file.ts";
import { CONFIG_FILE, checkVocabulary, loadPretrainedFrom, type SavedModelSource, TOKENIZER_FILE, WEIGHTS_FILE } from "./pretrained.ts";
import { ByteBPETokenizer } from "./tokenizers/bpe.ts";
import { CharTokenizer } from "./tokenizers/char.ts";
import type { Tokenizer } from "./tokenizers/tokenizer.ts";
import { saveTokenizer } from "./tokenizers/tokenizer-files.ts";

/** Saves a model and its tokenizer into `dir` (created if missing) as the three files above. */
export async function savePretrained(dir: string, model: GPT, tokenizer: Tokenizer): Promise<void> {
  if (!(model instanceof GPT)) fail("savePretrained", `expected a GPT, got ${describeValue(model)}`);
  if (!(tokenizer instanceof CharTokenizer || tokenizer instanceof ByteBPETokenizer)) {
    fail("savePretrained", `expected a CharTokenizer or a ByteBPETokenizer, got ${describeValue(tokenizer)}`);
  }
  checkVocabulary("savePretrained", tokenizer, model.config);
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, CONFIG_FILE);
  // first: an old config must not outlive this save's new weights if the save is killed halfway
  await rm(configPath, { force: true });
  // "pt": transformers refuses a file without it, and the layouts (Linear's [out, in]) are PyTorch's
  const weights = await saveTensors(model.stateDict(), join(dir, WEIGHTS_FILE), { metadata: { format: "pt" } });
  const tokens = await saveTokenizer(tokenizer, join(dir, TOKENIZER_FILE));
  const files = { [WEIGHTS_FILE]: fileRecord(weights), [TOKENIZER_FILE]: fileRecord(tokens) };
  await writeJsonFile(configPath, { ...model.config, files }, `savePretrained ${configPath}`);
}

/** A folder as a SavedModelSource. */
export function savedModelFolder(dir: string): SavedModelSource {
  return {
    name: dir,
    path: (file) => join(dir, file),
    json: (file, maxBytes, where) => readJsonFile(join(dir, file), maxBytes, where),
    size: (file) =>
      stat(join(dir, file)).then(
        (s) => s.size,
        () => null,
      ),
    safetensors: (file) => readSafetensorsFile(join(dir, file)),
  };
}

/**
 * Loads a folder written by savePretrained (pretrained.ts's loadPretrainedFrom says what is checked).
 * Returns the model in eval mode, as from_pretrained does; `generator` is where its dropout will draw from.
 */
export function loadPretrained(
  dir: string,
  options: { generator?: Generator } = {},
): Promise<{ model: GPT; tokenizer: Tokenizer; config: GPTConfig }> {
  return loadPretrainedFrom(savedModelFolder(dir), options);
}

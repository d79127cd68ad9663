/**
 * @file A saved model's folder on disk (Node): savePretrained writes the three files pretrained.ts
 * describes, loadPretrained reads them through the file policy.
 *
 * The three are one save, made as @tsgrad/safetensors's vouched-folder.ts makes a folder: the weights
 * and the tokenizer are staged beside their names, the config that records them replaces the old one
 * (the commit), and then they move into place. A save killed at any moment leaves the previous model or
 * the new one: the reader takes each file from where the config's record finds it.
 */

import { lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describeValue, fail, type Generator } from "@tsgrad/core";
import {
  checkFileRecord,
  fileRecord,
  readSafetensorsFile,
  refuseLink,
  saveTensors,
  saveVouchedFolder,
  vouchedPath,
  type WrittenFile,
} from "@tsgrad/nn/node";
import type { GPTConfig } from "./config.ts";
import { GPT } from "./gpt.ts";
import { jsonBytes } from "./json-bytes.ts";
import { readJsonFile } from "./json-file.ts";
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
  await saveVouchedFolder(
    dir,
    [
      // "pt": transformers refuses a file without it, and the layouts (Linear's [out, in]) are PyTorch's
      { name: WEIGHTS_FILE, write: (path) => saveTensors(model.stateDict(), path, { metadata: { format: "pt" } }) },
      { name: TOKENIZER_FILE, write: (path) => saveTokenizer(tokenizer, path) },
    ],
    CONFIG_FILE,
    (records) =>
      jsonBytes({
        ...model.config,
        files: { [WEIGHTS_FILE]: fileRecord(records[WEIGHTS_FILE]), [TOKENIZER_FILE]: fileRecord(records[TOKENIZER_FILE]) },
      }),
    "savePretrained",
    (bytes) => {
      const files = (JSON.parse(new TextDecoder().decode(bytes)) as { files?: Record<string, unknown> } | null)?.files;
      if (files === null || typeof files !== "object") return null;
      const record = (name: string) => checkFileRecord(files[name], "savePretrained", `"files"."${name}"`);
      return { [WEIGHTS_FILE]: record(WEIGHTS_FILE), [TOKENIZER_FILE]: record(TOKENIZER_FILE) };
    },
  );
}

/**
 * A folder as a SavedModelSource: each file from where the config's record finds it (its staged twin
 * after a save killed between its commit and its last rename), never through a link.
 */
export function savedModelFolder(dir: string): SavedModelSource {
  const pathOf = async (file: string, saved: WrittenFile | null, where: string) => {
    await refuseLink(join(dir, file), where);
    return vouchedPath(dir, file, saved, where);
  };
  return {
    name: dir,
    path: (file) => join(dir, file),
    json: async (file, maxBytes, where, saved = null) => readJsonFile(await pathOf(file, saved, where), maxBytes, where),
    async size(file, saved = null) {
      const path = await pathOf(file, saved, `loadPretrained ${join(dir, file)}`);
      return lstat(path).then(
        (s) => s.size,
        () => null,
      );
    },
    safetensors: async (file, saved = null) => readSafetensorsFile(await pathOf(file, saved, `loadPretrained ${join(dir, file)}`)),
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

/**
 * @file A saved model is a folder of three files, laid out as Hugging Face's save_pretrained does:
 *
 *     config.json        the GPTConfig, and the length and SHA-256 of the two files below ("files")
 *     model.safetensors  the weights, under gpt.ts's checkpoint names
 *     tokenizer.json     the tokenizer (tokenizers/tokenizer.ts)
 *
 * The three are one save. The old config is removed first, then the weights and the tokenizer are
 * written (each atomically), and the config last, recording what it was saved with. A save killed
 * halfway leaves no config, so nothing loads, or files the config's record does not match, which the
 * load refuses by name: never a model with another save's weights or tokenizer.
 */

import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { checkOptions, describeValue, fail, Generator, TsgradError } from "@tsgrad/core";
import { readSafetensorsFile, saveTensors, uploadTensors, type WrittenFile } from "@tsgrad/nn/node";
import { type GPTConfig, gptConfig } from "./config.ts";
import { GPT } from "./gpt.ts";
import { readJsonFile, writeJsonFile } from "./json-file.ts";
import { ByteBPETokenizer } from "./tokenizers/bpe.ts";
import { CharTokenizer } from "./tokenizers/char.ts";
import { MAX_TOKENIZER_BYTES, type Tokenizer, tokenizerFromJson } from "./tokenizers/tokenizer.ts";
import { saveTokenizer } from "./tokenizers/tokenizer-files.ts";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
export const TOKENIZER_FILE = "tokenizer.json";
/** A config is a few hundred bytes. */
const MAX_CONFIG_BYTES = 1 << 20;

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
  const files = { [WEIGHTS_FILE]: record(weights), [TOKENIZER_FILE]: record(tokens) };
  await writeJsonFile(configPath, { ...model.config, files }, `savePretrained ${configPath}`);
}

/**
 * Loads a folder written by savePretrained: the config is checked (unknown fields, ranges), then the
 * tokenizer and the weights against it and against the config's record. Returns the model in eval
 * mode, as from_pretrained does (call train() to fine-tune it). `generator` is where the model's dropout
 * will draw from: a fresh Generator(0) unless given, so that loading never moves the global generator.
 */
export async function loadPretrained(
  dir: string,
  options: { generator?: Generator } = {},
): Promise<{ model: GPT; tokenizer: Tokenizer; config: GPTConfig }> {
  checkOptions("loadPretrained", options);
  const configPath = join(dir, CONFIG_FILE);
  const where = `loadPretrained ${configPath}`;
  const { value } = await readJsonFile(configPath, MAX_CONFIG_BYTES, where);
  if (value === null || typeof value !== "object" || Array.isArray(value))
    fail(where, `must hold a JSON object, got ${describeValue(value)}`);
  const { files, ...fields } = value as Record<string, unknown>;
  const config = gptConfig(fields, where);
  const saved = files === undefined ? null : checkRecord(files, where);

  const tokenizerPath = join(dir, TOKENIZER_FILE);
  const tokenizerFile = await readJsonFile(tokenizerPath, MAX_TOKENIZER_BYTES, `loadPretrained ${tokenizerPath}`);
  if (saved) vouch(dir, TOKENIZER_FILE, tokenizerFile, saved[TOKENIZER_FILE]);
  const tokenizer = tokenizerFromJson(tokenizerFile.value, `loadPretrained ${tokenizerPath}`);
  checkVocabulary(`loadPretrained ${dir}`, tokenizer, config);

  const weightsPath = join(dir, WEIGHTS_FILE);
  if (saved) {
    // a length that differs is refused before the weights are read (they may be large)
    const size = await stat(weightsPath).then(
      (s) => s.size,
      () => null,
    );
    if (size !== null && size !== saved[WEIGHTS_FILE].bytes) vouch(dir, WEIGHTS_FILE, { bytes: size, sha256: "" }, saved[WEIGHTS_FILE]);
  }
  const file = await readSafetensorsFile(weightsPath);
  if (saved) vouch(dir, WEIGHTS_FILE, file, saved[WEIGHTS_FILE]);
  const model = new GPT(config, { generator: options.generator ?? new Generator(0) });
  const tensors = uploadTensors(file, weightsPath);
  try {
    model.loadStateDict(tensors);
  } catch (error) {
    model.dispose();
    if (error instanceof TsgradError) fail(`loadPretrained ${weightsPath}`, `does not fit config.json: ${error.message}`);
    throw error;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return { model: model.eval(), tokenizer, config };
}

/** A model must have a row for every token the tokenizer makes (it may have more, as nanoGPT pads to 50304). */
function checkVocabulary(where: string, tokenizer: Tokenizer, config: GPTConfig): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    fail(where, `the tokenizer makes ${tokenizer.vocabSize} tokens but the model's vocabSize is ${config.vocabSize}`);
  }
}

const record = (file: WrittenFile) => ({ bytes: file.bytes, sha256: file.sha256 });

/** The config's "files": each of the two files' length and SHA-256, checked field by field. */
function checkRecord(files: unknown, where: string): Record<string, WrittenFile> {
  const names = [WEIGHTS_FILE, TOKENIZER_FILE];
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const expected = `{ "${WEIGHTS_FILE}": { "bytes", "sha256" }, "${TOKENIZER_FILE}": { ... } }`;
  if (!isObject(files) || Object.keys(files).length !== 2 || !names.every((n) => Object.hasOwn(files, n))) {
    fail(where, `"files" must be ${expected}, got ${describeValue(files)}`);
  }
  for (const name of names) {
    const entry = files[name];
    const ok =
      isObject(entry) &&
      Object.keys(entry).length === 2 &&
      Number.isSafeInteger(entry.bytes) &&
      (entry.bytes as number) >= 0 &&
      typeof entry.sha256 === "string" &&
      /^[0-9a-f]{64}$/.test(entry.sha256);
    if (!ok) fail(where, `"files"."${name}" must be { "bytes": a length, "sha256": 64 hex digits }, got ${describeValue(entry)}`);
  }
  return files as Record<string, WrittenFile>;
}

/** Refuses a file that is not the one config.json was saved with. */
function vouch(dir: string, name: string, found: WrittenFile, saved: WrittenFile): void {
  if (found.bytes === saved.bytes && found.sha256 === saved.sha256) return;
  const what = found.sha256 ? `${found.bytes} bytes, sha256 ${found.sha256.slice(0, 12)}...` : `${found.bytes} bytes`;
  fail(
    `loadPretrained ${join(dir, name)}`,
    `(${what}) is not the file ${CONFIG_FILE} was saved with (${saved.bytes} bytes, sha256 ${saved.sha256.slice(0, 12)}...): ` +
      "the save was interrupted or the folder's files come from different saves; save the model again",
  );
}

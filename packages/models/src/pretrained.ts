/**
 * @file A saved model is three files, laid out as Hugging Face's save_pretrained does:
 *
 *     config.json        the GPTConfig, and the length and SHA-256 of the two files below ("files")
 *     model.safetensors  the weights, under gpt.ts's checkpoint names
 *     tokenizer.json     the tokenizer (tokenizers/tokenizer.ts)
 *
 * This file loads them from wherever they are, with no file system of its own: a folder on disk
 * (pretrained-folder.ts, Node, which also saves them) or bytes in memory (a browser's fetch). The config
 * records what the model was saved with, so the load refuses by name a weights or tokenizer file from
 * another save: never a model with another save's weights or tokenizer.
 */

import { checkOptions, describeValue, fail, Generator, TsgradError } from "@tsgrad/core";
import { checkFileRecord, checkSibling, parseSafetensors, type Safetensors, uploadTensors, type WrittenFile } from "@tsgrad/nn";
import { type GPTConfig, gptConfig } from "./config.ts";
import { GPT } from "./gpt.ts";
import { type JsonFile, parseJsonBytes, sha256Hex } from "./json-bytes.ts";
import { MAX_TOKENIZER_BYTES, type Tokenizer, tokenizerFromJson } from "./tokenizers/tokenizer.ts";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
export const TOKENIZER_FILE = "tokenizer.json";
/** A config is a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Where a saved model's three files are read from: a folder (pretrained-folder.ts) or bytes (savedModelFromBytes). */
export interface SavedModelSource {
  /** The folder, or what the bytes came from, for messages. */
  readonly name: string;
  /** How a file of it is named in messages. */
  path(file: string): string;
  /**
   * A JSON file of at most maxBytes, parsed; `where` names the caller and the file. `saved` is the
   * config's record of the file, where there is one (a folder finds the file a killed save staged by it).
   */
  json(file: string, maxBytes: number, where: string, saved?: WrittenFile | null): Promise<JsonFile>;
  /** A file's length without reading it (null when it is missing), so a wrong one is refused before it is read. */
  size(file: string, saved?: WrittenFile | null): Promise<number | null>;
  /** A safetensors file, validated whole, with its length and SHA-256. */
  safetensors(file: string, saved?: WrittenFile | null): Promise<Safetensors & WrittenFile>;
}

/** A saved model held as bytes (fetched by a page, say), by file name: a Uint8Array, or the ArrayBuffer a fetch gives. */
export function savedModelFromBytes(name: string, files: Readonly<Record<string, Uint8Array | ArrayBuffer>>): SavedModelSource {
  const bytesOf = (file: string, where: string): Uint8Array => {
    const bytes = Object.hasOwn(files, file) ? files[file] : undefined;
    if (bytes === undefined) fail(where, `is missing: expected its bytes under ${JSON.stringify(file)}`);
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    if (!(bytes instanceof Uint8Array)) fail(where, `must be a Uint8Array or an ArrayBuffer (a fetch's), got ${describeValue(bytes)}`);
    return bytes;
  };
  return {
    name,
    path: (file) => `${name}/${file}`,
    async json(file, maxBytes, where) {
      const bytes = bytesOf(file, where);
      if (bytes.length > maxBytes) fail(where, `is ${bytes.length} bytes; at most ${maxBytes} are read`);
      return parseJsonBytes(bytes, where);
    },
    size: async (file) => (Object.hasOwn(files, file) ? bytesOf(file, `loadPretrained ${name}/${file}`).length : null),
    async safetensors(file) {
      const bytes = bytesOf(file, `loadPretrained ${name}/${file}`);
      const parsed = parseSafetensors(bytes, { file: `${name}/${file}` });
      return { ...parsed, bytes: bytes.length, sha256: await sha256Hex(bytes) };
    },
  };
}

/**
 * Loads a saved model (a folder written by savePretrained, or its files' bytes): the config is checked (unknown fields, ranges), then the
 * tokenizer and the weights against it and against the config's record. Returns the model in eval
 * mode, as from_pretrained does (call train() to fine-tune it). `generator` is where the model's dropout
 * will draw from: a fresh Generator(0) unless given, so that loading never moves the global generator.
 */
export async function loadPretrainedFrom(
  source: SavedModelSource,
  options: { generator?: Generator } = {},
): Promise<{ model: GPT; tokenizer: Tokenizer; config: GPTConfig }> {
  checkOptions("loadPretrained", options, ["generator"]);
  const dir = source.name;
  const configPath = source.path(CONFIG_FILE);
  const where = `loadPretrained ${configPath}`;
  const { value } = await source.json(CONFIG_FILE, MAX_CONFIG_BYTES, where);
  if (value === null || typeof value !== "object" || Array.isArray(value))
    fail(where, `must hold a JSON object, got ${describeValue(value)}`);
  const { files, ...fields } = value as Record<string, unknown>;
  const config = gptConfig(fields, where);
  const saved = files === undefined ? null : checkRecord(files, where);

  const tokenizerPath = source.path(TOKENIZER_FILE);
  const tokenizerFile = await source.json(TOKENIZER_FILE, MAX_TOKENIZER_BYTES, `loadPretrained ${tokenizerPath}`, saved?.[TOKENIZER_FILE]);
  if (saved) vouch(source, TOKENIZER_FILE, tokenizerFile, saved[TOKENIZER_FILE]);
  const tokenizer = tokenizerFromJson(tokenizerFile.value, `loadPretrained ${tokenizerPath}`, { maxVocabSize: config.vocabSize });
  checkVocabulary(`loadPretrained ${dir}`, tokenizer, config);

  const weightsPath = source.path(WEIGHTS_FILE);
  if (saved) {
    // a length that differs is refused before the weights are read (they may be large)
    const size = await source.size(WEIGHTS_FILE, saved[WEIGHTS_FILE]);
    if (size !== null && size !== saved[WEIGHTS_FILE].bytes) vouch(source, WEIGHTS_FILE, { bytes: size, sha256: "" }, saved[WEIGHTS_FILE]);
  }
  const file = await source.safetensors(WEIGHTS_FILE, saved?.[WEIGHTS_FILE]);
  if (saved) vouch(source, WEIGHTS_FILE, file, saved[WEIGHTS_FILE]);
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
export function checkVocabulary(where: string, tokenizer: Tokenizer, config: GPTConfig): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    fail(where, `the tokenizer makes ${tokenizer.vocabSize} tokens but the model's vocabSize is ${config.vocabSize}`);
  }
}

/** The config's "files": each of the two files' length and SHA-256, checked field by field. */
function checkRecord(files: unknown, where: string): Record<string, WrittenFile> {
  const names = [WEIGHTS_FILE, TOKENIZER_FILE];
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const expected = `{ "${WEIGHTS_FILE}": { "bytes", "sha256" }, "${TOKENIZER_FILE}": { ... } }`;
  if (!isObject(files) || Object.keys(files).length !== 2 || !names.every((n) => Object.hasOwn(files, n))) {
    fail(where, `"files" must be ${expected}, got ${describeValue(files)}`);
  }
  return Object.fromEntries(names.map((name) => [name, checkFileRecord(files[name], where, `"files"."${name}"`)]));
}

/** Refuses a file that is not the one config.json was saved with. */
function vouch(source: SavedModelSource, name: string, found: WrittenFile, saved: WrittenFile): void {
  checkSibling(found, saved, { where: `loadPretrained ${source.path(name)}`, config: CONFIG_FILE, again: "save the model again" });
}

/** loadPretrainedFrom(savedModelFromBytes(name, files)): a saved model from its three files' bytes. */
export function loadPretrainedFromBytes(
  files: Readonly<Record<string, Uint8Array | ArrayBuffer>>,
  options: { generator?: Generator; name?: string } = {},
): Promise<{ model: GPT; tokenizer: Tokenizer; config: GPTConfig }> {
  const { name = "(bytes)", ...rest } = options;
  return loadPretrainedFrom(savedModelFromBytes(name, files), rest);
}

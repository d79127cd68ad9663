/**
 * @file What a model's tokenizer is (a CharTokenizer or a ByteBPETokenizer) and its file, tokenizer.json,
 * saved beside the checkpoint: `{ "type": "char", "chars": [...] }` or `{ "type": "byte-bpe", "merges":
 * [[a, b], ...] }`, checked whole, unknown fields included, before a tokenizer is built from it. The
 * file itself is read and written by tokenizer-files.ts (Node).
 */

import { checkOptions, describeValue, fail, TsgradError } from "@tsgrad/core";
import { ByteBPETokenizer, type ByteBPETokenizerJson } from "./bpe.ts";
import { CharTokenizer, type CharTokenizerJson } from "./char.ts";

export type Tokenizer = CharTokenizer | ByteBPETokenizer;
export type TokenizerJson = CharTokenizerJson | ByteBPETokenizerJson;

/** The largest vocabulary of either kind is about 1.5 MB as JSON; a file far over that is not a tokenizer. */
export const MAX_TOKENIZER_BYTES = 4 << 20;

const FIELDS = { char: ["type", "chars"], "byte-bpe": ["type", "merges"] } as const;

/**
 * A tokenizer from its JSON form (toJSON()'s), or an error naming `where` and what is wrong. With
 * `maxVocabSize` (a model's vocabSize), a file of more tokens is refused before anything is built.
 */
export function tokenizerFromJson(value: unknown, where = "tokenizerFromJson", options: { maxVocabSize?: number } = {}): Tokenizer {
  checkOptions("tokenizerFromJson", options, ["maxVocabSize"]);
  const { maxVocabSize } = options;
  if (maxVocabSize !== undefined && !(Number.isSafeInteger(maxVocabSize) && maxVocabSize > 0))
    fail("tokenizerFromJson", `maxVocabSize must be a positive integer, got ${describeValue(maxVocabSize)}`);
  if (value === null || typeof value !== "object" || Array.isArray(value))
    fail(where, `a tokenizer must be a JSON object, got ${describeValue(value)}`);
  const json = value as Record<string, unknown>;
  const type = json.type;
  if (type !== "char" && type !== "byte-bpe") fail(where, `"type" must be "char" or "byte-bpe", got ${describeValue(type)}`);
  const unknown = Object.keys(json).filter((k) => !(FIELDS[type] as readonly string[]).includes(k));
  if (unknown.length > 0) {
    fail(
      where,
      `unknown field ${JSON.stringify(unknown[0].slice(0, 32))} in a ${type} tokenizer; its fields are ${FIELDS[type].join(", ")}`,
    );
  }
  const list = type === "char" ? json.chars : json.merges;
  if (!Array.isArray(list)) fail(where, `"${type === "char" ? "chars" : "merges"}" must be an array, got ${describeValue(list)}`);
  const tokens = type === "char" ? list.length : 256 + list.length;
  if (options.maxVocabSize !== undefined && tokens > options.maxVocabSize)
    fail(where, `the tokenizer makes ${tokens} tokens but the model's vocabSize is ${options.maxVocabSize}`);
  try {
    return type === "char" ? new CharTokenizer(list as string[]) : new ByteBPETokenizer(list as [number, number][]);
  } catch (error) {
    // the constructors' own checks, said of this file
    if (error instanceof TsgradError) fail(where, error.message);
    throw error;
  }
}

/**
 * @file JSON files (a model's config.json, a tokenizer.json) through @tsgrad/safetensors's file policy,
 * which nn re-exports: regular files only, never a link, read whole up to a cap, written atomically.
 * Every refusal is a TsgradError that names the file. Node only; json-bytes.ts parses.
 */

import { fail, TsgradError } from "@tsgrad/core";
import { readCappedFile, type WrittenFile, writeFileAtomic } from "@tsgrad/nn/node";
import { type JsonFile, jsonBytes, parseJsonBytes } from "./json-bytes.ts";

export type { JsonFile } from "./json-bytes.ts";

/**
 * Reads and parses a JSON file of at most maxBytes. `where` names the caller and the file (`loadTokenizer
 * dir/tokenizer.json`), so the messages here say only what is wrong with it.
 */
export async function readJsonFile(path: string, maxBytes: number, where: string): Promise<JsonFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readCappedFile(path, maxBytes, where);
  } catch (error) {
    if (error instanceof TsgradError) throw error;
    const code = (error as { code?: string }).code;
    return fail(where, code === "ENOENT" ? "does not exist" : `cannot be read: ${(error as Error).message}`);
  }
  return parseJsonBytes(bytes, where);
}

/** Writes a value as indented JSON (json-bytes.ts's layout), atomically: a reader sees the old file or the new one, never half. */
export async function writeJsonFile(path: string, value: unknown, where: string): Promise<WrittenFile> {
  const bytes = jsonBytes(value);
  return writeFileAtomic(path, async (write) => write(bytes), where);
}

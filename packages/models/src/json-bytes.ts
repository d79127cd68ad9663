/**
 * @file JSON from bytes (a model's config.json, a tokenizer.json), with no file system: the text read as
 * @tsgrad/safetensors's json-files.ts reads every tsgrad JSON file (strict UTF-8, the line and column of a
 * syntax error), and the bytes' SHA-256, so a file saved beside it can vouch for it. json-file.ts reads
 * and writes the files themselves (Node).
 */

import { parseJsonText, sha256Hex, type WrittenFile } from "@tsgrad/nn";

export { sha256Hex };

/** A JSON file as read: its value, and its length and SHA-256. */
export interface JsonFile extends WrittenFile {
  value: unknown;
}

/**
 * How deep a model's JSON files nest: a config's record of its files is 3 levels, a tokenizer's merges 2;
 * a deeper file is refused before JSON.parse and every message about it see its depth.
 */
export const MAX_JSON_DEPTH = 8;

/** Parses bytes as JSON; `where` names the caller and the file, so the messages say only what is wrong. */
export async function parseJsonBytes(bytes: Uint8Array, where: string): Promise<JsonFile> {
  const value = parseJsonText(bytes, where, { maxDepth: MAX_JSON_DEPTH, what: "a model's JSON file" });
  return { value, bytes: bytes.length, sha256: await sha256Hex(bytes) };
}

/** A value as indented JSON bytes; a pair of numbers stays on one line, so a tokenizer's merges read one per line. */
export function jsonBytes(value: unknown): Uint8Array {
  // a line break inside a JSON string is always escaped, so these newlines are the layout's own
  const text = JSON.stringify(value, null, 2).replace(/\[\n\s*(-?\d+),\n\s*(-?\d+)\n\s*\]/g, "[$1, $2]");
  return new TextEncoder().encode(`${text}\n`);
}

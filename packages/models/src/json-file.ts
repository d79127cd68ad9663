/**
 * @file JSON files (a model's config.json, a tokenizer.json) through @tsgrad/safetensors's file policy,
 * which nn re-exports: regular files only, never a link, read whole up to a cap, written atomically.
 * Every refusal is a TsgradError that names the file.
 */

import { createHash } from "node:crypto";
import { fail, TsgradError } from "@tsgrad/core";
import { readCappedFile, type WrittenFile, writeFileAtomic } from "@tsgrad/nn/node";

/** A JSON file as read: its value, and its length and SHA-256, so a file saved beside it can vouch for it. */
export interface JsonFile extends WrittenFile {
  value: unknown;
}

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
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(where, "is not valid UTF-8 text");
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  try {
    return { value: JSON.parse(text), bytes: bytes.length, sha256 };
  } catch (error) {
    return fail(where, `is not valid JSON${position(text, (error as Error).message)} (${(error as Error).message})`);
  }
}

/** " at line 3, column 7" when V8's message gives the offset, as it does for most syntax errors. */
function position(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return "";
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf("\n")}`;
}

/**
 * Writes a value as indented JSON, atomically (a reader sees the old file or the new one, never half).
 * A pair of numbers stays on one line, so a tokenizer's merges read one per line.
 */
export async function writeJsonFile(path: string, value: unknown, where: string): Promise<WrittenFile> {
  // a line break inside a JSON string is always escaped, so these newlines are the layout's own
  const text = JSON.stringify(value, null, 2).replace(/\[\n\s*(-?\d+),\n\s*(-?\d+)\n\s*\]/g, "[$1, $2]");
  const bytes = new TextEncoder().encode(`${text}\n`);
  return writeFileAtomic(path, async (write) => write(bytes), where);
}

/**
 * @file JSON from bytes (a model's config.json, a tokenizer.json), with no file system: strict UTF-8,
 * the line and column of a syntax error, and the bytes' SHA-256, so a file saved beside it can vouch
 * for it. json-file.ts reads and writes the files themselves (Node).
 */

import { fail } from "@tsgrad/core";
import type { WrittenFile } from "@tsgrad/nn";

/** A JSON file as read: its value, and its length and SHA-256. */
export interface JsonFile extends WrittenFile {
  value: unknown;
}

/** The SHA-256 of some bytes as 64 hex digits (Web Crypto: Node 20 and every browser have it). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // Web Crypto takes no view of shared memory; bytes read from a file or a fetch never are one
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parses bytes as JSON; `where` names the caller and the file, so the messages say only what is wrong. */
export async function parseJsonBytes(bytes: Uint8Array, where: string): Promise<JsonFile> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(where, "is not valid UTF-8 text");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(where, `is not valid JSON${position(text, (error as Error).message)} (${(error as Error).message})`);
  }
  return { value, bytes: bytes.length, sha256: await sha256Hex(bytes) };
}

/** " at line 3, column 7" when V8's message gives the offset, as it does for most syntax errors. */
function position(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return "";
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf("\n")}`;
}

/** A value as indented JSON bytes; a pair of numbers stays on one line, so a tokenizer's merges read one per line. */
export function jsonBytes(value: unknown): Uint8Array {
  // a line break inside a JSON string is always escaped, so these newlines are the layout's own
  const text = JSON.stringify(value, null, 2).replace(/\[\n\s*(-?\d+),\n\s*(-?\d+)\n\s*\]/g, "[$1, $2]");
  return new TextEncoder().encode(`${text}\n`);
}

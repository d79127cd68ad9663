/**
 * @file JSON files beside safetensors files, with no file system: a JSON text read from bytes (strict
 * UTF-8, the line and column where a syntax error is, an optional nesting bound), and the record a
 * config keeps of its sibling files (each one's length and SHA-256), checked when the siblings are read.
 * hyra's adapter folders and models' saved models both use it, so the two say the same in the same way.
 */

import { checkOptions, describeValue, fail } from "@tsgrad/core";
import type { WrittenFile } from "./written-file.ts";

/** Refuses a bad argument by name, as every public function here does. */
function expect(where: string, ok: boolean, what: string, value: unknown): void {
  if (!ok) fail(where, `${what}, got ${describeValue(value)}`);
}

const isRecord = (v: unknown): v is WrittenFile =>
  v !== null && typeof v === "object" && Number.isSafeInteger((v as WrittenFile).bytes) && typeof (v as WrittenFile).sha256 === "string";

const SCALAR = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/**
 * The offset of the first character that cannot continue valid JSON, or -1 if the text is valid.
 * JSON.parse says where only sometimes ("at position 6", or "Unexpected token" with no position), so the
 * text is scanned again after it failed; iteratively, so no nesting depth can overflow the stack.
 */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const stack: string[] = [];
  const space = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const string = (): boolean => {
    if (text[i] !== '"') return false;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === "u") {
        HEX4.lastIndex = i + 2;
        if (!HEX4.test(text)) return false;
        i += 6;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
        i += 2;
      } else {
        return false;
      }
    }
    return false;
  };
  const key = (): boolean => {
    if (!string()) return false;
    space();
    if (text[i] !== ":") return false;
    i++;
    return true;
  };
  let expectValue = true;
  for (;;) {
    space();
    if (expectValue) {
      const c = text[i];
      if (c === "{" || c === "[") {
        stack.push(c);
        i++;
        space();
        if (text[i] === (c === "{" ? "}" : "]")) {
          stack.pop();
          i++;
          expectValue = false;
        } else if (c === "{" && !key()) {
          return i;
        }
        continue;
      }
      if (c === '"') {
        if (!string()) return i;
      } else {
        SCALAR.lastIndex = i;
        if (!SCALAR.test(text)) return i;
        i = SCALAR.lastIndex;
      }
      expectValue = false;
      continue;
    }
    const top = stack.at(-1);
    if (top === undefined) return i < text.length ? i : -1;
    const c = text[i];
    if (c === ",") {
      i++;
      space();
      if (top === "{" && !key()) return i;
      expectValue = true;
    } else if (c === (top === "{" ? "}" : "]")) {
      stack.pop();
      i++;
    } else {
      return i;
    }
  }
}

/** The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "[" || c === "{") {
      deepest = Math.max(deepest, ++depth);
    } else if (c === "]" || c === "}") {
      depth--;
    }
  }
  return deepest;
}

/** "line 3, column 7" for an offset into `text` (both counted from 1). */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line}, column ${column}`;
}

export interface JsonTextOptions {
  /** Refuse nesting deeper than this before parsing (a config nests two or three levels). */
  maxDepth?: number;
  /** What the text is, for the depth message ("an adapter config"). */
  what?: string;
}

/** Parses bytes as JSON; `where` names the caller and the file, so the messages say only what is wrong. */
export function parseJsonText(bytes: Uint8Array, where: string, options: JsonTextOptions = {}): unknown {
  expect("parseJsonText", typeof where === "string", "the caller's name must be a string", where);
  expect(where, bytes instanceof Uint8Array, "expected the file's bytes (a Uint8Array)", bytes);
  checkOptions("parseJsonText", options, ["maxDepth", "what"]);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(where, "is not valid UTF-8 text");
  }
  const { maxDepth, what = "the file" } = options;
  if (maxDepth !== undefined) {
    // a deeper text would only make the messages about it (and JSON.parse) recurse
    const depth = nestingDepth(text);
    if (depth > maxDepth) fail(where, `nests arrays and objects ${depth} levels deep; ${what} has at most ${maxDepth}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const at = jsonErrorOffset(text);
    const position = at < 0 ? "" : ` at ${lineAndColumn(text, at)}`;
    return fail(where, `is not valid JSON${position} (${(error as Error).message})`);
  }
}

/** The SHA-256 of some bytes as 64 hex digits (Web Crypto: Node 20 and every browser have it). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  expect("sha256Hex", bytes instanceof Uint8Array, "expected bytes (a Uint8Array)", bytes);
  // Web Crypto takes no view of shared memory; bytes read from a file or a fetch never are one
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What a config records of a sibling file: `{ "bytes": <length>, "sha256": <64 hex digits> }`. */
export function fileRecord(file: WrittenFile): WrittenFile {
  expect("fileRecord", isRecord(file), "expected a written file's { bytes, sha256 }", file);
  return { bytes: file.bytes, sha256: file.sha256 };
}

/** A config's record of a sibling file, checked field by field; `field` names it in the message. */
export function checkFileRecord(value: unknown, where: string, field: string): WrittenFile {
  const named = typeof where === "string" && typeof field === "string";
  expect("checkFileRecord", named, "the caller and the field must be named by strings", [where, field]);
  const v = value as Record<string, unknown> | null;
  const ok =
    v !== null &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    Object.keys(v).sort().join() === "bytes,sha256" &&
    Number.isSafeInteger(v.bytes) &&
    (v.bytes as number) >= 0 &&
    typeof v.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(v.sha256);
  if (!ok) fail(where, `${field} must be { "bytes": <size>, "sha256": <64 hex digits> }, got ${shown(value)}`);
  return { bytes: v?.bytes as number, sha256: v?.sha256 as string };
}

/** A record as it was written (JSON), or what it is when it is not JSON at all. */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? describeValue(value);
  } catch {
    return describeValue(value);
  }
}

/** "123 bytes, sha256 0123456789ab..." (the length alone when the hash was not computed). */
function describeFile(file: WrittenFile): string {
  return file.sha256 ? `${file.bytes} bytes, sha256 ${file.sha256.slice(0, 12)}...` : `${file.bytes} bytes`;
}

/**
 * Refuses a sibling file that is not the one the config recorded: a save killed between the files, or
 * files of two saves in one folder. `where` names the sibling; `again` says what to do ("save the model again").
 */
export function checkSibling(found: WrittenFile, saved: WrittenFile, options: { where: string; config: string; again: string }): void {
  expect("checkSibling", isRecord(found) && isRecord(saved), "expected two files' { bytes, sha256 }", [found, saved]);
  const named =
    options !== null && typeof options === "object" && [options.where, options.config, options.again].every((v) => typeof v === "string");
  expect("checkSibling", named, "the options must be { where, config, again }, each a string", options);
  if (found.bytes === saved.bytes && found.sha256 === saved.sha256) return;
  fail(
    options.where,
    `(${describeFile(found)}) is not the file ${options.config} was saved with (${describeFile(saved)}): ` +
      `the save was interrupted or the folder's files come from different saves; ${options.again}`,
  );
}

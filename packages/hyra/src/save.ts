/**
 * @file The adapter folder's names and the parts of saving and loading that need no file system: a
 * config's text parsed with positions in its errors, and the comparison of a file's tensors with the
 * adapter they are loaded into, which names every mismatch. The folder itself is read and written by
 * adapter-folder.ts, which needs Node: @tsgrad/hyra/node installs it here, so that @tsgrad/hyra loads
 * in a browser and its PeftModel's saveAdapter and loadAdapter work wherever that is imported.
 */

import { fail, noGrad, type Tensor, tidy } from "@tsgrad/core";
import type { PeftConfig } from "./config.ts";
import { jsonErrorOffset, lineAndColumn, nestingDepth } from "./json-position.ts";

export const CONFIG_FILE = "adapter_config.json";
export const WEIGHTS_FILE = "adapter_model.safetensors";
/** A PEFT config is about 1 KB; anything near this is not one. */
export const MAX_CONFIG_BYTES = 1 << 20;
const MAX_CONFIG_DEPTH = 16;

/** How adapter folders are read and written (adapter-folder.ts, installed by @tsgrad/hyra/node). */
export interface AdapterFolderIO {
  write(folder: string, config: Record<string, unknown>, tensors: ReadonlyMap<string, Tensor>, options?: WriteOptions): Promise<void>;
  read(dir: string): Promise<{ config: PeftConfig; tensors: Map<string, Tensor>; ignoredFields: string[] }>;
}

let folderIO: AdapterFolderIO | null = null;

/** Called once by @tsgrad/hyra/node. */
export function installAdapterFolderIO(io: AdapterFolderIO): void {
  folderIO = io;
}

/** The installed folder reader and writer, or an error saying how to get one. */
export function adapterFolderIO(where: string): AdapterFolderIO {
  if (folderIO) return folderIO;
  return fail(
    where,
    'adapter folders are files: import "@tsgrad/hyra/node" (Node; it exports everything @tsgrad/hyra does) to read and write them',
  );
}

export interface WriteOptions {
  where?: string;
  /** The folder is one tsgrad names (dir/<adapter>), not the caller's: a link there is refused. */
  subfolder?: boolean;
  /** Record the weights' size and hash in the config (false for exportAsLora: its reader is PEFT). */
  record?: boolean;
}

/** Parses a config's bytes, naming the file and the line and column of a syntax error. */
export function parseConfigText(bytes: Uint8Array, file: string): unknown {
  const where = `loadAdapter ${file}`;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(where, "is not valid UTF-8 text");
  }
  // a config nests two or three levels; a deeper one would only make the messages about it recurse
  const depth = nestingDepth(text);
  if (depth > MAX_CONFIG_DEPTH)
    fail(where, `nests arrays and objects ${depth} levels deep; an adapter config has at most ${MAX_CONFIG_DEPTH}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    const at = jsonErrorOffset(text);
    const position = at < 0 ? "" : ` at ${lineAndColumn(text, at)}`;
    return fail(where, `is not valid JSON${position} (${(error as Error).message})`);
  }
}

/** Lists at most `limit` items, then says how many more there are. */
function listSome(items: string[], limit = 12): string {
  return items.length <= limit ? items.join("; ") : `${items.slice(0, limit).join("; ")}; ... and ${items.length - limit} more`;
}

/**
 * Copies `provided` into the adapter's tensors (`expected`, by saved key), casting to their dtype.
 * Missing and unexpected keys and shape mismatches are collected first; with `strict` any of them
 * throws, naming them, before anything is written.
 */
export function compareState(
  expected: ReadonlyMap<string, Tensor>,
  provided: ReadonlyMap<string, Tensor>,
  options: { strict: boolean; where: string },
): { missingKeys: string[]; unexpectedKeys: string[]; shapeMismatches: string[] } {
  const missingKeys = [...expected.keys()].filter((k) => !provided.has(k));
  const unexpectedKeys = [...provided.keys()].filter((k) => !expected.has(k));
  const shapeMismatches: string[] = [];
  for (const [key, target] of expected) {
    const value = provided.get(key);
    if (value && (value.rank !== target.rank || value.shape.some((d, i) => d !== target.shape[i]))) {
      shapeMismatches.push(`${key}: the model's is [${target.shape}], the file's [${value.shape}]`);
    }
  }
  const problems = [
    ...shapeMismatches.map((m) => `shape mismatch ${m}`),
    ...missingKeys.map((k) => `missing key ${k}`),
    ...unexpectedKeys.map((k) => `unexpected key ${k}`),
  ];
  if (options.strict && problems.length > 0) {
    fail(options.where, `the adapter does not fit this model (${problems.length} problems): ${listSome(problems)}`);
  }
  const mismatched = new Set(shapeMismatches.map((m) => m.slice(0, m.indexOf(": "))));
  tidy(() =>
    noGrad(() => {
      for (const [key, target] of expected) {
        const value = provided.get(key);
        if (value && !mismatched.has(key)) target.assign(value.cast(target.dtype));
      }
    }),
  );
  return { missingKeys, unexpectedKeys, shapeMismatches };
}

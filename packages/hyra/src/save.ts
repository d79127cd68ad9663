/**
 * @file The adapter folder: `adapter_config.json` and `adapter_model.safetensors`, each written
 * atomically (a reader sees the old file or the new one, never half of one), and the comparison of a
 * file's tensors with the adapter they are loaded into, which names every mismatch.
 *
 * The two files are one save: the weights are written first, then the config, which records the weights'
 * length and SHA-256. A save killed between the two leaves new weights beside the old config, and the
 * load refuses that pair (it would load with the wrong config) instead of guessing.
 */

import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fail, noGrad, type Tensor, TsgradError, tidy } from "@tsgrad/core";
import { readCappedFile, readSafetensorsFile, refuseLink, saveTensors, uploadTensors, writeFileAtomic } from "@tsgrad/nn";
import { configFromJson, type PeftConfig, sortedKeys, WEIGHTS_RECORD } from "./config.ts";
import { jsonErrorOffset, lineAndColumn, nestingDepth } from "./json-position.ts";

export const CONFIG_FILE = "adapter_config.json";
export const WEIGHTS_FILE = "adapter_model.safetensors";
/** A PEFT config is about 1 KB; anything near this is not one. */
export const MAX_CONFIG_BYTES = 1 << 20;
const MAX_CONFIG_DEPTH = 16;

export interface WriteOptions {
  where?: string;
  /** The folder is one tsgrad names (dir/<adapter>), not the caller's: a link there is refused. */
  subfolder?: boolean;
  /** Record the weights' size and hash in the config (false for exportAsLora: its reader is PEFT). */
  record?: boolean;
}

/** Writes one adapter's folder: the weights, then the config that vouches for them. */
export async function writeAdapterFolder(
  folder: string,
  config: Record<string, unknown>,
  tensors: ReadonlyMap<string, Tensor>,
  options: WriteOptions = {},
): Promise<void> {
  const { where = "saveAdapter", subfolder = false, record = true } = options;
  if (subfolder) await refuseLink(folder, where);
  await mkdir(folder, { recursive: true });
  // again: a link planted between the check and the mkdir would otherwise take the files
  if (subfolder) await refuseLink(folder, where);
  const configPath = join(folder, CONFIG_FILE);
  // an old config that does not vouch for its weights (PEFT's, or an export) would load with the new
  // weights if this save were killed between the two files: it goes first
  if (await lacksRecord(configPath)) await rm(configPath, { force: true });
  // "pt": transformers and PEFT refuse a file without it, and our layouts are PyTorch's
  const weights = await saveTensors(new Map(tensors), join(folder, WEIGHTS_FILE), { metadata: { format: "pt" } });
  const written = record ? { ...config, [WEIGHTS_RECORD]: { bytes: weights.bytes, sha256: weights.sha256 } } : config;
  const sorted = sortedKeys(written);
  const text = new TextEncoder().encode(`${JSON.stringify(sorted, null, 2)}\n`);
  await writeFileAtomic(configPath, async (write) => write(text), `${where} ${configPath}`);
}

/** Whether a config is there and records no weights (an unreadable one counts as lacking: it is replaced). */
async function lacksRecord(configPath: string): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = await readCappedFile(configPath, MAX_CONFIG_BYTES, `saveAdapter ${configPath}`);
  } catch (error) {
    return (error as { code?: string }).code !== "ENOENT";
  }
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown> | null;
    return !(json !== null && typeof json === "object" && Object.hasOwn(json, WEIGHTS_RECORD));
  } catch {
    return true;
  }
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

/** Reads an adapter folder: its config (checked) and its tensors (F16 and BF16 widened to float32). */
export async function readAdapterFolder(
  dir: string,
): Promise<{ config: PeftConfig; tensors: Map<string, Tensor>; ignoredFields: string[] }> {
  const configPath = join(dir, CONFIG_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readCappedFile(configPath, MAX_CONFIG_BYTES, `loadAdapter ${configPath}`);
  } catch (error) {
    if (error instanceof TsgradError) throw error;
    return fail(`loadAdapter ${configPath}`, `cannot read it: ${(error as Error).message}`);
  }
  const { config, ignoredFields, weights } = configFromJson(parseConfigText(bytes, configPath), configPath);
  // a size that differs is refused before the weights are read (they may be large, or a sparse file)
  const size = await stat(weightsPath).then(
    (s) => s.size,
    () => null,
  );
  if (weights && size !== null && size !== weights.bytes) interrupted(dir, `${size} bytes`, weights);
  const file = await readSafetensorsFile(weightsPath);
  if (weights && (weights.bytes !== file.bytes || weights.sha256 !== file.sha256)) {
    interrupted(dir, `${file.bytes} bytes, sha256 ${file.sha256.slice(0, 12)}...`, weights);
  }
  return { config, tensors: uploadTensors(file, weightsPath), ignoredFields };
}

function interrupted(dir: string, found: string, weights: { bytes: number; sha256: string }): never {
  return fail(
    `loadAdapter ${dir}`,
    `${WEIGHTS_FILE} (${found}) is not the file ${CONFIG_FILE} was saved with ` +
      `(${weights.bytes} bytes, sha256 ${weights.sha256.slice(0, 12)}...): the save was interrupted or the files were mixed; save the adapter again`,
  );
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

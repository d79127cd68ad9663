/**
 * @file The adapter folder: `adapter_config.json` and `adapter_model.safetensors`, each written
 * atomically (a reader sees the old file or the new one, never half of one), and the comparison of a
 * file's tensors with the adapter they are loaded into, which names every mismatch.
 */

import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fail, noGrad, type Tensor, tidy } from "@tsgrad/core";
import { loadTensors, saveTensors, writeFileAtomic } from "@tsgrad/nn";
import { configFromJson, type PeftConfig } from "./config.ts";

export const CONFIG_FILE = "adapter_config.json";
export const WEIGHTS_FILE = "adapter_model.safetensors";

/** Writes one adapter's folder. */
export async function writeAdapterFolder(
  folder: string,
  config: Record<string, unknown>,
  tensors: ReadonlyMap<string, Tensor>,
): Promise<void> {
  await mkdir(folder, { recursive: true });
  // "pt": transformers and PEFT refuse a file without it, and our layouts are PyTorch's
  await saveTensors(new Map(tensors), join(folder, WEIGHTS_FILE), { metadata: { format: "pt" } });
  const text = new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`);
  await writeFileAtomic(join(folder, CONFIG_FILE), async (write) => write(text));
}

/** Reads an adapter folder: its config (checked) and its tensors (F16 and BF16 widened to float32). */
export async function readAdapterFolder(
  dir: string,
): Promise<{ config: PeftConfig; tensors: Map<string, Tensor>; ignoredFields: string[] }> {
  const configPath = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(configPath, "utf8");
  } catch (error) {
    return fail("loadAdapter", `cannot read ${configPath}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail("loadAdapter", `${configPath} is not JSON: ${(error as Error).message}`);
  }
  const { config, ignoredFields } = configFromJson(json, configPath);
  const tensors = await loadTensors(join(dir, WEIGHTS_FILE));
  return { config, tensors, ignoredFields };
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

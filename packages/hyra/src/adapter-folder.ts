/**
 * @file The adapter folder on disk: `adapter_config.json` and `adapter_model.safetensors`, each written
 * atomically (a reader sees the old file or the new one, never half of one). Node only (node.ts installs
 * it into save.ts).
 *
 * The two files are one save: the weights are written first, then the config, which records the weights'
 * length and SHA-256. A save killed between the two leaves new weights beside the old config, and the
 * load refuses that pair (it would load with the wrong config) instead of guessing.
 */

import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fail, type Tensor, TsgradError } from "@tsgrad/core";
import {
  checkSibling,
  fileRecord,
  readCappedFile,
  readSafetensorsFile,
  refuseLink,
  saveTensors,
  uploadTensors,
  writeFileAtomic,
} from "@tsgrad/nn/node";
import { configFromJson, type PeftConfig, sortedKeys, WEIGHTS_RECORD } from "./config.ts";
import { CONFIG_FILE, MAX_CONFIG_BYTES, parseConfigText, WEIGHTS_FILE, type WriteOptions } from "./save.ts";

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
  const written = record ? { ...config, [WEIGHTS_RECORD]: fileRecord(weights) } : config;
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
  const vouched = { where: `loadAdapter ${weightsPath}`, config: CONFIG_FILE, again: "save the adapter again" };
  if (weights && size !== null && size !== weights.bytes) checkSibling({ bytes: size, sha256: "" }, weights, vouched);
  const file = await readSafetensorsFile(weightsPath);
  if (weights) checkSibling(file, weights, vouched);
  return { config, tensors: uploadTensors(file, weightsPath), ignoredFields };
}

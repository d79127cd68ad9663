/**
 * @file The adapter folder on disk: `adapter_config.json` and `adapter_model.safetensors`, each written
 * atomically (a reader sees the old file or the new one, never half of one). Node only (node.ts installs
 * it into save.ts).
 *
 * The two files are one save, made as @tsgrad/safetensors's vouched-folder.ts makes a folder: the
 * weights are staged beside their name, the config that records their length and SHA-256 replaces the
 * old one (the commit), and the weights move into place. A save killed at any moment leaves the previous
 * adapter or the new one; the reader takes the weights from where the config's record finds them. An
 * export for PEFT (no record) writes the weights, then the config, after removing a config that would
 * otherwise vouch for nothing.
 */

import { lstat, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fail, type Tensor, TsgradError } from "@tsgrad/core";
import {
  checkFileRecord,
  checkSibling,
  fileRecord,
  readCappedFile,
  readSafetensorsFile,
  refuseLink,
  saveTensors,
  saveVouchedFolder,
  uploadTensors,
  vouchedPath,
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
  const configBytes = (value: Record<string, unknown>) => new TextEncoder().encode(`${JSON.stringify(sortedKeys(value), null, 2)}\n`);
  // "pt": transformers and PEFT refuse a file without it, and our layouts are PyTorch's
  const writeWeights = (path: string) => saveTensors(new Map(tensors), path, { metadata: { format: "pt" } });
  if (record) {
    await saveVouchedFolder(
      folder,
      [{ name: WEIGHTS_FILE, write: writeWeights }],
      CONFIG_FILE,
      (records) => configBytes({ ...config, [WEIGHTS_RECORD]: fileRecord(records[WEIGHTS_FILE]) }),
      where,
      (bytes) => {
        const saved = (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown> | null)?.[WEIGHTS_RECORD];
        return saved === undefined ? null : { [WEIGHTS_FILE]: checkFileRecord(saved, where, WEIGHTS_RECORD) };
      },
    );
    return;
  }
  // an old config that does not vouch for its weights (PEFT's, or an export) would load with the new
  // weights if this save were killed between the two files: it goes first
  if (await lacksRecord(configPath)) await rm(configPath, { force: true });
  await writeWeights(join(folder, WEIGHTS_FILE));
  await writeFileAtomic(configPath, async (write) => write(configBytes(config)), `${where} ${configPath}`);
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
  const vouched = { where: `loadAdapter ${weightsPath}`, config: CONFIG_FILE, again: "save the adapter again" };
  // a link is refused before anything follows it (its target's size would say something of the target)
  await refuseLink(weightsPath, vouched.where);
  const path = await vouchedPath(dir, WEIGHTS_FILE, weights ?? null, vouched.where);
  // a size that differs is refused before the weights are read (they may be large, or a sparse file)
  const size = await lstat(path).then(
    (s) => s.size,
    () => null,
  );
  if (weights && size !== null && size !== weights.bytes) checkSibling({ bytes: size, sha256: "" }, weights, vouched);
  const file = await readSafetensorsFile(path);
  if (weights) checkSibling(file, weights, vouched);
  return { config, tensors: uploadTensors(file, weightsPath), ignoredFields };
}

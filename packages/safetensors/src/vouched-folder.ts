/**
 * @file A folder saved as one (Node): files that a config vouches for by their length and SHA-256 (a
 * model's weights and tokenizer, an adapter's weights), and the config. A save killed at any moment
 * leaves a folder that reads as the previous save or as the new one, never neither and never a mixture:
 *
 * 1. each vouched-for file is written, atomically, beside its name as `<name>.staged`;
 * 2. the config is replaced, atomically: this is the save's one moment of commit;
 * 3. each staged file is renamed over its name.
 *
 * Before 2 the old config vouches for the old files, still in place; from 2 the new config vouches for
 * the new files, staged or moved. A reader takes each file from `vouchedPath`: its staged twin when
 * that is the file the config records, else its name. The config itself is the only file read without
 * a record, so a reader that finds none (a first save killed before its commit) says so. A save first
 * finishes one killed between its commit and its moves (moving the staged files the config vouches for
 * into place), so that staging its own files never overwrites the only copy of the last save's.
 */

import { lstat, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { readCappedFile, writeFileAtomic } from "./files.ts";
import { sha256Hex } from "./json-files.ts";
import type { WrittenFile } from "./written-file.ts";

/** What a staged file's name adds to its name. */
export const STAGED_SUFFIX = ".staged";

export interface VouchedFile {
  name: string;
  /** Writes the file at `path` (atomically, as saveTensors and writeFileAtomic do); resolves to its record. */
  write(path: string): Promise<WrittenFile>;
}

/**
 * Saves `files` and then the config that vouches for them into `dir` (which must exist), in the order
 * above. `config(records)` is the config's bytes, given each file's record by name; `recordsIn(bytes)`
 * reads the records of the config there now (null when it has none or is not one of ours).
 */
export async function saveVouchedFolder(
  dir: string,
  files: readonly VouchedFile[],
  configName: string,
  config: (records: Readonly<Record<string, WrittenFile>>) => Uint8Array,
  where: string,
  recordsIn: (bytes: Uint8Array) => Readonly<Record<string, WrittenFile>> | null,
): Promise<void> {
  await finishKilledSave(dir, files, configName, recordsIn, where);
  const records: Record<string, WrittenFile> = {};
  for (const file of files) records[file.name] = await file.write(join(dir, `${file.name}${STAGED_SUFFIX}`));
  const configPath = join(dir, configName);
  await writeFileAtomic(configPath, (write) => write(config(records)), `${where} ${configPath}`);
  for (const file of files) await rename(join(dir, `${file.name}${STAGED_SUFFIX}`), join(dir, file.name));
}

/** Moves into place the staged files that the config there now vouches for (a save killed after its commit). */
async function finishKilledSave(
  dir: string,
  files: readonly VouchedFile[],
  configName: string,
  recordsIn: (bytes: Uint8Array) => Readonly<Record<string, WrittenFile>> | null,
  where: string,
): Promise<void> {
  const configPath = join(dir, configName);
  // a config that is missing, a link, too large or not ours vouches for nothing: there is nothing to finish
  const isFile = await lstat(configPath).then(
    (s) => s.isFile() && s.size <= 1 << 20,
    () => false,
  );
  if (!isFile) return;
  let records: Readonly<Record<string, WrittenFile>> | null = null;
  try {
    records = recordsIn(new Uint8Array(await readFile(configPath)));
  } catch {
    return;
  }
  if (records === null) return;
  for (const file of files) {
    const saved = records[file.name];
    if (saved === undefined) continue;
    const path = await vouchedPath(dir, file.name, saved, where);
    if (path.endsWith(STAGED_SUFFIX)) await rename(path, join(dir, file.name));
  }
}

/**
 * Where to read the vouched-for file `name` of `dir` from: its staged twin when a save was killed
 * between its commit and its last rename and the twin is the file `saved` records (read whole, to hash
 * it: only after such a kill), else `name` itself. With no record (a config from elsewhere), `name`.
 */
export async function vouchedPath(dir: string, name: string, saved: WrittenFile | null, where: string): Promise<string> {
  const named = join(dir, name);
  if (saved === null) return named;
  const staged = `${named}${STAGED_SUFFIX}`;
  const found = await lstat(staged).then(
    (s) => (s.isFile() ? s.size : null),
    () => null,
  );
  if (found !== saved.bytes) return named;
  const bytes = await readCappedFile(staged, saved.bytes, where);
  return (await sha256Hex(bytes)) === saved.sha256 ? staged : named;
}

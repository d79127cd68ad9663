/**
 * @file Finished runs, one JSON file each under a key of the run's full configuration, written atomically:
 * Ctrl-C or a crash loses at most the run in progress, and a rerun skips every run whose file exists.
 * Reports written beside the runs go through writeTextFiles, atomically too.
 */

import { createHash } from "node:crypto";
import { lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fail } from "@tsgrad/core";
import { readJsonFile, writeJsonFile } from "@tsgrad/models/node";
import { writeFileAtomic } from "@tsgrad/safetensors/node";

/** Writes each text of `files` (name to contents) atomically into `dir`; returns the paths, in order. */
export async function writeTextFiles(dir: string, files: Readonly<Record<string, string>>, where: string): Promise<string[]> {
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFileAtomic(path, (w) => w(new TextEncoder().encode(text)), `${where} ${path}`);
    written.push(path);
  }
  return written;
}

/** A run file is small (a config and a few metrics); anything larger is not one of ours. */
const MAX_RUN_BYTES = 1 << 20;

/** JSON with object keys sorted at every depth, so equal configurations give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The first 16 hex digits of the SHA-256 of the configuration's canonical JSON. */
export function runKey(config: object): string {
  return createHash("sha256").update(canonicalJson(config)).digest("hex").slice(0, 16);
}

export interface StoredRun<C, R> {
  key: string;
  config: C;
  result: R;
}

export class RunStore<C extends object, R> {
  constructor(readonly dir: string) {}

  #path(key: string): string {
    return join(this.dir, "runs", `${key}.json`);
  }

  /** The stored result of this exact configuration, or undefined. */
  async get(config: C): Promise<R | undefined> {
    const path = this.#path(runKey(config));
    const exists = await lstat(path).then(
      () => true,
      (error: { code?: string }) => (error.code === "ENOENT" ? false : Promise.reject(error)),
    );
    if (!exists) return undefined;
    const stored = await read<C, R>(path);
    // a key is a hash prefix: equal keys with different configs would be a collision, never a hit
    if (canonicalJson(stored.config) !== canonicalJson(config)) fail("RunStore", `${path} holds another configuration`);
    return stored.result;
  }

  async put(config: C, result: R): Promise<void> {
    const key = runKey(config);
    await mkdir(join(this.dir, "runs"), { recursive: true });
    await writeJsonFile(this.#path(key), { key, config, result }, "RunStore");
  }

  /** Every stored run, in key order. */
  async all(): Promise<StoredRun<C, R>[]> {
    let names: string[];
    try {
      names = (await readdir(join(this.dir, "runs"))).filter((n) => /^[0-9a-f]{16}\.json$/.test(n)).sort();
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return [];
      throw error;
    }
    const out: StoredRun<C, R>[] = [];
    for (const name of names) out.push(await read<C, R>(join(this.dir, "runs", name)));
    return out;
  }
}

async function read<C, R>(path: string): Promise<StoredRun<C, R>> {
  return (await readJsonFile(path, MAX_RUN_BYTES, `RunStore ${path}`)).value as StoredRun<C, R>;
}

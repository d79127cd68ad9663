/**
 * @file Finished runs, one JSON file each under a key of the run's full configuration, written atomically:
 * Ctrl-C or a crash loses at most the run in progress, and a rerun skips every run whose file exists.
 */

import { createHash } from "node:crypto";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fail } from "@tsgrad/core";
import { readCappedFile, writeFileAtomic } from "@tsgrad/safetensors";

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
    const key = runKey(config);
    let bytes: Uint8Array;
    try {
      bytes = await readCappedFile(this.#path(key), MAX_RUN_BYTES, "RunStore");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    }
    const stored = parse<StoredRun<C, R>>(bytes, this.#path(key));
    // a key is a hash prefix: equal keys with different configs would be a collision, never a hit
    if (canonicalJson(stored.config) !== canonicalJson(config)) fail("RunStore", `${this.#path(key)} holds another configuration`);
    return stored.result;
  }

  async put(config: C, result: R): Promise<void> {
    const key = runKey(config);
    const text = `${JSON.stringify({ key, config, result }, null, 2)}\n`;
    await mkdir(join(this.dir, "runs"), { recursive: true });
    await writeFileAtomic(this.#path(key), (write) => write(new TextEncoder().encode(text)), "RunStore");
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
    for (const name of names) {
      const path = join(this.dir, "runs", name);
      out.push(parse<StoredRun<C, R>>(await readCappedFile(path, MAX_RUN_BYTES, "RunStore"), path));
    }
    return out;
  }
}

function parse<T>(bytes: Uint8Array, path: string): T {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as T;
  } catch (error) {
    return fail("RunStore", `${path} is not a run file (${(error as Error).message})`);
  }
}

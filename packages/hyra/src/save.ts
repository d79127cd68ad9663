/**
 * @file The adapter folder's names and the part of reading one that needs no file system: a config's
 * text parsed with positions in its errors. The folder itself is read and written by adapter-folder.ts,
 * which needs Node: @tsgrad/hyra/node installs it here, so that @tsgrad/hyra loads in a browser and its
 * PeftModel's saveAdapter and loadAdapter work wherever that is imported.
 */

import { fail, type Tensor } from "@tsgrad/core";
import { parseJsonText } from "@tsgrad/nn";
import type { PeftConfig } from "./config.ts";

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
  return parseJsonText(bytes, `loadAdapter ${file}`, { maxDepth: MAX_CONFIG_DEPTH, what: "an adapter config" });
}

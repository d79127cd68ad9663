/**
 * @file Checkpoints on disk: modules, named tensors and optimiser state saved as safetensors files with an
 * atomic write (files.ts), so an interrupted save leaves the previous checkpoint whole; and loads that
 * validate the whole file before anything reaches a module.
 *
 * Tensors are read back with `await t.data()` one at a time while the file is written, so a save holds one
 * tensor's bytes at a time on the host, and works on backends that cannot read synchronously.
 */

import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { type DType, Tensor, tensor, zeros } from "@tsgrad/core";
import type { LoadResult, Module } from "../module.ts";
import { openRegularFile, type WrittenFile, writeFileAtomic } from "./files.ts";
import {
  decodeTensor,
  encodeValues,
  naturalDType,
  parseHeader,
  planSafetensors,
  readHeaderLength,
  type Safetensors,
  SafetensorsError,
  type SafetensorsTensor,
  writableDType,
} from "./format.ts";

/** Node's file-system errors become SafetensorsError("IO") naming the file; the library's own pass through. */
function ioError(error: unknown, file: string, doing: string): unknown {
  if (error instanceof SafetensorsError || !(error instanceof Error) || !("code" in error) || !("syscall" in error)) return error;
  return new SafetensorsError("IO", `safetensors ${file}`, `could not ${doing}: ${error.message}`, { cause: error });
}

/** A file refused by files.ts's policy (a link, a FIFO, a directory) is an IO error of the reader. */
function ioRefusal(file: string): (message: string) => never {
  return (message) => {
    throw new SafetensorsError("IO", `safetensors ${file}`, message);
  };
}

// ---- named tensors ----------------------------------------------------------------------------------------

export interface SaveOptions {
  /** String→string pairs stored in `__metadata__`. */
  metadata?: Record<string, string>;
}

function entriesOf(tensors: Map<string, Tensor> | Record<string, Tensor>, file: string): [string, Tensor][] {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (!(t instanceof Tensor))
      throw new SafetensorsError("INVALID_ARGUMENT", `safetensors ${file}`, `the value of ${JSON.stringify(name)} is not a Tensor`);
    if (t.isDisposed)
      throw new SafetensorsError("INVALID_ARGUMENT", `safetensors ${file}`, `the tensor ${JSON.stringify(name)} was disposed`);
  }
  return entries;
}

/**
 * Saves named tensors (a state dict, optimiser moments, anything) as one safetensors file, atomically.
 * Everything that can be refused is checked before the temporary file is created.
 */
export async function saveTensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  path: string,
  options: SaveOptions = {},
): Promise<WrittenFile> {
  const entries = entriesOf(tensors, path);
  const byName = new Map(entries);
  const plan = planSafetensors(
    entries.map(([name, t]) => [name, { dtype: writableDType(t.dtype), shape: t.shape }]),
    options.metadata ?? null,
    path,
  );
  try {
    return await writeFileAtomic(
      path,
      async (write) => {
        await write(plan.header);
        for (const { name, dtype } of plan.order) {
          const values = await (byName.get(name) as Tensor).data();
          await write(encodeValues(values, dtype));
        }
      },
      `safetensors ${path}`,
      ioRefusal(path),
    );
  } catch (error) {
    throw ioError(error, path, "save");
  }
}

async function readExactly(handle: FileHandle, position: number, length: number, file: string, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        "INCOMPLETE_BUFFER",
        `safetensors ${file}`,
        `the file ended after ${position + done} bytes while reading ${what}`,
      );
    }
    done += bytesRead;
  }
  return out;
}

/** A file as read: its tensors, and its length and SHA-256 (every byte of it, in order). */
export interface SafetensorsFile extends Safetensors, WrittenFile {}

/**
 * Reads and validates a whole safetensors file: the header first, checked against the file's size, then
 * each tensor's bytes; nothing is allocated from a size before it has been checked against the file.
 * The header's byte ranges are contiguous and cover the data exactly (parseHeader checks), so reading
 * them in offset order hashes the whole file.
 */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await openRegularFile(path, `safetensors ${path}`, ioRefusal(path));
    const { size } = await handle.stat();
    const first = await readExactly(handle, 0, Math.min(8, size), path, "the header length");
    const n = readHeaderLength(first, size, path);
    const headerBytes = await readExactly(handle, 8, n, path, "the header");
    const header = parseHeader(headerBytes, size - 8 - n, path);
    const hash = createHash("sha256").update(first).update(headerBytes);
    const read = new Map<string, SafetensorsTensor>();
    const byOffset = [...header.tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
    for (const [name, info] of byOffset) {
      const [begin, end] = info.dataOffsets;
      const data = await readExactly(handle, 8 + n + begin, end - begin, path, `tensor ${JSON.stringify(name)}`);
      hash.update(data);
      read.set(name, { ...info, data });
    }
    // the header's order, as before
    const tensors = new Map([...header.tensors.keys()].map((name) => [name, read.get(name) as SafetensorsTensor]));
    return { metadata: header.metadata, tensors, bytes: size, sha256: hash.digest("hex") };
  } catch (error) {
    throw ioError(error, path, "read");
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function upload(entry: SafetensorsTensor, dtype: DType, name: string, file: string, like?: Tensor): Tensor {
  const values = decodeTensor(entry, dtype, { name, file });
  return tensor(values, entry.shape, like ? { dtype, backend: like.backend } : { dtype });
}

/** Loads every tensor of a file, each in its natural dtype (F16 and BF16 as float32, integers as int32) or in `dtype`. */
export async function loadTensors(path: string, options: { dtype?: DType } = {}): Promise<Map<string, Tensor>> {
  return uploadTensors(await readSafetensorsFile(path), path, options);
}

/** The tensors of a file already read (readSafetensorsFile), uploaded as loadTensors does. */
export function uploadTensors(file: Safetensors, path: string, options: { dtype?: DType } = {}): Map<string, Tensor> {
  if (file === null || typeof file !== "object" || !(file.tensors instanceof Map)) {
    throw new SafetensorsError("INVALID_ARGUMENT", `safetensors ${path}`, "uploadTensors takes what readSafetensorsFile returned");
  }
  const out = new Map<string, Tensor>();
  try {
    for (const [name, entry] of file.tensors) out.set(name, upload(entry, options.dtype ?? naturalDType(entry.dtype), name, path));
  } catch (error) {
    for (const t of out.values()) t.dispose();
    throw error;
  }
  return out;
}

// ---- modules ------------------------------------------------------------------------------------------

/**
 * Saves a module's state dict (parameters and persistent buffers by dotted path). The metadata gets
 * `format: "pt"` unless it says otherwise: transformers and PEFT refuse a file without it, and the layouts
 * here (Linear's [out, in] weight) are PyTorch's.
 */
export async function save(module: Module, path: string, options: SaveOptions = {}): Promise<void> {
  await saveTensors(module.stateDict(), path, { metadata: { format: "pt", ...options.metadata } });
}

/**
 * Loads a file saved by `save` (or by PyTorch's safetensors) into a module, converting each tensor to the
 * dtype of the parameter or buffer it lands in. Missing and unexpected keys and shape mismatches are those
 * of `module.loadStateDict` (with `strict`, the default, any of them throws). The file is read, validated
 * and converted in full before the module is touched, so a corrupt file leaves the module as it was.
 */
export async function load(module: Module, path: string, options: { strict?: boolean } = {}): Promise<LoadResult> {
  const file = await readSafetensorsFile(path);
  const own = module.stateDict();
  const source = new Map<string, Tensor>();
  // loadStateDict reads only the names of unexpected keys, so one empty stand-in serves them all
  const standIn = zeros([0]);
  try {
    for (const [name, entry] of file.tensors) {
      const target = own.get(name);
      if (!target) {
        source.set(name, standIn);
        continue;
      }
      const sameShape = target.rank === entry.shape.length && target.shape.every((d, i) => d === entry.shape[i]);
      // a mismatched tensor is only reported, so it keeps its own dtype and cannot fail a conversion
      source.set(name, upload(entry, sameShape ? target.dtype : naturalDType(entry.dtype), name, path, target));
    }
    return module.loadStateDict(source, options);
  } finally {
    for (const t of source.values()) t.dispose();
    standIn.dispose();
  }
}

// ---- optimiser state --------------------------------------------------------------------------------------

/** What `Optimizer.stateDict()` returns: per-parameter state by index, and the groups' hyper-parameters. */
export interface OptimizerStateLike {
  state: Record<number, Record<string, Tensor | number>>;
  paramGroups: object[];
}

/** Anything with PyTorch-style state dicts: the optimisers of this package. */
export interface StatefulOptimizer {
  stateDict(): OptimizerStateLike;
  loadStateDict(dict: OptimizerStateLike): void;
}

/** The metadata key that holds an optimiser's groups and host numbers (step counts) as JSON. */
const OPTIMIZER_KEY = "tsgrad.optimizer";

/**
 * Saves an optimiser state dict beside a model checkpoint: each state tensor as `state.<index>.<name>`,
 * and the hyper-parameters and plain numbers as JSON in the metadata.
 */
export async function saveOptimizerState(dict: OptimizerStateLike, path: string, options: SaveOptions = {}): Promise<void> {
  const tensors = new Map<string, Tensor>();
  const numbers: Record<string, Record<string, number>> = {};
  for (const [index, state] of Object.entries(dict.state)) {
    for (const [name, value] of Object.entries(state)) {
      if (value instanceof Tensor) {
        tensors.set(`state.${index}.${name}`, value);
      } else if (typeof value === "number" && Number.isFinite(value)) {
        numbers[index] ??= {};
        numbers[index][name] = value;
      } else {
        // JSON would turn NaN and ±Infinity into null without a word
        throw new SafetensorsError(
          "INVALID_ARGUMENT",
          `safetensors ${path}`,
          `optimiser state ${index}.${name} is ${String(value)}; expected a Tensor or a finite number`,
        );
      }
    }
  }
  const groups = JSON.stringify({ paramGroups: dict.paramGroups, numbers });
  await saveTensors(tensors, path, { metadata: { ...options.metadata, [OPTIMIZER_KEY]: groups } });
}

/** Reads a file written by saveOptimizerState back into a state dict (fresh tensors: dispose them once loaded). */
export async function loadOptimizerState(path: string): Promise<OptimizerStateLike> {
  const where = `safetensors ${path}`;
  const raw = await readSafetensorsFile(path);
  const text = raw.metadata?.[OPTIMIZER_KEY];
  if (text === undefined)
    throw new SafetensorsError("INVALID_HEADER", where, `no "${OPTIMIZER_KEY}" metadata: not a file written by saveOptimizerState`);
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch {
    throw new SafetensorsError("INVALID_HEADER", where, `the "${OPTIMIZER_KEY}" metadata is not JSON`);
  }
  const { paramGroups, numbers } = (saved ?? {}) as { paramGroups?: unknown; numbers?: unknown };
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!Array.isArray(paramGroups) || !paramGroups.every(isRecord) || !isRecord(numbers)) {
    throw new SafetensorsError("INVALID_HEADER", where, `the "${OPTIMIZER_KEY}" metadata must hold { paramGroups: [...], numbers: {...} }`);
  }
  const state: Record<number, Record<string, Tensor | number>> = {};
  const slot = (index: string) => {
    if (!/^(0|[1-9][0-9]*)$/.test(index))
      throw new SafetensorsError("INVALID_HEADER", where, `optimiser state index ${JSON.stringify(index)} is not a parameter index`);
    state[Number(index)] ??= {};
    return state[Number(index)];
  };
  for (const [index, values] of Object.entries(numbers)) {
    if (!isRecord(values)) throw new SafetensorsError("INVALID_HEADER", where, `optimiser numbers of ${index} must be an object`);
    for (const [name, v] of Object.entries(values)) {
      if (typeof v !== "number")
        throw new SafetensorsError("INVALID_HEADER", where, `optimiser state ${index}.${name} must be a number, found ${typeof v}`);
      slot(index)[name] = v;
    }
  }
  const made: Tensor[] = [];
  try {
    for (const [key, entry] of raw.tensors) {
      const m = /^state\.([^.]+)\.(.+)$/.exec(key);
      if (!m) throw new SafetensorsError("INVALID_HEADER", where, `tensor ${JSON.stringify(key)} is not named state.<index>.<name>`);
      const t = upload(entry, naturalDType(entry.dtype), key, path);
      made.push(t);
      slot(m[1])[m[2]] = t;
    }
  } catch (error) {
    for (const t of made) t.dispose();
    throw error;
  }
  return { state, paramGroups };
}

/** Saves an optimiser's state (its stateDict() clones are freed once written). */
export async function saveOptimizer(optimizer: StatefulOptimizer, path: string, options: SaveOptions = {}): Promise<void> {
  const dict = optimizer.stateDict();
  try {
    await saveOptimizerState(dict, path, options);
  } finally {
    for (const s of Object.values(dict.state)) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
  }
}

/** Restores an optimiser from a file written by saveOptimizer; the optimiser checks the state before taking it. */
export async function loadOptimizer(optimizer: StatefulOptimizer, path: string): Promise<void> {
  const dict = await loadOptimizerState(path);
  try {
    optimizer.loadStateDict(dict);
  } finally {
    for (const s of Object.values(dict.state)) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
  }
}

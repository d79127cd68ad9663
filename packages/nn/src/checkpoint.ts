/**
 * @file Checkpoints of modules and optimisers: a module's state dict, or an optimiser's state, as one
 * safetensors file, through @tsgrad/safetensors's named-tensor files (atomic saves, files validated whole);
 * loads convert and check everything before anything reaches the module or optimiser.
 */

import { checkOptions, type DType, Tensor, tensor, zeros } from "@tsgrad/core";
import {
  decodeTensor,
  naturalDType,
  readSafetensorsFile,
  SafetensorsError,
  type SafetensorsTensor,
  type SaveOptions,
  saveTensors,
} from "@tsgrad/safetensors/node";
import type { LoadResult, Module } from "./module.ts";

function upload(entry: SafetensorsTensor, dtype: DType, name: string, file: string, like?: Tensor): Tensor {
  const values = decodeTensor(entry, dtype, { name, file });
  return tensor(values, entry.shape, like ? { dtype, backend: like.backend } : { dtype });
}

// ---- modules ------------------------------------------------------------------------------------------

/**
 * Saves a module's state dict (parameters and persistent buffers by dotted path). The metadata gets
 * `format: "pt"` unless it says otherwise: transformers and PEFT refuse a file without it, and the layouts
 * here (Linear's [out, in] weight) are PyTorch's.
 */
export async function save(module: Module, path: string, options: SaveOptions = {}): Promise<void> {
  checkOptions("save", options, ["metadata"]);
  await saveTensors(module.stateDict(), path, { metadata: { format: "pt", ...options.metadata } });
}

/**
 * Loads a file saved by `save` (or by PyTorch's safetensors) into a module, converting each tensor to the
 * dtype of the parameter or buffer it lands in. Missing and unexpected keys and shape mismatches are those
 * of `module.loadStateDict` (with `strict`, the default, any of them throws). The file is read, validated
 * and converted in full before the module is touched, so a corrupt file leaves the module as it was.
 */
export async function load(module: Module, path: string, options: { strict?: boolean } = {}): Promise<LoadResult> {
  checkOptions("load", options, ["strict"]);
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
  checkOptions("saveOptimizerState", options, ["metadata"]);
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
  checkOptions("saveOptimizer", options, ["metadata"]);
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

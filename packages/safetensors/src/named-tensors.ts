/**
 * @file Named tensors as safetensors bytes, with no file system: a map of tensors serialized (byte for
 * byte what the reference writes) and the tensors of a parsed file uploaded. The files of named tensors
 * (atomic saves, files validated whole while read) are named-tensor-files.ts, in the Node entry.
 */

import { type DType, Tensor, tensor } from "@tsgrad/core";
import { decodeTensor, type Safetensors, type SafetensorsTensor } from "./decode.ts";
import { naturalDType, writableDType } from "./dtypes.ts";
import { encodeValues, planSafetensors } from "./encode.ts";
import { SafetensorsError } from "./errors.ts";

export interface SaveOptions {
  /** String→string pairs stored in `__metadata__`. */
  metadata?: Record<string, string>;
}

function entriesOf(tensors: Map<string, Tensor> | Record<string, Tensor>, file: string): [string, Tensor][] {
  if (tensors === null || typeof tensors !== "object" || Array.isArray(tensors) || tensors instanceof Tensor) {
    throw new SafetensorsError("INVALID_ARGUMENT", `safetensors ${file}`, "the tensors must be a Map or an object of name -> Tensor");
  }
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
 * The safetensors file of named tensors, planned (everything that can be refused is checked here, before
 * a byte is written): its header, and its tensors' bytes in file order, each read with `await t.data()`
 * only when reached, so that a writer holds one tensor's bytes at a time, on every backend.
 */
export function planTensorFile(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  options: SaveOptions,
  name: string,
): { header: Uint8Array; data(): AsyncGenerator<Uint8Array> } {
  const entries = entriesOf(tensors, name);
  if (options === null || typeof options !== "object") {
    throw new SafetensorsError("INVALID_ARGUMENT", `safetensors ${name}`, "the options must be an object, such as { metadata }");
  }
  const byName = new Map(entries);
  const plan = planSafetensors(
    entries.map(([key, t]) => [key, { dtype: writableDType(t.dtype), shape: t.shape }]),
    options.metadata ?? null,
    name,
  );
  return {
    header: plan.header,
    async *data() {
      for (const { name: key, dtype } of plan.order) yield encodeValues(await (byName.get(key) as Tensor).data(), dtype);
    },
  };
}

/** Named tensors as the bytes of one safetensors file (what saveTensors writes), for a browser's download or any other store. */
export async function serializeTensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  options: SaveOptions = {},
): Promise<Uint8Array> {
  const file = planTensorFile(tensors, options, "(in memory)");
  const parts = [file.header];
  for await (const part of file.data()) parts.push(part);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function upload(entry: SafetensorsTensor, dtype: DType, name: string, file: string): Tensor {
  return tensor(decodeTensor(entry, dtype, { name, file }), entry.shape, { dtype });
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

/**
 * @file Writing: the layout of a file (header bytes and each tensor's byte range) planned from names,
 * dtypes and shapes alone, so a writer can stream the data afterwards, and byte-identical to the reference
 * Rust writer's output; and typed arrays as the little-endian bytes of their file dtype.
 */

import type { TypedArray } from "@tsgrad/core";
import { elementCount, LITTLE_ENDIAN, REFERENCE_ORDER, type WritableDType } from "./dtypes.ts";
import { argument, refuse } from "./errors.ts";
import { MAX_HEADER_BYTES } from "./header.ts";

export interface SafetensorsTensorSpec {
  dtype: WritableDType;
  shape: readonly number[];
}

export interface SafetensorsPlannedTensor extends SafetensorsTensorSpec {
  name: string;
  /** Byte range within the data part. */
  begin: number;
  end: number;
}

export interface SafetensorsPlan {
  /** The 8-byte length and the padded JSON: the first bytes of the file. */
  header: Uint8Array;
  /** The tensors in the order their data follow the header. */
  order: SafetensorsPlannedTensor[];
  /** The length of the whole file. */
  byteLength: number;
}

const WRITABLE_SIZES: Record<WritableDType, number> = { F64: 8, F32: 4, I32: 4, BOOL: 1 };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(text: unknown, what: string, file: string | undefined): string {
  if (typeof text !== "string") refuse("INVALID_ARGUMENT", file, `${what} must be a string, got ${typeof text}`);
  // UTF-8 cannot encode a lone surrogate: the header would not be valid UTF-8
  if (LONE_SURROGATE.test(text))
    refuse("INVALID_ARGUMENT", file, `${what} ${JSON.stringify(text)} contains a lone surrogate, which UTF-8 cannot encode`);
  return text;
}

/** Orders strings by code point, which is UTF-8 byte order (Rust's), not UTF-16 code-unit order (JS's). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * Lays out a file the way the reference writer does: tensors sorted by dtype rank descending and then by
 * name, `__metadata__` first, the JSON padded with spaces to a multiple of 8 so the data are 8-byte aligned.
 * The reference keeps metadata in a hash map and writes its keys in no fixed order; here they are sorted,
 * so a file is a function of its contents.
 */
export function planSafetensors(
  tensors: Iterable<[string, SafetensorsTensorSpec]>,
  metadata: Record<string, string> | null = null,
  file?: string,
): SafetensorsPlan {
  argument(
    tensors !== null && typeof (tensors as Iterable<unknown>)?.[Symbol.iterator] === "function",
    file,
    "planSafetensors takes [name, { dtype, shape }] pairs",
  );
  const specs: [string, SafetensorsTensorSpec][] = [];
  const seen = new Set<string>();
  for (const entry of tensors) {
    argument(Array.isArray(entry) && entry.length === 2, file, "planSafetensors takes [name, { dtype, shape }] pairs");
    const [name, spec] = entry;
    checkText(name, "a tensor name", file);
    if (name === "__metadata__") refuse("INVALID_ARGUMENT", file, `"__metadata__" is reserved for metadata and cannot name a tensor`);
    if (seen.has(name)) refuse("INVALID_ARGUMENT", file, `the tensor name ${JSON.stringify(name)} is given twice`);
    seen.add(name);
    if (!spec || !Object.hasOwn(WRITABLE_SIZES, spec.dtype)) {
      refuse(
        "INVALID_ARGUMENT",
        file,
        `tensor ${JSON.stringify(name)}: cannot write dtype ${JSON.stringify(spec?.dtype)}; the writer writes F64, F32, I32 and BOOL`,
      );
    }
    if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      refuse(
        "INVALID_ARGUMENT",
        file,
        `tensor ${JSON.stringify(name)}: shape must be an array of non-negative integers, got ${JSON.stringify(spec.shape)}`,
      );
    }
    specs.push([name, spec]);
  }
  const rank = (dtype: WritableDType) => REFERENCE_ORDER.indexOf(dtype);
  specs.sort(([an, a], [bn, b]) => rank(b.dtype) - rank(a.dtype) || compareCodePoints(an, bn));

  const parts: string[] = [];
  if (metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata)) refuse("INVALID_ARGUMENT", file, "metadata must be an object of strings");
    const keys = Object.keys(metadata).sort(compareCodePoints);
    const fields = keys.map(
      (k) =>
        `${JSON.stringify(checkText(k, "a metadata key", file))}:${JSON.stringify(checkText(metadata[k], `metadata ${JSON.stringify(k)}`, file))}`,
    );
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  const order: SafetensorsPlannedTensor[] = [];
  let offset = 0;
  for (const [name, { dtype, shape }] of specs) {
    const bytes = elementCount(shape, `tensor ${JSON.stringify(name)}`, file) * WRITABLE_SIZES[dtype];
    order.push({ name, dtype, shape: [...shape], begin: offset, end: offset + bytes });
    parts.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(",")}],"data_offsets":[${offset},${offset + bytes}]}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES)
    refuse("INVALID_ARGUMENT", file, `the header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte cap readers enforce`);
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setUint32(0, padded, true); // the high half of the u64 stays 0
  header.set(json, 8);
  return { header, order, byteLength: header.length + offset };
}

/** A tensor's values as the little-endian bytes of its file dtype (a view, not a copy, where possible). */
export function encodeValues(values: TypedArray, dtype: WritableDType): Uint8Array {
  argument(
    ArrayBuffer.isView(values) && typeof dtype === "string" && Object.hasOwn(WRITABLE_SIZES, dtype),
    undefined,
    `encodeValues takes a typed array and one of ${Object.keys(WRITABLE_SIZES).join(", ")}`,
  );
  const size = WRITABLE_SIZES[dtype];
  const matches =
    (dtype === "F64" && values instanceof Float64Array) ||
    (dtype === "F32" && values instanceof Float32Array) ||
    (dtype === "I32" && values instanceof Int32Array) ||
    (dtype === "BOOL" && values instanceof Uint8Array);
  if (!matches) refuse("INVALID_ARGUMENT", undefined, `encodeValues: a ${values.constructor.name} cannot be written as ${dtype}`);
  if (dtype === "BOOL") {
    const bad = (values as Uint8Array).findIndex((b) => b > 1);
    if (bad >= 0) refuse("INVALID_ARGUMENT", undefined, `encodeValues: bool element ${bad} is ${values[bad]}, not 0 or 1`);
  }
  if (LITTLE_ENDIAN || size === 1) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === "F64") view.setFloat64(i * size, values[i], true);
    else if (dtype === "F32") view.setFloat32(i * size, values[i], true);
    else view.setInt32(i * size, values[i], true);
  }
  return out;
}

/** A whole file in memory, from tensors whose data are already bytes. */
export function serializeSafetensors(
  tensors: Map<string, SafetensorsTensorSpec & { data: Uint8Array }> | Record<string, SafetensorsTensorSpec & { data: Uint8Array }>,
  metadata: Record<string, string> | null = null,
): Uint8Array {
  argument(
    tensors !== null && typeof tensors === "object",
    undefined,
    "serializeSafetensors takes a Map or an object of { dtype, shape, data }",
  );
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const plan = planSafetensors(map, metadata);
  const out = new Uint8Array(plan.byteLength);
  out.set(plan.header, 0);
  for (const t of plan.order) {
    const { data } = map.get(t.name) as { data: Uint8Array };
    if (!(data instanceof Uint8Array) || data.length !== t.end - t.begin) {
      refuse(
        "INVALID_ARGUMENT",
        undefined,
        `tensor ${JSON.stringify(t.name)}: ${t.dtype} [${t.shape}] needs ${t.end - t.begin} bytes of data, got ${data instanceof Uint8Array ? data.length : typeof data}`,
      );
    }
    out.set(data, plan.header.length + t.begin);
  }
  return out;
}

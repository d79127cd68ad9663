/**
 * @file Validation of the header: the 8-byte length, then the JSON (parsed by json.ts) checked field by
 * field against the data that follow it, so nothing is allocated or read from a size before it is checked.
 *
 * Layout (huggingface/safetensors): an 8-byte little-endian length N, N bytes of UTF-8 JSON naming each
 * tensor's dtype, shape and byte range, then the data; `__metadata__` is an optional string→string map.
 *
 * This is stricter than the reference reader in three places, each because the lenient reading silently
 * drops data: duplicate names (JSON.parse and serde both keep the last one), unknown fields in a tensor
 * entry (a misspelt `data_offsets` or a future field that changes how bytes are read) and BOOL bytes other
 * than 0 and 1 (decode.ts).
 */

import { elementCount, isReadable, READABLE, REFERENCE_ORDER, type SafetensorsDType, SUPPORTED_LIST } from "./dtypes.ts";
import { argument, isBytes, refuse } from "./errors.ts";
import { describeJson, HeaderParser, JsonNumber, JsonObject, type JsonValue } from "./json.ts";

/** The reference reader's cap on the header length. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range [begin, end) within the data that follows the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** `__metadata__`, or null when the file has none. */
  metadata: Record<string, string> | null;
  /** Every tensor, in the order of its data in the file. */
  tensors: Map<string, SafetensorsTensorInfo>;
  /** The byte length of the JSON (with its padding), so the data start at 8 + headerLength. */
  headerLength: number;
}

/**
 * Validates the first 8 bytes of a file of `fileLength` bytes and returns the header length N. Checked
 * here, before anything reads or allocates N bytes: N is at most the cap and fits in the file.
 */
export function readHeaderLength(first8: Uint8Array, fileLength: number, file?: string): number {
  argument(
    isBytes(first8) && typeof fileLength === "number",
    file,
    "readHeaderLength takes the first bytes (a Uint8Array) and the file's length",
  );
  if (fileLength < 8 || first8.length < 8) {
    refuse(
      "FILE_TOO_SHORT",
      file,
      `the file is ${Math.min(fileLength, first8.length)} bytes; a safetensors file starts with an 8-byte header length`,
    );
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high !== 0 || low > MAX_HEADER_BYTES) {
    const n = BigInt(high) * 2n ** 32n + BigInt(low);
    refuse("HEADER_TOO_LARGE", file, `the header length is ${n} bytes; at most ${MAX_HEADER_BYTES} are allowed`);
  }
  if (8 + low > fileLength) {
    refuse(
      "HEADER_PAST_END",
      file,
      `the header length is ${low} bytes but only ${fileLength - 8} follow it: the file is truncated or not safetensors`,
    );
  }
  return low;
}

/** A size or offset: a plain non-negative integer literal that a double holds exactly. */
function size(value: JsonValue, what: string, file: string | undefined): number {
  if (!(value instanceof JsonNumber) || !/^(0|[1-9][0-9]*)$/.test(value.text)) {
    refuse("INVALID_HEADER", file, `${what} must be a non-negative integer, found ${describeJson(value)}`);
  }
  const n = Number(value.text);
  if (!Number.isSafeInteger(n)) refuse("INVALID_HEADER", file, `${what} is ${value.text}, beyond 2^53 - 1 (no file is that large)`);
  return n;
}

const TENSOR_FIELDS = ["dtype", "shape", "data_offsets"];

function tensorInfo(name: string, value: JsonValue, file: string | undefined): SafetensorsTensorInfo {
  const what = `tensor ${JSON.stringify(name)}`;
  if (!(value instanceof JsonObject)) {
    refuse("INVALID_HEADER", file, `${what} must be an object with dtype, shape and data_offsets, found ${describeJson(value)}`);
  }
  const fields = new Map(value.entries);
  for (const key of fields.keys()) {
    if (!TENSOR_FIELDS.includes(key)) {
      refuse("INVALID_HEADER", file, `${what} has an unknown field ${JSON.stringify(key)}; expected only dtype, shape and data_offsets`);
    }
  }
  for (const key of TENSOR_FIELDS) if (!fields.has(key)) refuse("INVALID_HEADER", file, `${what} has no ${key}`);
  const dtype = fields.get("dtype") as JsonValue;
  if (typeof dtype !== "string") refuse("INVALID_HEADER", file, `${what}: dtype must be a string, found ${describeJson(dtype)}`);
  if (!isReadable(dtype)) {
    if ((REFERENCE_ORDER as readonly string[]).includes(dtype)) {
      refuse("UNSUPPORTED_DTYPE", file, `${what} has dtype ${dtype}, which this library does not read (it reads ${SUPPORTED_LIST})`);
    }
    refuse(
      "UNKNOWN_DTYPE",
      file,
      `${what} has dtype ${JSON.stringify(dtype)}, which is not a safetensors dtype (expected one of ${SUPPORTED_LIST})`,
    );
  }
  const shape = fields.get("shape") as JsonValue;
  if (!Array.isArray(shape)) refuse("INVALID_HEADER", file, `${what}: shape must be an array, found ${describeJson(shape)}`);
  const dims = shape.map((d, i) => size(d, `${what}: shape[${i}]`, file));
  const offsets = fields.get("data_offsets") as JsonValue;
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    refuse(
      "INVALID_HEADER",
      file,
      `${what}: data_offsets must be [begin, end], found ${describeJson(offsets)}${Array.isArray(offsets) ? ` of length ${offsets.length}` : ""}`,
    );
  }
  const begin = size(offsets[0], `${what}: data_offsets[0]`, file);
  const end = size(offsets[1], `${what}: data_offsets[1]`, file);
  return { dtype, shape: dims, dataOffsets: [begin, end] };
}

/**
 * Parses and validates the header bytes (the N bytes after the length) of a file whose data part is
 * `dataLength` bytes: JSON shape, dtypes, names, and byte ranges that tile the data exactly.
 */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, file?: string): SafetensorsHeader {
  argument(
    isBytes(headerBytes) && typeof dataLength === "number",
    file,
    "parseHeader takes the header's bytes (a Uint8Array) and the data's length",
  );
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    refuse("INVALID_UTF8", file, "the header is not valid UTF-8");
  }
  const root = new HeaderParser(text, file).parse();
  if (!(root instanceof JsonObject)) refuse("INVALID_HEADER", file, `the header must be a JSON object, found ${describeJson(root)}`);

  let metadata: Record<string, string> | null = null;
  const entries: [string, SafetensorsTensorInfo][] = [];
  for (const [name, value] of root.entries) {
    if (name !== "__metadata__") {
      entries.push([name, tensorInfo(name, value, file)]);
      continue;
    }
    if (value === null) continue; // the reference reads null as no metadata
    if (!(value instanceof JsonObject))
      refuse("INVALID_HEADER", file, `__metadata__ must be an object of strings, found ${describeJson(value)}`);
    for (const [key, v] of value.entries) {
      if (typeof v !== "string") {
        refuse("INVALID_HEADER", file, `__metadata__ ${JSON.stringify(key)} must be a string, found ${describeJson(v)}`);
      }
    }
    // fromEntries defines own properties, so a key such as "__proto__" stays a key
    metadata = Object.fromEntries(value.entries as [string, string][]);
  }

  // the reference sorts by (begin, end) and then requires the ranges to tile [0, dataLength)
  entries.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let expected = 0;
  for (const [name, info] of entries) {
    const what = `tensor ${JSON.stringify(name)}`;
    const [begin, end] = info.dataOffsets;
    if (end < begin) refuse("INVALID_OFFSETS", file, `${what}: data_offsets [${begin},${end}] end before they begin`);
    if (begin !== expected) {
      const how = begin > expected ? `a gap of ${begin - expected} bytes` : `an overlap of ${expected - begin} bytes`;
      refuse(
        "INVALID_OFFSETS",
        file,
        `${what}: data starts at byte ${begin}, expected ${expected} (${how}; ranges must be contiguous from 0)`,
      );
    }
    if (end > dataLength) {
      refuse(
        "INCOMPLETE_BUFFER",
        file,
        `${what}: data ends at byte ${end}, but the file holds ${dataLength} bytes of data: the file is truncated`,
      );
    }
    const bytes = elementCount(info.shape, what, file) * READABLE[info.dtype];
    if (bytes !== end - begin) {
      refuse(
        "SIZE_MISMATCH",
        file,
        `${what}: ${info.dtype} [${info.shape}] needs ${bytes} bytes, but data_offsets [${begin},${end}] span ${end - begin}`,
      );
    }
    expected = end;
  }
  if (expected !== dataLength) {
    refuse(
      "INCOMPLETE_BUFFER",
      file,
      `the tensors cover ${expected} bytes of data, but ${dataLength} follow the header (${dataLength - expected} bytes belong to no tensor)`,
    );
  }
  return { metadata, tensors: new Map(entries), headerLength: headerBytes.length };
}

/**
 * @file The safetensors format as bytes: a validating reader of every integer and float dtype up to 64 bits,
 * a writer of F64, F32, I32 and BOOL whose output is byte-identical to the reference Rust writer's, and the
 * conversions between file dtypes and tensor dtypes.
 *
 * Layout (huggingface/safetensors): an 8-byte little-endian length N, N bytes of UTF-8 JSON naming each
 * tensor's dtype, shape and byte range, then the data; `__metadata__` is an optional string→string map.
 *
 * The reader trusts nothing in a file: every size is checked against the bytes actually present before
 * anything is allocated from it, and each problem is a `SafetensorsError` with a code. It is stricter than
 * the reference reader in three places, each because the lenient reading silently drops data: duplicate
 * names (JSON.parse and serde both keep the last one), unknown fields in a tensor entry (a misspelt
 * `data_offsets` or a future field that changes how bytes are read) and BOOL bytes other than 0 and 1.
 */

import { type DType, TsgradError, type TypedArray } from "@tsgrad/core";

export type SafetensorsErrorCode =
  /** Fewer than the 8 bytes that hold the header length. */
  | "FILE_TOO_SHORT"
  /** The header length is over the reference reader's cap of 100,000,000 bytes. */
  | "HEADER_TOO_LARGE"
  /** The header runs past the end of the file (a truncated file). */
  | "HEADER_PAST_END"
  | "INVALID_UTF8"
  /** The header is not JSON (syntax, or nested deeper than any valid header). */
  | "INVALID_JSON"
  /** A name appears twice in the header, or a key twice in one entry. */
  | "DUPLICATE_NAME"
  /** Valid JSON of the wrong shape: a missing or unknown field, a wrong type, a number that is not a size. */
  | "INVALID_HEADER"
  | "UNKNOWN_DTYPE"
  /** A dtype of the format that this library does not read (the 8-, 6- and 4-bit floats, C64). */
  | "UNSUPPORTED_DTYPE"
  /** Byte ranges that are not contiguous from 0, or that end before they begin. */
  | "INVALID_OFFSETS"
  /** A byte range whose length is not the shape's element count times the dtype's size. */
  | "SIZE_MISMATCH"
  /** The data after the header is longer or shorter than the tensors cover. */
  | "INCOMPLETE_BUFFER"
  /** A stored value the target dtype cannot hold exactly enough (see decodeTensor). */
  | "VALUE_OUT_OF_RANGE"
  /** Something handed to the writer that it cannot write. */
  | "INVALID_ARGUMENT"
  /** The file system refused (not found, permissions, disk full); `cause` holds Node's error. */
  | "IO";

/** Every refusal of the safetensors reader and writer: `code` says which, the message names the file. */
export class SafetensorsError extends TsgradError {
  constructor(
    readonly code: SafetensorsErrorCode,
    where: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(where, message);
    this.name = "SafetensorsError";
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The `where` of an error: the file when it is known. */
function place(file: string | undefined): string {
  return file === undefined ? "safetensors" : `safetensors ${file}`;
}

function refuse(code: SafetensorsErrorCode, file: string | undefined, message: string): never {
  throw new SafetensorsError(code, place(file), message);
}

/** Refuses an argument of the wrong kind handed to one of this file's functions. */
function argument(ok: boolean, file: unknown, message: string): void {
  if (!ok) refuse("INVALID_ARGUMENT", typeof file === "string" ? file : undefined, message);
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

// ---- dtypes -----------------------------------------------------------------------------------------

/** The dtypes this library reads, with their sizes in bytes. */
const READABLE = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 } as const;

export type SafetensorsDType = keyof typeof READABLE;

/** The dtypes this library writes: one per tensor dtype. */
export type WritableDType = "F64" | "F32" | "I32" | "BOOL";

/**
 * The reference's `Dtype` enum in declaration order (safetensors 0.8.0). Its writer sorts tensors by this
 * order, descending, which it calls alignment order, so matching its bytes means using the same ranks.
 */
const REFERENCE_ORDER = [
  "BOOL",
  "F4",
  "F6_E2M3",
  "F6_E3M2",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "F8_E8M0",
  "F8_E4M3FNUZ",
  "F8_E5M2FNUZ",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "C64",
  "F64",
  "I64",
  "U64",
] as const;

const SUPPORTED_LIST = Object.keys(READABLE).join(", ");

function isReadable(dtype: string): dtype is SafetensorsDType {
  return Object.hasOwn(READABLE, dtype);
}

/** Bytes per element of a readable dtype. */
export function dtypeSize(dtype: SafetensorsDType): number {
  return READABLE[dtype];
}

/** The tensor dtype a file dtype loads as when the caller names none. */
export function naturalDType(dtype: SafetensorsDType): DType {
  switch (dtype) {
    case "F64":
      return "float64";
    case "F32":
    case "F16":
    case "BF16":
      return "float32";
    case "BOOL":
      return "bool";
    default:
      // the 64-bit and U32 integers too: decodeTensor refuses the values int32 cannot hold
      return "int32";
  }
}

/** The file dtype a tensor dtype is written as. */
export function writableDType(dtype: DType): WritableDType {
  switch (dtype) {
    case "float64":
      return "F64";
    case "float32":
      return "F32";
    case "int32":
      return "I32";
    case "bool":
      return "BOOL";
  }
}

// ---- 16-bit floats ------------------------------------------------------------------------------------

/** IEEE binary16 to a number; exact, since every half value is a float32 (and float64) value. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal (and ±0)
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (0x400 + fraction) * 2 ** (exponent - 25);
}

const scratch = new DataView(new ArrayBuffer(4));

/** bfloat16 to a number: bfloat16 is the top half of a float32, so widening the bits is exact. */
export function bfloat16ToNumber(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

let float16Table: Float32Array | null = null;

/** All 65,536 half values at once: a lookup is cheaper than the arithmetic per element. */
function float16Values(): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) float16Table[bits] = float16ToNumber(bits);
  }
  return float16Table;
}

// ---- strict JSON --------------------------------------------------------------------------------------

/** A JSON number kept as its text, so that `1.0`, `1e3` and `-0` can be told from sizes. */
class JsonNumber {
  constructor(readonly text: string) {}
}

/** A JSON object as its entries in file order; duplicates were refused while parsing. */
class JsonObject {
  constructor(readonly entries: [string, JsonValue][]) {}
}

type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** A valid header nests three deep ({name: {shape: [..]}}); anything deeper is refused before recursing. */
const MAX_DEPTH = 4;

/**
 * A JSON parser for the header. JSON.parse would do, except that it keeps only the last of two equal keys
 * (so a duplicate name would vanish unseen), turns numbers into floats (so `16.0` would pass as a size),
 * and recurses without a bound on a hostile `[[[[...`.
 */
class HeaderParser {
  private pos = 0;
  private readonly path: string[] = [];

  constructor(
    private readonly text: string,
    private readonly file: string | undefined,
  ) {}

  parse(): JsonValue {
    this.skipSpace();
    const value = this.value(0);
    this.skipSpace();
    if (this.pos < this.text.length) this.syntax("the end of the header");
    return value;
  }

  private syntax(expected: string): never {
    const found = this.pos < this.text.length ? JSON.stringify(this.text.slice(this.pos, this.pos + 12)) : "the end of the header";
    refuse("INVALID_JSON", this.file, `the header is not valid JSON: expected ${expected} at character ${this.pos}, found ${found}`);
  }

  private skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  private value(depth: number): JsonValue {
    const c = this.text[this.pos];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) {
        refuse(
          "INVALID_JSON",
          this.file,
          `the header nests deeper than ${MAX_DEPTH} levels at character ${this.pos}; a valid header nests 3`,
        );
      }
      return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.syntax("a value");
  }

  private object(depth: number): JsonObject {
    this.pos++; // {
    const entries: [string, JsonValue][] = [];
    const seen = new Set<string>();
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return new JsonObject(entries);
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.syntax("a quoted key");
      const key = this.string();
      if (seen.has(key)) {
        const where = this.path.length === 0 ? "the header" : `the entry for ${JSON.stringify(this.path[0])}`;
        refuse("DUPLICATE_NAME", this.file, `${JSON.stringify(key)} appears twice in ${where}; names must be unique`);
      }
      seen.add(key);
      this.skipSpace();
      if (this.text[this.pos] !== ":") this.syntax('":"');
      this.pos++;
      this.skipSpace();
      this.path.push(key);
      entries.push([key, this.value(depth)]);
      this.path.pop();
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === "}") return new JsonObject(entries);
      if (next !== ",") {
        this.pos--;
        this.syntax('"," or "}"');
      }
    }
  }

  private array(depth: number): JsonValue[] {
    this.pos++; // [
    const items: JsonValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipSpace();
      items.push(this.value(depth));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === "]") return items;
      if (next !== ",") {
        this.pos--;
        this.syntax('"," or "]"');
      }
    }
  }

  private number(): JsonNumber {
    const match = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    match.lastIndex = this.pos;
    const m = match.exec(this.text);
    if (!m) return this.syntax("a number");
    this.pos += m[0].length;
    return new JsonNumber(m[0]);
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = "";
    let start = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.syntax('a closing "');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(start, this.pos++);
        return out;
      }
      if (c < 0x20) this.syntax("no raw control character inside a string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(start, this.pos);
      const e = t[this.pos + 1];
      this.pos += 2;
      if (e !== undefined && Object.hasOwn(SIMPLE_ESCAPES, e)) out += SIMPLE_ESCAPES[e];
      else if (e === "u") out += this.unicodeEscape();
      else {
        this.pos -= 2;
        this.syntax("a valid escape");
      }
      start = this.pos;
    }
  }

  /** \uXXXX, pairing surrogates: a lone one cannot be a name in UTF-8, and the reference refuses it too. */
  private unicodeEscape(): string {
    const unit = this.hex4();
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
    if (unit <= 0xdbff && this.text.startsWith("\\u", this.pos)) {
      this.pos += 2;
      const low = this.hex4();
      if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
      this.pos -= 6;
    }
    return this.syntax("a surrogate pair (a lone surrogate is not Unicode)");
  }

  private hex4(): number {
    const digits = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.syntax("four hex digits");
    this.pos += 4;
    return Number.parseInt(digits, 16);
  }
}

// ---- header -------------------------------------------------------------------------------------------

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

function describeJson(value: JsonValue): string {
  if (value === null) return "null";
  if (value instanceof JsonNumber) return `the number ${value.text}`;
  if (value instanceof JsonObject) return "an object";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return String(value);
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

/** The number of elements, refused past 2^53 - 1 rather than rounded. */
function elementCount(shape: readonly number[], what: string, file: string | undefined): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) refuse("SIZE_MISMATCH", file, `${what} has shape [${shape}], more than 2^53 - 1 elements`);
  }
  return n;
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

// ---- reading bytes ------------------------------------------------------------------------------------

export interface SafetensorsTensor extends SafetensorsTensorInfo {
  /** The tensor's bytes, little-endian; a view into the buffer that was parsed. */
  data: Uint8Array;
}

export interface Safetensors {
  metadata: Record<string, string> | null;
  /** In the order of their data in the file. */
  tensors: Map<string, SafetensorsTensor>;
}

/** Parses a whole file held in memory; the tensors' `data` are views into `bytes`, not copies. */
export function parseSafetensors(bytes: Uint8Array, options: { file?: string } = {}): Safetensors {
  argument(options !== null && typeof options === "object", undefined, "parseSafetensors: options must be an object");
  argument(isBytes(bytes), options.file, `parseSafetensors takes a Uint8Array, got ${bytes === null ? "null" : typeof bytes}`);
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, options.file);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, options.file);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    tensors.set(name, { ...info, data: bytes.subarray(8 + n + begin, 8 + n + end) });
  }
  return { metadata: header.metadata, tensors };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The values of a stored tensor as a typed array of `dtype` (by default its natural one). Conversions
 * follow what a copy into that dtype may do without changing a value's kind:
 *
 * - into float32 or float64: any value, rounded to nearest (F64 into float32 loses precision, as PyTorch's
 *   load_state_dict does);
 * - into int32: whole numbers in int32's range only, so a fraction or an overflow is an error instead of a
 *   silent truncation;
 * - into bool: 0 and 1 only;
 * - I64 and U64 values beyond ±(2^53 - 1) are refused whatever the target, since a double cannot tell them
 *   from their neighbours; BOOL bytes must be 0 or 1.
 */
export function decodeTensor(
  tensor: Pick<SafetensorsTensor, "dtype" | "shape" | "data">,
  dtypeOrNatural?: DType,
  context: { name?: string; file?: string } = {},
): TypedArray {
  argument(context !== null && typeof context === "object", undefined, "decodeTensor: context must be an object");
  argument(
    tensor !== null &&
      typeof tensor === "object" &&
      isBytes(tensor.data) &&
      Array.isArray(tensor.shape) &&
      typeof tensor.dtype === "string",
    context.file,
    "decodeTensor takes { dtype, shape, data: Uint8Array } as read from a file",
  );
  const dtype = dtypeOrNatural ?? naturalDType(tensor.dtype);
  const { data } = tensor;
  const size = READABLE[tensor.dtype];
  if (!size || data.length % size !== 0) {
    refuse("INVALID_ARGUMENT", context.file, `decodeTensor: ${data.length} bytes are not whole ${tensor.dtype} elements`);
  }
  const count = data.length / size;
  if (elementCount(tensor.shape, "decodeTensor", context.file) !== count) {
    refuse("INVALID_ARGUMENT", context.file, `decodeTensor: ${data.length} bytes of ${tensor.dtype} do not fill shape [${tensor.shape}]`);
  }
  const what = `tensor ${context.name === undefined ? "" : `${JSON.stringify(context.name)} `}(${tensor.dtype} [${tensor.shape}])`;

  // fast paths: the bytes already are the target's little-endian representation
  if (
    LITTLE_ENDIAN &&
    ((tensor.dtype === "F32" && dtype === "float32") ||
      (tensor.dtype === "F64" && dtype === "float64") ||
      (tensor.dtype === "I32" && dtype === "int32"))
  ) {
    // a copy (Buffer's slice() would be a view), which also aligns the data for the typed array
    const copy = new Uint8Array(data).buffer;
    return dtype === "float32" ? new Float32Array(copy) : dtype === "float64" ? new Float64Array(copy) : new Int32Array(copy);
  }

  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out =
    dtype === "float64"
      ? new Float64Array(count)
      : dtype === "float32"
        ? new Float32Array(count)
        : dtype === "int32"
          ? new Int32Array(count)
          : new Uint8Array(count);
  const half = tensor.dtype === "F16" ? float16Values() : null;
  for (let i = 0; i < count; i++) {
    const o = i * size;
    let v: number;
    switch (tensor.dtype) {
      case "F64":
        v = view.getFloat64(o, true);
        break;
      case "F32":
        v = view.getFloat32(o, true);
        break;
      case "F16":
        v = (half as Float32Array)[view.getUint16(o, true)];
        break;
      case "BF16":
        v = bfloat16ToNumber(view.getUint16(o, true));
        break;
      case "I64":
      case "U64": {
        const big = tensor.dtype === "I64" ? view.getBigInt64(o, true) : view.getBigUint64(o, true);
        if (big > SAFE_MAX || big < -SAFE_MAX) {
          refuse(
            "VALUE_OUT_OF_RANGE",
            context.file,
            `${what}: element ${i} is ${big}, beyond ±(2^53 - 1), which a JavaScript number cannot hold exactly`,
          );
        }
        v = Number(big);
        break;
      }
      case "I32":
        v = view.getInt32(o, true);
        break;
      case "U32":
        v = view.getUint32(o, true);
        break;
      case "I16":
        v = view.getInt16(o, true);
        break;
      case "U16":
        v = view.getUint16(o, true);
        break;
      case "I8":
        v = view.getInt8(o);
        break;
      case "U8":
        v = view.getUint8(o);
        break;
      case "BOOL":
        v = view.getUint8(o);
        if (v > 1) refuse("VALUE_OUT_OF_RANGE", context.file, `${what}: element ${i} is the byte ${v}; a BOOL byte must be 0 or 1`);
        break;
    }
    if (dtype === "int32" && !(Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX)) {
      refuse(
        "VALUE_OUT_OF_RANGE",
        context.file,
        `${what} cannot be loaded as int32: element ${i} is ${v}, expected a whole number in [${INT32_MIN}, ${INT32_MAX}]`,
      );
    }
    if (dtype === "bool" && v !== 0 && v !== 1) {
      refuse("VALUE_OUT_OF_RANGE", context.file, `${what} cannot be loaded as bool: element ${i} is ${v}, expected 0 or 1`);
    }
    out[i] = v;
  }
  return out;
}

// ---- writing ------------------------------------------------------------------------------------------

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

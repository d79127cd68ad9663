/**
 * @file Reading values: a whole file held in memory parsed into views of its bytes, and a stored tensor's
 * bytes decoded into a typed array of a tensor dtype, from every readable file dtype (F16 and BF16
 * included), refusing any value the target cannot hold rather than truncating it.
 */

import type { DType, TypedArray } from "@tsgrad/core";
import { elementCount, LITTLE_ENDIAN, naturalDType, READABLE } from "./dtypes.ts";
import { argument, isBytes, refuse } from "./errors.ts";
import { parseHeader, readHeaderLength, type SafetensorsTensorInfo } from "./header.ts";

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

/**
 * @file The file dtypes: which ones are read and written, their sizes, the reference's order of them (its
 * writer's layout depends on it), and how they map to tensor dtypes. Shared by the reader and the writer,
 * so both agree on what a dtype's bytes are.
 */

import type { DType } from "@tsgrad/core";
import { refuse } from "./errors.ts";

/** The dtypes this library reads, with their sizes in bytes. */
export const READABLE = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 } as const;

export type SafetensorsDType = keyof typeof READABLE;

/** The dtypes this library writes: one per tensor dtype. */
export type WritableDType = "F64" | "F32" | "I32" | "BOOL";

/**
 * The reference's `Dtype` enum in declaration order (safetensors 0.8.0). Its writer sorts tensors by this
 * order, descending, which it calls alignment order, so matching its bytes means using the same ranks.
 */
export const REFERENCE_ORDER = [
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

export const SUPPORTED_LIST = Object.keys(READABLE).join(", ");

export function isReadable(dtype: string): dtype is SafetensorsDType {
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

/** The number of elements, refused past 2^53 - 1 rather than rounded. */
export function elementCount(shape: readonly number[], what: string, file: string | undefined): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) refuse("SIZE_MISMATCH", file, `${what} has shape [${shape}], more than 2^53 - 1 elements`);
  }
  return n;
}

/** The host's byte order: where it is little-endian, typed arrays already are the file's bytes. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

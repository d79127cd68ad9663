/**
 * @file The error of the reader, the writer and the named-tensor files: a SafetensorsError carries a code,
 * so a caller can tell a truncated file from a hostile header or a bad argument without matching
 * messages; the message names the file.
 */

import { TsgradError } from "@tsgrad/core";

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

export function refuse(code: SafetensorsErrorCode, file: string | undefined, message: string): never {
  throw new SafetensorsError(code, place(file), message);
}

/** Refuses an argument of the wrong kind handed to one of this file's functions. */
export function argument(ok: boolean, file: unknown, message: string): void {
  if (!ok) refuse("INVALID_ARGUMENT", typeof file === "string" ? file : undefined, message);
}

export const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

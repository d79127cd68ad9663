/**
 * @file Test support: rounding to F16 and BF16 and writing safetensors files in those dtypes by hand
 * (@tsgrad/safetensors writes only F64, F32, I32 and BOOL), to check that adapters in half precision load.
 */

import { writeFile } from "node:fs/promises";
import { bfloat16ToNumber, float16ToNumber } from "@tsgrad/nn";

export type HalfDType = "F16" | "BF16";

const DECODE: Record<HalfDType, (bits: number) => number> = { F16: float16ToNumber, BF16: bfloat16ToNumber };
/** The bits of the largest finite positive value. */
const MAX_FINITE: Record<HalfDType, number> = { F16: 0x7bff, BF16: 0x7f7f };

/**
 * The bits of the half value nearest to x, ties to even, found by bisection over the positive bit
 * patterns (their values increase with the bits): slow, but plainly right.
 */
export function toHalfBits(x: number, dtype: HalfDType): number {
  const decode = DECODE[dtype];
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  let lo = 0;
  let hi = MAX_FINITE[dtype];
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (decode(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo < MAX_FINITE[dtype]) {
    const [below, above] = [decode(lo), decode(lo + 1)];
    if (a - below > above - a || (a - below === above - a && lo % 2 === 1)) lo += 1;
  }
  return sign | lo;
}

/** x rounded to the half dtype, as a number. */
export function roundToHalf(x: number, dtype: HalfDType): number {
  return DECODE[dtype](toHalfBits(x, dtype));
}

/** Writes a safetensors file whose tensors are all in one half dtype. */
export async function writeHalfSafetensors(
  path: string,
  tensors: [string, readonly number[], ArrayLike<number>][],
  dtype: HalfDType,
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, shape, values] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + 2 * values.length] };
    offset += 2 * values.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const bytes = new Uint8Array(8 + json.length + offset);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, json.length, true);
  bytes.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const [, , values] of tensors) {
    for (let i = 0; i < values.length; i++, at += 2) view.setUint16(at, toHalfBits(values[i], dtype), true);
  }
  await writeFile(path, bytes);
}

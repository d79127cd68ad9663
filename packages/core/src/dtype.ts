/**
 * @file Data types and the promotion rules.
 *
 * The four dtypes form one chain, and a binary op computes in the larger of its operands' dtypes:
 *
 *     bool  <  int32  <  float32  <  float64
 *
 * A plain JS number (or boolean) next to a tensor is "weak", as in PyTorch and JAX: it adopts the tensor's
 * dtype unless it needs a higher kind. So `x.mul(0.5)` stays float32 for a float32 x and becomes float64 for
 * a float64 x; `i.add(1)` stays int32 for an int32 i; `i.mul(0.5)` becomes float32 (the default float);
 * `mask.add(1)` turns a bool mask into int32. Two numbers on their own give int32 (both integers) or float32.
 *
 * Division is true division: int32 / int32 gives float32. Comparisons give bool. Gradients exist only for
 * float32 and float64.
 */

export type DType = "float32" | "float64" | "int32" | "bool";
export type FloatDType = "float32" | "float64";

export const DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === "float32" || dtype === "float64";
}

export function isDType(value: unknown): value is DType {
  return typeof value === "string" && value in RANK;
}

/** The larger of two dtypes in the chain bool < int32 < float32 < float64. */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The dtype a JS number or boolean would have on its own. */
export function scalarDType(value: number | boolean): DType {
  if (typeof value === "boolean") return "bool";
  return Number.isInteger(value) ? "int32" : "float32";
}

/** The dtype of `tensorDType op value` where value is a weak JS scalar (see the file comment). */
export function promoteWithScalar(tensorDType: DType, value: number | boolean): DType {
  const kind = scalarDType(value);
  if (kind === "float32") return isFloat(tensorDType) ? tensorDType : "float32";
  return promoteTypes(tensorDType, kind);
}

/** The dtype that float-valued math (exp, div, mean, ...) produces from an input dtype. */
export function floatResult(dtype: DType): FloatDType {
  return isFloat(dtype) ? dtype : "float32";
}

export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

/** Whether an int32 tensor holds `v` exactly (a typed-array store would truncate or wrap anything else). */
export function isInt32Value(v: number): boolean {
  return Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX;
}

export function bytesPerElement(dtype: DType): number {
  return dtype === "float64" ? 8 : dtype === "bool" ? 1 : 4;
}

export function typedArrayFor(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

/** Copies `values` into a new typed array of `dtype`, rounding the way a store into that array does. */
export function toTypedArray(values: ArrayLike<number | boolean>, dtype: DType): TypedArray {
  const out = typedArrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) out[i] = castValue(Number(values[i]), dtype);
  return out;
}

/**
 * Converts one value to what a dtype can hold: bool is (v != 0), int32 truncates toward zero as PyTorch's
 * `.to(torch.int32)` does (NaN and out-of-range values become 0 and wrap, as a typed-array store does).
 */
export function castValue(v: number, dtype: DType): number {
  switch (dtype) {
    case "bool":
      // NaN != 0, so NaN is true (as in PyTorch, NumPy and the backends' logical ops)
      return v !== 0 ? 1 : 0;
    case "int32":
      return Math.trunc(v) | 0;
    case "float32":
      return Math.fround(v);
    case "float64":
      return v;
  }
}

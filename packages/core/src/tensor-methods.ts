/**
 * @file The tensor methods: `x.add(y)` is `add(x, y)`, one line each, installed on Tensor's prototype.
 *
 * They live here, not in tensor.ts, so that tensor.ts imports no op: core's modules then import each
 * other without a cycle and read bottom-up (errors, dtype, shape, memory, tensor, the ops, autograd, this
 * file). The declaration below merges these methods into the Tensor type, and index.ts imports this file,
 * so `import { tensor } from "@tsgrad/core"` gives tensors that have them.
 */

import { type BackwardOptions, backward } from "./autograd.ts";
import type { Backend } from "./backend/backend.ts";
import { softplus } from "./composite/activation.ts";
import type { DType } from "./dtype.ts";
import { assign, to } from "./inplace.ts";
import { cast, scalarOn, type TensorLike } from "./ops/cast.ts";
import {
  abs,
  add,
  clamp,
  div,
  eq,
  erf,
  exp,
  ge,
  gt,
  le,
  log,
  log1p,
  logicalAnd,
  logicalNot,
  logicalOr,
  lt,
  maskedFill,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  reciprocal,
  relu,
  rsqrt,
  sigmoid,
  sign,
  sqrt,
  square,
  sub,
  tanh,
} from "./ops/elementwise.ts";
import { gelu, logSoftmax, softmax } from "./ops/fused.ts";
import { gather, indexSelect, topk } from "./ops/indexing.ts";
import { type MatmulOptions, matmul } from "./ops/matmul.ts";
import {
  chunk,
  expand,
  flatten,
  narrow,
  pad,
  permute,
  reshape,
  slice,
  split,
  squeeze,
  transpose,
  tril,
  triu,
  unsqueeze,
} from "./ops/movement.ts";
import { type Axes, argmax, argmin, logSumExp, max, mean, min, std, sum, variance } from "./ops/reduce.ts";
import { Tensor } from "./tensor.ts";

class TensorMethods {
  /** Accumulates gradients into the leaves' `.grad` (see autograd.ts). */
  backward(this: Tensor, gradient?: Tensor, options?: BackwardOptions): void {
    backward(this, gradient, options);
  }

  /** A copy with its own buffer; gradients flow through it. */
  clone(this: Tensor): Tensor {
    // adding a zero of the same dtype (not a weak scalar) keeps the dtype; bool has no addition
    const zero = scalarOn(this.backend, 0, this.dtype);
    return this.dtype === "bool" ? logicalOr(this, zero) : add(this, zero);
  }

  /** Overwrites the values in place, without recording a graph (see inplace.ts). */
  assign<T extends Tensor>(this: T, value: TensorLike): T {
    assign(this, value);
    return this;
  }

  /** PyTorch's name for assign. */
  copy_<T extends Tensor>(this: T, value: TensorLike): T {
    return this.assign(value);
  }

  /** A copy on another backend; asynchronous because reading back can be. */
  to(this: Tensor, target: string | Backend): Promise<Tensor> {
    return to(this, target);
  }

  cast(this: Tensor, dtype: DType): Tensor {
    return cast(this, dtype);
  }

  // ---- ops ---------------------------------------------------------------------------------------

  add(this: Tensor, other: TensorLike): Tensor {
    return add(this, other);
  }
  sub(this: Tensor, other: TensorLike): Tensor {
    return sub(this, other);
  }
  mul(this: Tensor, other: TensorLike): Tensor {
    return mul(this, other);
  }
  div(this: Tensor, other: TensorLike): Tensor {
    return div(this, other);
  }
  pow(this: Tensor, exponent: TensorLike): Tensor {
    return pow(this, exponent);
  }
  maximum(this: Tensor, other: TensorLike): Tensor {
    return maximum(this, other);
  }
  minimum(this: Tensor, other: TensorLike): Tensor {
    return minimum(this, other);
  }
  neg(this: Tensor): Tensor {
    return neg(this);
  }
  exp(this: Tensor): Tensor {
    return exp(this);
  }
  log(this: Tensor): Tensor {
    return log(this);
  }
  log1p(this: Tensor): Tensor {
    return log1p(this);
  }
  sqrt(this: Tensor): Tensor {
    return sqrt(this);
  }
  rsqrt(this: Tensor): Tensor {
    return rsqrt(this);
  }
  square(this: Tensor): Tensor {
    return square(this);
  }
  reciprocal(this: Tensor): Tensor {
    return reciprocal(this);
  }
  tanh(this: Tensor): Tensor {
    return tanh(this);
  }
  sigmoid(this: Tensor): Tensor {
    return sigmoid(this);
  }
  erf(this: Tensor): Tensor {
    return erf(this);
  }
  relu(this: Tensor): Tensor {
    return relu(this);
  }
  abs(this: Tensor): Tensor {
    return abs(this);
  }
  sign(this: Tensor): Tensor {
    return sign(this);
  }
  clamp(this: Tensor, min?: TensorLike, max?: TensorLike): Tensor {
    return clamp(this, min, max);
  }
  gelu(this: Tensor, options?: { approximate?: "none" | "tanh" }): Tensor {
    return gelu(this, options);
  }
  softplus(this: Tensor, options?: { beta?: number; threshold?: number }): Tensor {
    return softplus(this, options);
  }
  softmax(this: Tensor, axis = -1): Tensor {
    return softmax(this, axis);
  }
  logSoftmax(this: Tensor, axis = -1): Tensor {
    return logSoftmax(this, axis);
  }

  eq(this: Tensor, other: TensorLike): Tensor {
    return eq(this, other);
  }
  ne(this: Tensor, other: TensorLike): Tensor {
    return ne(this, other);
  }
  lt(this: Tensor, other: TensorLike): Tensor {
    return lt(this, other);
  }
  le(this: Tensor, other: TensorLike): Tensor {
    return le(this, other);
  }
  gt(this: Tensor, other: TensorLike): Tensor {
    return gt(this, other);
  }
  ge(this: Tensor, other: TensorLike): Tensor {
    return ge(this, other);
  }
  logicalAnd(this: Tensor, other: TensorLike): Tensor {
    return logicalAnd(this, other);
  }
  logicalOr(this: Tensor, other: TensorLike): Tensor {
    return logicalOr(this, other);
  }
  logicalNot(this: Tensor): Tensor {
    return logicalNot(this);
  }
  maskedFill(this: Tensor, mask: Tensor, value: TensorLike): Tensor {
    return maskedFill(this, mask, value);
  }

  sum(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return sum(this, axes, keepdims);
  }
  mean(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return mean(this, axes, keepdims);
  }
  max(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return max(this, axes, keepdims);
  }
  min(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return min(this, axes, keepdims);
  }
  argmax(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return argmax(this, axes, keepdims);
  }
  argmin(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return argmin(this, axes, keepdims);
  }
  variance(this: Tensor, axes?: Axes, options?: { correction?: number; keepdims?: boolean }): Tensor {
    return variance(this, axes, options);
  }
  std(this: Tensor, axes?: Axes, options?: { correction?: number; keepdims?: boolean }): Tensor {
    return std(this, axes, options);
  }
  logSumExp(this: Tensor, axes?: Axes, keepdims = false): Tensor {
    return logSumExp(this, axes, keepdims);
  }

  reshape(this: Tensor, shape: readonly number[]): Tensor {
    return reshape(this, shape);
  }
  flatten(this: Tensor, startAxis = 0, endAxis = -1): Tensor {
    return flatten(this, startAxis, endAxis);
  }
  squeeze(this: Tensor, axes?: number | readonly number[]): Tensor {
    return squeeze(this, axes);
  }
  unsqueeze(this: Tensor, axis: number): Tensor {
    return unsqueeze(this, axis);
  }
  permute(this: Tensor, perm: readonly number[]): Tensor {
    return permute(this, perm);
  }
  transpose(this: Tensor, axis0 = -2, axis1 = -1): Tensor {
    return transpose(this, axis0, axis1);
  }
  expand(this: Tensor, shape: readonly number[]): Tensor {
    return expand(this, shape);
  }
  slice(this: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
    return slice(this, begin, size);
  }
  narrow(this: Tensor, axis: number, start: number, length: number): Tensor {
    return narrow(this, axis, start, length);
  }
  pad(this: Tensor, paddings: readonly (readonly [number, number])[], value = 0): Tensor {
    return pad(this, paddings, value);
  }
  split(this: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
    return split(this, sizeOrSections, axis);
  }
  chunk(this: Tensor, chunks: number, axis = 0): Tensor[] {
    return chunk(this, chunks, axis);
  }
  tril(this: Tensor, k = 0): Tensor {
    return tril(this, k);
  }
  triu(this: Tensor, k = 0): Tensor {
    return triu(this, k);
  }

  matmul(this: Tensor, other: TensorLike, options?: MatmulOptions): Tensor {
    return matmul(this, other, options);
  }
  gather(this: Tensor, axis: number, index: Tensor): Tensor {
    return gather(this, axis, index);
  }
  indexSelect(this: Tensor, axis: number, index: Tensor): Tensor {
    return indexSelect(this, axis, index);
  }
  topk(this: Tensor, k: number, options?: { axis?: number; largest?: boolean }): { values: Tensor; indices: Tensor } {
    return topk(this, k, options);
  }
}

declare module "./tensor.ts" {
  interface Tensor extends TensorMethods {}
}

// defined on Tensor.prototype itself, as class methods are (non-enumerable), so Parameter and every
// other subclass inherits them
for (const name of Object.getOwnPropertyNames(TensorMethods.prototype)) {
  if (name === "constructor") continue;
  Object.defineProperty(Tensor.prototype, name, Object.getOwnPropertyDescriptor(TensorMethods.prototype, name) as PropertyDescriptor);
}

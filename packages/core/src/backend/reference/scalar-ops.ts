/**
 * @file What every elementwise op computes on one value: the semantics that all backends must match.
 *
 * The reference backend computes in float64 and rounds once when it stores into the output's typed
 * array (float32, int32 or bool).
 */

import type { BinaryOp, UnaryOp } from "../backend.ts";
import { erf } from "./erf.ts";

export const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  // NOTE: two branches keep exp from overflowing for large |x|, so sigmoid(-1000) is 0, not NaN.
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  erf,
  // Math.max keeps NaN, as PyTorch does
  relu: (x) => Math.max(x, 0),
  abs: Math.abs,
  // NaN stays NaN; sign(0) = 0, as in PyTorch.
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  logicalNot: (x) => (x === 0 ? 1 : 0),
};

export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  // NaN propagates through maximum and minimum, as in PyTorch (Math.max does this too).
  maximum: Math.max,
  minimum: Math.min,
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  logicalAnd: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  logicalOr: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
};

// Elementwise float32 kernels: unary math, binary arithmetic and comparisons with broadcasting, where,
// casts, and the strided copy behind permute, expand, slice and broadcast materialisation.
//
// Op codes are positions in UNARY_OPS and BINARY_OPS of src/backend/backend.ts (the JS side checks that
// every code it sends has a branch here). Transcendental functions are computed in float64 and rounded
// once, as the reference backend does, except exp and erf, which have SIMD versions within 2 ulp and
// 1.5e-7 absolute (exp4, erf4) for the full vectors; +, -, ·, /, sqrt, min and max are exact in float32.
//
// Strided kernels read a 4-axis iteration space from `meta` (int32s): the sizes d0..d3, then, per
// operand, its element strides s0..s3 (0 where it is broadcast). The output is dense.
import { erf64 } from "./erf";

// unary op codes
const NEG = 0, EXP = 1, LOG = 2, LOG1P = 3, SQRT = 4, TANH = 5, SIGMOID = 6, ERF = 7, RELU = 8, ABS = 9, SIGN = 10;
// binary op codes
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, POW = 4, MAXIMUM = 5, MINIMUM = 6;
const EQ = 7, NE = 8, LT = 9, LE = 10, GT = 11, GE = 12, AND = 13, OR = 14;

@inline function unaryScalar(op: i32, v: f32): f32 {
  let x = <f64>v;
  switch (op) {
    case NEG: return -v;
    case EXP: return <f32>Math.exp(x);
    case LOG: return <f32>Math.log(x);
    case LOG1P: return <f32>Math.log1p(x);
    case SQRT: return Mathf.sqrt(v);
    case TANH: return <f32>Math.tanh(x);
    case SIGMOID: return <f32>(x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
    case ERF: return <f32>erf64(x);
    case RELU: return v > 0 ? v : (isNaN(v) ? v : 0);
    case ABS: return Mathf.abs(v);
    case SIGN: return v > 0 ? 1 : v < 0 ? -1 : v;
    default: return NaN;
  }
}

/**
 * exp of four float32 lanes, within 2 ulp: n = round(x·log2 e), r = x − n·ln 2 in two parts (Cody and
 * Waite), Cephes' degree-6 polynomial for exp(r), then ·2^n as two powers of two so that results below
 * 2^-126 (subnormal) and above 2^127 (overflow to infinity) come out right. NaN stays NaN.
 */
@inline export function exp4(x: v128): v128 {
  x = f32x4.max(f32x4.min(x, f32x4.splat(89)), f32x4.splat(-104));
  let n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  let ni = i32x4.trunc_sat_f32x4_s(n);
  let half = i32x4.shr_s(ni, 1);
  // 2^k as float bits: (k + 127) << 23
  let s1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  let s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/**
 * exp of four float32 lanes that are ≤ 0 (x − max in softmax), shorter than exp4: no overflow is possible,
 * and results below 2^-126 (x < −87.34) are 0, which only differs from the subnormal result by < 1.2e-38.
 * XNNPACK's degree-5 minimax polynomial (its rr2-p5 kernels), within 2 ulp. NaN stays NaN.
 */
@inline function expNeg4(x: v128): v128 {
  let n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let t = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693145751953125))), f32x4.mul(n, f32x4.splat(1.428606765330187e-6)));
  let p = f32x4.splat(8.301110e-3);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(4.1937590e-2));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.6666505e-1));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(4.9999535e-1));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(9.9999994e-1));
  let scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  let e = f32x4.add(scale, f32x4.mul(f32x4.mul(t, scale), p));
  // below the smallest normal: 0 (the comparison is false for NaN, which stays)
  return v128.andnot(e, f32x4.lt(x, f32x4.splat(-87.33654)));
}

/**
 * erf of four float32 lanes, within 1.5e-7 absolute (Abramowitz and Stegun 7.1.26):
 * erf(|x|) = 1 − (a1·t + … + a5·t⁵)·exp(−x²) with t = 1 / (1 + p·|x|), and the sign of x.
 */
@inline function erf4(x: v128): v128 {
  let ax = f32x4.abs(x);
  let t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.3275911), ax)));
  let y = f32x4.splat(1.061405429);
  y = f32x4.add(f32x4.mul(y, t), f32x4.splat(-1.453152027));
  y = f32x4.add(f32x4.mul(y, t), f32x4.splat(1.421413741));
  y = f32x4.add(f32x4.mul(y, t), f32x4.splat(-0.284496736));
  y = f32x4.add(f32x4.mul(y, t), f32x4.splat(0.254829592));
  y = f32x4.mul(y, t);
  let e = f32x4.sub(f32x4.splat(1), f32x4.mul(y, exp4(f32x4.neg(f32x4.mul(ax, ax)))));
  // the sign bit of x onto |erf|; NaN lanes stay NaN (every step above propagates them)
  return v128.or(e, v128.and(x, i32x4.splat(0x80000000)));
}

/** Whether a unary op code has a SIMD branch below (the rest go element by element). */
@inline function unarySimd(op: i32): bool {
  return op == NEG || op == SQRT || op == RELU || op == ABS || op == EXP || op == ERF;
}

@inline function unaryVector(op: i32, v: v128): v128 {
  switch (op) {
    case NEG: return f32x4.neg(v);
    case SQRT: return f32x4.sqrt(v);
    case EXP: return exp4(v);
    case ERF: return erf4(v);
    // NaN lanes compare false against themselves and are kept; every other lane is max(v, 0)
    case RELU: return v128.bitselect(f32x4.max(v, f32x4.splat(0)), v, f32x4.eq(v, v));
    default: return f32x4.abs(v);
  }
}

/** out[i] = op(x[i]) for n dense float32 elements. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32): void {
  let i = 0;
  if (op == EXP) {
    // exp and erf get loops of their own (no op switch inside): they are long dependency chains, and
    // four independent vectors per step overlap them
    for (; i + 16 <= n; i += 16) {
      let o = <usize>i << 2;
      let a = exp4(v128.load(x + o));
      let b = exp4(v128.load(x + o, 16));
      let c = exp4(v128.load(x + o, 32));
      let d = exp4(v128.load(x + o, 48));
      v128.store(out + o, a);
      v128.store(out + o, b, 16);
      v128.store(out + o, c, 32);
      v128.store(out + o, d, 48);
    }
  } else if (op == ERF) {
    for (; i + 16 <= n; i += 16) {
      let o = <usize>i << 2;
      let a = erf4(v128.load(x + o));
      let b = erf4(v128.load(x + o, 16));
      let c = erf4(v128.load(x + o, 32));
      let d = erf4(v128.load(x + o, 48));
      v128.store(out + o, a);
      v128.store(out + o, b, 16);
      v128.store(out + o, c, 32);
      v128.store(out + o, d, 48);
    }
  }
  if (unarySimd(op)) {
    for (; i + 16 <= n; i += 16) {
      let o = <usize>i << 2;
      let a = unaryVector(op, v128.load(x + o));
      let b = unaryVector(op, v128.load(x + o, 16));
      let c = unaryVector(op, v128.load(x + o, 32));
      let d = unaryVector(op, v128.load(x + o, 48));
      v128.store(out + o, a);
      v128.store(out + o, b, 16);
      v128.store(out + o, c, 32);
      v128.store(out + o, d, 48);
    }
    for (; i + 4 <= n; i += 4) {
      let o = <usize>i << 2;
      v128.store(out + o, unaryVector(op, v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    let o = <usize>i << 2;
    store<f32>(out + o, unaryScalar(op, load<f32>(x + o)));
  }
}

@inline function arith(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV: return a / b;
    case POW: return <f32>Math.pow(<f64>a, <f64>b);
    // NaN propagates, and max(-0, +0) is +0, as JavaScript's Math.max
    case MAXIMUM: return isNaN(a) || isNaN(b) ? NaN : (a > b || (a == b && !(a == 0 && 1 / a < 0)) ? a : b);
    default: return isNaN(a) || isNaN(b) ? NaN : (a < b || (a == b && a == 0 && 1 / a < 0) ? a : b);
  }
}

@inline function arithVector(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    // WebAssembly's min and max propagate NaN and order -0 below +0, as Math.min and Math.max do
    case MAXIMUM: return f32x4.max(a, b);
    default: return f32x4.min(a, b);
  }
}

@inline function compare(op: i32, a: f32, b: f32): u8 {
  switch (op) {
    case EQ: return <u8>(a == b);
    case NE: return <u8>(a != b);
    case LT: return <u8>(a < b);
    case LE: return <u8>(a <= b);
    case GT: return <u8>(a > b);
    case GE: return <u8>(a >= b);
    case AND: return <u8>(a != 0 && b != 0);
    default: return <u8>(a != 0 || b != 0);
  }
}

// one run of n outputs along the innermost axis
@inline function binaryRun(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  let i = 0;
  if (op <= MINIMUM) {
    if (op != POW) {
      if (sa == 1 && sb == 1) {
        for (; i + 4 <= n; i += 4) {
          let o = <usize>i << 2;
          v128.store(out + o, arithVector(op, v128.load(a + o), v128.load(b + o)));
        }
      } else if (sa == 1 && sb == 0) {
        let vb = v128.load32_splat(b);
        for (; i + 4 <= n; i += 4) {
          let o = <usize>i << 2;
          v128.store(out + o, arithVector(op, v128.load(a + o), vb));
        }
      } else if (sa == 0 && sb == 1) {
        let va = v128.load32_splat(a);
        for (; i + 4 <= n; i += 4) {
          let o = <usize>i << 2;
          v128.store(out + o, arithVector(op, va, v128.load(b + o)));
        }
      }
    }
    for (; i < n; i++) {
      store<f32>(out + (<usize>i << 2), arith(op, load<f32>(a + (<usize>(i * sa) << 2)), load<f32>(b + (<usize>(i * sb) << 2))));
    }
  } else {
    for (; i < n; i++) {
      store<u8>(out + <usize>i, compare(op, load<f32>(a + (<usize>(i * sa) << 2)), load<f32>(b + (<usize>(i * sb) << 2))));
    }
  }
}

/**
 * out = op(a, b) over the broadcast iteration space in `meta` (sizes, a's strides, b's strides).
 * Arithmetic writes float32, comparisons and logical ops write one byte per element.
 */
export function binaryF32(op: i32, a: usize, b: usize, out: usize, meta: usize): void {
  let d0 = load<i32>(meta), d1 = load<i32>(meta, 4), d2 = load<i32>(meta, 8), d3 = load<i32>(meta, 12);
  let a0 = load<i32>(meta, 16), a1 = load<i32>(meta, 20), a2 = load<i32>(meta, 24), a3 = load<i32>(meta, 28);
  let b0 = load<i32>(meta, 32), b1 = load<i32>(meta, 36), b2 = load<i32>(meta, 40), b3 = load<i32>(meta, 44);
  let outBytes: usize = op <= MINIMUM ? 4 : 1;
  let o = out;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let i2 = 0; i2 < d2; i2++) {
        let pa = a + (<usize>(i0 * a0 + i1 * a1 + i2 * a2) << 2);
        let pb = b + (<usize>(i0 * b0 + i1 * b1 + i2 * b2) << 2);
        binaryRun(op, pa, a3, pb, b3, o, d3);
        o += <usize>d3 * outBytes;
      }
    }
  }
}

/** out = cond ? a : b over the iteration space in `meta` (sizes, then cond's, a's and b's strides); cond is bytes. */
export function whereF32(cond: usize, a: usize, b: usize, out: usize, meta: usize): void {
  let d0 = load<i32>(meta), d1 = load<i32>(meta, 4), d2 = load<i32>(meta, 8), d3 = load<i32>(meta, 12);
  let c3 = load<i32>(meta, 28), a3 = load<i32>(meta, 44), b3 = load<i32>(meta, 60);
  let o = out;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let i2 = 0; i2 < d2; i2++) {
        let pc = cond + <usize>(i0 * load<i32>(meta, 16) + i1 * load<i32>(meta, 20) + i2 * load<i32>(meta, 24));
        let pa = a + (<usize>(i0 * load<i32>(meta, 32) + i1 * load<i32>(meta, 36) + i2 * load<i32>(meta, 40)) << 2);
        let pb = b + (<usize>(i0 * load<i32>(meta, 48) + i1 * load<i32>(meta, 52) + i2 * load<i32>(meta, 56)) << 2);
        for (let i = 0; i < d3; i++) {
          let v = load<u8>(pc + <usize>(i * c3)) ? load<f32>(pa + (<usize>(i * a3) << 2)) : load<f32>(pb + (<usize>(i * b3) << 2));
          store<f32>(o, v);
          o += 4;
        }
      }
    }
  }
}

/**
 * Dense copy of a strided view: out[...] = x[Σ i_k·s_k] over the iteration space in `meta` (sizes, then
 * x's strides), for elements of 1, 4 or 8 bytes.
 */
export function copyStrided(x: usize, out: usize, meta: usize, elementBytes: i32): void {
  let d0 = load<i32>(meta), d1 = load<i32>(meta, 4), d2 = load<i32>(meta, 8), d3 = load<i32>(meta, 12);
  let s0 = load<i32>(meta, 16), s1 = load<i32>(meta, 20), s2 = load<i32>(meta, 24), s3 = load<i32>(meta, 28);
  let o = out;
  let size = <usize>elementBytes;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let i2 = 0; i2 < d2; i2++) {
        let p = x + <usize>(i0 * s0 + i1 * s1 + i2 * s2) * size;
        if (s3 == 1 && size == 4) {
          // short contiguous runs (a head's 16 features, say): vectors, not a memory.copy call per run
          let i = 0;
          for (; i + 4 <= d3; i += 4) v128.store(o + (<usize>i << 2), v128.load(p + (<usize>i << 2)));
          for (; i < d3; i++) store<u32>(o + (<usize>i << 2), load<u32>(p + (<usize>i << 2)));
        } else if (s3 == 1) {
          memory.copy(o, p, <usize>d3 * size);
        } else if (size == 4) {
          let step = <usize>s3 << 2;
          for (let i = 0; i < d3; i++) {
            store<u32>(o + (<usize>i << 2), load<u32>(p));
            p += step;
          }
        } else if (size == 8) {
          let step = <usize>s3 << 3;
          for (let i = 0; i < d3; i++) {
            store<u64>(o + (<usize>i << 3), load<u64>(p));
            p += step;
          }
        } else {
          for (let i = 0; i < d3; i++) store<u8>(o + <usize>i, load<u8>(p + <usize>(i * s3)));
        }
        o += <usize>d3 * size;
      }
    }
  }
}

// cast codes: what `castDense` converts
const I32_TO_F32 = 0, U8_TO_F32 = 1, F32_TO_U8 = 2, F32_TO_F64 = 3, F64_TO_F32 = 4, F32_TO_I32 = 5;

/** Dense conversion of n elements (codes above); float32 to int32 truncates toward zero and wraps, as a typed-array store. */
export function castDense(code: i32, x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    let k = <usize>i;
    switch (code) {
      case I32_TO_F32: store<f32>(out + (k << 2), <f32>load<i32>(x + (k << 2))); break;
      case U8_TO_F32: store<f32>(out + (k << 2), <f32>load<u8>(x + k)); break;
      case F32_TO_U8: store<u8>(out + k, <u8>(load<f32>(x + (k << 2)) != 0 || isNaN(load<f32>(x + (k << 2))))); break;
      case F32_TO_F64: store<f64>(out + (k << 3), <f64>load<f32>(x + (k << 2))); break;
      case F64_TO_F32: store<f32>(out + (k << 2), <f32>load<f64>(x + (k << 3))); break;
      default: {
        let v = <f64>load<f32>(x + (k << 2));
        // ECMAScript ToInt32: NaN and infinities give 0, the rest truncates and wraps modulo 2^32
        let t = isFinite(v) ? Math.trunc(v) : 0;
        store<i32>(out + (k << 2), <i32><i64>(t - Math.floor(t / 4294967296) * 4294967296));
      }
    }
  }
}

/**
 * Softmax along rows [r0, r1) of a dense [rows, cols] matrix: exp(x − max) / Σ exp(x − max), the sum in
 * float64. A row holding NaN gives NaN, as the composite definition does.
 */
export function softmaxRows(x: usize, out: usize, r0: i32, r1: i32, cols: i32): void {
  let rowBytes = <usize>cols << 2;
  for (let r = r0; r < r1; r++) {
    let src = x + <usize>r * rowBytes;
    let dst = out + <usize>r * rowBytes;
    let m = rowMax(src, cols);
    let shift = f32x4.splat(m);
    // four independent exps per step (see unaryF32), then their sum in float64 over what was stored
    let j = 0;
    for (; j + 16 <= cols; j += 16) {
      let p = src + (<usize>j << 2);
      let q = dst + (<usize>j << 2);
      let a = expNeg4(f32x4.sub(v128.load(p), shift));
      let b = expNeg4(f32x4.sub(v128.load(p, 16), shift));
      let c = expNeg4(f32x4.sub(v128.load(p, 32), shift));
      let d = expNeg4(f32x4.sub(v128.load(p, 48), shift));
      v128.store(q, a);
      v128.store(q, b, 16);
      v128.store(q, c, 32);
      v128.store(q, d, 48);
    }
    for (; j + 4 <= cols; j += 4) v128.store(dst + (<usize>j << 2), expNeg4(f32x4.sub(v128.load(src + (<usize>j << 2)), shift)));
    for (; j < cols; j++) store<f32>(dst + (<usize>j << 2), f32x4.extract_lane(expNeg4(f32x4.splat(load<f32>(src + (<usize>j << 2)) - m)), 0));
    let sum = rowSum(dst, cols);
    let inv = <f32>(1 / sum);
    let scale = f32x4.splat(inv);
    j = 0;
    for (; j + 4 <= cols; j += 4) v128.store(dst + (<usize>j << 2), f32x4.mul(v128.load(dst + (<usize>j << 2)), scale));
    for (; j < cols; j++) store<f32>(dst + (<usize>j << 2), load<f32>(dst + (<usize>j << 2)) * inv);
  }
}

/** The sum of n float32s in float64, with four independent pairs of accumulators. */
@inline function rowSum(src: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = s0, s2 = s0, s3 = s0;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let p = src + (<usize>j << 2);
    let a = v128.load(p);
    let b = v128.load(p, 16);
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(a));
    s1 = f64x2.add(s1, f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)));
    s2 = f64x2.add(s2, f64x2.promote_low_f32x4(b));
    s3 = f64x2.add(s3, f64x2.promote_low_f32x4(i32x4.shuffle(b, b, 2, 3, 0, 1)));
  }
  let t = f64x2.add(f64x2.add(s0, s1), f64x2.add(s2, s3));
  let sum = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  for (; j < n; j++) sum += <f64>load<f32>(src + (<usize>j << 2));
  return sum;
}

/** The maximum of n float32s (NaN if any is NaN), with four independent SIMD accumulators. */
@inline function rowMax(src: usize, n: i32): f32 {
  let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    let p = src + (<usize>j << 2);
    m0 = f32x4.max(m0, v128.load(p));
    m1 = f32x4.max(m1, v128.load(p, 16));
    m2 = f32x4.max(m2, v128.load(p, 32));
    m3 = f32x4.max(m3, v128.load(p, 48));
  }
  for (; j + 4 <= n; j += 4) m0 = f32x4.max(m0, v128.load(src + (<usize>j << 2)));
  let m4 = f32x4.max(f32x4.max(m0, m1), f32x4.max(m2, m3));
  let m = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  for (; j < n; j++) m = max(m, load<f32>(src + (<usize>j << 2)));
  return m;
}

/**
 * logSoftmax along rows [r0, r1) of a dense [rows, cols] matrix, as (x − m) − log Σ exp(x − m), which
 * keeps the top classes exact at large logits (x − (m + log Σ ...) would round the sum to m first). An
 * infinite maximum shifts by 0, as the composite definition does; the last pass runs in float64.
 */
export function logSoftmaxRows(x: usize, out: usize, r0: i32, r1: i32, cols: i32): void {
  let rowBytes = <usize>cols << 2;
  for (let r = r0; r < r1; r++) {
    let src = x + <usize>r * rowBytes;
    let dst = out + <usize>r * rowBytes;
    let m = rowMax(src, cols);
    if (!isFinite(m) && !isNaN(m)) m = 0;
    let j = 0;
    let shift = f32x4.splat(m);
    let lo = f64x2.splat(0), hi = f64x2.splat(0);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      let e = exp4(f32x4.sub(v128.load(src + (<usize>j << 2)), shift));
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(e));
      hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 0, 1)));
    }
    let sum = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1);
    for (; j < cols; j++) sum += <f64>f32x4.extract_lane(exp4(f32x4.splat(load<f32>(src + (<usize>j << 2)) - m)), 0);
    let logSum = Math.log(sum);
    let shift64 = <f64>m;
    for (j = 0; j < cols; j++) {
      let o = <usize>j << 2;
      store<f32>(dst + o, <f32>((<f64>load<f32>(src + o) - shift64) - logSum));
    }
  }
}

/**
 * GELU of n dense float32s: x·Φ(x) = 0.5·x·(1 + erf(x/√2)), or with `tanhForm` the GPT-2 form
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as x·σ(2u) (the same function, without the
 * cancellation of 1 + tanh u at large negative u).
 */
export function geluF32(tanhForm: bool, x: usize, out: usize, n: i32): void {
  let i = 0;
  let half = f32x4.splat(0.5);
  let one = f32x4.splat(1);
  for (; i + 4 <= n; i += 4) {
    let o = <usize>i << 2;
    let v = v128.load(x + o);
    let g: v128;
    if (tanhForm) {
      let u = f32x4.mul(f32x4.splat(0.7978845608028654), f32x4.add(v, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(v, f32x4.mul(v, v)))));
      g = f32x4.div(v, f32x4.add(one, exp4(f32x4.mul(f32x4.splat(-2), u))));
    } else {
      g = f32x4.mul(f32x4.mul(half, v), f32x4.add(one, erf4(f32x4.mul(v, f32x4.splat(0.7071067811865476)))));
    }
    v128.store(out + o, g);
  }
  for (; i < n; i++) {
    let o = <usize>i << 2;
    let v = <f64>load<f32>(x + o);
    let g: f64;
    if (tanhForm) g = v / (1 + Math.exp(-2 * 0.7978845608028654 * (v + 0.044715 * v * v * v)));
    else g = 0.5 * v * (1 + erf64(v * 0.7071067811865476));
    store<f32>(out + o, <f32>g);
  }
}

/**
 * Layer normalisation of rows [r0, r1) of a dense [rows, cols] matrix: (x − mean) / √(var + eps), the
 * biased variance. Everything runs in float64 (two lanes at a time) and rounds once on store, as the
 * reference backend does: a nearly constant row would lose its digits to a float32 mean.
 */
export function layerNormRows(x: usize, out: usize, r0: i32, r1: i32, cols: i32, eps: f64): void {
  let rowBytes = <usize>cols << 2;
  for (let r = r0; r < r1; r++) {
    let src = x + <usize>r * rowBytes;
    let dst = out + <usize>r * rowBytes;
    let mean = rowSum(src, cols) / <f64>cols;
    let m2 = f64x2.splat(mean);
    let s0 = f64x2.splat(0), s1 = s0;
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      let v = v128.load(src + (<usize>j << 2));
      let lo = f64x2.sub(f64x2.promote_low_f32x4(v), m2);
      let hi = f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), m2);
      s0 = f64x2.add(s0, f64x2.mul(lo, lo));
      s1 = f64x2.add(s1, f64x2.mul(hi, hi));
    }
    let t = f64x2.add(s0, s1);
    let squares = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
    for (; j < cols; j++) {
      let d = <f64>load<f32>(src + (<usize>j << 2)) - mean;
      squares += d * d;
    }
    let rstd = 1 / Math.sqrt(squares / <f64>cols + eps);
    let r2 = f64x2.splat(rstd);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      let o = <usize>j << 2;
      let v = v128.load(src + o);
      let lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v), m2), r2));
      let hi = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), m2), r2));
      v128.store(dst + o, i32x4.shuffle(lo, hi, 0, 1, 4, 5));
    }
    for (; j < cols; j++) {
      let o = <usize>j << 2;
      store<f32>(dst + o, <f32>((<f64>load<f32>(src + o) - mean) * rstd));
    }
  }
}

/**
 * One AdamW update of n float32 parameters in place, operation by operation as @tsgrad/nn's composite
 * (each step rounded to float32, as the op-by-op version rounds every op): p ← p·decay (if applyDecay), m ← m + (g − m)·(1 − β1), v ← v·β2 + g²·(1 − β2), v̂ ← max(v̂, v) with amsgrad (vMax ≠ 0), then
 * p ← p + (m / (√v̂ / bc2 + eps))·(−stepSize). Every scalar is a float32 already.
 */
export function adamwF32(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  vMax: usize,
  n: i32,
  applyDecay: bool,
  decay: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  bc2: f32,
  eps: f32,
  negStepSize: f32,
): void {
  let D = f32x4.splat(decay), B1 = f32x4.splat(oneMinusBeta1), B2 = f32x4.splat(beta2), C2 = f32x4.splat(oneMinusBeta2);
  let BC = f32x4.splat(bc2), E = f32x4.splat(eps), S = f32x4.splat(negStepSize);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let o = <usize>i << 2;
    let pv = v128.load(p + o);
    if (applyDecay) pv = f32x4.mul(pv, D);
    let gv = v128.load(g + o);
    let mv = v128.load(m + o);
    mv = f32x4.add(mv, f32x4.mul(f32x4.sub(gv, mv), B1));
    let vv = f32x4.add(f32x4.mul(v128.load(v + o), B2), f32x4.mul(f32x4.mul(gv, gv), C2));
    let second = vv;
    if (vMax != 0) {
      second = f32x4.max(v128.load(vMax + o), vv);
      v128.store(vMax + o, second);
    }
    let denom = f32x4.add(f32x4.div(f32x4.sqrt(second), BC), E);
    pv = f32x4.add(pv, f32x4.mul(f32x4.div(mv, denom), S));
    v128.store(p + o, pv);
    v128.store(m + o, mv);
    v128.store(v + o, vv);
  }
  for (; i < n; i++) {
    let o = <usize>i << 2;
    let pv = load<f32>(p + o);
    if (applyDecay) pv = pv * decay;
    let gv = load<f32>(g + o);
    let mv = load<f32>(m + o);
    mv = mv + (gv - mv) * oneMinusBeta1;
    let vv = load<f32>(v + o) * beta2 + gv * gv * oneMinusBeta2;
    let second = vv;
    if (vMax != 0) {
      second = max(load<f32>(vMax + o), vv);
      store<f32>(vMax + o, second);
    }
    let denom = Mathf.sqrt(second) / bc2 + eps;
    pv = pv + (mv / denom) * negStepSize;
    store<f32>(p + o, pv);
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
  }
}

/**
 * PyTorch's gather along axis 0 of a float32 matrix [rows, cols] with int32 indices [n, cols] (every
 * index already checked to be in range): out[i][j] = x[index[i][j]][j]. The embedding lookup's kernel.
 */
export function gatherRowsF32(x: usize, index: usize, out: usize, n: i32, cols: i32): void {
  let total = n * cols;
  for (let i = 0; i < total; i++) {
    let j = i % cols;
    let row = load<i32>(index + (<usize>i << 2));
    store<f32>(out + (<usize>i << 2), load<f32>(x + (<usize>(row * cols + j) << 2)));
  }
}

/**
 * scatterAdd along axis 0: out = base, then out[index[i][j]][j] += src[i][j] for every (i, j) in order
 * (one thread, so the sums are the same on every run). The embedding's backward.
 */
export function scatterAddRowsF32(base: usize, index: usize, src: usize, out: usize, rows: i32, n: i32, cols: i32): void {
  memory.copy(out, base, <usize>(rows * cols) << 2);
  let total = n * cols;
  for (let i = 0; i < total; i++) {
    let j = i % cols;
    let dst = out + (<usize>(load<i32>(index + (<usize>i << 2)) * cols + j) << 2);
    store<f32>(dst, load<f32>(dst) + load<f32>(src + (<usize>i << 2)));
  }
}

// Elementwise float32 kernels: unary math, binary arithmetic and comparisons with broadcasting, where,
// casts, and the strided copy behind permute, expand, slice and broadcast materialisation.
//
// Op codes are positions in UNARY_OPS and BINARY_OPS of src/backend/backend.ts (the parity suites run
// every op through these kernels; an unknown code gives NaN). Transcendental functions are computed in
// float64 and rounded once, as the reference backend does, except exp and erf, which have SIMD versions
// within 2 ulp and 3.3e-7 absolute (exp4, erf4) for full vectors; +, -, ·, /, sqrt, min and max are
// exact in float32.
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
 * erf of four float32 lanes, within 1.5e-7 absolute (Abramowitz and Stegun 7.1.26):
 * erf(|x|) = 1 − (a1·t + … + a5·t⁵)·exp(−x²) with t = 1 / (1 + p·|x|), and the sign of x.
 */
@inline export function erf4(x: v128): v128 {
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

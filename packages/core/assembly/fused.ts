// Fused float32 kernels: softmax, logSoftmax, GELU and layer normalisation along rows, and the AdamW
// update. Each computes what its composite in src/composite/ computes (the parity suites check it).
import { erf64 } from "./erf";
import { erf4, exp4 } from "./elementwise";

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

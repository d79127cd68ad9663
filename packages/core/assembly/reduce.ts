// Float32 reductions over the middle axis of [outer, len, inner]: out[o][i] = op over r of x[o][r][i].
// A sum accumulates in float64 (as the reference backend does); max and min keep the first NaN they
// meet, because WebAssembly's min and max propagate NaN.

const SUM = 0, MAX = 1;

@inline function combine(op: i32, acc: f64, v: f64): f64 {
  if (op == SUM) return acc + v;
  if (op == MAX) return isNaN(acc) || isNaN(v) ? NaN : max(acc, v);
  return isNaN(acc) || isNaN(v) ? NaN : min(acc, v);
}

/**
 * `work` is scratch for `inner` float64 accumulators (the thread's GEMM scratch); 0 when it is too small,
 * and then sums walk each group of four columns down the rows instead of streaming the rows once.
 */
export function reduceF32(op: i32, x: usize, out: usize, outer: i32, len: i32, inner: i32, work: usize): void {
  let start: f64 = op == SUM ? 0 : op == MAX ? -Infinity : Infinity;
  let rowBytes = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    let base = x + <usize>o * <usize>len * rowBytes;
    let dst = out + <usize>o * rowBytes;
    if (inner == 1) {
      // contiguous: four lanes, then the tail, combined in float64
      let i = 0;
      if (op == SUM) {
        let lo = f64x2.splat(0), hi = f64x2.splat(0);
        for (; i + 4 <= len; i += 4) {
          let v = v128.load(base + (<usize>i << 2));
          lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
          hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
        }
        let acc = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1);
        for (; i < len; i++) acc += <f64>load<f32>(base + (<usize>i << 2));
        store<f32>(dst, <f32>acc);
      } else {
        // WebAssembly's f32x4.max and min propagate NaN, as the reduction must
        let acc4 = f32x4.splat(<f32>start);
        for (; i + 4 <= len; i += 4) {
          let v = v128.load(base + (<usize>i << 2));
          acc4 = op == MAX ? f32x4.max(acc4, v) : f32x4.min(acc4, v);
        }
        let acc = start;
        acc = combine(op, acc, <f64>f32x4.extract_lane(acc4, 0));
        acc = combine(op, combine(op, acc, <f64>f32x4.extract_lane(acc4, 1)), <f64>f32x4.extract_lane(acc4, 2));
        acc = combine(op, acc, <f64>f32x4.extract_lane(acc4, 3));
        for (; i < len; i++) acc = combine(op, acc, <f64>load<f32>(base + (<usize>i << 2)));
        store<f32>(dst, <f32>acc);
      }
      continue;
    }
    let j = 0;
    if (op == SUM && work != 0) {
      // stream the rows once, adding each into float64 accumulators (a column walk would stride through memory)
      memory.fill(work, 0, <usize>inner << 3);
      for (let r = 0; r < len; r++) {
        let p = base + <usize>r * rowBytes;
        let k = 0;
        for (; k + 4 <= inner; k += 4) {
          let v = v128.load(p + (<usize>k << 2));
          let q = work + (<usize>k << 3);
          v128.store(q, f64x2.add(v128.load(q), f64x2.promote_low_f32x4(v)));
          v128.store(q, f64x2.add(v128.load(q, 16), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))), 16);
        }
        for (; k < inner; k++) {
          let q = work + (<usize>k << 3);
          store<f64>(q, load<f64>(q) + <f64>load<f32>(p + (<usize>k << 2)));
        }
      }
      for (let k = 0; k < inner; k++) store<f32>(dst + (<usize>k << 2), <f32>load<f64>(work + (<usize>k << 3)));
      continue;
    }
    if (op == SUM) {
      for (; j + 4 <= inner; j += 4) {
        let lo = f64x2.splat(0), hi = f64x2.splat(0);
        let p = base + (<usize>j << 2);
        for (let r = 0; r < len; r++) {
          let v = v128.load(p);
          lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
          hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
          p += rowBytes;
        }
        let q = dst + (<usize>j << 2);
        v128.store(q, f32x4.demote_f64x2_zero(lo));
        v128.store64_lane(q + 8, f32x4.demote_f64x2_zero(hi), 0);
      }
    }
    if (op != SUM) {
      for (; j + 4 <= inner; j += 4) {
        let acc4 = f32x4.splat(<f32>start);
        let p = base + (<usize>j << 2);
        for (let r = 0; r < len; r++) {
          let v = v128.load(p);
          acc4 = op == MAX ? f32x4.max(acc4, v) : f32x4.min(acc4, v);
          p += rowBytes;
        }
        v128.store(dst + (<usize>j << 2), acc4);
      }
    }
    for (; j < inner; j++) {
      let acc = start;
      let p = base + (<usize>j << 2);
      for (let r = 0; r < len; r++) {
        acc = combine(op, acc, <f64>load<f32>(p));
        p += rowBytes;
      }
      store<f32>(dst + (<usize>j << 2), <f32>acc);
    }
  }
}

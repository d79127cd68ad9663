// GEMM: C[M×N] = op(A)·op(B) in float32, GotoBLAS-style blocking with a 4×8 register tile.
//
// Operands are read through strides, so a transposed operand is read in place: element (i, p) of op(A)
// is at a + 4·(i·rsA + p·csA), element (p, j) of op(B) at b + 4·(p·rsB + j·csB). C is dense, row-major.
// `work` is this thread's scratch (workBytes()); every pointer is a byte offset into the shared memory.
//
// For each block of NC columns and KC depths, B is packed into zero-padded panels of 8 columns (K-major,
// 32 bytes per depth: one panel stays in L1); for each block of MC rows, A is packed into panels of 4
// rows (16 bytes per depth). The micro-kernel keeps a 4×8 tile of C in 8 v128 accumulators. Edge tiles
// are computed into a temporary tile and copied, so there is one micro-kernel only.

const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 1024;
const TILE_BYTES: usize = 4 * 8 * 4;

/** Scratch bytes a thread needs: packed B block, packed A block, one edge tile. */
export function workBytes(): i32 {
  return KC * NC * 4 + MC * KC * 4 + <i32>TILE_BYTES;
}

@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// C[4×8] (row stride ldc bytes) = (or +=) Apanel[kc×4]·Bpanel[kc×8], both packed K-major
@inline function micro(ap: usize, bp: usize, c: usize, ldc: usize, kc: i32, first: bool): void {
  let c1 = c + ldc,
    c2 = c1 + ldc,
    c3 = c2 + ldc;
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (first) {
    c00 = f32x4.splat(0);
    c01 = c00;
    c10 = c00;
    c11 = c00;
    c20 = c00;
    c21 = c00;
    c30 = c00;
    c31 = c00;
  } else {
    c00 = v128.load(c);
    c01 = v128.load(c, 16);
    c10 = v128.load(c1);
    c11 = v128.load(c1, 16);
    c20 = v128.load(c2);
    c21 = v128.load(c2, 16);
    c30 = v128.load(c3);
    c31 = v128.load(c3, 16);
  }
  let end = bp + (<usize>kc << 5);
  // no manual unrolling: TurboFan unrolls this loop itself, and binaryen would merge unrolled updates
  while (bp < end) {
    let b0 = v128.load(bp),
      b1 = v128.load(bp, 16);
    let x = v128.load32_splat(ap);
    c00 = fma(x, b0, c00);
    c01 = fma(x, b1, c01);
    x = v128.load32_splat(ap, 4);
    c10 = fma(x, b0, c10);
    c11 = fma(x, b1, c11);
    x = v128.load32_splat(ap, 8);
    c20 = fma(x, b0, c20);
    c21 = fma(x, b1, c21);
    x = v128.load32_splat(ap, 12);
    c30 = fma(x, b0, c30);
    c31 = fma(x, b1, c31);
    ap += 16;
    bp += 32;
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c1, c10);
  v128.store(c1, c11, 16);
  v128.store(c2, c20);
  v128.store(c2, c21, 16);
  v128.store(c3, c30);
  v128.store(c3, c31, 16);
}

// packs op(A)[i0 .. i0+mc) × [p0 .. p0+kc) into panels of 4 rows, zero-padded to a multiple of 4 rows
function packA(a: usize, rsA: i32, csA: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += 4) {
    let rows = min(4, mc - ir);
    let panel = dst + <usize>(ir * kc * 4);
    if (rows == 4 && rsA == 1) {
      // A is stored transposed: four consecutive rows of op(A) are adjacent in memory
      let src = a + (<usize>(i0 + ir + p0 * csA) << 2);
      let step = <usize>csA << 2;
      for (let p = 0; p < kc; p++) {
        v128.store(panel + (<usize>p << 4), v128.load(src));
        src += step;
      }
    } else if (rows == 4 && csA == 1) {
      let r0 = a + (<usize>((i0 + ir) * rsA + p0) << 2);
      let step = <usize>rsA << 2;
      let r1 = r0 + step,
        r2 = r1 + step,
        r3 = r2 + step;
      for (let p = 0; p < kc; p++) {
        let q = panel + (<usize>p << 4);
        let o = <usize>p << 2;
        store<f32>(q, load<f32>(r0 + o));
        store<f32>(q, load<f32>(r1 + o), 4);
        store<f32>(q, load<f32>(r2 + o), 8);
        store<f32>(q, load<f32>(r3 + o), 12);
      }
    } else {
      for (let p = 0; p < kc; p++) {
        let q = panel + (<usize>p << 4);
        for (let r = 0; r < 4; r++) {
          let v: f32 = 0;
          if (r < rows) v = load<f32>(a + (<usize>((i0 + ir + r) * rsA + (p0 + p) * csA) << 2));
          store<f32>(q + (<usize>r << 2), v);
        }
      }
    }
  }
}

// packs op(B)[p0 .. p0+kc) × [j0 .. j0+nc) into panels of 8 columns, zero-padded to a multiple of 8
function packB(b: usize, rsB: i32, csB: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += 8) {
    let cols = min(8, nc - jr);
    let panel = dst + <usize>(jr * kc * 4);
    if (cols == 8 && csB == 1) {
      let src = b + (<usize>(p0 * rsB + j0 + jr) << 2);
      let step = <usize>rsB << 2;
      for (let p = 0; p < kc; p++) {
        let q = panel + (<usize>p << 5);
        v128.store(q, v128.load(src));
        v128.store(q, v128.load(src, 16), 16);
        src += step;
      }
    } else if (cols == 8 && rsB == 1) {
      // B is stored transposed: each of the 8 columns of op(B) is contiguous along the depth
      let col = b + (<usize>(p0 + (j0 + jr) * csB) << 2);
      let step = <usize>csB << 2;
      for (let c = 0; c < 8; c++) {
        let src = col + <usize>c * step;
        let q = panel + (<usize>c << 2);
        for (let p = 0; p < kc; p++) store<f32>(q + (<usize>p << 5), load<f32>(src + (<usize>p << 2)));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        let q = panel + (<usize>p << 5);
        for (let c = 0; c < 8; c++) {
          let v: f32 = 0;
          if (c < cols) v = load<f32>(b + (<usize>((p0 + p) * rsB + (j0 + jr + c) * csB) << 2));
          store<f32>(q + (<usize>c << 2), v);
        }
      }
    }
  }
}

/** C = op(A)·op(B) for one matrix (see the top of this file for the strides). */
export function gemm(a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, rsA: i32, csA: i32, rsB: i32, csB: i32, work: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    memory.fill(c, 0, <usize>(M * N) << 2);
    return;
  }
  let packedB = work;
  let packedA = work + <usize>(KC * NC * 4);
  let tile = packedA + <usize>(MC * KC * 4);
  let ldc = <usize>N << 2;
  for (let j0 = 0; j0 < N; j0 += NC) {
    let nc = min(NC, N - j0);
    for (let p0 = 0; p0 < K; p0 += KC) {
      let kc = min(KC, K - p0);
      let first = p0 == 0;
      packB(b, rsB, csB, p0, kc, j0, nc, packedB);
      for (let i0 = 0; i0 < M; i0 += MC) {
        let mc = min(MC, M - i0);
        packA(a, rsA, csA, i0, mc, p0, kc, packedA);
        for (let jr = 0; jr < nc; jr += 8) {
          let cols = min(8, nc - jr);
          let bp = packedB + <usize>(jr * kc * 4);
          for (let ir = 0; ir < mc; ir += 4) {
            let rows = min(4, mc - ir);
            let ap = packedA + <usize>(ir * kc * 4);
            let cp = c + <usize>(i0 + ir) * ldc + (<usize>(j0 + jr) << 2);
            if (rows == 4 && cols == 8) {
              micro(ap, bp, cp, ldc, kc, first);
            } else {
              micro(ap, bp, tile, 32, kc, true);
              for (let r = 0; r < rows; r++) {
                for (let q = 0; q < cols; q++) {
                  let dst = cp + <usize>r * ldc + (<usize>q << 2);
                  let v = load<f32>(tile + (<usize>(r * 8 + q) << 2));
                  store<f32>(dst, first ? v : load<f32>(dst) + v);
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Matrices [b0, b1) of a batch: matrix i reads A at element offset offsets[2i] and B at offsets[2i + 1]
 * (int32 pairs at `offsets`), and writes C at i·M·N.
 */
export function gemmBatched(
  a: usize,
  b: usize,
  c: usize,
  offsets: usize,
  b0: i32,
  b1: i32,
  M: i32,
  N: i32,
  K: i32,
  rsA: i32,
  csA: i32,
  rsB: i32,
  csB: i32,
  work: usize,
): void {
  let size = <usize>(M * N) << 2;
  for (let i = b0; i < b1; i++) {
    let oa = <usize>load<i32>(offsets + (<usize>i << 3));
    let ob = <usize>load<i32>(offsets + (<usize>i << 3), 4);
    gemm(a + (oa << 2), b + (ob << 2), c + <usize>i * size, M, N, K, rsA, csA, rsB, csB, work);
  }
}

// Indexing kernels: the embedding's gather along axis 0 and its backward, scatterAdd.

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

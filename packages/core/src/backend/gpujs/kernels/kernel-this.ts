/**
 * @file What `this` is inside a gpu.js kernel function, and the conventions every kernel file follows.
 *
 * Kernel functions are plain standalone `function`s: gpu.js reads their source text and translates it to
 * WGSL, WebAssembly or JavaScript, so their bodies use only the subset gpu.js understands (numbers, `if`,
 * `for` with a constant or argument bound, `Math.*` with at most two arguments, no closures, no helpers).
 *
 * Conventions shared by every kernel:
 * - The output is flat and 1-D: thread x is the row-major position of one output element. Shapes, strides
 *   and sizes arrive as arguments (a small `meta` array and integers), so a new shape never recompiles.
 * - `n` is the number of valid outputs; threads at or past it return 0 without reading anything (on
 *   webasm the output is rounded up to a size class, see storage.ts).
 * - Every integer computed inside a kernel is a float32, exact below 2^24: that is why tensors are capped
 *   at 2^24 elements, and why whole quotients are corrected instead of trusted (the next point).
 * - The exact quotient, for turning a flat position into indices. WGSL's float division may be off by
 *   2.5 ulp, enough for `floor(6 / 3)` to come out as 1, so every q = floor(r / d) of whole numbers is
 *       let q = Math.floor(r / d);
 *       if (q * d > r) q = q - 1;
 *       if ((q + 1) * d <= r) q = q + 1;
 *   where the products of whole numbers are exact, so the two tests move a floor that came out one too
 *   high or one too low onto the true quotient. Each copy is marked `// exact quotient (kernel-this.ts)`,
 *   and test/gpujs-kernels.test.ts holds every floor of a division in kernels/ to these three lines. The
 *   lines are pasted rather than made a helper (gpu.js's addFunction): on webasm the SIMD path calls a
 *   helper once per lane, which made a broadcast add of 2^20 elements about 20 % slower.
 * - `kind` is the dtype of the stored result: 0 float32, 1 int32 (truncated toward zero, NaN and ±Inf to
 *   0), 2 bool (0 or 1; NaN counts as true). gpu.js ignores `returnType: "Integer"`, so kernels convert
 *   themselves, before the value can feed the next kernel.
 * - NaN is detected as `!(v < 1 || v >= 1)`: on WebGPU `v !== v` is folded to false by the shader compiler.
 * - Special values (NaN, ±Infinity) come in through the `sp` array: a WGSL constant expression that is not
 *   finite does not compile.
 */

export interface KernelThis {
  readonly thread: { readonly x: number; readonly y: number; readonly z: number };
}

/** How many axes a kernel's meta array describes after coalescing. */
export const MAX_RANK = 8;

/** Length of every meta array: fixed, so that it never changes a webasm module's size signature. */
export const META_LENGTH = 64;

/** `sp` holds, in this order: NaN, +Infinity, -Infinity. */
export const SPECIAL_VALUES = new Float32Array([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0]);

export const KIND = { float32: 0, int32: 1, bool: 2 } as const;

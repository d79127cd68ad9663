/**
 * @file Helpers for backend-parity tests in every package that run anywhere (a browser too): starting a
 * gpujs mode, and a normwise comparison for layers. The Node-only ones (which backends a test file runs,
 * a relaxed-SIMD child process, how a file that started WebGPU ends) are in parity-node.ts.
 */

import { type Backend, setBackend } from "../backend/backend.ts";
import { assertArrayClose } from "./assert-close.ts";
import { tolerance } from "./tolerance.ts";

export type GpujsMode = "cpu" | "webasm" | "webgpu";

/** The backend of one gpujs mode, or null with the reason it did not start. */
export async function startGpujs(mode: GpujsMode): Promise<{ backend: Backend | null; reason: string }> {
  try {
    return { backend: await setBackend(`gpujs:${mode}`), reason: "" };
  } catch (error) {
    return { backend: null, reason: (error as Error).message };
  }
}

/**
 * Compares a layer's output or gradient normwise: max|actual - expected| within atol + rtol·max|expected|
 * of the whole tensor, at the backend's matmul tolerance, because each element of a layer's output mixes
 * many products and has no single magnitude of its own.
 */
export function assertNormwiseClose(actual: ArrayLike<number>, expected: ArrayLike<number>, backend: Backend, what: string): void {
  let top = 0;
  for (let i = 0; i < expected.length; i++) top = Math.max(top, Math.abs(expected[i]));
  assertArrayClose(actual, expected, tolerance(backend.name, "float32", "matmul"), {
    what,
    scale: new Float64Array(expected.length).fill(top),
  });
}

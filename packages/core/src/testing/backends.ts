/**
 * @file Helpers for backend-parity tests in every package: which gpujs backends to compare against the
 * reference backend, a normwise comparison for layers, and how a file that started WebGPU ends.
 */

import { type Backend, closeBackends, setBackend } from "../backend/backend.ts";
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
 * The gpujs backends a parity test compares with the reference backend. cpu and webasm always start; a
 * missing WebGPU adapter fails under CI=true (CI installs lavapipe) and is skipped elsewhere with a line
 * starting "SKIPPED", which the test runner shows.
 */
export async function parityBackends(what: string): Promise<Backend[]> {
  const backends: Backend[] = [];
  for (const mode of ["cpu", "webasm", "webgpu"] as const) {
    const { backend, reason } = await startGpujs(mode);
    if (backend) backends.push(backend);
    else if (mode !== "webgpu" || process.env.CI === "true") throw new Error(`gpujs:${mode} did not start: ${reason}`);
    else console.log(`SKIPPED gpujs:webgpu ${what}: ${reason}`);
  }
  return backends;
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

/**
 * Closes every backend (a live Dawn device keeps Node running), and exits a few seconds later with the
 * test's exit code if something still holds the process: register it as the last suite's `after` hook.
 */
export async function closeBackendsAndExit(): Promise<void> {
  await closeBackends();
  setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
}

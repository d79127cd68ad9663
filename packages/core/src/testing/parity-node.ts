/**
 * @file The Node-only parity helpers (exported from @tsgrad/core/testing/node): which backends a test
 * file compares with the reference backend, the relaxed-SIMD child process Node 20 needs a flag for,
 * and how a file that started WebGPU ends.
 */

import { spawn } from "node:child_process";
import { type Backend, closeBackends, setBackend } from "../backend/backend.ts";
import { startGpujs } from "./backends.ts";

/**
 * The wasm backend configurations parity tests run: one thread, and two threads with no threshold (the
 * worker runs its share of every kernel it can). The relaxed-SIMD build runs in a process of its own
 * that has the flag Node 20 needs (see runWithRelaxedSimd).
 */
export async function wasmParityBackends(): Promise<Backend[]> {
  if (process.env.TSGRAD_PARITY_ONLY === "wasm-relaxed") return [await startWasm({ threads: 2, relaxed: true, minParallelWork: 0 })];
  return [await startWasm({ threads: 1 }), await startWasm({ threads: 2, minParallelWork: 0 })];
}

async function startWasm(options: Record<string, unknown>): Promise<Backend> {
  const backend = await setBackend("wasm", options);
  await (backend as { ready?: Promise<void> }).ready;
  return backend;
}

const RELAXED_FLAG = "--experimental-wasm-relaxed-simd";

/**
 * Runs the test file `file` again in a child process with the flag that enables relaxed SIMD on Node 20
 * and TSGRAD_PARITY_ONLY=wasm-relaxed, passing its output through; resolves with its exit code. Returns
 * null when this process is that child already (the caller then runs its suites).
 */
export async function runWithRelaxedSimd(file: string): Promise<number | null> {
  if (process.env.TSGRAD_PARITY_ONLY === "wasm-relaxed") return null;
  const child = spawn(process.execPath, [...process.execArgv, RELAXED_FLAG, file], {
    stdio: "inherit",
    env: { ...process.env, TSGRAD_PARITY_ONLY: "wasm-relaxed" },
  });
  return new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
}

/**
 * The backends a parity test compares with the reference backend: the wasm configurations, then the
 * gpujs modes. cpu and webasm always start; a missing WebGPU adapter fails under CI=true (CI installs
 * lavapipe) and is skipped elsewhere with a line starting "SKIPPED", which the test runner shows. In
 * the relaxed-SIMD child process (runWithRelaxedSimd), only the relaxed wasm backend.
 */
export async function parityBackends(what: string): Promise<Backend[]> {
  const backends: Backend[] = await wasmParityBackends();
  if (process.env.TSGRAD_PARITY_ONLY === "wasm-relaxed") return backends;
  for (const mode of ["cpu", "webasm", "webgpu"] as const) {
    const { backend, reason } = await startGpujs(mode);
    if (backend) backends.push(backend);
    else if (mode !== "webgpu" || process.env.CI === "true") throw new Error(`gpujs:${mode} did not start: ${reason}`);
    else console.log(`SKIPPED gpujs:webgpu ${what}: ${reason}`);
  }
  return backends;
}

/**
 * Closes every backend (a live Dawn device keeps Node running), and exits a few seconds later with the
 * test's exit code if something still holds the process: register it as the last suite's `after` hook.
 */
export async function closeBackendsAndExit(): Promise<void> {
  await closeBackends();
  setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
}

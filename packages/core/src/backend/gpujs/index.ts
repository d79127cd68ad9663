/**
 * @file Entry point of the gpujs backend, loaded by core's registry with a dynamic import only when a
 * gpujs backend is asked for, so that nothing else ever loads gpu.js or Dawn.
 */

import { fail } from "../../errors.ts";
import { GpujsBackend } from "./gpujs-backend.ts";
import type { Mode } from "./kernel-cache.ts";
import { type AdapterReport, acquireDevice, probeAdapter, releaseWebGPU } from "./webgpu.ts";

export { GpujsBackend } from "./gpujs-backend.ts";
export type { KernelStats, Mode } from "./kernel-cache.ts";
export type { AdapterReport } from "./webgpu.ts";

export const MODES: readonly Mode[] = ["webgpu", "webasm", "cpu"];

const instances = new Map<Mode, Promise<GpujsBackend>>();

/** What WebGPU adapter this machine has (a software one, like lavapipe, is reported as such). */
export function probeWebGPU(): Promise<AdapterReport> {
  return probeAdapter();
}

async function start(mode: Mode, available: string): Promise<GpujsBackend> {
  if (mode !== "webgpu") return forgetOnClose(new GpujsBackend({ mode }));
  const report = await probeAdapter();
  if (!report.available) {
    await releaseWebGPU();
    fail("setBackend", `gpujs:webgpu cannot start: ${report.reason}. Available backends: ${available}`);
  }
  let device: Awaited<ReturnType<typeof acquireDevice>>;
  try {
    device = await acquireDevice();
  } catch (error) {
    await releaseWebGPU();
    fail("setBackend", `gpujs:webgpu cannot start: ${(error as Error).message}. Available backends: ${available}`);
  }
  return forgetOnClose(new GpujsBackend({ mode, ...device, release: releaseWebGPU }));
}

/** A closed backend must not be handed out again: the next request builds a fresh one. */
function forgetOnClose(backend: GpujsBackend): GpujsBackend {
  const close = backend.close.bind(backend);
  backend.close = async () => {
    instances.delete(backend.mode);
    await close();
  };
  return backend;
}

/**
 * The gpujs backend in `options.mode` (one instance per mode). Without a mode: webgpu when a hardware
 * adapter exists, webasm otherwise (a software adapter never counts as a GPU).
 */
export async function createGpujsBackend(options: Record<string, unknown>, available: string): Promise<GpujsBackend> {
  let mode = options.mode as Mode | undefined;
  if (mode === undefined) {
    const report = await probeAdapter();
    mode = report.available && !report.software ? "webgpu" : "webasm";
    if (mode !== "webgpu") await releaseWebGPU();
  }
  if (!MODES.includes(mode)) {
    fail("setBackend", `unknown gpujs mode ${JSON.stringify(mode)}; expected one of ${MODES.join(", ")}`);
  }
  let instance = instances.get(mode);
  if (!instance) {
    instance = start(mode, available);
    instances.set(mode, instance);
    instance.catch(() => instances.delete(mode));
  }
  return instance;
}

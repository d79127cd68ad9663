/**
 * @file WebGPU: a browser's own, or in Node `navigator.gpu` installed from the `webgpu` package (Dawn's node bindings, pinned
 * at 0.3.10 because newer builds need a newer libstdc++ than Debian 12 has), tells a hardware adapter from
 * a software one, and tears the device down so that the process can exit.
 *
 * gpu.js does not install `navigator.gpu` itself, and acquires one device per process through a
 * module-level singleton (its `WebGPUContext`); `gpu.destroy()` leaves that device alive, and a live Dawn
 * device keeps Node's event loop busy. `releaseWebGPU` destroys the device and drops every reference to
 * Dawn's GPU object, which lets the process end on its own.
 */

// the reference makes the declaration visible wherever this file is compiled (from other packages too)
/// <reference path="./gpujs-context.d.ts" />
import webgpuContext from "gpu.js/src/backend/web-gpu/context.js";

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface Adapter {
  info?: AdapterInfo;
  isFallbackAdapter?: boolean;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}
interface GpuApi {
  requestAdapter(options?: Record<string, unknown>): Promise<Adapter | null>;
}

export interface AdapterReport {
  /** Whether requestAdapter() gave an adapter. */
  available: boolean;
  /** A CPU implementation (lavapipe's "llvmpipe", SwiftShader, a fallback adapter): never a GPU. */
  software: boolean;
  /** Vendor, architecture and driver, as the adapter reports them. */
  description: string;
  /** Why there is no adapter, when there is none. */
  reason?: string;
  /** The largest storage buffer a kernel may bind, in bytes. */
  maxStorageBytes?: number;
}

interface Device {
  limits: Adapter["limits"];
  queue: { onSubmittedWorkDone(): Promise<void> };
}
const { WebGPUContext } = webgpuContext as unknown as {
  WebGPUContext: { acquire(): Promise<{ device: Device }>; destroy(): Promise<void> };
};

const g = globalThis as unknown as { navigator?: { gpu?: GpuApi } };
let installed: GpuApi | null = null;

/**
 * The WebGPU API: a browser's own `navigator.gpu`, or in Node Dawn's, loaded and set once; throws with the
 * reason when the bindings cannot load.
 */
export async function installWebGPU(): Promise<GpuApi> {
  if (installed) return installed;
  if (g.navigator?.gpu) return g.navigator.gpu;
  let module: { create(flags: string[]): GpuApi; globals: Record<string, unknown> };
  try {
    module = (await import("webgpu")) as unknown as typeof module;
  } catch (error) {
    throw new Error(`the webgpu package (Dawn's node bindings) could not be loaded: ${(error as Error).message.split("\n")[0]}`);
  }
  // GPUBufferUsage, GPUMapMode and friends, which gpu.js reads as globals
  Object.assign(globalThis, module.globals);
  installed = module.create([]);
  g.navigator ??= {};
  g.navigator.gpu = installed;
  return installed;
}

function isSoftware(info: AdapterInfo, adapter: Adapter): boolean {
  const text = `${info.vendor ?? ""} ${info.architecture ?? ""} ${info.device ?? ""} ${info.description ?? ""}`;
  return Boolean(info.isFallbackAdapter || adapter.isFallbackAdapter) || /software|llvmpipe|lavapipe|swiftshader|warp/i.test(text);
}

/** What adapter WebGPU would give here, without creating a device. */
export async function probeAdapter(): Promise<AdapterReport> {
  let api: GpuApi;
  try {
    api = await installWebGPU();
  } catch (error) {
    return { available: false, software: false, description: "", reason: (error as Error).message };
  }
  const adapter = await api.requestAdapter();
  if (!adapter) {
    return {
      available: false,
      software: false,
      description: "",
      reason:
        "navigator.gpu.requestAdapter() found no adapter: no GPU with a Vulkan driver, and no software Vulkan " +
        "driver (on Debian 12 without a GPU: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1)",
    };
  }
  const info = adapter.info ?? {};
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" / ");
  return {
    available: true,
    software: isSoftware(info, adapter),
    description,
    maxStorageBytes: Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize),
  };
}

/**
 * The device gpu.js will use (created once per process): its storage-buffer limit in bytes, and a wait
 * for the work submitted so far. Dawn reclaims finished command buffers and destroyed buffers only when
 * it gets to process events; a long run of submits that never waits for anything (no readback) piles
 * them up until Dawn crashes (a segfault after about 25,000 submits on lavapipe).
 */
export async function acquireDevice(): Promise<{ maxStorageBytes: number; settle: () => Promise<void> }> {
  const { device } = await WebGPUContext.acquire();
  return {
    maxStorageBytes: Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize),
    settle: () => device.queue.onSubmittedWorkDone(),
  };
}

/** Destroys gpu.js's device and drops Dawn's GPU object, so nothing keeps the event loop alive. */
export async function releaseWebGPU(): Promise<void> {
  await WebGPUContext.destroy();
  if (g.navigator?.gpu === installed) delete g.navigator.gpu;
  installed = null;
}

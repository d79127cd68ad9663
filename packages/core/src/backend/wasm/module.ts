/// <reference path="./webassembly.d.ts" />
/**
 * @file Which WebAssembly build to run, and the memory it runs on.
 *
 * Relaxed SIMD (fused multiply-add) is taken where the engine validates it: Node 22 and Chrome 114 do
 * without flags, Node 20 only when started with --experimental-wasm-relaxed-simd. Otherwise the baseline
 * SIMD build runs. Where SharedArrayBuffer is missing (a page that is not cross-origin isolated), the
 * unshared build runs on one thread.
 */

import { canShareMemory } from "#spawn-worker";
import { baseline, relaxed, unshared } from "./kernels.generated.ts";

export type Build = "baseline" | "relaxed" | "unshared";

const BASE64: Record<Build, string> = { baseline, relaxed, unshared };
const decoded = new Map<Build, Uint8Array<ArrayBuffer>>();

function bytesOf(build: Build): Uint8Array<ArrayBuffer> {
  let bytes = decoded.get(build);
  if (!bytes) {
    const text = atob(BASE64[build]);
    bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    decoded.set(build, bytes);
  }
  return bytes;
}

/** Whether this engine accepts the relaxed-SIMD build. */
export function relaxedSimdAvailable(): boolean {
  return canShareMemory() && WebAssembly.validate(bytesOf("relaxed"));
}

/** The build to run: relaxed if asked for (or "auto" and valid here), baseline otherwise, unshared without shared memory. */
export function chooseBuild(relaxed: boolean | "auto"): Build {
  if (!canShareMemory()) return "unshared";
  if (relaxed === "auto") return relaxedSimdAvailable() ? "relaxed" : "baseline";
  return relaxed ? "relaxed" : "baseline";
}

export interface Kernels {
  heapBase(): number;
  workBytes(): number;
  gemm(
    a: number,
    b: number,
    c: number,
    m: number,
    n: number,
    k: number,
    rsA: number,
    csA: number,
    rsB: number,
    csB: number,
    work: number,
  ): void;
  gemmBatched(
    a: number,
    b: number,
    c: number,
    offsets: number,
    b0: number,
    b1: number,
    m: number,
    n: number,
    k: number,
    rsA: number,
    csA: number,
    rsB: number,
    csB: number,
    work: number,
  ): void;
  unaryF32(op: number, x: number, out: number, n: number): void;
  binaryF32(op: number, a: number, b: number, out: number, meta: number): void;
  whereF32(cond: number, a: number, b: number, out: number, meta: number): void;
  copyStrided(x: number, out: number, meta: number, elementBytes: number): void;
  castDense(code: number, x: number, out: number, n: number): void;
  reduceF32(op: number, x: number, out: number, outer: number, len: number, inner: number, work: number): void;
  gatherRowsF32(x: number, index: number, out: number, n: number, cols: number): void;
  scatterAddRowsF32(base: number, index: number, src: number, out: number, rows: number, n: number, cols: number): void;
  softmaxRows(x: number, out: number, r0: number, r1: number, cols: number): void;
  logSoftmaxRows(x: number, out: number, r0: number, r1: number, cols: number): void;
  geluF32(tanhForm: number, x: number, out: number, n: number): void;
  layerNormRows(x: number, out: number, r0: number, r1: number, cols: number, eps: number): void;
  adamwF32(
    p: number,
    g: number,
    m: number,
    v: number,
    vMax: number,
    n: number,
    applyDecay: number,
    decay: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    bc2: number,
    eps: number,
    negStepSize: number,
  ): void;
}

export interface Instance {
  build: Build;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  kernels: Kernels;
}

/** 32-bit WebAssembly addresses at most 4 GiB: 65,536 pages of 64 KiB. */
export const MAX_PAGES = 65536;

export function instantiate(build: Build, maximumBytes: number): Instance {
  const module = new WebAssembly.Module(bytesOf(build));
  const maximum = Math.min(MAX_PAGES, Math.ceil(maximumBytes / 65536));
  const memory = new WebAssembly.Memory({ initial: 64, maximum, shared: build !== "unshared" });
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels;
  return { build, module, memory, kernels };
}

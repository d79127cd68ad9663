/**
 * @file The wasm backend's relaxed-SIMD build (fused multiply-add) on two threads equals the reference
 * backend. Node 20 validates that build only with --experimental-wasm-relaxed-simd, so this file runs
 * itself again in a child process with the flag.
 */

import { runWithRelaxedSimd, wasmParityBackends } from "../src/testing/node.ts";
import { paritySuites } from "./gpujs/suite.ts";

const code = await runWithRelaxedSimd(new URL(import.meta.url).pathname);
if (code === null) {
  const [backend] = await wasmParityBackends();
  paritySuites(backend);
} else {
  process.exitCode = code;
}

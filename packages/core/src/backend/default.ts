/**
 * @file The default backend: what tensors land on before any setBackend call. The wasm backend, or what
 * TSGRAD_BACKEND names: "reference" (strict-async under TSGRAD_STRICT_ASYNC=1, as the test runner sets for
 * most suites), "wasm", any other registered name ("gpujs:webgpu", ...) or "auto", which takes WebGPU only
 * when a hardware adapter exists (lavapipe and other software adapters never count as a GPU).
 *
 * The wasm and reference backends start synchronously, so the first tensor can create them. GPU backends
 * and "auto" start asynchronously: `await ready()` starts them. Nothing here runs at module load, so the
 * package needs no top-level await (CommonJS can require() it, and a browser can load it).
 */

import { environmentVariable } from "../environment.ts";
import { fail } from "../errors.ts";
import { type Backend, currentBackend, getBackend, registeredBackends, setBackend, setDefaultBackendChooser } from "./backend.ts";
import { ReferenceBackend } from "./reference/reference-backend.ts";
import { createWasmBackend } from "./wasm/index.ts";

/** TSGRAD_THREADS sets the wasm backend's thread count (1 or 2; default 2 where memory can be shared). */
function wasmOptionsFromEnvironment(): Record<string, unknown> {
  const threads = environmentVariable("TSGRAD_THREADS");
  if (threads === undefined || threads === "") return {};
  if (threads !== "1" && threads !== "2") fail("TSGRAD_THREADS", `must be 1 or 2, got ${JSON.stringify(threads)}`);
  return { threads: Number(threads) };
}

function requested(): string {
  return environmentVariable("TSGRAD_BACKEND") || "wasm";
}

function chooseSynchronously(): Backend {
  const name = requested();
  if (name === "wasm") return createWasmBackend(wasmOptionsFromEnvironment());
  if (name === "reference") return new ReferenceBackend({ strictAsync: environmentVariable("TSGRAD_STRICT_ASYNC") === "1" });
  if (name !== "auto" && !registeredBackends().includes(name)) {
    fail("TSGRAD_BACKEND", `unknown backend "${name}"; registered backends: ${registeredBackends().join(", ")}, or auto`);
  }
  const alternative = name === "auto" ? "" : ` (or \`await setBackend("${name}")\`)`;
  return fail(
    "getBackend",
    `TSGRAD_BACKEND=${name} starts asynchronously: call \`await ready()\`${alternative} before making the first tensor`,
  );
}

/** Installs the default chooser; the package entry point calls it once. */
export function installDefaultBackend(probeHardwareWebGPU: () => Promise<boolean>): void {
  setDefaultBackendChooser(chooseSynchronously);
  probe = probeHardwareWebGPU;
}

let probe: () => Promise<boolean> = async () => false;

/**
 * Starts the backend that tensors will use (TSGRAD_BACKEND's choice, unless setBackend chose one) and
 * resolves to it, as tfjs's `tf.ready()`. Needed before the first tensor only when TSGRAD_BACKEND names
 * a GPU backend or "auto"; harmless everywhere else.
 */
export async function ready(): Promise<Backend> {
  const current = currentBackend();
  if (current) return current;
  const name = requested();
  if (name === "wasm" || name === "reference") return getBackend();
  if (name === "auto" && !(await probe())) {
    setDefaultBackendChooser(() => createWasmBackend(wasmOptionsFromEnvironment()));
    return getBackend();
  }
  // setBackend makes it current; no default chooser keeps it, so that after closeBackends() the next
  // tensor asks for `await ready()` again instead of landing on the closed backend
  return setBackend(name === "auto" ? "gpujs:webgpu" : name);
}

/**
 * @file Entry point of the wasm backend: one instance per set of options, named after them, so that two
 * spellings of the same options share one instance and two different ones never share a name.
 */

import { closestName } from "../../args.ts";
import { fail } from "../../errors.ts";
import { WasmBackend, type WasmOptions } from "./wasm-backend.ts";

export { relaxedSimdAvailable } from "./module.ts";
export { WasmBackend, type WasmOptions } from "./wasm-backend.ts";

const KNOWN = new Set(["threads", "relaxed", "minParallelWork", "maxMemoryBytes"]);
const instances = new Map<string, WasmBackend>();

/** "wasm" for the defaults, else "wasm(threads=1,relaxed=false)" and so on, in a fixed order. */
export function wasmBackendName(options: WasmOptions): string {
  const parts = [...KNOWN]
    .filter((k) => options[k as keyof WasmOptions] !== undefined)
    .map((k) => `${k}=${options[k as keyof WasmOptions]}`);
  return parts.length === 0 ? "wasm" : `wasm(${parts.join(",")})`;
}

export function createWasmBackend(options: Record<string, unknown>): WasmBackend {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      const closest = closestName(key, [...KNOWN]);
      fail("setBackend", `wasm: unknown option "${key}"${closest ? ` (did you mean ${closest}?)` : ""}; expected ${[...KNOWN].join(", ")}`);
    }
  }
  const wasmOptions = options as WasmOptions;
  const name = wasmBackendName(wasmOptions);
  let backend = instances.get(name);
  if (!backend) {
    backend = WasmBackend.create({ ...wasmOptions, name });
    const created = backend;
    const close = created.close.bind(created);
    created.close = async () => {
      instances.delete(name);
      await close();
    };
    instances.set(name, created);
  }
  return backend;
}

/** @file The peers by id: what a user would pick instead of tsgrad, each started in its own worker. */

import type { Library } from "../types.ts";
import { startJax } from "./jax.ts";
import { startTfjs } from "./tfjs.ts";

export const PEERS: Record<string, { label: string; start: () => Promise<Library> }> = {
  "tfjs-cpu": { label: "tfjs cpu", start: () => startTfjs("cpu") },
  "tfjs-wasm": { label: "tfjs wasm", start: () => startTfjs("wasm") },
  "jax-wasm": { label: "jax-js wasm", start: startJax },
};

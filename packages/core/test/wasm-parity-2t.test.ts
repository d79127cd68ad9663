/**
 * @file The wasm backend on two threads equals the reference backend. The threshold below which work
 * stays on the main thread is 0 here, so the worker really runs its share of every kernel it can.
 */

import type { WasmBackend } from "../src/index.ts";
import { setBackend } from "../src/index.ts";
import { paritySuites } from "./gpujs/suite.ts";

const backend = (await setBackend("wasm", { threads: 2, minParallelWork: 0 })) as WasmBackend;
await backend.ready;
paritySuites(backend);

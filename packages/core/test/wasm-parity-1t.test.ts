/**
 * @file The wasm backend on one thread equals the reference backend: every op of the spec table (values
 * and gradients), long reductions, and a 50-step training run.
 */

import { setBackend } from "../src/index.ts";
import { paritySuites } from "./gpujs/suite.ts";

paritySuites(await setBackend("wasm", { threads: 1 }));

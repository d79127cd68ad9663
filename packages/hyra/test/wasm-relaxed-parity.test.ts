/**
 * @file The parity suite of backend-parity.test.ts again, on the wasm backend's relaxed-SIMD build, in a
 * child process with the flag Node 20 needs for it.
 */

import { runWithRelaxedSimd } from "@tsgrad/core/testing/node";

const code = await runWithRelaxedSimd(new URL("./backend-parity.test.ts", import.meta.url).pathname);
process.exitCode = code ?? 1;

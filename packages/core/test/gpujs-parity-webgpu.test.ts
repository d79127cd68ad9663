/**
 * @file gpu.js's webgpu mode equals the reference backend: every op of the spec table (values and gradients),
 * long reductions, and a 50-step training run. One process per mode.
 */

import { backendOrSkip, paritySuites } from "./gpujs/suite.ts";

const backend = await backendOrSkip("webgpu", "gpujs:webgpu parity");
if (backend) paritySuites(backend);

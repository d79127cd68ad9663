/** @file gpu.js's WebGPU device singleton has no typings of its own; webgpu.ts declares what it uses. */
declare module "gpu.js/src/backend/web-gpu/context.js";

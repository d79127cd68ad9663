/**
 * @file @tsgrad/nn/node: everything @tsgrad/nn exports, and files (Node): module and optimiser
 * checkpoints, and @tsgrad/safetensors/node's file policy and named-tensor files, re-exported.
 */

export * from "@tsgrad/safetensors/node";
export * from "./checkpoint.ts";
export * from "./index.ts";

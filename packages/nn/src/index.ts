/** @file @tsgrad/nn: modules, layers, losses, optimisers and safetensors checkpoints. */

// ---- modules, initialisation and layers ----
export * from "./init.ts";
export * from "./layers/dropout.ts";
export * from "./layers/layer-norm.ts";
export * from "./layers/linear.ts";
export * from "./module.ts";

// ---- losses and optimisers ----

// ---- checkpoints ----

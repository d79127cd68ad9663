/**
 * @file @tsgrad/nn: modules, layers, losses and optimisers, in Node and in a browser. Checkpoints (files)
 * are in @tsgrad/nn/node.
 */

// ---- modules, initialisation and layers ----

export * from "./functional.ts";
export * from "./init.ts";
export * from "./layers/activation.ts";
export * from "./layers/attention.ts";
export * from "./layers/dropout.ts";
export * from "./layers/embedding.ts";
export * from "./layers/feed-forward.ts";
export * from "./layers/layer-norm.ts";
export * from "./layers/linear.ts";
export * from "./layers/position.ts";
export * from "./layers/transformer-block.ts";
export * from "./module.ts";

// ---- losses and optimisers ----

export * from "./losses.ts";
export * from "./optim/adamw.ts";
export * from "./optim/clip.ts";
export * from "./optim/optimizer.ts";
export * from "./optim/schedule.ts";
export * from "./optim/sgd.ts";

// ---- the safetensors format, re-exported (checkpoints and files: @tsgrad/nn/node) ----

export * from "@tsgrad/safetensors";

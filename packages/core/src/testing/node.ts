/**
 * @file @tsgrad/core/testing/node: the test helpers that need Node (child processes, files), beside
 * everything @tsgrad/core/testing exports, which also runs in a browser.
 */

export * from "./child-output.ts";
export * from "./index.ts";
export * from "./parity-node.ts";
export * from "./readme.ts";
export * from "./scratch.ts";

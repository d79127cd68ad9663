/** @file Whether ops record the graph for backward (PyTorch's grad mode). */

import { checkFunction } from "./args.ts";
import { fail } from "./errors.ts";

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

function withGradMode<T>(where: string, mode: boolean, fn: () => T): T {
  const previous = enabled;
  enabled = mode;
  let result: T;
  try {
    result = fn();
  } finally {
    enabled = previous;
  }
  if (result instanceof Promise) {
    // the caller gets this error instead; a later rejection of the promise must not crash the process
    result.catch(() => {});
    fail(where, "the function returned a Promise; grad mode is synchronous, so await inside it would escape it");
  }
  return result;
}

/** Runs fn without recording a graph: results do not require grad (optimiser steps, evaluation). */
export function noGrad<T>(fn: () => T): T {
  checkFunction("noGrad", fn);
  return withGradMode("noGrad", false, fn);
}

/** Runs fn with graph recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  checkFunction("enableGrad", fn);
  return withGradMode("enableGrad", true, fn);
}

/**
 * @file @tsgrad/core/testing: the checks every package reuses: gradient checks, fast-check arbitraries,
 * run-count profiles with replayable seeds, closeness assertions and the one tolerance table.
 */

// the helpers call tensor methods, which a file importing only this entry point would otherwise lack
import "../tensor-methods.ts";

/** Composite definitions of the fused primitives: the oracles their tests compare them with. */
export { composedGelu, composedLogSoftmax, composedSoftmax } from "../composite/activation.ts";
export { composedAdamwUpdate } from "../composite/adamw.ts";
export { composedLayerNorm } from "../composite/normalization.ts";
export * from "./arbitraries.ts";
export * from "./assert-close.ts";
export * from "./backends.ts";
export * from "./bad-values.ts";
export * from "./gradcheck.ts";
export * from "./memory.ts";
export * from "./mutations.ts";
export * from "./property.ts";
export { ALL_SPECS } from "./specs/index.ts";
export { checkSpecParity, type ParityOptions, reference } from "./specs/parity.ts";
export { checkSpecErrors, checkSpecExamples, checkSpecGradients, checkSpecSecondGradients, dataInputs } from "./specs/run.ts";
export type { ErrorCase, Example, InputData, OpSpec } from "./specs/spec.ts";
export * from "./tolerance.ts";

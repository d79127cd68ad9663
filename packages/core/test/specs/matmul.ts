import type { OpSpec } from "./spec.ts";

export const matmulSpecs: OpSpec[] = [];

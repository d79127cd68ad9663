import type { OpSpec } from "./spec.ts";

export const lossSpecs: OpSpec[] = [];

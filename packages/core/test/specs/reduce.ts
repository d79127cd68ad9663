import type { OpSpec } from "./spec.ts";

export const reduceSpecs: OpSpec[] = [];

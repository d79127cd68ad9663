import type { OpSpec } from "./spec.ts";

export const movementSpecs: OpSpec[] = [];

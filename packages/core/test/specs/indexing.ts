import type { OpSpec } from "./spec.ts";

export const indexingSpecs: OpSpec[] = [];

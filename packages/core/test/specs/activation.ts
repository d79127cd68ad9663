import type { OpSpec } from "./spec.ts";

export const activationSpecs: OpSpec[] = [];

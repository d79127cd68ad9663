/** @file Every op spec, family by family. */

import { activationSpecs } from "./activation.ts";
import { elementwiseSpecs } from "./elementwise.ts";
import { indexingSpecs } from "./indexing.ts";
import { lossSpecs } from "./loss.ts";
import { matmulSpecs } from "./matmul.ts";
import { movementSpecs } from "./movement.ts";
import { reduceSpecs } from "./reduce.ts";
import type { OpSpec } from "./spec.ts";

export const ALL_SPECS: OpSpec[] = [
  ...elementwiseSpecs,
  ...reduceSpecs,
  ...movementSpecs,
  ...indexingSpecs,
  ...matmulSpecs,
  ...activationSpecs,
  ...lossSpecs,
];

export type { OpSpec } from "./spec.ts";

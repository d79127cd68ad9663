/**
 * @file The generic op tests, one set per entry of the spec table (src/testing/specs, shipped so that the
 * browser page runs the same checks): hand-computed examples (values and gradients), a float64 gradcheck
 * property over random shapes and values, gradgradcheck where flagged, and the error cases.
 */

import { suite } from "uvu";
import { ALL_SPECS, checkSpecErrors, checkSpecExamples, checkSpecGradients, checkSpecSecondGradients } from "../src/testing/index.ts";

for (const spec of ALL_SPECS) {
  const s = suite(spec.name);
  s("examples", () => checkSpecExamples(spec));
  if (spec.inputs) s("gradcheck property (float64)", () => checkSpecGradients(spec));
  if (spec.inputs && spec.gradgrad) s("gradgradcheck property (float64)", () => checkSpecSecondGradients(spec));
  s("errors name the op, what it got and what it expected", () => checkSpecErrors(spec));
  s.run();
}

/**
 * @file The trainable-parameter count of each method as a formula (biases and modulesToSave aside), the
 * numbers the README's table shows and the tests check against real models. Each method's formula lives
 * in its tuner folder (tuners/<method>/tuner.ts), with what it counts.
 */

import { describeValue, fail } from "@tsgrad/core";
import type { Method } from "./config.ts";
import "./tuners/index.ts";
import { type CountShape, tunerOf, tuners } from "./tuners/tuner.ts";

/** Trainable adapter parameters of one method on `layers` attention layers. */
export function adapterParameterCount(method: Method, shape: CountShape): number {
  const tuner = tunerOf(method);
  if (!tuner) {
    fail(
      "adapterParameterCount",
      `method must be one of ${tuners()
        .map((t) => JSON.stringify(t.method))
        .join(", ")}, got ${describeValue(method)}`,
    );
  }
  if (shape === null || typeof shape !== "object")
    fail("adapterParameterCount", `the shape must be an object, got ${describeValue(shape)}`);
  return tuner.parameterCount(shape);
}

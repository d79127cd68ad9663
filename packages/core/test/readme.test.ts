/** @file The root README's code sample runs as written, so the README stays true. */

import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runReadmeSample } from "../src/testing/node.ts";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

test("the sample under 'A taste' runs and prints a loss and a gradient", () => {
  // inside the package folder, "@tsgrad/core" resolves to this package (a self-reference through exports)
  const output = runReadmeSample(`${packageRoot}/../../README.md`, "## A taste", packageRoot);
  assert.match(output, /^\d+\.\d+(e-?\d+)? \[\s*\[ -?\d/);
});

test.run();

/** @file The README's build-train-save-load sample runs as written and prints XOR's classes. */

import { fileURLToPath } from "node:url";
import { runReadmeSample } from "@tsgrad/core/testing/node";
import { test } from "uvu";
import * as assert from "uvu/assert";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

test("the sample trains XOR, saves, loads into a fresh model and prints [0, 1, 1, 0]", () => {
  const output = runReadmeSample(`${packageRoot}/README.md`, "## Build, train, save and load a model", packageRoot);
  assert.match(output, /\[ 0, 1, 1, 0 \]/);
});

test.run();

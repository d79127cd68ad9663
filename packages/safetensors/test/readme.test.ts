/** @file The README's sample runs as written: a file saved and loaded, and bytes serialized and parsed. */

import { fileURLToPath } from "node:url";
import { runReadmeSample } from "@tsgrad/core/testing/node";
import { test } from "uvu";
import * as assert from "uvu/assert";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

test("the sample saves and loads a tensor, and round-trips int32 bytes", () => {
  const output = runReadmeSample(`${packageRoot}/README.md`, "## Read and write a file", packageRoot);
  assert.match(output, /\[ \[ 1\.5, -2 \], \[ 3, 4 \] \]/);
  assert.match(output, /Int32Array\(3\) \[ 7, 8, 9 \]/);
});

test.run();

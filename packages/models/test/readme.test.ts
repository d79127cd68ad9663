/**
 * @file The README's sample runs as written, as a user runs it (on the default wasm backend, one thread),
 * and prints 34 characters of the corpus's alphabet that start with the prompt.
 */

import { fileURLToPath } from "node:url";
import { runReadmeSample } from "@tsgrad/core/testing/node";
import { test } from "uvu";
import * as assert from "uvu/assert";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

test("the sample trains a GPT, saves and loads it, and samples from the loaded model", () => {
  // the test runner sets the reference backend for every suite; the sample trains, so it gets the fast one
  process.env.TSGRAD_BACKEND = "wasm";
  process.env.TSGRAD_THREADS = "1";
  const output = runReadmeSample(`${packageRoot}/README.md`, "## Train, sample, save and load a GPT", packageRoot);
  const line = output.trimEnd().split("\n").at(-1) ?? "";
  assert.is(line.length, 34, JSON.stringify(line));
  assert.ok(line.startsWith("the "), line);
  assert.ok(
    [...line].every((c) => "the cat sat on mat. dog log".includes(c)),
    line,
  );
});

test.run();

/** @file The README's code sample runs as written, so the README stays true. */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

test("the sample under 'A taste' runs and prints a loss and a gradient", () => {
  const readme = readFileSync(join(packageRoot, "../../README.md"), "utf8");
  const sample = readme.split("## A taste")[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  assert.ok(sample, "README.md has no ts sample under '## A taste'");
  // inside the package folder, "@tsgrad/core" resolves to this package (a self-reference through exports)
  const dir = mkdtempSync(join(packageRoot, ".readme-"));
  try {
    const file = join(dir, "sample.ts");
    writeFileSync(file, sample);
    const output = execFileSync(process.execPath, ["--import", "tsx", file], { cwd: packageRoot, encoding: "utf8" });
    assert.match(output, /^\d+\.\d+(e-?\d+)? \[\s*\[ -?\d/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

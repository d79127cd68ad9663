/** @file The README's ten-line example runs as written and does what its comments say, so the README stays true. */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

test("the sample under 'Ten lines' adapts, trains, merges and saves", () => {
  const readme = readFileSync(join(packageRoot, "README.md"), "utf8");
  const sample = readme.split("## Ten lines")[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  assert.ok(sample, "README.md has no ts sample under '## Ten lines'");
  const body = sample.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("import "));
  assert.is(body.length, 10, "ten lines besides the imports");
  // inside the package folder, "@tsgrad/hyra" resolves to this package (a self-reference through exports)
  const dir = mkdtempSync(join(packageRoot, ".readme-"));
  try {
    const file = join(dir, "sample.ts");
    writeFileSync(file, sample);
    const output = execFileSync(process.execPath, ["--import", "tsx", file], { cwd: dir, encoding: "utf8", env: { ...process.env } });
    const printed = sample.match(/printTrainableParameters\(\); \/\/ (.*)/)?.[1];
    assert.is(output.trim(), printed, "the comment shows what printTrainableParameters prints");
    const config = (folder: string) => JSON.parse(readFileSync(join(dir, "out", folder, "adapter_config.json"), "utf8"));
    assert.is(config("hyra").peft_type, "HYRA");
    assert.is(config("lora").peft_type, "LORA");
    assert.equal(config("lora").target_modules, ["0.attn.q", "0.attn.v", "1.attn.q", "1.attn.v"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

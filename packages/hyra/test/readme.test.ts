/**
 * @file The README's ten-line example runs as written and does what its comments say, so the README
 * stays true: it prints what its comment shows, writes both folders, and its twenty steps lower the loss.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * The sample with measurements added between its lines, written to losses.json: the loss before the
 * training loop (ΔW = 0, the base model's), the merged model's loss after it, and ||ΔW_q||² of the first
 * block after training (the head trains too, so a falling loss alone would not show that HyRA trained).
 */
function measured(sample: string): string {
  const lines = sample.split("\n");
  const loop = lines.findIndex((line) => line.startsWith("for (let step"));
  assert.ok(loop > 0, "the sample has its training loop");
  lines.splice(loop, 0, "const lossBefore = (await mse(peft.forward(x), y).data())[0];");
  const save = lines.findIndex((line) => line.startsWith("await peft.saveAdapter"));
  assert.ok(save > loop, "the sample saves after training");
  lines.splice(save, 0, 'const dq = peft.model.at(0).attn.q.deltaWeight("default"), deltaQ = (await dq.mul(dq).sum().data())[0];');
  lines.push(
    "const lossAfter = (await mse(merged.forward(x), y).data())[0];",
    '(await import("node:fs")).writeFileSync("losses.json", JSON.stringify({ lossBefore, lossAfter, deltaQ }));',
  );
  return lines.join("\n");
}

test("the sample under 'Ten lines' adapts, trains, merges and saves, and training lowers the loss", () => {
  const readme = readFileSync(join(packageRoot, "README.md"), "utf8");
  const sample = readme.split("## Ten lines")[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  assert.ok(sample, "README.md has no ts sample under '## Ten lines'");
  const body = sample.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("import "));
  assert.is(body.length, 10, "ten lines besides the imports");
  // inside the package folder, "@tsgrad/hyra" resolves to this package (a self-reference through exports)
  const dir = mkdtempSync(join(packageRoot, ".readme-"));
  try {
    const file = join(dir, "sample.ts");
    writeFileSync(file, measured(sample));
    const output = execFileSync(process.execPath, ["--import", "tsx", file], { cwd: dir, encoding: "utf8", env: { ...process.env } });
    const printed = sample.match(/printTrainableParameters\(\); \/\/ (.*)/)?.[1];
    assert.is(output.trim(), printed, "the comment shows what printTrainableParameters prints");
    const config = (folder: string) => JSON.parse(readFileSync(join(dir, "out", folder, "adapter_config.json"), "utf8"));
    assert.is(config("hyra").peft_type, "HYRA");
    assert.is(config("lora").peft_type, "LORA");
    assert.equal(config("lora").target_modules, ["0.attn.q", "0.attn.v", "1.attn.q", "1.attn.v"]);
    // from 1.47 to 0.24 when written
    const { lossBefore, lossAfter, deltaQ } = JSON.parse(readFileSync(join(dir, "losses.json"), "utf8"));
    assert.ok(lossAfter < 0.5 * lossBefore, `the loss went from ${lossBefore} to ${lossAfter} only`);
    assert.ok(deltaQ > 0, "HyRA's ΔW moved from its zero start");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

/**
 * @file The real-GPU check (scripts/gpu-check.ts) cannot rot unseen: scripts/pack-gpu-check.mjs assembles
 * its offline folder, and the folder's run.sh runs it on this machine's WebGPU adapter (the software
 * one, lavapipe, in CI) at tiny sizes: it prints the adapter, the parity summary of every op of the spec
 * table and the timing table. Without an adapter the suite is skipped, except under CI=true.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ALL_SPECS } from "../src/testing/index.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tsgrad-gpu-check-"));
const folder = join(dir, "gpu-check");

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 240_000, env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("pack-gpu-check.mjs assembles the offline folder under its 64 MiB limit", () => {
  const { code, out } = run(process.execPath, ["scripts/pack-gpu-check.mjs", folder], ROOT);
  assert.is(code, 0, out);
  assert.match(out, /MiB unpacked/);
});

test("its run.sh prints the adapter, a parity summary of every op and the timing table", () => {
  const { code, out } = run("bash", ["run.sh", "--sizes", "16,32", "--runs", "1"], folder);
  if (/^adapter: none/m.test(out) && process.env.CI !== "true") {
    console.log(`SKIPPED gpu-check: no WebGPU adapter here (${/^adapter: none \((.*)\)/m.exec(out)?.[1]})`);
    return;
  }
  assert.is(code, 0, out);
  assert.match(out, /^adapter: .+/m);
  assert.match(out, new RegExp(`^parity: ${ALL_SPECS.length} passed, 0 failed`, "m"));
  assert.match(out, /^\| matmul n \| first \(ms\) \| median \(ms\) \| GFLOP\/s \|$/m);
  for (const n of [16, 32]) assert.match(out, new RegExp(`^\\| ${n} \\| \\d+\\.\\d \\| \\d+\\.\\d \\| \\d+\\.\\d \\|$`, "m"));
  assert.match(out, /^training step \(MLP 4-256-3\): cold \d+\.\d ms, warm \d+\.\d ms, loss \d\.\d{4}$/m);
});

test.run();

/** @file The demo (`npm run demo`) runs, its loss falls, and its --help and argument errors stay true. */

import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const script = fileURLToPath(new URL("../examples/fit-mlp.ts", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", script, ...args], { encoding: "utf8" });

test("a short run prints a loss that falls and an accuracy", () => {
  const output = execFileSync(process.execPath, ["--import", "tsx", script, "--steps", "120", "--points", "40"], { encoding: "utf8" });
  const losses = [...output.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  assert.ok(losses.length >= 3, output);
  assert.ok(losses[losses.length - 1] < losses[0] * 0.8, `loss did not fall: ${losses.join(", ")}`);
  assert.match(output, /accuracy \d+\.\d%/);
});

test("the same seed gives the same losses", () => {
  const a = run("--steps", "20", "--points", "20", "--seed", "5").stdout.replace(/after .*/, "");
  const b = run("--steps", "20", "--points", "20", "--seed", "5").stdout.replace(/after .*/, "");
  assert.is(a, b);
});

test("--help lists every option; a bad value is refused with exit code 2", () => {
  const help = run("--help");
  assert.is(help.status, 0);
  for (const option of ["--steps", "--hidden", "--lr", "--points", "--seed", "--backend"]) assert.ok(help.stdout.includes(option), option);
  const bad = run("--steps", "0");
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--steps must be a positive integer, got "0"/);
});

test("--backend runs the same demo on a gpujs backend, which then exits on its own", () => {
  const result = run("--steps", "30", "--points", "20", "--backend", "gpujs:webasm");
  assert.is(result.status, 0, result.stderr);
  const losses = [...result.stdout.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  assert.ok(losses[losses.length - 1] < losses[0], result.stdout);
  assert.match(result.stdout, /on gpujs:webasm/);
  const bad = run("--backend", "gpujs:webgl");
  assert.is(bad.status, 2);
  assert.match(
    bad.stderr,
    /unknown backend "gpujs:webgl"; registered backends: reference, wasm, gpujs, gpujs:webgpu, gpujs:webasm, gpujs:cpu/,
  );
});

test.run();

/**
 * @file The default backend after closeBackends(): a GPU backend that ready() started is not kept as the
 * default once closed; the next tensor asks for `await ready()` again, which starts a new one. (Each
 * case in its own process: TSGRAD_BACKEND is read there.)
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const coreRoot = fileURLToPath(new URL("..", import.meta.url));

function node(code: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: coreRoot,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
}

test("a backend ready() started and closeBackends() closed is not the default any more", () => {
  const result = node(
    'import { closeBackends, ready, tensor } from "./src/index.ts";' +
      "const first = await ready(); await closeBackends();" +
      'let message = "none"; try { tensor([1, 2]); } catch (e) { message = e.message; }' +
      "const second = await ready(); const t = tensor([1, 2]);" +
      "console.log(JSON.stringify({ first: first.name, same: first === second, message, lives: t.backend === second }));" +
      "await closeBackends();",
    { TSGRAD_BACKEND: "gpujs:cpu" },
  );
  const report = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}");
  assert.is(report.first, "gpujs:cpu", result.stderr);
  assert.match(report.message, /TSGRAD_BACKEND=gpujs:cpu starts asynchronously: call `await ready\(\)`/);
  assert.is(report.same, false, "ready() after closeBackends() starts a new backend");
  assert.is(report.lives, true);
});

test("the wasm default comes back on its own after closeBackends()", () => {
  const result = node(
    'import { closeBackends, getBackend, tensor } from "./src/index.ts";' +
      "const first = getBackend(); await closeBackends(); const t = tensor([1]);" +
      "console.log(JSON.stringify({ name: t.backend.name, same: t.backend === first }));" +
      "await closeBackends();",
    { TSGRAD_BACKEND: "wasm" },
  );
  const report = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}");
  assert.is(report.name, "wasm", result.stderr);
  assert.is(report.same, false);
});

test.run();

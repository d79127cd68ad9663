/**
 * @file The page in a real browser: Debian's chromium, driven headless by puppeteer-core (which uses the
 * system browser and downloads none), loads the built page from the local server with its COOP and COEP
 * headers, runs the three panels at smoke sizes and checks what they report: the property tests pass on
 * every backend the browser offers (WebGPU skipped, with its reason, where there is no adapter), the
 * benchmark gives numbers for the WebAssembly backend on one and two threads, and the live fine-tune's
 * loss falls for LoRA and for HyRA. A second browser is started with --enable-unsafe-webgpu, which
 * offers Chromium's software adapter (SwiftShader): there every op must also pass on gpujs:webgpu and
 * its benchmark must give numbers. Screenshots of each panel go to web/results/ (docs/images/ holds
 * committed ones).
 *
 * The browser is CHROMIUM (default /usr/bin/chromium); without one the test fails under CI=true (CI
 * installs it) and is skipped elsewhere with a line starting "SKIPPED".
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { serve } from "../scripts/serve.mjs";
import type { Panel } from "../src/protocol.ts";

const WEB = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(WEB, "results");

interface PageState {
  facts: Record<string, string | number | boolean>;
  done: Record<string, boolean>;
  panels: Record<string, { status: string; reason?: string }>;
  errors: string[];
  tests: { results: Record<string, Record<string, { ok: boolean; message?: string }>>; skipped: Record<string, string> };
  bench: { results: Record<string, Record<string, { value: number; unit: string; error?: string }>>; skipped: Record<string, string> };
  finetune: { losses: Record<string, [number, number][]>; accuracy: Record<string, { accuracy: number }> };
}

const test = suite("the page in headless chromium");
let server: Server | null = null;
let port = 0;
let state: PageState | null = null;
let gpuState: PageState | null = null;

/** Waits until every panel of `panels` has ended (each ends within its limit, hung or not). */
async function panelsEnded(page: Page, panels: string[], timeout: number): Promise<PageState> {
  await page.waitForFunction(
    (names: string[]) => {
      const s = (window as unknown as { tsgradPage?: PageState }).tsgradPage;
      return s !== undefined && names.every((p) => s.done[p]);
    },
    { timeout, polling: 250 },
    panels,
  );
  return (await page.evaluate(() => (window as unknown as { tsgradPage: PageState }).tsgradPage)) as PageState;
}

/**
 * Loads the page in a fresh browser with `autorun` and `flags`, waits for the panels, and returns what it
 * drew; with `shots`, saves a screenshot of each panel.
 */
async function runPage(autorun: Panel[], flags: string[], shots: boolean): Promise<PageState> {
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
  const browser: Browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", ...flags] });
  try {
    const page: Page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    const logs: string[] = [];
    page.on("pageerror", (error) => logs.push(String(error)));
    // TSGRAD_PAGE_SMOKE=0 runs the panels at full size, for screenshots worth committing (docs/images/)
    const smoke = process.env.TSGRAD_PAGE_SMOKE === "0" ? "0" : "1";
    await page.goto(`http://127.0.0.1:${port}/?smoke=${smoke}&autorun=${autorun.join(",")}`);
    const drawn = await panelsEnded(page, autorun, smoke === "1" ? 240_000 : 1_500_000);
    drawn.errors.push(...logs);
    if (shots) {
      mkdirSync(SHOTS, { recursive: true });
      for (const panel of autorun) await (await page.$(`#${panel}`))?.screenshot({ path: join(SHOTS, `${panel}.png`) as `${string}.png` });
    }
    return drawn;
  } finally {
    await browser.close();
  }
}

/** The page with the worker failing on purpose (`query` names the fault); then, in the same page, `after` is run. */
async function faultPage(query: string, panels: Panel[], after?: Panel): Promise<{ faulted: PageState; after?: PageState }> {
  const browser: Browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  try {
    const page: Page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?smoke=1&${query}&autorun=${panels.join(",")}`);
    const faulted = structuredClone(await panelsEnded(page, panels, 120_000));
    if (!after) return { faulted };
    await page.click(`#${after}-run`);
    return { faulted, after: await panelsEnded(page, [after], 240_000) };
  } finally {
    await browser.close();
  }
}

test.before(async () => {
  if (!existsSync(CHROMIUM)) return;
  execFileSync(process.execPath, [join(WEB, "scripts/build.mjs")], { stdio: "inherit" });
  server = await serve(join(WEB, "dist"), 0);
  port = (server.address() as AddressInfo).port;
  state = await runPage(["tests", "bench", "finetune"], [], true);
  // Chromium's software WebGPU adapter (SwiftShader), which --enable-unsafe-webgpu offers headless
  gpuState = await runPage(["tests", "bench"], ["--enable-unsafe-webgpu"], false);
});

test.after(() => {
  server?.close();
});

let faults: {
  hang: { faulted: PageState; after?: PageState };
  thrown: { faulted: PageState };
  rejected: { faulted: PageState };
} | null = null;
const faultRuns = async () => {
  faults ??= {
    hang: await faultPage("fault=finetune:hang&timeout=finetune:4", ["finetune", "bench"], "tests"),
    thrown: await faultPage("fault=tests:throw", ["tests"]),
    rejected: await faultPage("fault=bench:reject", ["bench"]),
  };
  return faults;
};

const available = () => {
  if (state) return true;
  if (process.env.CI === "true") throw new Error(`no browser at ${CHROMIUM}: CI must install Debian's chromium`);
  console.log(`SKIPPED the page test: no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  return false;
};

test("the page is cross-origin isolated and nothing failed to load or run", () => {
  if (!available()) return;
  const s = state as PageState;
  assert.equal(s.errors, []);
  assert.is(s.facts.crossOriginIsolated, true);
  for (const panel of ["tests", "bench", "finetune"]) assert.is(s.panels[panel].status, "passed", `${panel}: ${s.panels[panel].reason}`);
});

test("a worker that stops answering fails its panel within the limit, with the reason, and a new worker runs the next", async () => {
  if (!available()) return;
  const { hang } = await faultRuns();
  assert.is(hang.faulted.panels.finetune.status, "failed");
  assert.match(
    hang.faulted.panels.finetune.reason ?? "",
    /^finetune: no answer from the worker within 4 s; it was stopped, and a new one started$/,
  );
  // the panel queued behind it went with the worker, and says so
  assert.is(hang.faulted.panels.bench.status, "failed");
  assert.match(hang.faulted.panels.bench.reason ?? "", /no answer from the worker/);
  assert.is(hang.after?.panels.tests.status, "passed", JSON.stringify(hang.after?.panels.tests));
});

test("an uncaught error or an unhandled rejection in the worker fails the running panel, with the message", async () => {
  if (!available()) return;
  const { thrown, rejected } = await faultRuns();
  assert.is(thrown.faulted.panels.tests.status, "failed");
  assert.match(thrown.faulted.panels.tests.reason ?? "", /the worker failed: .*fault injected: an uncaught error in the worker/);
  assert.is(rejected.faulted.panels.bench.status, "failed");
  assert.match(rejected.faulted.panels.bench.reason ?? "", /unhandled rejection: fault injected: an unhandled rejection in the worker/);
  assert.ok(
    rejected.faulted.errors.some((e) => /unhandled rejection/.test(e)),
    JSON.stringify(rejected.faulted.errors),
  );
});

test("the property tests pass on the reference and wasm backends, 1 and 2 threads; WebGPU runs or says why not", () => {
  if (!available()) return;
  const { results, skipped } = (state as PageState).tests;
  const ops = Object.keys(results);
  assert.ok(ops.length > 50, `only ${ops.length} ops ran`);
  for (const backend of ["reference", "wasm, 1 thread", "wasm, 2 threads"]) {
    for (const op of ops) {
      const cell = results[op][backend];
      assert.ok(cell, `${op} did not run on ${backend}`);
      assert.ok(cell.ok, `${op} on ${backend}: ${cell.message}`);
    }
  }
  // headless chromium offers no WebGPU adapter unless asked (the next test asks)
  const webgpuRan = ops.every((op) => results[op]["gpujs:webgpu"]?.ok);
  assert.ok(webgpuRan || /no WebGPU adapter/.test(skipped["gpujs:webgpu"] ?? ""), JSON.stringify(skipped));
});

test("with Chromium's software WebGPU adapter, every op also passes on gpujs:webgpu, and its benchmark gives numbers", () => {
  if (!available()) return;
  const s = gpuState as PageState;
  assert.equal(s.errors, []);
  assert.equal(s.tests.skipped, {});
  const ops = Object.entries(s.tests.results);
  assert.ok(ops.length > 50, `only ${ops.length} ops ran`);
  for (const [op, byBackend] of ops)
    assert.ok(byBackend["gpujs:webgpu"]?.ok, `${op} on gpujs:webgpu: ${byBackend["gpujs:webgpu"]?.message}`);
  for (const [id, byBackend] of Object.entries(s.bench.results)) {
    const r = byBackend["gpujs:webgpu"];
    assert.ok(r && !r.error && Number.isFinite(r.value) && r.value > 0, `${id} on gpujs:webgpu: ${JSON.stringify(r)}`);
  }
});

test("the benchmark reports numbers for the wasm backend on one and two threads", () => {
  if (!available()) return;
  const { results } = (state as PageState).bench;
  const cases = Object.keys(results);
  assert.ok(cases.length > 10, `only ${cases.length} cases ran`);
  for (const id of cases) {
    for (const backend of ["wasm, 1 thread", "wasm, 2 threads"]) {
      const r = results[id][backend];
      assert.ok(r && !r.error && Number.isFinite(r.value) && r.value > 0, `${id} on ${backend}: ${JSON.stringify(r)}`);
    }
  }
});

test("the live fine-tune's loss falls for LoRA and for HyRA, and both report a test accuracy", () => {
  if (!available()) return;
  const { losses, accuracy } = (state as PageState).finetune;
  for (const method of ["lora", "hyra"]) {
    const curve = (losses[method] ?? []).map(([, loss]) => loss);
    assert.ok(curve.length >= 20, `${method}: ${curve.length} loss points`);
    // a batch's loss is noisy: the mean of the last tenth of the steps against the first tenth's
    const tenth = Math.floor(curve.length / 10);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(curve.slice(0, tenth)), mean(curve.slice(-tenth))];
    assert.ok(last < first, `${method}: the mean loss went ${first} -> ${last}`);
    assert.ok(accuracy[method] && accuracy[method].accuracy > 0.5, `${method}: accuracy ${JSON.stringify(accuracy[method])}`);
  }
});

test.run();

/**
 * @file The page in a real browser: Debian's chromium, driven headless by puppeteer-core (which uses the
 * system browser and downloads none), loads the built page from the local server with its COOP and COEP
 * headers, runs the three panels at smoke sizes and checks what they report: the property tests pass on
 * every backend the browser offers (WebGPU skipped, with its reason, where there is no adapter), the
 * benchmark gives numbers for the WebAssembly backend on one and two threads, and the live fine-tune's
 * loss falls for LoRA and for HyRA. Screenshots of each panel go to web/results/ (docs/images/ holds
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
// @ts-expect-error: a plain-JavaScript script, typed by how it is used here
import { serve } from "../scripts/serve.mjs";

const WEB = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(WEB, "results");

interface PageState {
  facts: Record<string, string | number | boolean>;
  done: Record<string, boolean>;
  errors: string[];
  tests: { results: Record<string, Record<string, { ok: boolean; message?: string }>>; skipped: Record<string, string> };
  bench: { results: Record<string, Record<string, { value: number; unit: string; error?: string }>>; skipped: Record<string, string> };
  finetune: { losses: Record<string, [number, number][]>; accuracy: Record<string, { accuracy: number }> };
}

const test = suite("the page in headless chromium");
let browser: Browser | null = null;
let server: Server | null = null;
let state: PageState | null = null;
let page: Page | null = null;

test.before(async () => {
  if (!existsSync(CHROMIUM)) return;
  execFileSync(process.execPath, [join(WEB, "scripts/build.mjs")], { stdio: "inherit" });
  server = (await serve(join(WEB, "dist"), 0)) as Server;
  const port = (server.address() as AddressInfo).port;
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  const logs: string[] = [];
  page.on("pageerror", (error) => logs.push(String(error)));
  // TSGRAD_PAGE_SMOKE=0 runs the panels at full size, for screenshots worth committing (docs/images/)
  const smoke = process.env.TSGRAD_PAGE_SMOKE === "0" ? "0" : "1";
  await page.goto(`http://127.0.0.1:${port}/?smoke=${smoke}&autorun=tests,bench,finetune`);
  await page.waitForFunction(
    () => {
      const s = (window as unknown as { tsgradPage?: PageState }).tsgradPage;
      return s !== undefined && (s.errors.length > 0 || (s.done.tests && s.done.bench && s.done.finetune));
    },
    { timeout: smoke === "1" ? 240_000 : 1_500_000, polling: 500 },
  );
  state = (await page.evaluate(() => (window as unknown as { tsgradPage: PageState }).tsgradPage)) as PageState;
  if (logs.length > 0) state.errors.push(...logs);
  mkdirSync(SHOTS, { recursive: true });
  for (const panel of ["tests", "bench", "finetune"]) {
    const element = await page.$(`#${panel}`);
    await element?.screenshot({ path: join(SHOTS, `${panel}.png`) as `${string}.png` });
  }
});

test.after(async () => {
  await browser?.close();
  server?.close();
});

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
  const webgpuRan = ops.every((op) => results[op]["gpujs:webgpu"]?.ok);
  assert.ok(webgpuRan || /no WebGPU adapter|gpujs:webgpu cannot start/.test(skipped["gpujs:webgpu"] ?? ""), JSON.stringify(skipped));
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

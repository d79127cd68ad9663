/**
 * @file The page's main thread: buttons, tables and the loss plot. Everything tsgrad does runs in the
 * worker (worker.ts); this file only draws what it posts. What it has drawn is also kept in
 * `window.tsgradPage`, which the headless-browser test (test/page.test.ts) reads.
 *
 * Every panel ends as passed, failed with a reason or skipped with a reason, within its time limit
 * (PANEL_LIMIT_S): a worker that errors, rejects without a handler or stops answering fails the panels it
 * was running and is replaced by a new one.
 *
 * URL parameters: `smoke=1` runs everything at tiny sizes; `autorun=tests,bench,finetune` starts panels
 * without a click; `op=NAME&seed=N&path=P` replays one op's property with a failure's seed and path;
 * `timeout=PANEL:S,...` sets panels' limits; `fault=PANEL:throw|reject|hang` makes the worker fail on purpose
 * (the test that shows a panel still ends).
 */

import { FAULTS, type Fault, type Outcome, type Panel, type Reply, type RunOptions } from "./protocol.ts";

interface TestCell {
  ok: boolean;
  message?: string;
  seed: number;
}

interface PanelState {
  status: "idle" | "running" | Outcome;
  reason?: string;
  seconds?: number;
}

interface PageState {
  facts: Record<string, string | number | boolean>;
  /** Whether each panel has ended (passed, failed or skipped) since it was last started. */
  done: Record<Panel, boolean>;
  panels: Record<Panel, PanelState>;
  errors: string[];
  tests: { results: Record<string, Record<string, TestCell>>; skipped: Record<string, string> };
  bench: { results: Record<string, Record<string, { value: number; unit: string; error?: string }>>; skipped: Record<string, string> };
  finetune: {
    losses: Record<string, [number, number][]>;
    accuracy: Record<string, { accuracy: number; trainable: number; seconds: number }>;
  };
}

const state: PageState = {
  facts: {},
  done: { tests: false, bench: false, finetune: false },
  panels: { tests: { status: "idle" }, bench: { status: "idle" }, finetune: { status: "idle" } },
  errors: [],
  tests: { results: {}, skipped: {} },
  bench: { results: {}, skipped: {} },
  finetune: { losses: {}, accuracy: {} },
};
(window as unknown as { tsgradPage: PageState }).tsgradPage = state;

const PANELS = ["tests", "bench", "finetune"] as const;
const params = new URLSearchParams(location.search);
const [faultPanel, faultKind] = (params.get("fault") ?? "").split(":");
const options: RunOptions = {
  smoke: params.get("smoke") === "1",
  ...(params.has("op")
    ? { replay: { op: params.get("op") ?? "", seed: Number(params.get("seed")), path: params.get("path") ?? undefined } }
    : {}),
  ...(PANELS.includes(faultPanel as Panel) && FAULTS.includes(faultKind as Fault)
    ? { fault: { panel: faultPanel as Panel, kind: faultKind as Fault } }
    : {}),
};

/**
 * How long each panel may take before it counts as hung, in seconds, counted from when it is asked for:
 * several times what it takes on a 2-core machine (smoke: under 30 s each; full size: the tests and the
 * benchmarks several minutes each, most on a software WebGPU adapter, the fine-tune about two).
 */
const PANEL_LIMIT_S: Record<Panel, number> = options.smoke
  ? { tests: 240, bench: 240, finetune: 240 }
  : { tests: 1800, bench: 1800, finetune: 900 };
// `timeout=finetune:4,tests:60` sets some panels' limits (the test of a hung worker waits seconds, not minutes)
for (const entry of (params.get("timeout") ?? "").split(",")) {
  const [panel, seconds] = entry.split(":");
  // a timer longer than 2^31 ms would fire at once
  if (PANELS.includes(panel as Panel) && Number(seconds) > 0 && Number(seconds) <= 2_000_000)
    PANEL_LIMIT_S[panel as Panel] = Number(seconds);
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const html = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const COLORS: Record<string, string> = { lora: "#1f5fa8", hyra: "#e07b10" };

function reportError(message: string): void {
  state.errors.push(message);
  $("errors").textContent = state.errors.join("\n");
}

const timers: Partial<Record<Panel, ReturnType<typeof setTimeout>>> = {};

/** Ends a panel once: its outcome, its reason, its status line; a later word about it is ignored. */
function end(panel: Panel, outcome: Outcome, reason?: string, seconds?: number): void {
  if (state.panels[panel].status !== "running") return;
  clearTimeout(timers[panel]);
  state.panels[panel] = { status: outcome, reason, seconds };
  state.done[panel] = true;
  const took = seconds === undefined ? "" : ` in ${seconds.toFixed(1)} s`;
  $(`${panel}-status`).textContent =
    outcome === "passed" ? `done${took}` : `${outcome === "failed" ? "FAILED" : "skipped"}${took}: ${reason ?? ""}`;
}

let worker = startWorker();

/** A new worker; one that errors or stops answering fails the panels it holds and is replaced. */
function startWorker(): Worker {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  w.onerror = (event) => {
    event.preventDefault();
    replaceWorker(`the worker failed: ${event.message}`);
  };
  w.onmessageerror = () => replaceWorker("the worker sent a message that could not be read");
  w.onmessage = (event: MessageEvent<Reply>) => receive(event.data);
  return w;
}

/** Workers replaced since one last answered: a worker that fails as it loads would otherwise be replaced forever. */
let failedStarts = 0;
const MAX_FAILED_STARTS = 3;

function replaceWorker(reason: string): void {
  reportError(reason);
  worker.terminate();
  for (const panel of PANELS) end(panel, "failed", reason);
  if (++failedStarts > MAX_FAILED_STARTS) {
    reportError(`the worker failed ${MAX_FAILED_STARTS} times in a row without answering; reload the page to try again`);
    return;
  }
  worker = startWorker();
}

function start(panel: Panel): void {
  if (state.panels[panel].status === "running") return;
  state.done[panel] = false;
  state.panels[panel] = { status: "running" };
  $(`${panel}-status`).textContent = "running…";
  const limit = PANEL_LIMIT_S[panel];
  // panels run one after another: the limit counts from when this one is asked for, so it includes the wait
  const queued = PANELS.filter((p) => p !== panel && state.panels[p].status === "running").reduce((n, p) => n + PANEL_LIMIT_S[p], 0);
  timers[panel] = setTimeout(
    () => replaceWorker(`${panel}: no answer from the worker within ${limit} s; it was stopped, and a new one started`),
    (limit + queued) * 1000,
  );
  worker.postMessage({ type: "run", panel, options });
}

// an error of the page itself (a drawing bug) is shown with the rest
window.addEventListener("error", (event) => reportError(`page: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => reportError(`page: unhandled rejection: ${String(event.reason)}`));

for (const panel of PANELS) $(`${panel}-run`).addEventListener("click", () => start(panel));
for (const panel of (params.get("autorun") ?? "").split(",")) if (PANELS.includes(panel as Panel)) start(panel as Panel);

function receive(reply: Reply): void {
  failedStarts = 0;
  switch (reply.type) {
    case "facts":
      Object.assign(state.facts, reply.facts);
      $("facts").innerHTML = Object.entries(state.facts)
        .map(([k, v]) => `<dt>${html(k)}</dt><dd>${html(String(v))}</dd>`)
        .join("");
      return;
    case "test":
      state.tests.results[reply.op] ??= {};
      state.tests.results[reply.op][reply.backend] = { ok: reply.ok, message: reply.message, seed: reply.seed };
      drawTests();
      return;
    case "skip":
      state[reply.panel === "bench" ? "bench" : "tests"].skipped[reply.backend] = reply.reason;
      if (reply.panel === "bench") drawBench();
      else drawTests();
      return;
    case "bench":
      state.bench.results[reply.case] ??= {};
      state.bench.results[reply.case][reply.backend] = { value: reply.value, unit: reply.unit, error: reply.error };
      drawBench();
      return;
    case "loss":
      state.finetune.losses[reply.method] ??= [];
      state.finetune.losses[reply.method].push([reply.step, reply.loss]);
      drawLosses();
      return;
    case "accuracy":
      state.finetune.accuracy[reply.method] = { accuracy: reply.accuracy, trainable: reply.trainable, seconds: reply.seconds };
      drawLosses();
      return;
    case "error":
      reportError(`${reply.panel ?? "worker"}: ${reply.message}`);
      // an error of the worker outside any panel's run fails whatever is running
      if (reply.panel !== null) end(reply.panel, "failed", reply.message.split("\n")[0]);
      else for (const panel of PANELS) end(panel, "failed", reply.message.split("\n")[0]);
      return;
    case "done":
      end(reply.panel, reply.outcome, reply.reason, reply.seconds);
      return;
  }
}

function backendsOf(results: Record<string, Record<string, unknown>>): string[] {
  return [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))];
}

function skippedLines(skipped: Record<string, string>): string {
  return Object.entries(skipped)
    .map(([b, reason]) => `<p class="skip">${html(b)}: skipped: ${html(reason)}</p>`)
    .join("");
}

function drawTests(): void {
  const { results, skipped } = state.tests;
  const backends = backendsOf(results);
  const cells = Object.values(results).flatMap((r) => Object.values(r));
  const failed = cells.filter((c) => !c.ok).length;
  const rows = Object.entries(results).map(([op, byBackend]) => {
    const tds = backends.map((b) => {
      const cell = byBackend[b];
      if (!cell) return "<td></td>";
      if (cell.ok) return `<td class="pass" title="seed ${cell.seed}">pass</td>`;
      const replay = /replay: TSGRAD_FC_SEED=(-?\d+) TSGRAD_FC_PATH=(\S+)/.exec(cell.message ?? "");
      const link = replay
        ? ` <a href="?op=${encodeURIComponent(op)}&seed=${replay[1]}&path=${encodeURIComponent(replay[2])}&autorun=tests">replay</a>`
        : "";
      return `<td class="fail" title="${html(cell.message ?? "")}">FAIL${link}</td>`;
    });
    return `<tr><th>${html(op)}</th>${tds.join("")}</tr>`;
  });
  $("tests-summary").textContent = `${cells.length - failed} passed, ${failed} failed`;
  $("tests-table").innerHTML = `<tr><th>op</th>${backends.map((b) => `<th>${html(b)}</th>`).join("")}</tr>${rows.join("")}`;
  $("tests-skipped").innerHTML = skippedLines(skipped);
}

function drawBench(): void {
  const { results, skipped } = state.bench;
  const backends = backendsOf(results);
  const rows = Object.entries(results).map(([id, byBackend]) => {
    const tds = backends.map((b) => {
      const r = byBackend[b];
      if (!r) return "<td></td>";
      if (r.error) return `<td class="fail" title="${html(r.error)}">error</td>`;
      return `<td>${r.value.toPrecision(3)} ${html(r.unit)}</td>`;
    });
    return `<tr><th>${html(id)}</th>${tds.join("")}</tr>`;
  });
  $("bench-table").innerHTML = `<tr><th>case</th>${backends.map((b) => `<th>${html(b)}</th>`).join("")}</tr>${rows.join("")}`;
  $("bench-skipped").innerHTML = skippedLines(skipped);
}

function drawLosses(): void {
  const [W, H, L, B] = [640, 300, 50, 30];
  const series = Object.entries(state.finetune.losses);
  const all = series.flatMap(([, points]) => points);
  if (all.length === 0) return;
  const maxStep = Math.max(...all.map(([s]) => s));
  const maxLoss = Math.max(...all.map(([, l]) => l), 1e-6);
  const x = (step: number) => L + ((W - L - 10) * step) / maxStep;
  const y = (loss: number) => 10 + (H - B - 10) * (1 - loss / maxLoss);
  const lines = series.map(
    ([method, points]) =>
      `<polyline fill="none" stroke="${COLORS[method] ?? "#444"}" stroke-width="2" points="${points.map(([s, l]) => `${x(s).toFixed(1)},${y(l).toFixed(1)}`).join(" ")}"/>`,
  );
  const legend = series.map(([method], i) => {
    const acc = state.finetune.accuracy[method];
    const text = acc
      ? `${method}: test accuracy ${(acc.accuracy * 100).toFixed(1)} %, ${acc.trainable} trainable, ${acc.seconds.toFixed(1)} s`
      : method;
    return `<text x="${L + 10}" y="${24 + 18 * i}" fill="${COLORS[method] ?? "#444"}">${html(text)}</text>`;
  });
  $("finetune-plot").innerHTML =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">` +
    `<line x1="${L}" y1="${H - B}" x2="${W - 10}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="10" x2="${L}" y2="${H - B}" stroke="#888"/>` +
    `<text x="${L - 6}" y="16" text-anchor="end">${maxLoss.toPrecision(2)}</text><text x="${L - 6}" y="${H - B}" text-anchor="end">0</text>` +
    `<text x="${W - 10}" y="${H - 8}" text-anchor="end">step ${maxStep}</text><text x="${L}" y="${H - 8}">training loss</text>` +
    `${lines.join("")}${legend.join("")}</svg>`;
}

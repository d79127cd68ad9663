/**
 * @file The page's main thread: buttons, tables and the loss plot. Everything tsgrad does runs in the
 * worker (worker.ts); this file only draws what it posts. What it has drawn is also kept in
 * `window.tsgradPage`, which the headless-browser test (test/page.test.ts) reads.
 *
 * URL parameters: `smoke=1` runs everything at tiny sizes; `autorun=tests,bench,finetune` starts panels
 * without a click; `op=NAME&seed=N&path=P` replays one op's property with a failure's seed and path.
 */

import type { Panel, Reply, RunOptions } from "./protocol.ts";

interface TestCell {
  ok: boolean;
  message?: string;
  seed: number;
}

interface PageState {
  facts: Record<string, string | number | boolean>;
  done: Record<Panel, boolean>;
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
  errors: [],
  tests: { results: {}, skipped: {} },
  bench: { results: {}, skipped: {} },
  finetune: { losses: {}, accuracy: {} },
};
(window as unknown as { tsgradPage: PageState }).tsgradPage = state;

const params = new URLSearchParams(location.search);
const options: RunOptions = {
  smoke: params.get("smoke") === "1",
  ...(params.has("op")
    ? { replay: { op: params.get("op") ?? "", seed: Number(params.get("seed")), path: params.get("path") ?? undefined } }
    : {}),
};

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const html = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const COLORS: Record<string, string> = { lora: "#1f5fa8", hyra: "#e07b10" };

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.onerror = (event) => {
  state.errors.push(`worker: ${event.message}`);
  $("errors").textContent = state.errors.join("\n");
};
worker.onmessage = (event: MessageEvent<Reply>) => receive(event.data);

function start(panel: Panel): void {
  state.done[panel] = false;
  $(`${panel}-status`).textContent = "running…";
  worker.postMessage({ type: "run", panel, options });
}

for (const panel of ["tests", "bench", "finetune"] as const) $(`${panel}-run`).addEventListener("click", () => start(panel));
for (const panel of (params.get("autorun") ?? "").split(","))
  if (panel === "tests" || panel === "bench" || panel === "finetune") start(panel);

function receive(reply: Reply): void {
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
      state.errors.push(`${reply.panel}: ${reply.message}`);
      $("errors").textContent = state.errors.join("\n");
      return;
    case "done":
      state.done[reply.panel] = true;
      $(`${reply.panel}-status`).textContent = `done in ${reply.seconds.toFixed(1)} s`;
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

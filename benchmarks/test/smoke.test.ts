/**
 * @file The harness cannot rot: every case runs once at tiny sizes on every tsgrad backend that starts
 * here and on every peer, through the real CLI and worker processes, and the report must be complete,
 * correct and well-formed. Times are not asserted.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compareOutputs } from "../src/cases/check.ts";
import { catalogue } from "../src/cases/index.ts";
import type { Report } from "../src/report.ts";
import { SCHEMA } from "../src/report.ts";
import { median } from "../src/stats.ts";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const PEERS = ["tfjs-cpu", "tfjs-wasm", "jax-wasm"];

const out = mkdtempSync(join(tmpdir(), "tsgrad-bench-smoke-"));
let report: Report;
let svg: string;
let md: string;
let run: { status: number | null; output: string };

test.before(() => {
  const child = spawnSync(process.execPath, ["--import", "tsx", CLI, "--smoke", "--out", out], { encoding: "utf8", timeout: 170_000 });
  run = { status: child.status, output: `${child.stdout}\n${child.stderr}` };
  report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as Report;
  md = readFileSync(join(out, "report.md"), "utf8");
  svg = readFileSync(join(out, "report.svg"), "utf8");
});

test.after(() => rmSync(out, { recursive: true, force: true }));

test("the smoke run exits cleanly: no result was an error", () => {
  assert.is(run.status, 0, run.output);
});

test("the report has the schema's fields, with the machine facts", () => {
  assert.is(report.schema, SCHEMA);
  assert.is(report.mode, "smoke");
  assert.match(report.command, /--smoke/);
  for (const key of ["cpu", "node", "platform", "git", "date"] as const) assert.type(report.machine[key], "string", key);
  assert.ok(report.machine.cores >= 1);
  assert.type(report.machine.loadStart, "number");
  assert.type(report.machine.loadEnd, "number");
  assert.ok(report.timing.rounds >= 2, "ratios need rounds to pair");
  assert.equal(
    report.cases.map((c) => c.id),
    catalogue("smoke").map((c) => c.id),
  );
});

test("every participant either ran, with facts on what ran, or is skipped with a reason", () => {
  const ids = report.participants.map((p) => p.id);
  assert.ok(ids.includes("reference"), "the reference backend is always measured");
  for (const peer of PEERS) assert.ok(ids.includes(peer), `peer ${peer} is in the run`);
  for (const p of report.participants) {
    if (p.status === "ran") {
      assert.type(p.facts.library, "string", `${p.id} names its library`);
      // a configuration runs its backend under a name that spells out its options: "wasm(threads=1,...)"
      if (p.kind === "tsgrad" && !p.backend) assert.is(p.facts.backend, p.id, `${p.id} ran as itself`);
      if (p.backend) assert.ok(String(p.facts.backend).startsWith(`${p.backend.name}(`), `${p.id} ran on ${p.backend.name}`);
    } else {
      assert.is(p.status, "unavailable");
      assert.ok(p.reason && p.reason.length > 0, `${p.id} says why it was skipped`);
    }
  }
  for (const peer of PEERS) assert.is(report.participants.find((p) => p.id === peer)?.status, "ran", `${peer} runs on Node 20`);
  // the fast CPU backend on one thread, two, and two with relaxed SIMD (its process has the flag Node 20 needs)
  for (const id of ["wasm:1t", "wasm:2t", "wasm:2t-relaxed"]) {
    assert.is(report.participants.find((p) => p.id === id)?.status, "ran", `${id} runs on Node 20`);
  }
});

test("every case was checked and timed on every participant that ran, in every round", () => {
  const ran = report.participants.filter((p) => p.status === "ran");
  for (const p of ran) {
    for (const c of report.cases) {
      if (c.tsgradOnly && p.kind === "peer") continue;
      const result = report.results.find((r) => r.participant === p.id && r.case === c.id);
      assert.ok(result, `${p.id} has a result for ${c.id}`);
      assert.ok(result!.ok, `${p.id}, ${c.id}: ${result!.error}`);
      assert.type(result!.firstCallMs, "number");
      assert.equal([...new Set(result!.samples.map((s) => s.round))], [1, 2], `${p.id}, ${c.id} ran both rounds`);
      for (const s of result!.samples) assert.ok(s.ms > 0 && s.calls >= 1);
      assert.ok(result!.rssPeakBytes > 0);
      const summary = report.summaries.find((s) => s.participant === p.id && s.case === c.id)!;
      assert.ok(summary.ok && Number.isFinite(summary.metric) && summary.minMs <= summary.medianMs && summary.medianMs <= summary.maxMs);
    }
  }
});

test("there is a tsgrad / peer ratio for every tsgrad backend, peer and case, taken per round", () => {
  const ran = report.participants.filter((p) => p.status === "ran");
  const tsgrad = ran.filter((p) => p.kind === "tsgrad");
  const peers = ran.filter((p) => p.kind === "peer");
  assert.is(report.ratios.length, tsgrad.length * peers.length * report.cases.filter((c) => !c.tsgradOnly).length);
  for (const r of report.ratios) {
    assert.is(r.perRound.length, 2);
    assert.ok(Math.abs(r.median - median(r.perRound)) < 1e-12);
  }
});

test("the Markdown and the SVG show every participant that ran", () => {
  for (const p of report.participants.filter((q) => q.status === "ran")) {
    assert.ok(md.includes(`| ${p.label} `) || md.includes(`| ${p.label} |`), `${p.label} in the Markdown`);
    assert.ok(svg.includes(`>${p.label}<`), `${p.label} in the SVG legend`);
  }
  assert.match(md, /## tsgrad \/ peer/);
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  const bars = svg.match(/<rect class="bar"/g)?.length ?? 0;
  assert.is(bars, report.summaries.filter((s) => s.ok).length, "one bar per result");
});

test("a wrong answer is caught: a matmul off by 5e-4, a loss change off by 1%, a missing output", () => {
  const expected = { out: Float32Array.of(10, 20) };
  const checks = [{ name: "out", cls: "matmul" as const, scale: Float32Array.of(10, 20), terms: 2 }];
  assert.is(compareOutputs({ out: Float32Array.of(10, 20) }, expected, checks, null), null);
  assert.match(compareOutputs({ out: Float32Array.of(10, 20.01) }, expected, checks, null) ?? "", /wrong answer: out differ/);
  assert.match(compareOutputs({ out: Float32Array.of(10, 20.01) }, expected, checks, "reference") ?? "", /wrong answer/);
  const loss = { loss: Float32Array.of(2), lossDelta: Float32Array.of(-0.05) };
  const lossChecks = [
    { name: "loss", cls: "loss" as const },
    { name: "lossDelta", cls: "lossDelta" as const },
  ];
  assert.is(compareOutputs({ loss: Float32Array.of(2), lossDelta: Float32Array.of(-0.05) }, loss, lossChecks, null), null);
  assert.match(
    compareOutputs({ loss: Float32Array.of(2), lossDelta: Float32Array.of(-0.0505) }, loss, lossChecks, null) ?? "",
    /lossDelta/,
  );
  assert.match(compareOutputs({ loss: Float32Array.of(2) }, loss, lossChecks, null) ?? "", /no output "lossDelta"/);
});

test.run();

/**
 * @file The tsgrad command on a toy configuration: a tiny backbone pretrained in seconds, a comparison
 * that writes the JSON, the table and the SVG with the expected fields, a run killed mid-comparison whose
 * rerun redoes nothing finished and loses nothing, one fine-tune saved, evaluated and used to predict,
 * and the low-data study's whole pipeline and the theory's curve on their toy presets.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
// the suite runs on the reference backend; the command runs as a user would, on the fast one
const BACKEND = ["--backend", "wasm", "--threads", "1"];

function tsgrad(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { env: { ...process.env, TSGRAD_STRICT_ASYNC: "" } });
  let out = "";
  child.stdout?.on("data", (c) => {
    out += c;
  });
  child.stderr?.on("data", (c) => {
    out += c;
  });
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on("close", (code) => resolve({ code, out })));
  return { child, done };
}

let dir = "";
const backbone = () => join(dir, "backbone");
const TOY = ["--task", "spam", "--methods", "linear-probe,lora,hyra", "--fractions", "1,5", "--seeds", "2", "--steps", "3"];

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsgrad-cli-"));
  const { code, out } = await tsgrad([
    "pretrain",
    ...BACKEND,
    "--corpus",
    "moby-dick",
    "--merges",
    "40",
    "--layers",
    "1",
    "--width",
    "16",
    "--heads",
    "2",
    "--block",
    "32",
    "--batch",
    "4",
    "--steps",
    "5",
    "--out",
    backbone(),
  ]).done;
  assert.is(code, 0, out);
  assert.match(out, /held-out bits per character \d+\.\d+; unigram character model \d+\.\d+; floor/);
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("pretrain saves the model, the tokenizer and the record of how it was made", async () => {
  const record = JSON.parse(await readFile(join(backbone(), "pretrain.json"), "utf8"));
  assert.match(record.command, /^npm run tsgrad -- pretrain /);
  assert.equal(Object.keys(record.files).sort(), ["config.json", "model.safetensors", "tokenizer.json"]);
  assert.ok(record.result.bitsPerChar > 0 && record.result.unigramBitsPerChar > 0);
});

test("compare writes results.json, results.md and accuracy.svg; a run killed midway loses nothing finished", async () => {
  const out = join(dir, "compare");
  const args = ["compare", ...BACKEND, ...TOY, "--backbone", backbone(), "--out", out];
  // the first attempt is killed as soon as one run has been stored
  const first = tsgrad(args);
  let exited = false;
  void first.done.then(() => {
    exited = true;
  });
  const runs = join(out, "runs");
  for (let i = 0; i < 600 && !exited; i++) {
    const names = await readdir(runs).catch(() => [] as string[]);
    if (names.some((n) => n.endsWith(".json"))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  first.child.kill("SIGKILL");
  const killed = await first.done;
  assert.is(killed.code, null, `killed, not finished: ${killed.out}`);
  const finished = (await readdir(runs)).filter((n) => /^[0-9a-f]{16}\.json$/.test(n));
  assert.ok(finished.length >= 1 && finished.length < 12, `${finished.length} runs stored before the kill`);
  const before = new Map(await Promise.all(finished.map(async (n) => [n, (await stat(join(runs, n))).mtimeMs] as const)));

  const { code, out: log } = await tsgrad(args).done;
  assert.is(code, 0, log);
  assert.match(
    log,
    new RegExp(
      `12 runs \\(3 methods × 2 fractions × 2 seeds\\) on spam; ${finished.length} done already, ${12 - finished.length} to run \\(${3 * (12 - finished.length)} steps\\)`,
    ),
  );
  for (const [n, mtime] of before) assert.is((await stat(join(runs, n))).mtimeMs, mtime, `${n} was not redone`);
  assert.is((await readdir(runs)).filter((n) => n.endsWith(".json")).length, 12);

  const json = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
  assert.is(json.runs.length, 12);
  assert.equal(Object.keys(json.grid).sort(), [
    "alpha",
    "batch",
    "fractions",
    "maxTokens",
    "methods",
    "r",
    "seeds",
    "steps",
    "task",
    "validate",
  ]);
  for (const run of json.runs) {
    assert.ok(run.result.testAccuracy >= 0 && run.result.testAccuracy <= 1);
    assert.ok(run.result.trainable > 0);
  }
  assert.ok(json.versions["@tsgrad/core"], "the versions of what ran");
  const markdown = await readFile(join(out, "results.md"), "utf8");
  assert.match(markdown, /\| method \| 1 % \| 5 % \| trainable parameters \|/);
  assert.match(markdown, /\| hyra \| \d+\.\d ± \d+\.\d \(2\) \|/);
  assert.match(markdown, /(ranges overlap|separate)/);
  const svg = await readFile(join(out, "accuracy.svg"), "utf8");
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  for (const m of ["linear-probe", "lora", "hyra"]) assert.ok(svg.includes(`>${m}</text>`), m);

  // a third run has nothing left to do
  const again = await tsgrad(args).done;
  assert.match(again.out, /12 done already, 0 to run \(0 steps\)/);
});

test("finetune saves PEFT files and the run; evaluate and predict read them back", async () => {
  const run = join(dir, "run");
  const ft = await tsgrad([
    "finetune",
    ...BACKEND,
    "--task",
    "spam",
    "--method",
    "hyra",
    "--fraction",
    "1",
    "--steps",
    "3",
    "--backbone",
    backbone(),
    "--out",
    run,
  ]).done;
  assert.is(ft.code, 0, ft.out);
  const files = await readdir(run);
  for (const f of ["adapter_config.json", "adapter_model.safetensors", "run.json"]) assert.ok(files.includes(f), f);
  const saved = JSON.parse(await readFile(join(run, "run.json"), "utf8"));
  const ev = await tsgrad(["evaluate", ...BACKEND, "--run", run, "--backbone", backbone()]).done;
  assert.is(ev.code, 0, ev.out);
  const accuracy = Number(/test accuracy (\d+\.\d+) %/.exec(ev.out)?.[1]);
  assert.ok(
    Math.abs(accuracy - 100 * saved.result.testAccuracy) < 0.01,
    `evaluate ${accuracy} % = finetune ${100 * saved.result.testAccuracy} %`,
  );
  const pr = await tsgrad([
    "predict",
    ...BACKEND,
    "--run",
    run,
    "--backbone",
    backbone(),
    "--text",
    "win money now",
    "--text",
    "meeting at noon",
  ]).done;
  assert.is(pr.code, 0, pr.out);
  assert.match(pr.out, /^(ham|spam)\twin money now$/m);
});

test("finetune trains VeRA and the compact HyRA too, saved as PEFT files that evaluate reads back", async () => {
  for (const [method, peftType] of [
    ["vera", "VERA"],
    ["hyra-compact", "HYRA"],
  ] as const) {
    const run = join(dir, `run-${method}`);
    const args = ["--task", "spam", "--method", method, "--fraction", "1", "--steps", "2", "--backbone", backbone(), "--out", run];
    const ft = await tsgrad(["finetune", ...BACKEND, ...args]).done;
    assert.is(ft.code, 0, ft.out);
    const config = JSON.parse(await readFile(join(run, "adapter_config.json"), "utf8"));
    assert.is(config.peft_type, peftType, method);
    if (method === "hyra-compact") assert.is(config.hyra_head_embedding, 2, "a quarter of the toy backbone's head size of 8");
    const saved = JSON.parse(await readFile(join(run, "run.json"), "utf8"));
    const ev = await tsgrad(["evaluate", ...BACKEND, "--run", run, "--backbone", backbone()]).done;
    assert.is(ev.code, 0, ev.out);
    assert.ok(Math.abs(Number(/test accuracy (\d+\.\d+) %/.exec(ev.out)?.[1]) - 100 * saved.result.testAccuracy) < 0.01, ev.out);
  }
});

test("study --preset toy: sweep, seeds and ablations stored, the report with its verdicts; a rerun makes none", async () => {
  const out = join(dir, "study");
  const first = await tsgrad(["study", ...BACKEND, "--preset", "toy", "--backbone", backbone(), "--out", out]).done;
  assert.is(first.code, 0, first.out);
  // toy: 4 methods × 2 fractions × 2 learning rates (mh-lora has one), then seed 2, then 1 ablation × 2 × 2
  assert.match(first.out, /the study: 28 runs, 84 steps/);
  assert.match(first.out, /28 runs made/);
  assert.match(first.out, /spam, HyRA against lora: (NOT )?REPRODUCED \(/);
  assert.match(first.out, /spam, HyRA against lora-matched: (NOT )?REPRODUCED \(/);
  assert.equal((await readdir(out)).sort(), ["report.md", "results.json", "runs", "spam-accuracy.svg", "spam-differences.svg"]);
  assert.is((await readdir(join(out, "runs"))).length, 28);
  const report = await readFile(join(out, "report.md"), "utf8");
  for (const part of [
    /^# The low-data study: report\n/,
    /Made by `npm run tsgrad -- study --backend wasm --threads 1 --preset toy/,
    /## spam\n\n\| method \| 10 % \| 100 % \| trainable parameters \|/,
    /\| hyra \| \d+\.\d ± \d+\.\d \(2\) \| \d+\.\d ± \d+\.\d \(2\) \| \d+ \|/,
    /- HyRA against lora: \*\*(NOT )?REPRODUCED\*\*: above 0 at \d of the 2 smallest fractions/,
    /\| linear-probe \| (\d+ %|never) \| \d+ s \| 10 %: 0\.0[13], 100 %: 0\.0[13] \|/,
    /## Ablations \(spam\): each variant − HyRA's defaults/,
    /\| per-head Θ_B \| [+−]\d+\.\d \[[+−]\d+\.\d, [+−]\d+\.\d\] \| /,
  ])
    assert.match(report, part);
  const json = JSON.parse(await readFile(join(out, "results.json"), "utf8"));
  assert.is(json.runs.length, 28);
  assert.equal(Object.keys(json.tasks), ["spam"]);
  assert.ok(["REPRODUCED", "NOT REPRODUCED"].includes(json.tasks.spam.verdicts.lora.verdict));
  assert.match(await readFile(join(out, "spam-differences.svg"), "utf8"), /hyra − lora-matched/);
  const again = await tsgrad(["study", ...BACKEND, "--preset", "toy", "--backbone", backbone(), "--out", out]).done;
  assert.is(again.code, 0, again.out);
  assert.match(again.out, /0 runs made/);
});

test("theory --preset toy: every fit stored, the tables with slopes, one log-log plot per teacher; a rerun fits nothing", async () => {
  const out = join(dir, "theory");
  const first = await tsgrad(["theory", ...BACKEND, "--preset", "toy", "--out", out]).done;
  assert.is(first.code, 0, first.out);
  assert.match(first.out, /the theory's curve: 16 fits, 0 done already/);
  assert.match(first.out, /shared teacher, n 16: HyRA's update error is \d+\.\d\d× LoRA's; control teacher, n 16: /);
  assert.equal((await readdir(out)).sort(), ["theory-control.svg", "theory-runs", "theory-shared.svg", "theory.json", "theory.md"]);
  assert.is((await readdir(join(out, "theory-runs", "runs"))).length, 16);
  const md = await readFile(join(out, "theory.md"), "utf8");
  assert.match(md, /## shared teacher: ‖ΔŴ − ΔW\*‖ \/ ‖ΔW\*‖\n\n\| student \| n 16 \| n 32 \| slope \|/);
  assert.match(md, /\| hyra \| \d\.\d\de-\d \| \d\.\d\de-\d \| -?\d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\] \|/);
  assert.match(md, /## control teacher: test MSE/);
  assert.match(await readFile(join(out, "theory-shared.svg"), "utf8"), />1e-\d<\/text>/);
  const again = await tsgrad(["theory", ...BACKEND, "--preset", "toy", "--out", out]).done;
  assert.match(again.out, /0 fits made/);
});

test("bad arguments are refused by name, with exit code 2 and no stack", async () => {
  for (const [args, message] of [
    [["compare", "--bogus"], /Unknown option '--bogus'/],
    [["finetune", "--task", "imdb", "--method", "lora"], /--task must be one of sotu-party, spam, brown-genre, got "imdb"/],
    [
      ["finetune", "--task", "spam", "--method", "dora"],
      /--method must be one of linear-probe, lora, lora-matched, mh-lora, hyra, hyra-compact, vera, full, got "dora"/,
    ],
    [["launch"], /unknown command "launch"/],
    [["finetune", "--tsk", "spam"], /Unknown option '--tsk' \(did you mean --task\?\); tsgrad finetune --help lists its options/],
    [["compare", "quick"], /Unexpected argument 'quick'.*put a -- before the command: npm run tsgrad -- <command>/],
    [["compare", "preset"], /Unexpected argument 'preset'.*did you mean --preset\?/],
    [["generate", "--backend", "auto", "--threads", "1"], /--threads is the wasm backend's; with --backend auto, leave it out/],
    [["study", "--preset", "huge"], /--preset must be full or toy, got "huge"/],
  ] as const) {
    const { code, out } = await tsgrad([...args]).done;
    assert.is(code, 2, out);
    assert.match(out, message);
    assert.not.match(out, /\n\s+at /, "no stack trace");
  }
});

test("--backend auto takes a hardware GPU if there is one, else the wasm backend, as its help says", async () => {
  const { code, out } = await tsgrad(["generate", "--backend", "auto", "--tokens", "3", "--backbone", backbone()]).done;
  assert.is(code, 0, out);
});

test("every command has --help", async () => {
  for (const command of ["compare", "study", "theory", "finetune", "evaluate", "predict", "pretrain", "generate"]) {
    const { code, out } = await tsgrad([command, "--help"]).done;
    assert.is(code, 0);
    assert.match(out, new RegExp(`^tsgrad ${command}`));
  }
});

test.run();

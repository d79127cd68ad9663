/**
 * @file The `tsgrad` command: pretrain the backbone, fine-tune one method on one task, evaluate or predict
 * with a saved run, compare methods, generate text. `npm run tsgrad -- <subcommand> --help` says each
 * one's options; arguments are parsed by node:util's parseArgs, which refuses unknown options.
 */

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { closeBackends, fail, manualSeed, ready, setBackend, type Tensor, TsgradError, tensor } from "@tsgrad/core";
import { loadAdapter } from "@tsgrad/hyra/node";
import { GPTClassifier, loadPretrained, readJsonFile, writeJsonFile } from "@tsgrad/models/node";
import { load, type Module } from "@tsgrad/nn/node";
import { readCappedFile } from "@tsgrad/safetensors/node";
import { loadTask, TASKS, type TaskName } from "../data/index.ts";
import { compare, type Grid, PRESETS } from "./compare.ts";
import { DEFAULT_LR, finetune, METHODS, predict, RUN_FILE, type RunConfig, type StudyMethod } from "./finetune.ts";
import { BACKBONE_DIR } from "./paths.ts";
import { PRETRAIN_DEFAULTS, type PretrainSettings, pretrain } from "./pretrain.ts";
import { STUDY_PRESETS, study } from "./study.ts";
import { THEORY_PRESETS, theory } from "./theory.ts";

const COMMON = `
  --backend NAME   wasm (the default), reference, gpujs:webgpu, auto
  --threads N      the wasm backend's threads (1 or 2)
  --seed N         the seed (default 1)`;

const HELP: Record<string, string> = {
  main: `tsgrad: fine-tune a small pretrained transformer with LoRA or HyRA and compare them.

  npm run tsgrad -- <command> [options]

commands:
  compare    fine-tune several methods × fractions × seeds and write a table, a sentence and a plot
  study      the low-data study of docs/results/PROTOCOL.md: sweep, seeds, ablations, the report
  theory     the protocol's theory curve: planted-update teachers, fits against sample size, slopes
  finetune   fine-tune one method on one task and fraction, save the adapter (PEFT files) and head
  evaluate   score a saved run on its task's test set
  predict    classify texts with a saved run
  pretrain   pretrain the backbone GPT (BPE tokenizer, then language modelling) and save it
  generate   sample text from the backbone

npm run tsgrad -- <command> --help   lists a command's options`,
  compare: `tsgrad compare [--preset quick|floors] [options]

Fine-tunes every (method, fraction, seed) of the grid from the backbone; finished runs are stored under
OUT/runs and a rerun skips them. Writes OUT/results.json, results.md and accuracy.svg.

  --preset NAME       quick (the README's demo: ${PRESETS.quick.methods.join(", ")}; fractions ${PRESETS.quick.fractions.join(", ")} %; seeds ${PRESETS.quick.seeds.join(", ")}) or floors
  --task NAME         ${Object.keys(TASKS).join(", ")} (default: the preset's)
  --methods LIST      comma-separated, of ${METHODS.join(", ")}
  --fractions LIST    percents of the training pool, of 1, 5, 10, 25, 100
  --seeds N           seeds 1..N
  --steps N           training steps per run
  --lr X              one learning rate for every method (default per method)
  --max-tokens N      tokens per text, longer texts keep their first (default the preset's: quick ${PRESETS.quick.maxTokens}, floors ${PRESETS.floors.maxTokens})
  --backbone DIR      the pretrained backbone (default benchmarks/backbone)
  --out DIR           where runs and results go (default results/compare-<preset>-<task>)
  --yes               run even when the estimate passes five minutes${COMMON}`,
  study: `tsgrad study [--preset full|toy] [options]

Runs the low-data study as docs/results/PROTOCOL.md fixes it: the learning-rate sweep on the first seed,
each method's value chosen on validation, the other seeds at it, HyRA's ablations at HyRA's value. Every
run is stored under OUT/runs, so an interrupted study resumes; then writes OUT/report.md (tables, the
verdicts REPRODUCED or NOT REPRODUCED), results.json and the plots. The theory's curve is \`tsgrad theory\`.

  --preset NAME       full (the protocol's: ${STUDY_PRESETS.full.tasks.join(", ")}; fractions ${STUDY_PRESETS.full.fractions.join(", ")} %; ${STUDY_PRESETS.full.seeds.length} seeds) or toy (seconds, for tests)
  --backbone DIR      the pretrained backbone (default benchmarks/backbone)
  --out DIR           where runs and the report go (default docs/results for full, results/study-toy for toy)
  --yes               run even when the estimate passes five minutes${COMMON}`,
  theory: `tsgrad theory [--preset full|toy] [options]

The theory's curve of docs/results/PROTOCOL.md: teachers with a planted q/v update shared across heads or
not, LoRA, MH-LoRA and HyRA fitted to n samples (full-batch Adam to a tolerance, with restarts). Every
fit is stored under OUT/theory-runs, so a rerun resumes; writes OUT/theory.md (errors, log-log slopes
with intervals), theory.json and one log-log SVG per teacher.

  --preset NAME       full (n ${THEORY_PRESETS.full.sizes.join(", ")}; ${THEORY_PRESETS.full.seeds.length} seeds) or toy (seconds, for tests)
  --out DIR           where the fits and the report go (default docs/results for full, results/theory-toy for toy)
  --yes               run even when the estimate passes five minutes${COMMON}`,
  finetune: `tsgrad finetune --task NAME --method NAME [options]

  --task NAME         ${Object.keys(TASKS).join(", ")}
  --method NAME       ${METHODS.join(", ")}
  --fraction P        percent of the training pool (default 100)
  --steps N           training steps (default 120)
  --batch N           examples per step (default 16)
  --lr X              learning rate (default per method)
  --r N               rank (default 8); --alpha X (default 16)
  --max-tokens N      tokens per text, longer texts keep their first (default 64; at most the backbone's block)
  --backbone DIR      the pretrained backbone (default benchmarks/backbone)
  --out DIR           where the adapter (PEFT files) or head and run.json go (default results/finetune-<task>-<method>)${COMMON}`,
  evaluate: `tsgrad evaluate --run DIR [options]

Scores a run saved by finetune on its task's test set.

  --run DIR           the folder finetune --out wrote
  --backbone DIR      the pretrained backbone (default benchmarks/backbone)${COMMON}`,
  predict: `tsgrad predict --run DIR [--text "..."]... [options]

Prints each text's predicted label (texts from --text, or one per line on standard input).

  --run DIR           the folder finetune --out wrote
  --text TEXT         a text to classify (repeatable)
  --backbone DIR      the pretrained backbone (default benchmarks/backbone)${COMMON}`,
  pretrain: `tsgrad pretrain [options]

Trains a byte-level BPE on the corpus, then the GPT; prints held-out bits per character against a
unigram character model (the floor: at least 1.5 below it) and saves the model, tokenizer and
pretrain.json (settings, result, the command, file hashes) into OUT.

  --corpus NAME       moby-dick, brown, moby-dick+brown, moby-dick+brown+sotu (default ${PRETRAIN_DEFAULTS.corpus};
                      sotu adds the SOTU task's training-pool speeches, never its test speeches)
  --merges N          BPE merges (default ${PRETRAIN_DEFAULTS.merges})
  --layers N --heads N --width N --block N    the GPT (default ${PRETRAIN_DEFAULTS.nLayer}, ${PRETRAIN_DEFAULTS.nHead}, ${PRETRAIN_DEFAULTS.nEmbd}, ${PRETRAIN_DEFAULTS.blockSize})
  --batch N --steps N --lr X                  training (default ${PRETRAIN_DEFAULTS.batch}, ${PRETRAIN_DEFAULTS.steps}, ${PRETRAIN_DEFAULTS.lr})
  --out DIR           where the backbone goes (default results/backbone)
  --yes               run even when the estimate passes five minutes${COMMON}`,
  generate: `tsgrad generate [--prompt TEXT] [options]

  --prompt TEXT       the start (default "The ")
  --tokens N          new tokens (default 100)
  --temperature X     default 0.8; 0 is greedy
  --top-k K           sample among the K most likely tokens (default 40)
  --backbone DIR      the pretrained backbone (default benchmarks/backbone)${COMMON}`,
};

const COMMON_OPTIONS = {
  backend: { type: "string" },
  threads: { type: "string" },
  seed: { type: "string", default: "1" },
  help: { type: "boolean", short: "h" },
} as const;

function integer(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) fail("tsgrad", `--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function number(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) fail("tsgrad", `--${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

function taskName(value: string | undefined, fallback?: TaskName): TaskName {
  const name = value ?? fallback;
  if (name === undefined || !Object.hasOwn(TASKS, name))
    fail("tsgrad", `--task must be one of ${Object.keys(TASKS).join(", ")}, got ${JSON.stringify(value)}`);
  return name as TaskName;
}

function methodName(value: string | undefined): StudyMethod {
  if (!METHODS.includes(value as StudyMethod))
    fail("tsgrad", `--method must be one of ${METHODS.join(", ")}, got ${JSON.stringify(value)}`);
  return value as StudyMethod;
}

async function startBackend(values: { backend?: string; threads?: string }): Promise<void> {
  const options = values.threads === undefined ? {} : { threads: integer("threads", values.threads, 2) };
  if (values.backend !== undefined || values.threads !== undefined) await setBackend(values.backend ?? "wasm", options);
  else await ready();
}

/** The study's and the theory's --preset. */
function fullOrToy(value: string | undefined): "full" | "toy" {
  if (value !== "full" && value !== "toy") fail("tsgrad", `--preset must be full or toy, got ${JSON.stringify(value)}`);
  return value;
}

/** The SHA-256 of the backbone's weights file: runs on another backbone are other runs. */
async function backboneHash(dir: string): Promise<string> {
  const bytes = await readCappedFile(join(dir, "model.safetensors"), 1 << 30, "tsgrad");
  return createHash("sha256").update(bytes).digest("hex");
}

async function readRun(dir: string): Promise<{ config: RunConfig; labels: string[] }> {
  const path = join(dir, RUN_FILE);
  const { value } = await readJsonFile(path, 1 << 20, `tsgrad ${path}`);
  const run = value as { config?: RunConfig; labels?: unknown } | null;
  if (!run?.config || !Array.isArray(run.labels)) fail("tsgrad", `${path} is not a run file (no config or labels)`);
  return run as { config: RunConfig; labels: string[] };
}

/** The classifier of a saved run: the backbone, the head and the adapter it trained. */
async function loadRun(
  dir: string,
  backboneDir: string,
): Promise<{
  model: Module & { forward(ids: Tensor, mask?: Tensor): Tensor };
  run: { config: RunConfig; labels: string[] };
  tokenize: (t: string) => number[];
}> {
  const run = await readRun(dir);
  const { model: backbone, tokenizer } = await loadPretrained(backboneDir);
  const classifier = new GPTClassifier(backbone, run.labels.length);
  let model: Module = classifier;
  if (run.config.method === "linear-probe") await load(classifier.head, join(dir, "head.safetensors"));
  else if (run.config.method === "full") await load(classifier, join(dir, "classifier.safetensors"));
  else model = await loadAdapter(classifier, dir);
  model.eval();
  return {
    model: model as Module & { forward(ids: Tensor, mask?: Tensor): Tensor },
    run,
    tokenize: (t) => tokenizer.encode(t).slice(0, Math.min(run.config.maxTokens, backbone.config.blockSize)),
  };
}

/** Texts to classify from standard input: at most this many bytes (a bigger input is refused, not cut). */
const MAX_STDIN_BYTES = 16 << 20;

async function readStdin(maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    bytes += (chunk as Buffer).length;
    if (bytes > maxBytes) fail("tsgrad predict", `standard input has more than ${maxBytes} bytes, the most accepted; pass fewer texts`);
    chunks.push(chunk as Buffer);
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(HELP.main);
    return;
  }
  if (!Object.hasOwn(HELP, command) || command === "main")
    fail("tsgrad", `unknown command ${JSON.stringify(command)}; run npm run tsgrad -- --help`);
  const parse = <O extends Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string; default?: string }>>(
    options: O,
  ) =>
    parseArgs({ args: rest, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: false, strict: true }).values as Record<
      string,
      string | boolean | string[] | undefined
    >;
  const s = (v: unknown) => v as string | undefined;

  if (command === "compare") {
    const v = parse({
      preset: { type: "string", default: "quick" },
      task: { type: "string" },
      methods: { type: "string" },
      fractions: { type: "string" },
      seeds: { type: "string" },
      steps: { type: "string" },
      lr: { type: "string" },
      "max-tokens": { type: "string" },
      backbone: { type: "string" },
      out: { type: "string" },
      yes: { type: "boolean" },
    });
    if (v.help) return void console.log(HELP.compare);
    const preset = PRESETS[s(v.preset) as string];
    if (!preset) fail("tsgrad", `--preset must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(v.preset)}`);
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    const grid: Grid = {
      ...preset,
      task: taskName(s(v.task), preset.task),
      methods: v.methods === undefined ? preset.methods : (s(v.methods) as string).split(",").map(methodName),
      fractions:
        v.fractions === undefined ? preset.fractions : (s(v.fractions) as string).split(",").map((f) => integer("fractions", f, 1)),
      seeds: v.seeds === undefined ? preset.seeds : Array.from({ length: integer("seeds", s(v.seeds), 1) }, (_, i) => i + 1),
      steps: integer("steps", s(v.steps), preset.steps),
      lr: v.lr === undefined ? undefined : number("lr", s(v.lr), 0),
      maxTokens: integer("max-tokens", s(v["max-tokens"]), preset.maxTokens),
    };
    const backbone = s(v.backbone) ?? BACKBONE_DIR;
    const out = s(v.out) ?? join("results", `compare-${s(v.preset)}-${grid.task}`);
    const started = performance.now();
    const outcome = await compare(grid, { backboneDir: backbone, backboneHash: await backboneHash(backbone), out, yes: Boolean(v.yes) });
    console.log(`\n${outcome.table}\n\n${outcome.sentence}\n${outcome.floor ? `\n${outcome.floor}\n` : ""}`);
    console.log(
      `plot: ${relative(process.cwd(), outcome.files.svg)}; table: ${relative(process.cwd(), outcome.files.markdown)}; every number: ${relative(process.cwd(), outcome.files.json)}`,
    );
    console.log(`${outcome.ran} runs made, ${outcome.skipped} already done; ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return;
  }

  if (command === "study") {
    const v = parse({
      preset: { type: "string", default: "full" },
      backbone: { type: "string" },
      out: { type: "string" },
      yes: { type: "boolean" },
    });
    if (v.help) return void console.log(HELP.study);
    const name = fullOrToy(s(v.preset));
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    const backbone = s(v.backbone) ?? BACKBONE_DIR;
    const out = s(v.out) ?? (name === "full" ? join("docs", "results") : join("results", "study-toy"));
    const started = performance.now();
    const outcome = await study(STUDY_PRESETS[name], {
      backboneDir: backbone,
      backboneHash: await backboneHash(backbone),
      out,
      yes: Boolean(v.yes),
      command: `npm run tsgrad -- study ${rest.join(" ")}`.trim(),
    });
    for (const v of outcome.verdicts) console.log(`${v.task}, HyRA against ${v.against}: ${v.verdict} (${v.why})`);
    console.log(`report: ${outcome.files.map((f) => relative(process.cwd(), f)).join(", ")}`);
    console.log(`${outcome.ran} runs made; ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return;
  }

  if (command === "theory") {
    const v = parse({ preset: { type: "string", default: "full" }, out: { type: "string" }, yes: { type: "boolean" } });
    if (v.help) return void console.log(HELP.theory);
    const name = fullOrToy(s(v.preset));
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    const out = s(v.out) ?? (name === "full" ? join("docs", "results") : join("results", "theory-toy"));
    const started = performance.now();
    const outcome = await theory(THEORY_PRESETS[name], {
      out,
      yes: Boolean(v.yes),
      command: `npm run tsgrad -- theory ${rest.join(" ")}`.trim(),
    });
    console.log(outcome.summary);
    console.log(`report: ${outcome.files.map((f) => relative(process.cwd(), f)).join(", ")}`);
    console.log(`${outcome.ran} fits made; ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return;
  }

  if (command === "finetune") {
    const v = parse({
      task: { type: "string" },
      method: { type: "string" },
      fraction: { type: "string" },
      steps: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      r: { type: "string" },
      alpha: { type: "string" },
      "max-tokens": { type: "string" },
      backbone: { type: "string" },
      out: { type: "string" },
    });
    if (v.help) return void console.log(HELP.finetune);
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    const task = taskName(s(v.task));
    const method = methodName(s(v.method));
    const backbone = s(v.backbone) ?? BACKBONE_DIR;
    const config: RunConfig = {
      task,
      method,
      fraction: integer("fraction", s(v.fraction), 100),
      seed: integer("seed", s(v.seed), 1, 0),
      backbone: await backboneHash(backbone),
      steps: integer("steps", s(v.steps), 120),
      batch: integer("batch", s(v.batch), 16),
      lr: number("lr", s(v.lr), DEFAULT_LR[method]),
      r: integer("r", s(v.r), 8),
      alpha: number("alpha", s(v.alpha), 16),
      maxTokens: integer("max-tokens", s(v["max-tokens"]), 64),
      validate: true,
    };
    const out = s(v.out) ?? join("results", `finetune-${task}-${method}`);
    const result = await finetune(config, backbone, { out });
    console.log(JSON.stringify(result, null, 2));
    console.log(`saved to ${out}`);
    return;
  }

  if (command === "evaluate" || command === "predict") {
    const v = parse({ run: { type: "string" }, backbone: { type: "string" }, text: { type: "string", multiple: true } });
    if (v.help) return void console.log(HELP[command]);
    if (v.run === undefined) fail("tsgrad", `${command} needs --run DIR (a folder finetune --out wrote)`);
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    const { model, run, tokenize } = await loadRun(s(v.run) as string, s(v.backbone) ?? BACKBONE_DIR);
    const classify = (texts: string[]) => predict(model, texts.map(tokenize));
    if (command === "evaluate") {
      const task = loadTask(run.config.task);
      const predicted = await classify(task.test.map((e) => e.text));
      const correct = predicted.filter((p, i) => run.labels[p] === task.test[i].label).length;
      console.log(
        `${run.config.method} on ${run.config.task}: test accuracy ${((100 * correct) / task.test.length).toFixed(2)} % (${task.test.length} examples)`,
      );
    } else {
      const texts = (v.text as string[] | undefined) ?? (await readStdin(MAX_STDIN_BYTES)).split("\n").filter((l) => l.trim() !== "");
      const predicted = await classify(texts);
      for (const [i, t] of texts.entries()) console.log(`${run.labels[predicted[i]]}\t${t}`);
    }
    return;
  }

  if (command === "pretrain") {
    const v = parse({
      corpus: { type: "string" },
      merges: { type: "string" },
      layers: { type: "string" },
      heads: { type: "string" },
      width: { type: "string" },
      block: { type: "string" },
      batch: { type: "string" },
      steps: { type: "string" },
      lr: { type: "string" },
      out: { type: "string" },
      yes: { type: "boolean" },
    });
    if (v.help) return void console.log(HELP.pretrain);
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    const d = PRETRAIN_DEFAULTS;
    const corpus = s(v.corpus) ?? d.corpus;
    if (!["moby-dick", "brown", "moby-dick+brown", "moby-dick+brown+sotu"].includes(corpus))
      fail("tsgrad", `--corpus must be moby-dick, brown, moby-dick+brown or moby-dick+brown+sotu, got ${JSON.stringify(corpus)}`);
    const settings: PretrainSettings = {
      ...d,
      corpus: corpus as PretrainSettings["corpus"],
      merges: integer("merges", s(v.merges), d.merges, 0),
      nLayer: integer("layers", s(v.layers), d.nLayer),
      nHead: integer("heads", s(v.heads), d.nHead),
      nEmbd: integer("width", s(v.width), d.nEmbd),
      blockSize: integer("block", s(v.block), d.blockSize),
      batch: integer("batch", s(v.batch), d.batch),
      steps: integer("steps", s(v.steps), d.steps),
      lr: number("lr", s(v.lr), d.lr),
      seed: integer("seed", s(v.seed), d.seed, 0),
    };
    // about 0.2 s a step of 2,048 tokens at width 64, 2 layers and 1,280 tokens in the vocabulary on this
    // machine class; the output layer's share grows with the vocabulary (0.27 s at 4,352)
    const vocab = (settings.merges + 256) / 1280;
    const estimate =
      settings.steps *
      0.2 *
      ((settings.batch * settings.blockSize) / 2048) *
      ((settings.nEmbd * settings.nLayer) / 128) *
      (0.85 + 0.15 * vocab);
    console.error(`pretraining ${settings.steps} steps, about ${Math.round(estimate)} s`);
    if (estimate > 300 && !v.yes) fail("tsgrad", `pretraining would take about ${Math.round(estimate)} s; add --yes to run it`);
    const out = s(v.out) ?? join("results", "backbone");
    const result = await pretrain(settings, out);
    const floor = result.unigramBitsPerChar - 1.5;
    const hashes: Record<string, string> = {};
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"])
      hashes[f] = createHash("sha256")
        .update(await readFile(join(out, f)))
        .digest("hex");
    const record = { command: `npm run tsgrad -- pretrain ${rest.filter((a) => a !== "--yes").join(" ")}`.trim(), result, files: hashes };
    await writeJsonFile(join(out, "pretrain.json"), record, "tsgrad pretrain");
    console.log(
      `held-out bits per character ${result.bitsPerChar.toFixed(3)}; unigram character model ${result.unigramBitsPerChar.toFixed(3)}; ` +
        `floor ${floor.toFixed(3)}: ${result.bitsPerChar <= floor ? "met" : "NOT met"} (${result.parameters} parameters, ${result.seconds.toFixed(0)} s)`,
    );
    console.log(`saved to ${out}`);
    return;
  }

  if (command === "generate") {
    const v = parse({
      prompt: { type: "string", default: "The " },
      tokens: { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      backbone: { type: "string" },
    });
    if (v.help) return void console.log(HELP.generate);
    await startBackend({ backend: s(v.backend), threads: s(v.threads) });
    manualSeed(integer("seed", s(v.seed), 1, 0));
    const { model, tokenizer } = await loadPretrained(s(v.backbone) ?? BACKBONE_DIR);
    model.eval();
    const prompt = tokenizer.encode(s(v.prompt) as string);
    const temperature = v.temperature === undefined ? 0.8 : Number(v.temperature);
    if (!(temperature >= 0)) fail("tsgrad", `--temperature must be a number >= 0, got ${JSON.stringify(v.temperature)}`);
    const out = await model.generate(tensor([prompt], [1, prompt.length], "int32"), integer("tokens", s(v.tokens), 100), {
      temperature,
      topK: integer("top-k", s(v["top-k"]), 40),
    });
    console.log(tokenizer.decode(((await out.array()) as number[][])[0]));
    return;
  }
}

try {
  await main(process.argv.slice(2));
  await closeBackends();
} catch (error) {
  // a bad argument or file is the user's to fix: its message, without a stack
  if (error instanceof TsgradError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    console.error((error as Error).message);
    process.exit(2);
  }
  throw error;
}

import { join, relative } from "node:path";
import { fail } from "@tsgrad/core";
import { dataPackageVersions, loadTask, TASKS } from "@tsgrad/datasets";
import { compare, type Grid, METHODS, PRESETS } from "@tsgrad/training/node";
import { integer, methodName, positive, startBackend, taskName } from "../args.ts";
import { defineCommand } from "../command.ts";
import { GPT_BACKBONE_DIR } from "../paths.ts";
import { backboneHash } from "../saved-run.ts";

const { quick, floors } = PRESETS;

export const compareCommand = defineCommand({
  name: "compare",
  usage: "compare [--preset quick|floors] [options]",
  summary: "fine-tune several methods × fractions × seeds and write a table, a sentence and a plot",
  about: `Fine-tunes every (method, fraction, seed) of the grid from the backbone; finished runs are stored under
OUT/runs and a rerun skips them. Writes OUT/results.json, results.md and accuracy.svg.`,
  options: {
    preset: {
      value: "NAME",
      help: `quick (the README's demo: ${quick.methods.join(", ")}; fractions ${quick.fractions.join(", ")} %; seeds ${quick.seeds.join(", ")}) or floors`,
      default: "quick",
    },
    task: { value: "NAME", help: Object.keys(TASKS).join(", "), defaultNote: "default the preset's" },
    methods: { value: "LIST", help: `comma-separated, of ${METHODS.join(", ")}` },
    fractions: { value: "LIST", help: "percents of the training pool, of 1, 5, 10, 25, 100" },
    seeds: { value: "N", help: "seeds 1..N" },
    steps: { value: "N", help: "training steps per run" },
    lr: { value: "X", help: "one learning rate for every method", defaultNote: "default per method" },
    "max-tokens": {
      value: "N",
      help: "tokens per text, longer texts keep their first",
      defaultNote: `default the preset's: quick ${quick.maxTokens}, floors ${floors.maxTokens}`,
    },
    backbone: { value: "DIR", help: "the pretrained backbone", defaultNote: "default pretrained/gpt-text" },
    out: { value: "DIR", help: "where runs and results go", defaultNote: "default results/compare-<preset>-<task>" },
    yes: { help: "run even when the estimate passes five minutes" },
  },
  async run(v) {
    const preset = Object.hasOwn(PRESETS, v.preset) ? PRESETS[v.preset] : undefined;
    if (!preset) fail("tsgrad", `--preset must be one of ${Object.keys(PRESETS).join(", ")}, got ${JSON.stringify(v.preset)}`);
    await startBackend(v);
    const grid: Grid = {
      ...preset,
      task: taskName(v.task, preset.task),
      methods: v.methods === undefined ? preset.methods : v.methods.split(",").map(methodName),
      fractions: v.fractions === undefined ? preset.fractions : v.fractions.split(",").map((f) => integer("fractions", f)),
      seeds: v.seeds === undefined ? preset.seeds : Array.from({ length: integer("seeds", v.seeds) }, (_, i) => i + 1),
      steps: integer("steps", v.steps, preset.steps),
      lr: v.lr === undefined ? undefined : positive("lr", v.lr),
      maxTokens: integer("max-tokens", v["max-tokens"], preset.maxTokens),
    };
    const backbone = v.backbone ?? GPT_BACKBONE_DIR;
    const out = v.out ?? join("results", `compare-${v.preset}-${grid.task}`);
    const started = performance.now();
    const outcome = await compare(grid, {
      task: loadTask(taskName(grid.task)),
      backboneDir: backbone,
      backboneHash: await backboneHash(backbone),
      out,
      yes: Boolean(v.yes),
      versions: dataPackageVersions(),
    });
    console.log(`\n${outcome.table}\n\n${outcome.sentence}\n${outcome.floor ? `\n${outcome.floor}\n` : ""}`);
    console.log(
      `plot: ${relative(process.cwd(), outcome.files.svg)}; table: ${relative(process.cwd(), outcome.files.markdown)}; every number: ${relative(process.cwd(), outcome.files.json)}`,
    );
    console.log(`${outcome.ran} runs made, ${outcome.skipped} already done; ${((performance.now() - started) / 1000).toFixed(0)} s`);
  },
});

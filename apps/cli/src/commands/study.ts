import { relative } from "node:path";
import { RESULTS_DIR, STUDY_PRESETS, study } from "@tsgrad/hyra-low-data";
import { fullOrToy, startBackend } from "../args.ts";
import { defineCommand } from "../command.ts";
import { GPT_BACKBONE_DIR } from "../paths.ts";
import { backboneHash } from "../saved-run.ts";

const { full } = STUDY_PRESETS;

export const studyCommand = defineCommand({
  name: "study",
  usage: "study [--preset full|toy] [options]",
  summary: "the low-data study of experiments/hyra-low-data/PROTOCOL.md: sweep, seeds, ablations, the report",
  about: `Runs the low-data study as experiments/hyra-low-data/PROTOCOL.md fixes it: the learning-rate sweep on
the first seed, each method's value chosen on validation, the other seeds at it, HyRA's ablations at HyRA's
value. Every run is stored under OUT/runs, so an interrupted study resumes; then writes OUT/report.md
(tables, the verdicts REPRODUCED or NOT REPRODUCED), results.json and the plots. The theory's curve is
\`tsgrad theory\`.`,
  options: {
    preset: {
      value: "NAME",
      help: `full (the protocol's: ${full.tasks.join(", ")}; fractions ${full.fractions.join(", ")} %; ${full.seeds.length} seeds) or toy (seconds, for tests)`,
      default: "full",
    },
    backbone: { value: "DIR", help: "the pretrained backbone", defaultNote: "default pretrained/gpt-text" },
    out: {
      value: "DIR",
      help: "where runs and the report go",
      defaultNote: "default experiments/hyra-low-data/results for full, results/study-toy for toy",
    },
    yes: { help: "run even when the estimate passes five minutes" },
  },
  async run(v, argv) {
    const name = fullOrToy(v.preset);
    await startBackend(v);
    const backbone = v.backbone ?? GPT_BACKBONE_DIR;
    const out = v.out ?? (name === "full" ? RESULTS_DIR : "results/study-toy");
    const started = performance.now();
    const outcome = await study(STUDY_PRESETS[name], {
      backboneDir: backbone,
      backboneHash: await backboneHash(backbone),
      out,
      yes: Boolean(v.yes),
      command: `npm run tsgrad -- study ${argv.join(" ")}`.trim(),
    });
    for (const verdict of outcome.verdicts)
      console.log(`${verdict.task}, HyRA against ${verdict.against}: ${verdict.verdict} (${verdict.why})`);
    console.log(`report: ${outcome.files.map((f) => relative(process.cwd(), f)).join(", ")}`);
    console.log(`${outcome.ran} runs made; ${((performance.now() - started) / 1000).toFixed(0)} s`);
  },
});

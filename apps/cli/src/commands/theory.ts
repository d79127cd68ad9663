import { relative } from "node:path";
import { RESULTS_DIR, THEORY_PRESETS, theory } from "@tsgrad/hyra-low-data";
import { fullOrToy, startBackend } from "../args.ts";
import { defineCommand } from "../command.ts";

const { full } = THEORY_PRESETS;

export const theoryCommand = defineCommand({
  name: "theory",
  usage: "theory [--preset full|toy] [options]",
  summary: "the protocol's theory curve: planted-update teachers, fits against sample size, slopes",
  about: `The theory's curve of experiments/hyra-low-data/PROTOCOL.md: teachers with a planted q/v update shared
across heads or not, LoRA, MH-LoRA and HyRA fitted to n samples (full-batch Adam to a tolerance, with
restarts). Every fit is stored under OUT/theory-runs, so a rerun resumes; writes OUT/theory.md (errors,
log-log slopes with intervals), theory.json and one log-log SVG per teacher.`,
  options: {
    preset: {
      value: "NAME",
      help: `full (n ${full.sizes.join(", ")}; ${full.seeds.length} seeds) or toy (seconds, for tests)`,
      default: "full",
    },
    out: {
      value: "DIR",
      help: "where the fits and the report go",
      defaultNote: "default experiments/hyra-low-data/results for full, results/theory-toy for toy",
    },
    yes: { help: "run even when the estimate passes five minutes" },
  },
  async run(v, argv) {
    const name = fullOrToy(v.preset);
    await startBackend(v);
    const out = v.out ?? (name === "full" ? RESULTS_DIR : "results/theory-toy");
    const started = performance.now();
    const outcome = await theory(THEORY_PRESETS[name], {
      out,
      yes: Boolean(v.yes),
      command: `npm run tsgrad -- theory ${argv.join(" ")}`.trim(),
    });
    console.log(outcome.summary);
    console.log(`report: ${outcome.files.map((f) => relative(process.cwd(), f)).join(", ")}`);
    console.log(`${outcome.ran} fits made; ${((performance.now() - started) / 1000).toFixed(0)} s`);
  },
});

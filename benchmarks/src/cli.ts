/** @file `pnpm bench`: parses the flags, runs every selected case on every selected participant, prints the tables and writes JSON, Markdown and SVG. */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { finishFacts, machineFacts } from "@tsgrad/training/node";
import { catalogue, type Mode, selectCases } from "./cases/index.ts";
import { svgChart } from "./chart.ts";
import { allParticipants, runBenchmarks, selectParticipants } from "./harness.ts";
import { consoleSummary, markdown, type Report, SCHEMA } from "./report.ts";
import { ratios, summarize } from "./stats.ts";
import { TIMINGS } from "./timing.ts";

const HELP = `Usage: pnpm bench [options]          (or: npm run bench -- [options])

Runs kernel and training-step benchmarks on every tsgrad backend that starts on this machine and on
the peers (tfjs cpu, tfjs wasm, jax-js wasm), side by side, each in its own process, in interleaved
rounds. Every result is checked against the reference backend before it is timed.

Options:
  --full             every size and more, longer samples (takes several minutes)
  --smoke            every case once at tiny sizes (checks that the harness works, not speed)
  --case <text>      only cases whose name contains the text (repeatable, or comma-separated)
  --backend <text>   only participants whose name contains the text, e.g. wasm, wasm:2t, reference, gpujs, tfjs, jax
                     (repeatable, or comma-separated)
  --rounds <n>       interleaved rounds per case (default: 3 quick, 5 full)
  --out <dir>        where report.json, report.md and report.svg go (default: benchmarks/results)
  --list             list the cases and participants, and exit
  --verbose, -v      print how long each participant took for each case and round
  --help             this text
`;

/** The command as the user would type it again, for the report. */
function commandLine(args: string[]): string {
  const agent = process.env.npm_config_user_agent ?? "";
  const rest = args.join(" ");
  if (process.env.npm_lifecycle_event === "bench" && agent.startsWith("pnpm")) return `pnpm bench${rest ? ` ${rest}` : ""}`;
  if (process.env.npm_lifecycle_event === "bench" && agent.startsWith("npm")) return `npm run bench${rest ? ` -- ${rest}` : ""}`;
  return `node --import tsx ${relative(process.cwd(), fileURLToPath(import.meta.url))}${rest ? ` ${rest}` : ""}`;
}

const split = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(",")).filter(Boolean);

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: "boolean" },
      smoke: { type: "boolean" },
      case: { type: "string", multiple: true },
      backend: { type: "string", multiple: true },
      rounds: { type: "string" },
      out: { type: "string" },
      list: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const mode: Mode = values.smoke ? "smoke" : values.full ? "full" : "quick";
  const { requestTimeoutMs, ...timing } = TIMINGS[mode];
  if (values.rounds !== undefined) {
    timing.rounds = Number(values.rounds);
    if (!Number.isInteger(timing.rounds) || timing.rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  }
  const cases = selectCases(catalogue(mode), split(values.case));
  const participants = selectParticipants(allParticipants(), split(values.backend));
  if (values.list) {
    console.log(`cases (${mode}):\n${cases.map((c) => `  ${c.id.padEnd(34)} ${c.note}`).join("\n")}`);
    console.log(`participants:\n${participants.map((p) => `  ${p.id.padEnd(16)} ${p.label}`).join("\n")}`);
    return 0;
  }
  if (cases.length === 0) throw new Error(`no case matches --case ${split(values.case).join(",")}; see --list`);
  if (participants.length === 0) throw new Error(`no participant matches --backend ${split(values.backend).join(",")}; see --list`);

  const machine = machineFacts();
  console.log(
    `${mode} run: ${cases.length} cases × ${participants.length} participants, ${timing.rounds} rounds; load average ${machine.loadStart}`,
  );
  const scratchDir = mkdtempSync(join(tmpdir(), "tsgrad-bench-"));
  let run: Awaited<ReturnType<typeof runBenchmarks>>;
  try {
    run = await runBenchmarks({
      cases,
      participants,
      timing,
      scratchDir,
      requestTimeoutMs,
      log: (line) => console.log(line),
      verbose: values.verbose ? (line) => console.log(line) : undefined,
    });
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }

  const report: Report = {
    schema: SCHEMA,
    command: commandLine(argv),
    mode,
    machine: finishFacts(machine),
    timing,
    participants: run.participants,
    cases,
    results: run.results,
    summaries: run.results.map((r) => summarize(r, cases.find((c) => c.id === r.case)!)),
    ratios: ratios(run.participants, run.results),
  };
  const outDir = values.out ? resolve(values.out) : fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "report.json"), `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(join(outDir, "report.md"), markdown(report));
  writeFileSync(join(outDir, "report.svg"), svgChart(report));

  console.log(`\n${consoleSummary(report)}\n`);
  console.log(`wrote ${["report.json", "report.md", "report.svg"].map((f) => relative(process.cwd(), join(outDir, f))).join(", ")}`);
  const errors = report.summaries.filter((s) => !s.ok).length;
  if (errors > 0) console.log(`${errors} results are errors, not times (see the numbered notes above)`);
  return errors > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 2;
}

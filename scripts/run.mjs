#!/usr/bin/env node
// The entry point behind `npm run demo`, `npm test`, `npm run typecheck`, `npm run lint`, `npm run bench`,
// `npm run pack` and `npm run page`.
// Plain JavaScript, because it runs before anything is installed: it installs the workspace with the
// pinned pnpm (through npx, so a machine with only Node and npm needs nothing else), then runs the job.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { workspacePackages } from "./workspace.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const PNPM = ["-y", "pnpm@12.4.2"];
const [job, ...args] = process.argv.slice(2);

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function install() {
  // --frozen-lockfile: the committed lock is the truth; a stale lock fails loudly instead of drifting
  const status = run("npx", [...PNPM, "install", "--frozen-lockfile", "--reporter=silent"]);
  if (status !== 0) {
    console.error("install failed: `npx -y pnpm@12.4.2 install --frozen-lockfile` exited with", status);
    process.exit(status);
  }
}

/** Workspace packages (pnpm-workspace.yaml's list), core first: every other package builds on it. */
function packages() {
  return workspacePackages(root).sort((a, b) => (a === "packages/core" ? -1 : b === "packages/core" ? 1 : 0));
}

function testFiles(dir) {
  const found = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".test.ts")) found.push(path);
    }
  };
  walk(join(root, dir, "test"));
  return found;
}

// A test file still running after this long is killed and counted as a failure: a live WebGPU device
// can keep a process alive (and a core busy) forever, and nothing may hang CI.
const FILE_TIMEOUT_S = Number(process.env.TSGRAD_TEST_TIMEOUT_S ?? 600);

/** Runs one test file in its own process and reads uvu's summary from its output. */
function runTestFile(file, env) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0", ...env },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, FILE_TIMEOUT_S * 1000);
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      if (timedOut) output += `\n(killed after ${FILE_TIMEOUT_S} s: the file did not finish; TSGRAD_TEST_TIMEOUT_S sets the limit)\n`;
      const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
      const total = [...plain.matchAll(/Total:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      const passed = [...plain.matchAll(/Passed:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      const skipped = [...plain.matchAll(/Skipped:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      // a file that crashed before uvu could report, or was killed, still counts as one failure
      const failed = Math.max(total - passed - skipped, code === 0 && !timedOut ? 0 : 1);
      resolve({ file, code, seconds, passed, failed, skipped, output: plain });
    });
  });
}

async function test(filters) {
  install();
  const jobs = [];
  for (const dir of packages()) {
    // every suite runs on the reference backend (the oracle) unless it names another with setBackend;
    // later packages run it in strict-async mode: library code there must never read tensors back
    // synchronously, because the WebGPU backend cannot
    const env = { TSGRAD_BACKEND: "reference", ...(dir === "packages/core" ? {} : { TSGRAD_STRICT_ASYNC: "1" }) };
    for (const file of testFiles(dir)) {
      if (filters.length === 0 || filters.some((f) => file.includes(f))) jobs.push({ dir, file, env });
    }
  }
  const started = performance.now();
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await runTestFile(jobs[i].file, jobs[i].env);
      const r = results[i];
      const status = r.failed > 0 ? "FAIL" : "ok  ";
      const skipped = r.skipped > 0 ? ` ${r.skipped} skipped` : "";
      console.log(
        `${status} ${relative(root, r.file).padEnd(58)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${r.seconds.toFixed(1).padStart(6)} s${skipped}`,
      );
      // a skipped suite says why (no WebGPU adapter, say), in lines starting with "SKIPPED"
      for (const line of r.output.split("\n")) if (line.startsWith("SKIPPED")) console.log(`     | ${line}`);
      if (r.failed > 0)
        console.log(
          r.output
            .split("\n")
            .map((l) => `     | ${l}`)
            .join("\n"),
        );
    }
  };
  const parallel = Math.max(1, Math.min(Number(process.env.TSGRAD_TEST_JOBS ?? 2), jobs.length));
  await Promise.all(Array.from({ length: parallel }, worker));

  console.log("\nseconds per suite:");
  const byPackage = new Map();
  jobs.forEach((job, i) => {
    const entry = byPackage.get(job.dir) ?? { passed: 0, failed: 0, seconds: 0 };
    entry.passed += results[i].passed;
    entry.failed += results[i].failed;
    entry.seconds += results[i].seconds;
    byPackage.set(job.dir, entry);
  });
  for (const [dir, e] of byPackage) {
    console.log(
      `  ${dir.padEnd(26)} ${String(e.passed).padStart(5)} passed ${String(e.failed).padStart(3)} failed  ${e.seconds.toFixed(1).padStart(6)} s`,
    );
  }
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  console.log(`  wall clock ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // the last line keeps the exact form "N passed, N failed" that CI reads; skips go on the line above
  if (skipped > 0) console.log(`(${skipped} skipped)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

function typecheck() {
  install();
  let failed = 0;
  // the workspace's packages, then the repository's own scripts (scripts/tsconfig.json)
  for (const dir of [...packages(), "scripts"]) {
    if (!existsSync(join(root, dir, "tsconfig.json"))) continue;
    const status = run(join(root, "node_modules/.bin/tsc"), ["-p", dir]);
    console.log(`${status === 0 ? "ok  " : "FAIL"} typecheck ${dir}`);
    failed += status === 0 ? 0 : 1;
  }
  process.exit(failed > 0 ? 1 : 0);
}

function lint() {
  install();
  process.exit(run(join(root, "node_modules/.bin/biome"), ["check", ...args]));
}

function bench() {
  install();
  process.exit(run(process.execPath, ["--import", "tsx", "benchmarks/src/cli.ts", ...args]));
}

// the README's main job: the quick comparison of LoRA and HyRA on the committed backbone (the spirals
// example that was the demo before is `node --import tsx packages/core/examples/fit-mlp.ts`)
function demo() {
  const started = performance.now();
  install();
  const status = run(process.execPath, ["--import", "tsx", "apps/cli/src/main.ts", "compare", "--preset", "quick", "--yes", ...args]);
  console.log(`npm run demo: ${((performance.now() - started) / 1000).toFixed(0)} s in all, installation included`);
  process.exit(status);
}

// the library packages as tarballs in packed/ (pnpm pack builds each first, through its prepack script),
// for `npm install packed/*.tgz` in a project outside the workspace
function pack() {
  install();
  const out = join(root, "packed");
  rmSync(out, { recursive: true, force: true });
  // the packages that ship: those whose package.json says how (publishConfig)
  const shipped = packages().filter((d) => JSON.parse(readFileSync(join(root, d, "package.json"), "utf8")).publishConfig !== undefined);
  for (const dir of shipped) {
    const status = run("npx", [...PNPM, "pack", "--pack-destination", out], { cwd: join(root, dir) });
    if (status !== 0) process.exit(status);
  }
  console.log(`packed: ${readdirSync(out).sort().join(", ")} in ${relative(process.cwd(), out) || "."}`);
}

// the browser page (web/): built with esbuild, then served with the COOP and COEP headers it needs
function page() {
  install();
  const status = run(process.execPath, ["web/scripts/build.mjs"]);
  if (status !== 0) process.exit(status);
  process.exit(run(process.execPath, ["web/scripts/serve.mjs", ...args]));
}

function tsgrad() {
  install();
  process.exit(run(process.execPath, ["--import", "tsx", "apps/cli/src/main.ts", ...args]));
}

switch (job) {
  case "test":
    await test(args);
    break;
  case "typecheck":
    typecheck();
    break;
  case "lint":
    lint();
    break;
  case "demo":
    demo();
    break;
  case "bench":
    bench();
    break;
  case "tsgrad":
    tsgrad();
    break;
  case "pack":
    pack();
    break;
  case "page":
    page();
    break;
  default:
    console.error(
      "usage: node scripts/run.mjs <demo|test|typecheck|lint|bench|tsgrad|pack|page> [args]\n  test [filter...]  runs the test files whose path contains a filter\n  bench [--full] [--help]  runs the benchmarks (benchmarks/src/cli.ts)",
    );
    process.exit(2);
}

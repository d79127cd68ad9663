/**
 * @file The real-GPU check: the op-table parity suite on gpujs:webgpu, a matmul timing (N = 1024, 2048,
 * 4096) and one training step, printed as a report (and written as JSON with --out FILE). Runs from the
 * repository or from the offline folder that scripts/pack-gpu-check.mjs assembles (see docs/benchmarks.md).
 *
 *     node --import tsx scripts/gpu-check.ts [--runs 10] [--sizes 1024,2048,4096] [--out report.json]
 */

import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import type { GpujsBackend } from "../packages/core/src/backend/gpujs/index.ts";
import { probeWebGPU } from "../packages/core/src/backend/gpujs/index.ts";
import { closeBackends, Generator, matmul, setBackend, tensor } from "../packages/core/src/index.ts";
import { ALL_SPECS, checkSpecParity } from "../packages/core/src/testing/index.ts";
import { makeMlp } from "../packages/core/test/gpujs/mlp.ts";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    sizes: { type: "string", default: "1024,2048,4096" },
    out: { type: "string" },
  },
});

const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model} x${cpus().length}`,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
};
const log = (line: string) => console.log(line);

const adapter = await probeWebGPU();
report.adapter = adapter;
log(`adapter: ${adapter.available ? adapter.description : `none (${adapter.reason})`}${adapter.software ? " [software]" : ""}`);
if (!adapter.available) process.exit(1);

const backend = (await setBackend("gpujs:webgpu")) as GpujsBackend;

// ---- parity: every spec of the op table against the reference backend ----
const parity: { name: string; ok: boolean; error?: string }[] = [];
const parityStart = performance.now();
for (const spec of ALL_SPECS) {
  try {
    await checkSpecParity(spec, backend, { numRuns: Number(args.runs) });
    parity.push({ name: spec.name, ok: true });
  } catch (error) {
    parity.push({ name: spec.name, ok: false, error: (error as Error).message.split("\n").slice(0, 3).join(" | ") });
    log(`parity FAIL ${spec.name}: ${(error as Error).message.split("\n")[0]}`);
  }
}
const failed = parity.filter((p) => !p.ok).length;
report.parity = { passed: parity.length - failed, failed, seconds: (performance.now() - parityStart) / 1000, results: parity };
log(`parity: ${parity.length - failed} passed, ${failed} failed (${((performance.now() - parityStart) / 1000).toFixed(1)} s)`);

// ---- matmul: resident inputs, timed until the device has finished ----
const timings: Record<string, unknown>[] = [];
for (const n of args.sizes.split(",").map(Number)) {
  const g = new Generator(n);
  const a = tensor(Array.from(g.normal(n * n)), [n, n], { dtype: "float32", backend });
  const b = tensor(Array.from(g.normal(n * n)), [n, n], { dtype: "float32", backend });
  await backend.flush();
  const times: number[] = [];
  for (let rep = 0; rep < 4; rep++) {
    const started = performance.now();
    const c = matmul(a, b);
    await backend.flush();
    times.push(performance.now() - started);
    c.dispose();
  }
  const [first, ...warm] = times;
  const ms = warm.sort((x, y) => x - y)[Math.floor(warm.length / 2)];
  timings.push({ n, firstMs: first, medianMs: ms, gflops: (2 * n ** 3) / (ms * 1e6) });
  a.dispose();
  b.dispose();
}
report.matmul = timings;
log("| matmul n | first (ms) | median (ms) | GFLOP/s |");
log("| -------: | ---------: | ----------: | ------: |");
for (const t of timings as { n: number; firstMs: number; medianMs: number; gflops: number }[])
  log(`| ${t.n} | ${t.firstMs.toFixed(1)} | ${t.medianMs.toFixed(1)} | ${t.gflops.toFixed(1)} |`);

// ---- one training step of a small MLP: cold (compiles) and warm ----
const mlp = makeMlp(backend, { hidden: 256 });
const step = async () => {
  const started = performance.now();
  const loss = mlp.step();
  const value = await loss.itemAsync();
  loss.dispose();
  return { ms: performance.now() - started, loss: value };
};
const cold = await step();
const warm = await step();
mlp.dispose();
report.trainingStep = { coldMs: cold.ms, warmMs: warm.ms, loss: warm.loss, kernels: backend.kernelStats() };
log(`training step (MLP 4-256-3): cold ${cold.ms.toFixed(1)} ms, warm ${warm.ms.toFixed(1)} ms, loss ${warm.loss.toFixed(4)}`);
log(`kernels: ${JSON.stringify(backend.kernelStats())}`);

if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
await closeBackends();
// if Dawn still holds the process, end it: the report is written
setTimeout(() => process.exit(failed > 0 ? 1 : 0), 2000).unref();
process.exitCode = failed > 0 ? 1 : 0;

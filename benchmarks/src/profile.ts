/**
 * @file Where the time of one training step goes, on one backend: every kernel call is timed by kind
 * (matmul, elementwise, reductions, movement and indexing, transfers), the wasm allocator's alloc and free
 * are timed on their own, and what is left of the step's wall time is the JavaScript around the kernels:
 * autodiff bookkeeping, tensor objects, tidy scopes, argument checks.
 *
 *   node --import tsx benchmarks/src/profile.ts [--backend wasm] [--threads 1|2] [--case "encoder train step"] [--steps 30]
 */

import { parseArgs } from "node:util";
import { setBackend } from "@tsgrad/core";
import { Allocator } from "../../packages/core/src/backend/wasm/allocator.ts";
import { caseInputs, catalogue } from "./cases/index.ts";
import { tsgradRunner } from "./tsgrad.ts";

const KIND: Record<string, string> = {
  matmul: "matmul",
  unary: "elementwise",
  binary: "elementwise",
  where: "elementwise",
  cast: "elementwise",
  fill: "elementwise",
  reduce: "reduction",
  argReduce: "reduction",
  permute: "movement, indexing",
  expand: "movement, indexing",
  slice: "movement, indexing",
  pad: "movement, indexing",
  concat: "movement, indexing",
  gather: "movement, indexing",
  scatterAdd: "movement, indexing",
  topk: "movement, indexing",
  assign: "movement, indexing",
  softmax: "fused (softmax, logSoftmax, layerNorm, gelu)",
  logSoftmax: "fused (softmax, logSoftmax, layerNorm, gelu)",
  layerNorm: "fused (softmax, logSoftmax, layerNorm, gelu)",
  gelu: "fused (softmax, logSoftmax, layerNorm, gelu)",
  adamw: "optimiser update (fused AdamW)",
  upload: "transfers (upload, read, free)",
  read: "transfers (upload, read, free)",
  readSync: "transfers (upload, read, free)",
  free: "transfers (upload, read, free)",
};

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    threads: { type: "string" },
    case: { type: "string", default: "encoder train step" },
    steps: { type: "string", default: "30" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(`Where the time of one training step goes, kernel by kind, on one backend.

  node --import tsx benchmarks/src/profile.ts [options]

  --backend NAME   the backend to profile (default wasm)
  --threads N      the wasm backend's thread count (default: TSGRAD_THREADS, else 2 where threads work)
  --case ID        a case of the full benchmark set (default "encoder train step"; pnpm bench --list)
  --steps N        timed steps after 5 warm-up steps (default 30)
  -h, --help       this text

PROFILE_OPS=1 splits the elementwise rows by op code.`);
  process.exit(0);
}
const options: Record<string, unknown> = values.threads ? { threads: Number(values.threads) } : {};
const backend = await setBackend(values.backend!, options);
await (backend as { ready?: Promise<void> }).ready;
const spec = catalogue("full").find((c) => c.id === values.case);
if (!spec) throw new Error(`no case "${values.case}"`);
const runner = tsgradRunner(spec, caseInputs(spec));

const spent = new Map<string, { ms: number; calls: number }>();
const add = (key: string, ms: number) => {
  const entry = spent.get(key) ?? { ms: 0, calls: 0 };
  entry.ms += ms;
  entry.calls++;
  spent.set(key, entry);
};
let inKernel = false;
const target = backend as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const name of Object.keys(KIND)) {
  const method = target[name];
  if (typeof method !== "function") continue;
  target[name] = (...args: unknown[]) => {
    const nested = inKernel;
    inKernel = true;
    const start = performance.now();
    try {
      return method.apply(backend, args);
    } finally {
      if (!nested)
        add(
          process.env.PROFILE_OPS && (name === "unary" || name === "binary") ? `${name} ${args[0]}` : KIND[name],
          performance.now() - start,
        );
      inKernel = nested;
    }
  };
}
// allocation is timed inside the kernels that allocate, and reported on its own line as well
const allocator = Allocator.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const name of ["alloc", "free"]) {
  const method = allocator[name];
  allocator[name] = function (this: unknown, ...args: unknown[]) {
    const start = performance.now();
    try {
      return method.apply(this, args);
    } finally {
      add("(of which wasm allocator alloc/free)", performance.now() - start);
    }
  };
}

const steps = Number(values.steps);
for (let i = 0; i < 5; i++) await runner.call(); // warm-up: tier-up and the allocator's free lists
await runner.sync();
spent.clear();
const start = performance.now();
for (let i = 0; i < steps; i++) await runner.call();
await runner.sync();
const total = (performance.now() - start) / steps;
runner.dispose();

const rows = [...spent.entries()].map(([kind, { ms, calls }]) => ({ kind, ms: ms / steps, calls: calls / steps }));
const kernels = rows.filter((r) => !r.kind.startsWith("(")).reduce((n, r) => n + r.ms, 0);
console.log(`${spec.id} on ${backend.name}: ${total.toFixed(2)} ms per step (mean of ${steps} steps after 5 warm-up steps)\n`);
console.log("| where | ms per step | share | calls per step |\n| --- | ---: | ---: | ---: |");
for (const r of rows.sort((a, b) => b.ms - a.ms)) {
  console.log(`| ${r.kind} | ${r.ms.toFixed(2)} | ${((100 * r.ms) / total).toFixed(0)} % | ${Math.round(r.calls)} |`);
}
const rest = total - kernels;
console.log(
  `| JavaScript around the kernels (autodiff, tensors, scopes, checks) | ${rest.toFixed(2)} | ${((100 * rest) / total).toFixed(0)} % | |`,
);
await backend.close?.();

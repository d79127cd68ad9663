/**
 * @file The page's worker: tsgrad runs here, not on the page's main thread, because the wasm backend's
 * two threads wait on each other with Atomics.wait, which a page's main thread may not call. It runs
 * one panel at a time and posts each result as it comes (protocol.ts).
 */

import { caseChecks, caseInputs, catalogue, compareOutputs } from "@tsgrad/benchmarks/cases";
import { startTsgrad } from "@tsgrad/benchmarks/runner";
import { measureRound, metric, TIMINGS, timeOneCall } from "@tsgrad/benchmarks/timing";
import { type Backend, setBackend, useBackend, WasmBackend } from "@tsgrad/core";
import {
  ALL_SPECS,
  checkSpecErrors,
  checkSpecExamples,
  checkSpecGradients,
  checkSpecParity,
  checkSpecSecondGradients,
  type OpSpec,
  propertySeed,
  reference,
} from "@tsgrad/core/testing";
import { fineTune } from "./finetune.ts";
import type { Outcome, Panel, Reply, Request, RunOptions } from "./protocol.ts";

const scope = globalThis as unknown as {
  postMessage(message: Reply): void;
  onmessage: ((event: { data: Request }) => void) | null;
  crossOriginIsolated?: boolean;
};
/** What the panel running now has posted, from which its outcome follows. */
const tally = { panel: null as Panel | null, ran: 0, failed: 0, errors: [] as string[], skips: [] as string[] };

function post(reply: Reply): void {
  if (reply.type === "test" || reply.type === "bench" || reply.type === "accuracy") tally.ran++;
  if ((reply.type === "test" && !reply.ok) || (reply.type === "bench" && reply.error !== undefined)) tally.failed++;
  if (reply.type === "skip") tally.skips.push(`${reply.backend}: ${reply.reason}`);
  if (reply.type === "error") tally.errors.push(reply.message.split("\n")[0]);
  scope.postMessage(reply);
}

/** Passed, failed with a reason, or skipped (nothing ran) with the skips' reasons. */
function outcomeOf(): { outcome: Outcome; reason?: string } {
  if (tally.errors.length > 0) return { outcome: "failed", reason: tally.errors.join("; ") };
  if (tally.failed > 0) return { outcome: "failed", reason: `${tally.failed} of ${tally.ran} failed` };
  if (tally.ran === 0) return { outcome: "skipped", reason: tally.skips.join("; ") || "nothing to run" };
  return { outcome: "passed" };
}
const isolated = scope.crossOriginIsolated === true;

/** A backend the page compares with the reference backend, and why it cannot run here, if it cannot. */
interface Target {
  label: string;
  name: string;
  /** For the parity tests (the wasm backend's two threads split every kernel, however small). */
  options: Record<string, unknown>;
  /** For the benchmarks: as `pnpm bench` starts it (two threads split only kernels worth it). */
  benchOptions: Record<string, unknown>;
  unavailable(): Promise<string | null>;
}

const TARGETS: Target[] = [
  { label: "wasm, 1 thread", name: "wasm", options: { threads: 1 }, benchOptions: { threads: 1 }, unavailable: async () => null },
  {
    label: "wasm, 2 threads",
    name: "wasm",
    options: { threads: 2, minParallelWork: 0 },
    benchOptions: { threads: 2 },
    unavailable: async () =>
      isolated ? null : "the page is not cross-origin isolated (no SharedArrayBuffer): serve it with COOP and COEP headers",
  },
  {
    label: "gpujs:webgpu",
    name: "gpujs:webgpu",
    options: {},
    benchOptions: {},
    async unavailable() {
      const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
      return gpu && (await gpu.requestAdapter()) ? null : "no WebGPU adapter";
    },
  },
];

/** The target's backend, or the reason it did not start (posted as a skip). */
async function start(target: Target, panel: "tests" | "bench"): Promise<Backend | null> {
  let reason = await target.unavailable();
  if (reason === null) {
    try {
      const backend = await setBackend(target.name, panel === "tests" ? target.options : target.benchOptions);
      // the wasm backend's second thread starts after it: a column of two threads must not run on one
      if (backend instanceof WasmBackend) await backend.ready;
      return backend;
    } catch (error) {
      reason = (error as Error).message;
    }
  }
  post({ type: "skip", panel, backend: target.label, reason });
  return null;
}

/** A spec's checks on the reference backend: examples, gradcheck and gradgradcheck properties, error cases. */
async function referenceChecks(spec: OpSpec, options: { numRuns?: number; seed?: number; path?: string }): Promise<void> {
  useBackend(reference);
  await checkSpecExamples(spec);
  await checkSpecGradients(spec, options);
  await checkSpecSecondGradients(spec, options);
  checkSpecErrors(spec);
}

async function runTests(options: RunOptions): Promise<void> {
  const numRuns = options.smoke ? 5 : undefined;
  for (const target of [{ label: "reference" } as Target, ...TARGETS]) {
    const backend = target.label === "reference" ? reference : await start(target, "tests");
    if (!backend) continue;
    for (const spec of ALL_SPECS) {
      if (options.replay && options.replay.op !== spec.name) continue;
      const replay = options.replay ? { seed: options.replay.seed, path: options.replay.path } : {};
      const name = target.label === "reference" ? `${spec.name} gradcheck` : `${spec.name} parity on ${backend.name}`;
      const started = performance.now();
      try {
        if (target.label === "reference") await referenceChecks(spec, { numRuns, ...replay });
        else await checkSpecParity(spec, backend, { numRuns, ...replay });
        post({ type: "test", backend: target.label, op: spec.name, ok: true, ms: performance.now() - started, seed: propertySeed(name) });
      } catch (error) {
        const message = (error as Error).message;
        post({
          type: "test",
          backend: target.label,
          op: spec.name,
          ok: false,
          ms: performance.now() - started,
          seed: propertySeed(name),
          message,
        });
      }
    }
  }
}

async function runBench(options: RunOptions): Promise<void> {
  const mode = options.smoke ? "smoke" : "quick";
  const { requestTimeoutMs: _, ...timings } = TIMINGS[mode];
  // samples of at least a millisecond: a browser's clock is coarse (5 µs to 100 µs), and a smoke-size call takes less
  const timing = { ...timings, minSampleMs: Math.max(1, timings.minSampleMs) };
  const cases = catalogue(mode).filter((c) => c.quick || mode === "smoke");
  const oracle = await startTsgrad("reference");
  const expected = new Map<string, { outputs: Record<string, Float32Array>; checks: ReturnType<typeof caseChecks> }>();
  for (const spec of cases) {
    const inputs = caseInputs(spec);
    const runner = await oracle.prepare(spec, inputs);
    const outputs = await runner.outputs();
    runner.dispose();
    expected.set(spec.id, { outputs, checks: caseChecks(spec.params, inputs, outputs) });
  }
  for (const target of TARGETS) {
    const started = await start(target, "bench");
    if (!started) continue;
    const library = await startTsgrad(target.name, target.benchOptions);
    post({ type: "facts", facts: { [target.label]: JSON.stringify(library.facts()) } });
    for (const spec of cases) {
      const want = expected.get(spec.id) as { outputs: Record<string, Float32Array>; checks: ReturnType<typeof caseChecks> };
      try {
        const runner = await library.prepare(spec, caseInputs(spec));
        const estimate = await timeOneCall(runner);
        const wrong = compareOutputs(await runner.outputs(), want.outputs, want.checks, started.name);
        if (wrong) throw new Error(wrong);
        const round = await measureRound(runner, timing, 0, estimate);
        runner.dispose();
        const ms = Math.min(...round.samples.map((s) => s.ms));
        post({ type: "bench", backend: target.label, case: spec.id, unit: spec.unit, value: metric(spec.unit, spec.work, ms), ms });
      } catch (error) {
        post({
          type: "bench",
          backend: target.label,
          case: spec.id,
          unit: spec.unit,
          value: Number.NaN,
          ms: 0,
          error: (error as Error).message,
        });
      }
    }
  }
}

/** The failure a test asked for (RunOptions.fault), where it asked for it. */
async function injectFault(request: Request): Promise<void> {
  const fault = request.options.fault;
  if (fault?.panel !== request.panel) return;
  if (fault.kind === "throw")
    setTimeout(() => {
      throw new Error("fault injected: an uncaught error in the worker");
    });
  else if (fault.kind === "reject") void Promise.reject(new Error("fault injected: an unhandled rejection in the worker"));
  else await new Promise(() => {});
}

async function run(request: Request): Promise<void> {
  const started = performance.now();
  Object.assign(tally, { panel: request.panel, ran: 0, failed: 0, errors: [], skips: [] });
  try {
    await injectFault(request);
    if (request.panel === "tests") await runTests(request.options);
    else if (request.panel === "bench") await runBench(request.options);
    else await fineTune(request.options, post);
  } catch (error) {
    post({ type: "error", panel: request.panel, message: (error as Error).stack ?? String(error) });
  }
  post({ type: "done", panel: request.panel, seconds: (performance.now() - started) / 1000, ...outcomeOf() });
  tally.panel = null;
}

// a rejection nobody handled belongs to the panel running now (the page also limits each panel's time)
(scope as unknown as { addEventListener(type: "unhandledrejection", f: (event: { reason: unknown }) => void): void }).addEventListener(
  "unhandledrejection",
  (event) => {
    const message = event.reason instanceof Error ? event.reason.message : String(event.reason);
    post({ type: "error", panel: tally.panel, message: `unhandled rejection: ${message}` });
  },
);

post({
  type: "facts",
  facts: {
    userAgent: (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? "unknown",
    cores: (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 0,
    crossOriginIsolated: isolated,
    sharedArrayBuffer: typeof SharedArrayBuffer === "function",
  },
});

// one panel at a time, in the order asked; a run that itself throws (a reply that cannot be posted) still
// ends its panel and leaves the queue going
let queue = Promise.resolve();
scope.onmessage = (event) => {
  const request = event.data;
  queue = queue
    .then(() => run(request))
    .catch((error) => {
      const reason = `the worker failed: ${(error as Error).message}`;
      scope.postMessage({ type: "done", panel: request.panel, seconds: 0, outcome: "failed", reason });
    });
};

/**
 * @file The child process behind one participant: starts its library, then answers the parent's
 * requests (one case and round at a time) with samples. Run as `worker.ts <kind> <id>` with an IPC channel.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { deserialize, serialize } from "node:v8";
import { type Check, compareOutputs } from "./cases/check.ts";
import { caseChecks, caseInputs } from "./cases/index.ts";
import { PEERS } from "./peers/index.ts";
import { measureRound, timeOneCall } from "./timing.ts";
import { startTsgrad } from "./tsgrad.ts";
import type { Library, RoundResult, Runner, WorkerReply, WorkerRequest } from "./types.ts";

export interface Expected {
  outputs: Record<string, Float32Array>;
  checks: Check[];
}

function send(reply: WorkerReply): Promise<void> {
  return new Promise((resolve, reject) => process.send!(reply, undefined, undefined, (e) => (e ? reject(e) : resolve())));
}

/** What a worker keeps between the rounds of one case. */
interface Current {
  id: string;
  runner: Runner | null;
  error: string | null;
  estimateMs: number;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Runs one case and round. On the case's first round: prepares it, times the first call, then makes one
 * more call and checks its outputs (or, for the oracle, writes them) before any sample is taken; a wrong
 * answer ends the case.
 */
async function runCase(lib: Library, current: Current | null, request: Extract<WorkerRequest, { type: "case" }>, backend: string | null) {
  const { spec, round, timing } = request;
  const result: RoundResult = { ok: true, samples: [], rssPeakBytes: 0, devicePeakBytes: null, cpuPerWall: null };
  if (current?.id !== spec.id) {
    current?.runner?.dispose();
    current = { id: spec.id, runner: null, error: null, estimateMs: 0 };
    try {
      const inputs = caseInputs(spec);
      current.runner = await lib.prepare(spec, inputs);
      const runner = current.runner;
      result.firstCallMs = await timeOneCall(runner);
      current.estimateMs = result.firstCallMs;
      // the check's call is untimed, so it is also where the library's peak memory is watched
      let outputs: Record<string, Float32Array>;
      if (lib.peakBytes) [outputs, result.devicePeakBytes] = await lib.peakBytes(() => runner.outputs());
      else outputs = await runner.outputs();
      if (request.writeExpected) {
        const expected: Expected = { outputs, checks: caseChecks(spec.params, inputs, outputs) };
        writeFileSync(request.writeExpected, serialize(expected));
      } else if (request.readExpected) {
        let expected: Expected;
        try {
          expected = deserialize(readFileSync(request.readExpected)) as Expected;
        } catch {
          throw new Error("nothing to check against: the reference backend failed on this case");
        }
        const wrong = compareOutputs(outputs, expected.outputs, expected.checks, backend);
        if (wrong) throw new Error(wrong);
      }
    } catch (e) {
      current.error = message(e);
    }
  }
  if (current.error) return { current, result: { ...result, ok: false, error: current.error } };
  if (!request.measure) return { current, result };
  try {
    const timed = await measureRound(current.runner!, timing, round, current.estimateMs);
    current.estimateMs = timed.estimateMs;
    return { current, result: { ...result, samples: timed.samples, rssPeakBytes: timed.rssPeakBytes, cpuPerWall: timed.cpuPerWall } };
  } catch (e) {
    current.error = message(e);
    return { current, result: { ...result, ok: false, error: current.error } };
  }
}

async function main(): Promise<void> {
  const [kind, id, backendJson] = process.argv.slice(2);
  let lib: Library;
  try {
    const backend = JSON.parse(backendJson) as { name: string; options: Record<string, unknown> };
    lib = kind === "tsgrad" ? await startTsgrad(backend.name, backend.options) : await PEERS[id].start();
  } catch (e) {
    await send({ type: "unavailable", reason: message(e) });
    process.exit(0);
  }
  await send({ type: "ready", facts: lib.facts() });

  let current: Current | null = null;
  let queue = Promise.resolve();
  process.on("message", (request: WorkerRequest) => {
    queue = queue.then(async () => {
      if (request.type === "exit") {
        current?.runner?.dispose();
        await lib.close();
        // WebGPU devices and worker pools can keep a process alive: leave explicitly
        process.exit(0);
      }
      const done = await runCase(lib, current, request, kind === "tsgrad" ? String(lib.facts().backend) : null);
      current = done.current;
      await send({ type: "result", result: done.result });
    });
  });
  // the parent is gone: nothing will ask again
  process.on("disconnect", () => process.exit(0));
}

await main();

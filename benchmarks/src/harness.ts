/**
 * @file The parent side of a run: one child process per participant, and interleaved rounds.
 *
 * Every participant lives in its own process, so a live WebGPU device or a library's worker threads
 * cannot steal a core from another's timing; and only one of them runs at a time: the others are
 * stopped (SIGSTOP) while they wait, so an idle device's polling thread costs nothing either. For each
 * case, the rounds go A, B, C, A, B, C, ..., so a drift of the machine's speed hits every participant
 * alike, and ratios are taken within a round.
 */

import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { registeredBackends } from "@tsgrad/core";
import { PEERS } from "./peers/index.ts";
import type { CaseSpec, Participant, RoundResult, Timing, WorkerReply, WorkerRequest } from "./types.ts";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
const ORACLE = "reference";
/** SIGSTOP/SIGCONT exist on POSIX only; elsewhere idle workers just wait. */
const CAN_PAUSE = process.platform !== "win32";

/**
 * The wasm backend runs as three participants: one thread, two threads, and two threads with relaxed
 * SIMD (fused multiply-add), whose process gets the flag Node 20 needs for it.
 */
const WASM_PARTICIPANTS: Participant[] = [
  { id: "wasm:1t", kind: "tsgrad", label: "tsgrad wasm 1 thread", backend: { name: "wasm", options: { threads: 1, relaxed: false } } },
  { id: "wasm:2t", kind: "tsgrad", label: "tsgrad wasm 2 threads", backend: { name: "wasm", options: { threads: 2, relaxed: false } } },
  {
    id: "wasm:2t-relaxed",
    kind: "tsgrad",
    label: "tsgrad wasm 2 threads relaxed",
    backend: { name: "wasm", options: { threads: 2, relaxed: true } },
    nodeFlags: ["--experimental-wasm-relaxed-simd"],
  },
];

/** Every tsgrad backend registered in this build (the wasm backend in three configurations), then every peer. */
export function allParticipants(): Participant[] {
  return [
    ...registeredBackends().flatMap((name): Participant[] =>
      name === "wasm" ? WASM_PARTICIPANTS : [{ id: name, kind: "tsgrad", label: `tsgrad ${name}` }],
    ),
    ...Object.entries(PEERS).map(([id, peer]): Participant => ({ id, kind: "peer", label: peer.label })),
  ];
}

/** The participants whose id or label contains any filter (case-insensitive); all without filters. */
export function selectParticipants(all: Participant[], filters: string[]): Participant[] {
  if (filters.length === 0) return all;
  const wanted = filters.map((f) => f.toLowerCase());
  return all.filter((p) => wanted.some((f) => p.id.toLowerCase().includes(f) || p.label.toLowerCase().includes(f)));
}

/** One participant's child process, paused whenever it is not answering a request. */
class WorkerProcess {
  readonly child: ChildProcess;
  #pending: ((reply: WorkerReply | Error) => void) | null = null;
  #output = "";
  #exited = false;

  constructor(readonly participant: Participant) {
    const backend = participant.backend ?? { name: participant.id, options: {} };
    this.child = fork(WORKER, [participant.kind, participant.id, JSON.stringify(backend)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [...process.execArgv, ...(participant.nodeFlags ?? [])],
    });
    // libraries print banners; keep the tail for when a worker dies
    const collect = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    this.child.stdout!.on("data", collect);
    this.child.stderr!.on("data", collect);
    this.child.on("message", (reply: WorkerReply) => this.#settle(reply));
    this.child.on("exit", (code, signal) => {
      this.#exited = true;
      this.#settle(
        new Error(`worker exited (${signal ?? `code ${code}`})${this.#output ? `; its last output:\n${this.#output.trim()}` : ""}`),
      );
    });
  }

  #settle(reply: WorkerReply | Error): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.(reply);
  }

  /** The next reply, or an error if the worker dies or takes longer than timeoutMs. */
  #next(timeoutMs: number): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = null;
        this.kill();
        reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.#pending = (reply) => {
        clearTimeout(timer);
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      };
    });
  }

  async ready(timeoutMs: number): Promise<WorkerReply> {
    const reply = await this.#next(timeoutMs);
    this.pause();
    return reply;
  }

  async ask(request: WorkerRequest, timeoutMs: number): Promise<RoundResult> {
    if (this.#exited) throw new Error("the worker is no longer running");
    this.resume();
    const answer = this.#next(timeoutMs);
    this.child.send(request);
    const reply = await answer;
    this.pause();
    if (reply.type !== "result") throw new Error(`unexpected reply ${reply.type}`);
    return reply.result;
  }

  pause(): void {
    if (CAN_PAUSE && !this.#exited) this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (CAN_PAUSE && !this.#exited) this.child.kill("SIGCONT");
  }

  /** Asks the worker to close its library and exit; kills it if it has not within a few seconds. */
  async exit(): Promise<void> {
    if (this.#exited) return;
    this.resume();
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "exit" } satisfies WorkerRequest);
    const timer = setTimeout(() => this.kill(), 10_000);
    await gone;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.#exited) return;
    this.child.kill("SIGKILL");
  }
}

export interface ParticipantRecord extends Participant {
  status: "ran" | "unavailable";
  /** Why it could not run on this machine. */
  reason?: string;
  facts: Record<string, string | number | boolean>;
}

export interface CaseResult {
  participant: string;
  case: string;
  ok: boolean;
  error?: string;
  firstCallMs?: number;
  samples: RoundResult["samples"];
  rssPeakBytes: number;
  devicePeakBytes: number | null;
  /** Per round, CPU time over wall time while sampling. */
  cpuPerWall: number[];
}

export interface RunOptions {
  cases: CaseSpec[];
  participants: Participant[];
  timing: Timing;
  /** Where the oracle leaves expected outputs for the others. */
  scratchDir: string;
  /** A request taking longer than this kills its worker. */
  requestTimeoutMs: number;
  log: (line: string) => void;
  /** Told how long each request took, when the user asks for it. */
  verbose?: (line: string) => void;
}

export interface RunResult {
  participants: ParticipantRecord[];
  results: CaseResult[];
}

/**
 * Starts every participant, then runs each case for `timing.rounds` interleaved rounds. The reference backend always runs first in a case's first
 * round: it is the oracle the others are checked against, and it is started even when filtered out of
 * the run (then it only computes, and is not reported).
 */
export async function runBenchmarks(options: RunOptions): Promise<RunResult> {
  const { cases, timing, log } = options;
  const measured = new Set(options.participants.map((p) => p.id));
  const oracleParticipant: Participant = { id: ORACLE, kind: "tsgrad", label: `tsgrad ${ORACLE}` };
  const starting = [oracleParticipant, ...options.participants.filter((p) => p.id !== ORACLE)];

  const workers: WorkerProcess[] = [];
  const everyWorker: WorkerProcess[] = [];
  const records: ParticipantRecord[] = [];
  const killAll = () => {
    for (const w of everyWorker) w.kill();
  };
  // a paused worker cannot notice that its parent is gone, so an interrupted run must kill them itself
  const interrupted = (signal: NodeJS.Signals) => {
    killAll();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("exit", killAll);
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    // started all at once: start-up is not measured, and each worker is paused as soon as it is ready
    const startingWorkers = starting.map((participant) => new WorkerProcess(participant));
    everyWorker.push(...startingWorkers);
    const replies = await Promise.all(
      startingWorkers.map((worker) =>
        worker.ready(options.requestTimeoutMs).catch((e): WorkerReply => ({ type: "unavailable", reason: (e as Error).message })),
      ),
    );
    for (const [i, participant] of starting.entries()) {
      const worker = startingWorkers[i];
      let reply = replies[i];
      // a name that resolves to another backend (an alias, or a fallback) would measure that one twice
      if (reply.type === "ready" && participant.kind === "tsgrad" && !participant.backend && reply.facts.backend !== participant.id) {
        reply = {
          type: "unavailable",
          reason: `setBackend("${participant.id}") starts ${reply.facts.backend} on this machine, measured under that name`,
        };
      }
      const record: ParticipantRecord =
        reply.type === "ready"
          ? { ...participant, status: "ran", facts: reply.facts }
          : { ...participant, status: "unavailable", reason: reply.type === "unavailable" ? reply.reason : "no ready message", facts: {} };
      if (measured.has(participant.id)) records.push(record);
      log(record.status === "ran" ? `started ${participant.label}` : `skipped ${participant.label}: ${record.reason}`);
      if (record.status === "ran") workers.push(worker);
      else worker.kill();
    }
    const oracle = workers.find((w) => w.participant.id === ORACLE);
    if (!oracle) throw new Error("the reference backend did not start, so no result could be checked");

    const results = new Map<string, CaseResult>();
    const dead = new Map<string, string>();
    for (const [index, spec] of cases.entries()) {
      const expectedPath = join(options.scratchDir, `case-${index}.v8`);
      const started = performance.now();
      const spent = new Map<string, number>();
      for (let round = 1; round <= timing.rounds; round++) {
        for (const worker of workers) {
          const id = worker.participant.id;
          const isOracle = worker === oracle;
          if (round > 1 && (!measured.has(id) || (spent.get(id) ?? 0) >= timing.capMs)) continue;
          if (spec.tsgradOnly && worker.participant.kind === "peer") continue;
          const key = `${id}\u0000${spec.id}`;
          const entry: CaseResult = results.get(key) ?? {
            participant: id,
            case: spec.id,
            ok: true,
            samples: [],
            rssPeakBytes: 0,
            devicePeakBytes: null,
            cpuPerWall: [],
          };
          results.set(key, entry);
          let result: RoundResult;
          if (dead.has(id)) {
            result = { ok: false, error: dead.get(id), samples: [], rssPeakBytes: 0, devicePeakBytes: null, cpuPerWall: null };
          } else {
            const asked = performance.now();
            try {
              result = await worker.ask(
                {
                  type: "case",
                  spec,
                  round,
                  timing,
                  writeExpected: isOracle && round === 1 ? expectedPath : null,
                  readExpected: isOracle ? null : expectedPath,
                  measure: measured.has(id),
                },
                options.requestTimeoutMs,
              );
            } catch (e) {
              dead.set(id, `worker failed on ${spec.id}: ${(e as Error).message}`);
              result = { ok: false, error: dead.get(id), samples: [], rssPeakBytes: 0, devicePeakBytes: null, cpuPerWall: null };
            }
            const took = performance.now() - asked;
            spent.set(id, (spent.get(id) ?? 0) + took);
            options.verbose?.(`  ${worker.participant.label}, round ${round}: ${(took / 1000).toFixed(2)} s`);
          }
          if (!result.ok && entry.ok) {
            entry.ok = false;
            entry.error = result.error;
          }
          if (result.firstCallMs !== undefined) entry.firstCallMs = result.firstCallMs;
          if (result.devicePeakBytes !== null) entry.devicePeakBytes = result.devicePeakBytes;
          entry.samples.push(...result.samples);
          entry.rssPeakBytes = Math.max(entry.rssPeakBytes, result.rssPeakBytes);
          if (result.cpuPerWall !== null) entry.cpuPerWall.push(result.cpuPerWall);
        }
      }
      log(`[${index + 1}/${cases.length}] ${spec.id} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
    await Promise.all(workers.map((w) => w.exit()));
    return { participants: records, results: [...results.values()].filter((r) => measured.has(r.participant)) };
  } finally {
    killAll();
    process.removeListener("exit", killAll);
    process.removeListener("SIGINT", interrupted);
    process.removeListener("SIGTERM", interrupted);
  }
}

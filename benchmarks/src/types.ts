/** @file The shapes every part of the suite agrees on: cases, host inputs, runners, and the results a worker sends back. */

/** A tensor's values on the host, the one form in which inputs are handed to every library. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type HostTensors = Record<string, HostTensor>;

/** What a case computes; each library implements every kind once (src/tsgrad.ts, src/peers/*.ts). */
export type CaseParams =
  | {
      kind: "matmul";
      batch: number;
      m: number;
      k: number;
      n: number;
      /** op(a)·op(b) with a stored [k, m] (b stored [n, k]) and read transposed, as linear layers and their gradients do. */
      transposeA?: boolean;
      transposeB?: boolean;
    }
  | { kind: "binary"; op: "add" | "mul"; size: number }
  | { kind: "unary"; op: "exp" | "gelu"; size: number }
  | { kind: "softmax"; rows: number; cols: number }
  | { kind: "layerNorm"; rows: number; cols: number }
  | { kind: "reduce"; op: "sum" | "max"; rows: number; cols: number }
  | {
      kind: "encoder";
      train: boolean;
      /** Trainable adapters on q and v over a frozen layer (@tsgrad/hyra), or the whole layer trained. */
      adapter: "none" | "lora" | "hyra";
      batch: number;
      seq: number;
      dModel: number;
      heads: number;
      hidden: number;
    }
  | { kind: "chain"; length: number; size: number }
  | {
      kind: "finetune";
      /** HyRA or LoRA on q and v (plus the head), or every weight trained. */
      method: "full" | "lora" | "hyra";
      layers: number;
      dModel: number;
      heads: number;
      hidden: number;
      batch: number;
      seq: number;
      vocab: number;
      classes: number;
    };

export type Kind = CaseParams["kind"];

/** How a case's speed is shown: `work` units per call, divided by the time. */
export type Unit = "GFLOP/s" | "GB/s" | "µs/op" | "ms";

export interface CaseSpec {
  /** Unique and stable: the key of results, filters and reports ("matmul 512³"). */
  id: string;
  group: "matmul" | "elementwise" | "reduction" | "training" | "autodiff";
  params: CaseParams;
  /** Part of the quick run (`pnpm bench` without --full). */
  quick: boolean;
  unit: Unit;
  /** FLOPs, bytes or ops per call, so that throughput = work / time; unused for "ms". */
  work: number;
  /** One line on what is measured, for the report. */
  note: string;
  /** A case only tsgrad backends run (its model is tsgrad's own); the peers skip it. */
  tsgradOnly?: boolean;
}

/**
 * One library's implementation of one case, made once per process and called many times.
 * `call` does the work and whatever that library needs for it to really happen (jax-js is lazy and
 * drops unobserved work), but reads nothing back; `sync` waits for every call so far by reading back a
 * little of the last result, so that asynchronous backends cannot hide queued work.
 */
export interface Runner {
  call(): Promise<void> | void;
  sync(): Promise<void>;
  /** Runs one more call and returns the values the check compares (for a training step: the loss before it, and its change). */
  outputs(): Promise<Record<string, Float32Array>>;
  dispose(): void;
}

/** A library as a worker drives it: a tsgrad backend or a peer. */
export interface Library {
  /** What was actually started: backend, mode, version, threads. */
  facts(): Record<string, string | number | boolean>;
  prepare(spec: CaseSpec, inputs: HostTensors): Promise<Runner>;
  /** Runs fn and tells the peak bytes the library's own allocator held meanwhile (everything it held, not only fn's). */
  peakBytes?<T>(fn: () => Promise<T>): Promise<[T, number]>;
  close(): Promise<void>;
}

/** How long to measure: set by the mode (quick, full, smoke). */
export interface Timing {
  rounds: number;
  /** Warm-up time per case and round (at least one call in the first round). */
  warmupMs: number;
  /** Each sample repeats the call until it lasts at least this long, so short calls are measurable. */
  minSampleMs: number;
  samplesPerRound: number;
  /** A case stops taking samples in a round after this long (it always takes at least one). */
  budgetMs: number;
  /**
   * A participant that has spent this long on a case (first call and check included) runs no further
   * rounds of it: slow backends get fewer rounds, and their ratios cover the rounds both sides ran.
   */
  capMs: number;
}

export interface Sample {
  round: number;
  /** Milliseconds per call: the sample's time divided by its calls. */
  ms: number;
  calls: number;
}

/** What a worker reports for one case and round. */
export interface RoundResult {
  ok: boolean;
  error?: string;
  /** The first call of the case in this process: compilation, kernel caches and the first run together. */
  firstCallMs?: number;
  samples: Sample[];
  /** Peak resident set size seen after each sample (the whole process, bytes). */
  rssPeakBytes: number;
  /** Peak bytes held by the library's allocator during one call (the check's), where it can tell. */
  devicePeakBytes: number | null;
  /** CPU time over wall time while sampling: about how many cores the library kept busy. */
  cpuPerWall: number | null;
}

/** Who is measured: a tsgrad backend (by its registered name) or a peer. */
export interface Participant {
  /** A registered tsgrad backend name ("reference", "gpujs:webasm"), a named configuration of one ("wasm:2t"), or a peer's id ("tfjs-wasm"). */
  id: string;
  kind: "tsgrad" | "peer";
  label: string;
  /** For a configuration: the registered backend and the options setBackend gets. */
  backend?: { name: string; options: Record<string, unknown> };
  /** Node flags of the participant's process (relaxed SIMD needs one on Node 20). */
  nodeFlags?: string[];
}

/** What the parent asks a worker, over the IPC channel. */
export type WorkerRequest =
  | {
      type: "case";
      spec: CaseSpec;
      round: number;
      timing: Timing;
      /** The oracle (the reference backend) writes its outputs and checks here on a case's first round. */
      writeExpected: string | null;
      /** Everyone else compares with what the oracle wrote here. */
      readExpected: string | null;
      /** False for an oracle that is not itself in the run: it only writes the expected outputs. */
      measure: boolean;
    }
  | { type: "exit" };

export type WorkerReply =
  | { type: "ready"; facts: Record<string, string | number | boolean> }
  | { type: "unavailable"; reason: string }
  | { type: "result"; result: RoundResult };

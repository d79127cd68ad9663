/** @file The messages between the page (main.ts) and the worker that runs tsgrad (worker.ts). */

export type Panel = "tests" | "bench" | "finetune";

export interface RunOptions {
  /** Tiny sizes and few runs, to show that everything works (the headless test uses it), not to measure. */
  smoke: boolean;
  /** Replays one property: its op's name, and the seed and path a failure printed. */
  replay?: { op: string; seed: number; path?: string };
  /**
   * Makes the worker fail on purpose while running `panel`, for the test that shows the page still ends
   * every panel: an uncaught error, an unhandled rejection, or no answer at all.
   */
  fault?: { panel: Panel; kind: Fault };
}

export const FAULTS = ["throw", "reject", "hang"] as const;
export type Fault = (typeof FAULTS)[number];

/** How a panel ended: every panel ends as one of these, with a reason unless it passed. */
export type Outcome = "passed" | "failed" | "skipped";

export type Request = { type: "run"; panel: Panel; options: RunOptions };

export type Reply =
  | { type: "facts"; facts: Record<string, string | number | boolean> }
  /** One op on one backend: its examples, properties and error cases (on the reference backend) or its parity with it. */
  | { type: "test"; backend: string; op: string; ok: boolean; ms: number; seed: number; message?: string }
  | { type: "skip"; panel: Panel; backend: string; reason: string }
  | { type: "bench"; backend: string; case: string; unit: string; value: number; ms: number; error?: string }
  | { type: "loss"; method: string; step: number; loss: number }
  | { type: "accuracy"; method: string; accuracy: number; trainable: number; seconds: number }
  | { type: "done"; panel: Panel; seconds: number; outcome: Outcome; reason?: string }
  /** An error of a panel's run, or of the worker outside any panel (panel null). */
  | { type: "error"; panel: Panel | null; message: string };

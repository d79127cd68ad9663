/**
 * @file How many runs each property gets, with which seed, and how a failure is replayed.
 *
 * Profiles (TSGRAD_FC_PROFILE): "ci" (the default: at least 100 runs on the reference backend, 50 on
 * gpu.js's webasm and cpu modes, 10 on WebGPU, with a seed fixed per property so CI is repeatable) and
 * "thorough" (ten times as many runs, fresh random seeds). TSGRAD_FC_SEED (and TSGRAD_FC_PATH) replay a
 * failure exactly; every failure prints the line to do so.
 */

import fc from "fast-check";
import { environmentVariable } from "../environment.ts";

export type Profile = "ci" | "thorough";

const RUNS: Record<Profile, Record<string, number>> = {
  ci: { reference: 100, "gpujs:cpu": 50, "gpujs:webasm": 50, "gpujs:webgpu": 10 },
  thorough: { reference: 1000, "gpujs:cpu": 500, "gpujs:webasm": 500, "gpujs:webgpu": 100 },
};

export function profile(): Profile {
  const p = environmentVariable("TSGRAD_FC_PROFILE") ?? "ci";
  if (p !== "ci" && p !== "thorough") throw new Error(`TSGRAD_FC_PROFILE must be "ci" or "thorough", got "${p}"`);
  return p;
}

/** Runs per property for a backend under the current profile (backends without an entry get the reference count). */
export function numRuns(backend = "reference"): number {
  const table = RUNS[profile()];
  return table[backend.replace(/\(.*\)$/, "")] ?? table.reference;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h | 0;
}

export interface PropertyOptions {
  /** Backend name, to pick the run count. */
  backend?: string;
  /** Overrides the profile's run count (for expensive properties; document why where it is used). */
  numRuns?: number;
  /** Replays a run where there is no environment to set TSGRAD_FC_SEED and TSGRAD_FC_PATH in (the browser page). */
  seed?: number;
  path?: string;
}

/** The seed a property runs with: TSGRAD_FC_SEED, else one fixed by its name in CI (so every run replays), else a fresh one. */
export function propertySeed(name: string): number {
  const envSeed = environmentVariable("TSGRAD_FC_SEED");
  return envSeed !== undefined ? Number(envSeed) : profile() === "ci" ? hash(name) : (Date.now() ^ hash(name)) | 0;
}

/**
 * Asserts an (async) property under the profile's run count, and rethrows a failure with the exact
 * command-line environment that replays it.
 */
export async function checkProperty<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void> | void,
  options: PropertyOptions = {},
): Promise<void> {
  const seed = options.seed ?? propertySeed(name);
  const path = options.path ?? environmentVariable("TSGRAD_FC_PATH");
  const runs = options.numRuns ?? numRuns(options.backend);
  const result = await fc.check(
    fc.asyncProperty(arbitrary, async (value) => {
      await predicate(value);
    }),
    { seed, numRuns: runs, ...(path ? { path } : {}) },
  );
  if (result.failed) {
    const replay = `TSGRAD_FC_SEED=${result.seed} TSGRAD_FC_PATH=${result.counterexamplePath}`;
    const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    const message =
      `property "${name}" failed after ${result.numRuns} runs on ${JSON.stringify(result.counterexample?.[0])}\n` +
      `  ${error}\n  replay: ${replay}`;
    throw new Error(message);
  }
}

/** The size of a fuzzer or kill test under the current profile: small in CI, large when thorough. */
export function fuzzSize(ci: number, thorough: number): number {
  return profile() === "thorough" ? thorough : ci;
}

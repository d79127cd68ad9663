/**
 * @file Seeded random numbers, generated on the host and uploaded, so every backend gets the same
 * initialisation and dropout masks from the same seed.
 *
 * A `Generator` wraps seedrandom's Alea generator. `manualSeed(n)` reseeds the global generator that
 * every random factory uses unless it is given its own; the global seed starts at 0, so a program that
 * never seeds still gives the same numbers on every run.
 */

import seedrandom from "seedrandom";
import { fail } from "./errors.ts";

/** Alea's state (seedrandom's State.Alea), spelled out so the published types need no @types/seedrandom. */
export interface GeneratorState {
  c: number;
  s0: number;
  s1: number;
  s2: number;
}

export class Generator {
  #rng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;
  readonly seed: number | string;

  constructor(seed: number | string = 0) {
    this.seed = seed;
    this.#rng = seedrandom.alea(String(seed), { state: true });
  }

  /** A uniform number in [0, 1). */
  random(): number {
    return this.#rng.double();
  }

  /** n uniform numbers in [low, high). */
  uniform(n: number, low = 0, high = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = low + (high - low) * this.#rng.double();
    return out;
  }

  /** n normal numbers (Box-Muller on pairs of uniforms). */
  normal(n: number, mean = 0, std = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i += 2) {
      // 1 - u keeps the log away from 0
      const r = Math.sqrt(-2 * Math.log(1 - this.#rng.double()));
      const theta = 2 * Math.PI * this.#rng.double();
      out[i] = mean + std * r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(theta);
    }
    return out;
  }

  /** n integers uniform in [low, high). */
  integers(n: number, low: number, high: number): Int32Array {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
      fail("randint", `needs integers low < high, got low=${low}, high=${high}`);
    }
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = low + Math.floor(this.#rng.double() * (high - low));
    return out;
  }

  /** The generator's state, to restore later with setState (exact resumption). */
  getState(): GeneratorState {
    return this.#rng.state();
  }

  setState(state: GeneratorState): void {
    this.#rng = seedrandom.alea("", { state });
  }
}

let globalGenerator = new Generator(0);

/** Reseeds the global generator that random factories and dropout use by default. */
export function manualSeed(seed: number | string): Generator {
  globalGenerator = new Generator(seed);
  return globalGenerator;
}

export function defaultGenerator(): Generator {
  return globalGenerator;
}

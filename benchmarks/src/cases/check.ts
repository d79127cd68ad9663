/**
 * @file Correctness before timing: every result is compared with the reference backend's before any
 * time is taken, and a mismatch becomes an error row instead of a time.
 *
 * tsgrad's backends are held to @tsgrad/core/testing's tolerance table (the same bounds as their own
 * tests). Peers compute in float32 with their own summation orders, so they are held to the classic
 * worst-case bound for float32 sums instead: n·2⁻²⁴ times the sum of the magnitudes added up (Higham's
 * γₙ), which a correct implementation cannot exceed and a wrong one exceeds by orders of magnitude.
 * Whole-layer outputs and losses get fixed bounds for both (see MODEL below).
 */

import { assertArrayClose, type OpClass, type Tolerance, tolerance } from "@tsgrad/core/testing";

/** The classes of tsgrad's table, plus the end-to-end values of the encoder and the autodiff chain. */
export type CheckClass = OpClass | "model" | "loss" | "lossDelta" | "chain";

export interface Check {
  name: string;
  cls: CheckClass;
  /** Per-element magnitude the relative tolerance multiplies (Σ|a||b| for matmul); |expected| without it. */
  scale?: Float32Array;
  /** How many terms each element sums (matmul's K, a reduction's length), for the peers' bound. */
  terms?: number;
  /** A floor for the absolute tolerance, where the check knows its own rounding (see encoderChecks). */
  atol?: number;
}

/** The unit roundoff of float32. */
export const U = 2 ** -24;

/**
 * A float32 layer computed in another order drifts by about 1e-6 relative per op; these bounds are ten
 * to fifty times what every correct participant showed here, and a wrong layer (a missing scale, a
 * transposed weight) misses them by far. The loss after one AdamW step moves by about lr·Σ|g|, so
 * comparing that change checks the gradients and the optimiser, not only the forward pass; the change
 * is a difference of two float32 means, so it also gets an absolute floor from their rounding.
 */
const MODEL: Record<"model" | "loss" | "lossDelta" | "chain", Tolerance> = {
  model: { atol: 1e-5, rtol: 1e-4 },
  loss: { atol: 1e-6, rtol: 1e-4 },
  lossDelta: { atol: 1e-6, rtol: 2e-3 },
  chain: { atol: 1e-9, rtol: 1e-3 },
};

/** The bound for a float32 peer: a rounding or two elementwise, a few ulp for library exp/erf, γₙ for sums. */
function peerTolerance(check: Check): Tolerance {
  switch (check.cls) {
    case "exact":
      return { atol: 0, rtol: 0 };
    case "elementwise":
      return { atol: 1e-7, rtol: 4 * U };
    case "transcendental":
      return { atol: 1e-6, rtol: 1e-5 };
    case "reduction":
    case "matmul":
      return { atol: 1e-6, rtol: Math.max(1e-5, (check.terms ?? 1) * U) };
    default:
      return MODEL[check.cls];
  }
}

/** The tolerance for a tsgrad backend (by name), or for a peer (null). */
export function toleranceFor(check: Check, backend: string | null): Tolerance {
  const base =
    check.cls in MODEL
      ? MODEL[check.cls as keyof typeof MODEL]
      : backend === null
        ? peerTolerance(check)
        : tolerance(backend, "float32", check.cls as OpClass);
  return check.atol === undefined ? base : { ...base, atol: Math.max(base.atol, check.atol) };
}

/**
 * Compares a participant's outputs with the expected ones; returns null when they agree and otherwise
 * a message naming the output and its worst element.
 */
export function compareOutputs(
  actual: Record<string, Float32Array>,
  expected: Record<string, Float32Array>,
  checks: Check[],
  backend: string | null,
): string | null {
  for (const check of checks) {
    const got = actual[check.name];
    if (!got) return `wrong answer: no output "${check.name}"`;
    try {
      assertArrayClose(got, expected[check.name], toleranceFor(check, backend), { scale: check.scale, what: check.name });
    } catch (e) {
      return `wrong answer: ${(e as Error).message}`;
    }
  }
  return null;
}

/** |x| elementwise, as the scale of an elementwise check. */
export function absOf(values: Float32Array): Float32Array {
  return values.map(Math.abs);
}

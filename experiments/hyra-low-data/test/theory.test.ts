/**
 * @file The theory's curve at a tiny size: a fit is the same numbers for the same seed, stops by the
 * tolerance or at its step cap and says which, each student recovers its own family's planted update
 * better than the family that does not contain it; and the log-log slope of an exact power law.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { fit, logLogSlope, THEORY_DEFAULTS } from "../src/theory.ts";

const TINY = { ...THEORY_DEFAULTS, d: 8, heads: 2, tokens: 4, r: 2, maxSteps: 300, testSize: 64 };

test("a fit is deterministic under its seed and reports how it stopped", async () => {
  const a = await fit("shared", "hyra", 32, 1, TINY);
  const b = await fit("shared", "hyra", 32, 1, TINY);
  assert.equal(a, b);
  assert.ok(a.steps <= TINY.maxSteps && a.steps % TINY.window === 0, String(a.steps));
  // a fit that stopped before its cap stopped because it met the tolerance
  if (a.steps < TINY.maxSteps) assert.ok(a.converged);
  assert.ok(Number.isFinite(a.testMse) && a.testMse > 0 && a.updateError > 0);
  const capped = await fit("shared", "hyra", 32, 1, { ...TINY, maxSteps: 50, tolerance: 0 });
  assert.equal([capped.steps, capped.converged], [50, false]);
});

test("on the control teacher (heads share nothing) MH-LoRA recovers the update better than LoRA", async () => {
  const mh = await fit("control", "mh-lora", 64, 2, TINY);
  const lora = await fit("control", "lora", 64, 2, TINY);
  assert.ok(mh.updateError < lora.updateError, `${mh.updateError} vs ${lora.updateError}`);
});

test("logLogSlope: −1/2 for y = 3/√x; fewer than two distinct x are refused", () => {
  const points = [64, 128, 256, 512].map((x) => ({ x, y: 3 / Math.sqrt(x) }));
  assert.ok(Math.abs(logLogSlope(points) + 0.5) < 1e-12);
  assert.throws(() => logLogSlope([{ x: 2, y: 1 }]), /at least two distinct x/);
});

test.run();

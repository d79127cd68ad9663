/**
 * @file The study's verdict on planted numbers, both ways: a paired t interval computed by hand, a planted
 * win reads REPRODUCED, a planted tie and a loss on all the data read NOT REPRODUCED, and the fraction at
 * which a method reaches LoRA's accuracy on all the data.
 */

import { aggregate, type RunOutcome } from "@tsgrad/training";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fractionToMatch, pairedDifferences, reproductionVerdict } from "../src/verdict.ts";

const SEEDS = [1, 2, 3, 4, 5];

/** LoRA at `base` per fraction, HyRA at base + the planted difference of each seed. */
function planted(base: Record<number, number>, gain: Record<number, readonly number[]>): RunOutcome[] {
  const runs: RunOutcome[] = [];
  for (const [f, acc] of Object.entries(base)) {
    const fraction = Number(f);
    SEEDS.forEach((seed, i) => {
      // the seed moves both methods alike (the same subset): pairing must cancel it
      const shift = 0.01 * seed;
      runs.push({ method: "lora", fraction, seed, accuracy: acc + shift });
      runs.push({ method: "hyra", fraction, seed, accuracy: acc + shift + gain[fraction][i] });
    });
  }
  return runs;
}

const BASE = { 1: 0.6, 5: 0.65, 10: 0.7, 25: 0.75, 100: 0.8 };
const WIN = [0.02, 0.04, 0.03, 0.05, 0.01];
const NOISE = [0.01, -0.01, 0, 0.005, -0.005];

test("the paired interval by hand: mean 0.03, sd 0.0158, t(0.975, 4) = 2.7764", () => {
  const [d] = pairedDifferences(planted({ 1: 0.6 }, { 1: WIN }), "hyra", "lora");
  const half = 2.7764451051977987 * (Math.sqrt(0.00025) / Math.sqrt(5));
  assert.is(d.n, 5);
  assert.ok(Math.abs(d.mean - 0.03) < 1e-12, String(d.mean));
  assert.ok(Math.abs(d.low - (0.03 - half)) < 1e-9, String(d.low));
  assert.ok(Math.abs(d.high - (0.03 + half)) < 1e-9, String(d.high));
});

test("a planted win at the small fractions and a tie at 100 % reads REPRODUCED", () => {
  const runs = planted(BASE, { 1: WIN, 5: WIN, 10: NOISE, 25: NOISE, 100: NOISE });
  const { verdict, why } = reproductionVerdict(pairedDifferences(runs, "hyra", "lora"));
  assert.is(verdict, "REPRODUCED", why);
  assert.match(why, /above 0 at 2 of the 3 smallest fractions/);
});

test("a planted tie reads NOT REPRODUCED", () => {
  const runs = planted(BASE, { 1: NOISE, 5: NOISE, 10: NOISE, 25: NOISE, 100: NOISE });
  assert.is(reproductionVerdict(pairedDifferences(runs, "hyra", "lora")).verdict, "NOT REPRODUCED");
});

test("one significant win is not enough, and a significant loss at 100 % undoes three", () => {
  const one = planted(BASE, { 1: WIN, 5: NOISE, 10: NOISE, 25: NOISE, 100: NOISE });
  assert.is(reproductionVerdict(pairedDifferences(one, "hyra", "lora")).verdict, "NOT REPRODUCED");
  const loss = WIN.map((w) => -w);
  const undone = planted(BASE, { 1: WIN, 5: WIN, 10: WIN, 25: NOISE, 100: loss });
  const { verdict, why } = reproductionVerdict(pairedDifferences(undone, "hyra", "lora"));
  assert.is(verdict, "NOT REPRODUCED");
  assert.match(why, /100 %: −3\.0 \[.*\], below 0$/);
  // the same numbers the other way round: lora's loss at the small fractions is no win
  assert.is(reproductionVerdict(pairedDifferences(undone, "lora", "hyra")).verdict, "NOT REPRODUCED");
});

test("one seed gives no interval, so no verdict of a win; no runs at 100 % neither", () => {
  const single = planted(BASE, { 1: WIN, 5: WIN, 10: WIN, 25: WIN, 100: WIN }).filter((r) => r.seed === 1);
  const diffs = pairedDifferences(single, "hyra", "lora");
  assert.ok(diffs.every((d) => d.n === 1 && Number.isNaN(d.low)));
  assert.is(reproductionVerdict(diffs).verdict, "NOT REPRODUCED");
  const noFull = planted({ 1: 0.6, 5: 0.65, 10: 0.7 }, { 1: WIN, 5: WIN, 10: WIN });
  const { verdict, why } = reproductionVerdict(pairedDifferences(noFull, "hyra", "lora"));
  assert.is(verdict, "NOT REPRODUCED");
  assert.match(why, /^no paired runs at 100 %/);
  assert.throws(() => pairedDifferences(noFull, "hyra", "lora", 1), /level must be in \(0, 1\), got 1/);
});

test("the fraction needed to reach LoRA's accuracy on all the data", () => {
  const runs = planted(BASE, { 1: NOISE, 5: NOISE, 10: NOISE, 25: [0.06, 0.05, 0.05, 0.04, 0.05], 100: WIN });
  const cells = aggregate(runs);
  assert.is(fractionToMatch(cells, "hyra", "lora"), 25);
  assert.is(fractionToMatch(cells, "lora", "lora"), 100);
  assert.is(
    fractionToMatch(
      cells.filter((c) => c.fraction < 100 || c.method === "lora"),
      "hyra",
      "lora",
    ),
    25,
  );
  assert.is(
    fractionToMatch(
      cells.filter((c) => c.method === "hyra"),
      "hyra",
      "lora",
    ),
    null,
  );
});

test.run();

/**
 * @file The split machinery on a synthetic task: held-out groups, capped and stratified held-out sets,
 * and nested, stratified, seeded training subsets that depend on nothing but the seed and the fraction.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { apportion, classQuota, countLabels, type Example, FRACTIONS, shuffled, splitTask } from "../src/split.ts";

// 3 classes, unbalanced (60 % / 30 % / 10 % of the groups), groups of 1 to 12 examples
function synthetic(): Example[] {
  const out: Example[] = [];
  for (let g = 0; g < 200; g++) {
    const label = g % 10 < 6 ? "a" : g % 10 < 9 ? "b" : "c";
    for (let k = 0; k < 1 + (g % 12); k++) out.push({ text: `g${g} #${k}`, label, group: `g${g}` });
  }
  return out;
}
const SPEC = { testGroups: 0.2, validationGroups: 0.1, testSize: 150, validationSize: 80 };
const task = splitTask("synthetic", ["a", "b", "c"], synthetic(), SPEC);
const byText = (x: Example, y: Example) => (x.text < y.text ? -1 : x.text > y.text ? 1 : 0);

test("apportion splits a total in proportion, summing exactly", () => {
  assert.equal(apportion(10, [1, 1, 1]), [4, 3, 3]);
  assert.equal(apportion(100, [50, 30, 20]), [50, 30, 20]);
  assert.equal(apportion(7, [0, 5, 0]), [0, 7, 0]);
  assert.equal(
    apportion(2000, [18407, 18249]).reduce((a, b) => a + b),
    2000,
  );
});

test("classQuota takes at least one example and all of them at fraction 1", () => {
  assert.is(classQuota(30, 0.01), 1);
  assert.is(classQuota(300, 0.01), 3);
  assert.is(classQuota(7, 1), 7);
  assert.is(classQuota(0, 0.5), 0);
});

test("groups sit on one side only; held-out sets are capped, stratified and drawn from their groups", () => {
  const { test: t, validation: v, pool: p } = task.groups;
  const all = [...t, ...v, ...p];
  assert.is(new Set(all).size, all.length, "a group on two sides");
  assert.is(all.length, 200);
  assert.is(task.test.length, 150);
  assert.is(task.validation.length, 80);
  for (const [examples, groups] of [
    [task.test, t],
    [task.validation, v],
    [task.pool, p],
  ] as const) {
    const allowed = new Set(groups);
    for (const e of examples) assert.ok(allowed.has(e.group), `${e.group} outside its split`);
  }
  assert.is(task.pool.length, synthetic().filter((e) => p.includes(e.group)).length, "the pool holds every example of its groups");
  // the classes' shares of the whole data set, to within one example
  const whole = countLabels(synthetic(), task.labels);
  const total = synthetic().length;
  const counts = countLabels(task.test, task.labels);
  for (const l of task.labels) assert.ok(Math.abs(counts[l] - (150 * whole[l]) / total) <= 1, `test share of ${l}`);
  // spread over the held-out groups, not taken from a few
  assert.ok(new Set(task.test.map((e) => e.group)).size >= 0.8 * t.length);
});

test("subsets are nested across the fractions and stratified, with every class present", () => {
  const pool = countLabels(task.pool, task.labels);
  for (const seed of [0, 1, "run-7"]) {
    let previous = new Set<Example>();
    for (const f of FRACTIONS) {
      const s = task.subset(seed, f);
      const here = new Set(s);
      assert.is(here.size, s.length, "an example twice");
      for (const e of previous) assert.ok(here.has(e), `subset ${f} of seed ${seed} misses an example of the smaller one`);
      const counts = countLabels(s, task.labels);
      for (const l of task.labels) {
        assert.ok(counts[l] >= 1, `no ${l} at fraction ${f}`);
        assert.is(counts[l], classQuota(pool[l], f), `${l} at fraction ${f}`);
      }
      previous = here;
    }
    assert.equal(task.subset(seed, 1), [...task.pool], "fraction 1 is the pool");
  }
});

test("a subset is a pure function of seed and fraction: deterministic, independent of call history", () => {
  const first = task.subset(3, 0.1);
  for (const f of FRACTIONS) task.subset(99, f);
  assert.equal(task.subset(3, 0.1), first);
  const rebuilt = splitTask("synthetic", ["a", "b", "c"], synthetic(), SPEC);
  assert.equal(rebuilt.subset(3, 0.1), first, "a task built again gives the same subset");
  assert.equal(rebuilt.test, task.test);
  assert.not.equal(task.subset(4, 0.1), first, "another seed, another subset");
  // in pool order
  const position = new Map(task.pool.map((e, i) => [e, i]));
  const ranks = first.map((e) => position.get(e)!);
  assert.equal(
    ranks,
    [...ranks].sort((a, b) => a - b),
  );
});

test("a run's training order is its subset shuffled by the same seed, and differs between seeds", () => {
  const order = task.trainingOrder(3, 0.25);
  assert.equal(order, shuffled(task.subset(3, 0.25), 3));
  assert.equal([...order].sort(byText), [...task.subset(3, 0.25)].sort(byText), "a permutation of the subset");
  assert.equal(task.trainingOrder(3, 0.25), order, "deterministic");
  // the whole pool for two seeds: the same examples, in other orders
  const [three, four] = [3, 4].map((seed) => task.trainingOrder(seed, 1).map((e) => e.text));
  assert.equal([...three].sort(), [...four].sort());
  assert.not.equal(three, four);
});

test("the held-out sets come from the split seed and the task's name (no run seed reaches them)", () => {
  const other = splitTask("synthetic-2", ["a", "b", "c"], synthetic(), SPEC);
  assert.not.equal(other.groups.test, task.groups.test);
});

test("bad arguments are refused with what was given", () => {
  assert.throws(() => task.subset(0, 0), /fraction must be a number in \(0, 1\], got 0/);
  assert.throws(() => task.subset(0, 1.5), /got 1.5/);
  assert.throws(() => task.subset(Number.NaN, 0.1), /seed must be a finite number or a string, got NaN/);
  assert.throws(
    () =>
      splitTask(
        "mixed",
        ["a", "b"],
        [
          { text: "x", label: "a", group: "g" },
          { text: "y", label: "b", group: "g" },
        ],
        SPEC,
      ),
    /group g has labels a and b/,
  );
  assert.throws(() => splitTask("unknown", ["a"], [{ text: "x", label: "z", group: "g" }], SPEC), /unknown label z/);
});

test("returned sets are frozen, so the process-wide cache cannot be edited by a caller", () => {
  assert.ok(Object.isFrozen(task.test));
  assert.ok(Object.isFrozen(task.pool));
  assert.ok(Object.isFrozen(task.groups.pool));
});

test("shuffled is a seeded permutation", () => {
  const xs = Array.from({ length: 50 }, (_, i) => i);
  assert.equal(shuffled(xs, 5), shuffled(xs, 5));
  assert.not.equal(shuffled(xs, 5), shuffled(xs, 6));
  assert.equal(
    [...shuffled(xs, 5)].sort((a, b) => a - b),
    xs,
  );
});

test.run();

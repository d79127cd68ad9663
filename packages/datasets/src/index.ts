/**
 * @file The studies' data, as plain JavaScript (texts and label names; tokenization is @tsgrad/models'
 * job): pretraining text, and three downstream tasks with fixed test and validation sets and nested,
 * stratified training subsets. Every loader reads its package's files once per process.
 *
 *     const task = sotuParty();
 *     for (const fraction of FRACTIONS) train(task.subset(seed, fraction), task.validation);
 */

export { BROWN_LABELS, type BrownDocument, brownDocuments, brownGenre } from "./brown.ts";
export { emailBody } from "./mime.ts";
export { DATA_PACKAGES, dataPackageVersions, loadTimes } from "./packages.ts";
export { PRETRAINING_CORPORA, type PretrainingCorpus, type PretrainingText, pretrainingText } from "./pretraining.ts";
export { SOTU_LABELS, type Speech, sotuParty, sotuSpeeches } from "./sotu.ts";
export { type RawEmail, SPAM_LABELS, SPAM_MAX_CHARS, spamAssassin, spamAssassinEmails, spamText } from "./spam.ts";
export { countLabels, type Example, FRACTIONS, SPLIT_SEED, shuffled, type Task } from "./split.ts";

import { brownGenre } from "./brown.ts";
import { sotuParty } from "./sotu.ts";
import { spamAssassin } from "./spam.ts";
import type { Task } from "./split.ts";

export const TASKS = { "sotu-party": sotuParty, spam: spamAssassin, "brown-genre": brownGenre } as const;
export type TaskName = keyof typeof TASKS;

/** A downstream task by name. */
export function loadTask(name: TaskName): Task {
  const load = TASKS[name];
  if (load === undefined) throw new RangeError(`loadTask: unknown task ${String(name)}, expected one of ${Object.keys(TASKS).join(", ")}`);
  return load();
}

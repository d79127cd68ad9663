/**
 * @file Plain-text helpers shared by the loaders: whitespace, sentences, and short chunks of whole
 * sentences under a character budget.
 */

/** Every run of whitespace becomes one space; the ends are trimmed. */
export function squeeze(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** `text` cut to at most `maxChars` characters, at the last space if one is near the end (a word of up to 32). */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.lastIndexOf(" ", maxChars);
  return (cut > 0 && maxChars - cut <= Math.min(32, maxChars / 2) ? text.slice(0, cut) : text.slice(0, maxChars)).trimEnd();
}

/** Pieces of at most `maxChars` characters, broken at spaces (hard-cut only inside a longer word). */
export function wrap(text: string, maxChars: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const piece = truncate(rest, maxChars);
    out.push(piece);
    rest = rest.slice(piece.length).trimStart();
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

// A period after one of these (or after a single capital, an initial) does not end a sentence.
const ABBREVIATIONS = new Set(
  (
    "mr mrs ms messrs dr st gen gov sen rep hon jr sr no nos vol co corp inc ltd bros vs etc esq rev col capt lt maj " +
    "adm cmdr sec dept art ch ft mt jan feb mar apr aug sept sep oct nov dec u.s u.s.a i.e e.g viz cf pp p op"
  ).split(" "),
);

/** Sentences of a squeezed text: ends at . ! ? (and closing quotes) before a capital, a digit or a quote. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  const end = /[.!?]+["'”’)\]]*\s+(?=["'“‘([]*[A-Z0-9])/g;
  let start = 0;
  for (let m = end.exec(text); m !== null; m = end.exec(text)) {
    const before = text.slice(start, m.index + 1);
    const word = /([A-Za-z.]+)\.$/.exec(before)?.[1] ?? "";
    if (text[m.index] === "." && (ABBREVIATIONS.has(word.toLowerCase()) || /^[A-Z]$/.test(word))) continue;
    out.push(text.slice(start, m.index + m[0].length).trim());
    start = m.index + m[0].length;
  }
  const last = text.slice(start).trim();
  if (last.length > 0) out.push(last);
  return out;
}

export interface ChunkSpec {
  /** At most this many characters per chunk. */
  maxChars: number;
  /** At most this many sentences per chunk. */
  maxSentences: number;
  /** Shorter chunks are dropped ("Thank you." alone says nothing about a party). */
  minChars: number;
}

/**
 * Consecutive sentences packed greedily into chunks of at most `maxSentences` sentences and `maxChars`
 * characters; a sentence longer than `maxChars` is wrapped into pieces of its own.
 */
export function chunkSentences(sentences: readonly string[], spec: ChunkSpec): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let length = 0;
  const flush = () => {
    if (current.length > 0) out.push(current.join(" "));
    current = [];
    length = 0;
  };
  for (const s of sentences) {
    if (s.length > spec.maxChars) {
      flush();
      out.push(...wrap(s, spec.maxChars));
      continue;
    }
    const grown = length === 0 ? s.length : length + 1 + s.length;
    if (grown > spec.maxChars || current.length === spec.maxSentences) flush();
    current.push(s);
    length = length === 0 ? s.length : length + 1 + s.length;
  }
  flush();
  return out.filter((c) => c.length >= spec.minChars);
}

/**
 * @file CharTokenizer: one token per character of the corpus (nanoGPT's shakespeare_char), where a
 * character is a Unicode code point, so "é" and "😀" are one token each. Ids follow code-point order,
 * which makes the vocabulary of a corpus the same on every run.
 */

import { describeValue, fail } from "@tsgrad/core";

/** The most characters a vocabulary may hold (a file with more is refused before anything is built). */
export const MAX_CHARS = 1 << 16;

export interface CharTokenizerJson {
  type: "char";
  /** Id → character: each entry one code point, no two alike. */
  chars: string[];
}

export class CharTokenizer {
  readonly type = "char";
  /** Id → character. */
  readonly chars: readonly string[];
  #ids: Map<string, number>;

  constructor(chars: readonly string[]) {
    if (!Array.isArray(chars)) fail("CharTokenizer", "expected an array of characters");
    if (chars.length === 0 || chars.length > MAX_CHARS) {
      fail("CharTokenizer", `a vocabulary holds 1 to ${MAX_CHARS} characters, got ${chars.length}`);
    }
    this.chars = [...chars];
    this.#ids = new Map();
    this.chars.forEach((c, id) => {
      if (typeof c !== "string" || [...c].length !== 1) fail("CharTokenizer", `entry ${id} must be one character, got ${describeValue(c)}`);
      if (this.#ids.has(c)) fail("CharTokenizer", `character ${JSON.stringify(c)} appears twice (ids ${this.#ids.get(c)} and ${id})`);
      this.#ids.set(c, id);
    });
  }

  /** The vocabulary of a corpus: its distinct characters in code-point order. */
  static fromText(text: string): CharTokenizer {
    if (typeof text !== "string" || text.length === 0) fail("CharTokenizer.fromText", "needs a non-empty string");
    const codePoint = (c: string) => c.codePointAt(0) as number;
    return new CharTokenizer([...new Set(text)].sort((a, b) => codePoint(a) - codePoint(b)));
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  encode(text: string): number[] {
    if (typeof text !== "string") fail("CharTokenizer.encode", `expected a string, got ${typeof text}`);
    const ids: number[] = [];
    for (const c of text) {
      const id = this.#ids.get(c);
      if (id === undefined) {
        const code = `U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0")}`;
        fail("CharTokenizer.encode", `${JSON.stringify(c)} (${code}) is not among the ${this.vocabSize} characters of the vocabulary`);
      }
      ids.push(id);
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    return ids
      .map((id) => {
        if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize))
          fail("CharTokenizer.decode", `id ${id} is not in [0, ${this.vocabSize})`);
        return this.chars[id];
      })
      .join("");
  }

  toJSON(): CharTokenizerJson {
    return { type: "char", chars: [...this.chars] };
  }
}

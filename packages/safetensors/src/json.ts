/**
 * @file A strict JSON parser for the safetensors header. It is written by hand because JSON.parse reads a
 * header in ways that let a file mean one thing here and another elsewhere:
 *
 * - duplicate keys: JSON.parse (like the reference's serde) keeps the last of two equal keys, so a tensor
 *   named twice, or a second `data_offsets` in one entry, would vanish unseen; here it is DUPLICATE_NAME;
 * - exact offsets: JSON.parse makes every number a double, so `16.0` or `1.6e1` would pass as the size 16,
 *   and an offset past 2^53 would round to a neighbour and point at other bytes; here a number stays its
 *   text, and header.ts accepts only plain integer literals that a double holds exactly;
 * - depth: JSON.parse recurses without a bound on a hostile `[[[[...`; here nesting deeper than any valid
 *   header is refused before recursing.
 *
 * Objects keep their entries in file order, and a syntax error names the character where it is.
 */

import { refuse } from "./errors.ts";

/** A JSON number kept as its text, so that `1.0`, `1e3` and `-0` can be told from sizes. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** A JSON object as its entries in file order; duplicates were refused while parsing. */
export class JsonObject {
  constructor(readonly entries: [string, JsonValue][]) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** A valid header nests three deep ({name: {shape: [..]}}); anything deeper is refused before recursing. */
const MAX_DEPTH = 4;

/** Parses one header's text; every refusal is an INVALID_JSON or DUPLICATE_NAME naming `file`. */
export class HeaderParser {
  private pos = 0;
  private readonly path: string[] = [];

  constructor(
    private readonly text: string,
    private readonly file: string | undefined,
  ) {}

  parse(): JsonValue {
    this.skipSpace();
    const value = this.value(0);
    this.skipSpace();
    if (this.pos < this.text.length) this.syntax("the end of the header");
    return value;
  }

  private syntax(expected: string): never {
    const found = this.pos < this.text.length ? JSON.stringify(this.text.slice(this.pos, this.pos + 12)) : "the end of the header";
    refuse("INVALID_JSON", this.file, `the header is not valid JSON: expected ${expected} at character ${this.pos}, found ${found}`);
  }

  private skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  private value(depth: number): JsonValue {
    const c = this.text[this.pos];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) {
        refuse(
          "INVALID_JSON",
          this.file,
          `the header nests deeper than ${MAX_DEPTH} levels at character ${this.pos}; a valid header nests 3`,
        );
      }
      return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.syntax("a value");
  }

  private object(depth: number): JsonObject {
    this.pos++; // {
    const entries: [string, JsonValue][] = [];
    const seen = new Set<string>();
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return new JsonObject(entries);
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.syntax("a quoted key");
      const key = this.string();
      if (seen.has(key)) {
        const where = this.path.length === 0 ? "the header" : `the entry for ${JSON.stringify(this.path[0])}`;
        refuse("DUPLICATE_NAME", this.file, `${JSON.stringify(key)} appears twice in ${where}; names must be unique`);
      }
      seen.add(key);
      this.skipSpace();
      if (this.text[this.pos] !== ":") this.syntax('":"');
      this.pos++;
      this.skipSpace();
      this.path.push(key);
      entries.push([key, this.value(depth)]);
      this.path.pop();
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === "}") return new JsonObject(entries);
      if (next !== ",") {
        this.pos--;
        this.syntax('"," or "}"');
      }
    }
  }

  private array(depth: number): JsonValue[] {
    this.pos++; // [
    const items: JsonValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipSpace();
      items.push(this.value(depth));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === "]") return items;
      if (next !== ",") {
        this.pos--;
        this.syntax('"," or "]"');
      }
    }
  }

  private number(): JsonNumber {
    const match = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    match.lastIndex = this.pos;
    const m = match.exec(this.text);
    if (!m) return this.syntax("a number");
    this.pos += m[0].length;
    return new JsonNumber(m[0]);
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = "";
    let start = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.syntax('a closing "');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(start, this.pos++);
        return out;
      }
      if (c < 0x20) this.syntax("no raw control character inside a string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(start, this.pos);
      const e = t[this.pos + 1];
      this.pos += 2;
      if (e !== undefined && Object.hasOwn(SIMPLE_ESCAPES, e)) out += SIMPLE_ESCAPES[e];
      else if (e === "u") out += this.unicodeEscape();
      else {
        this.pos -= 2;
        this.syntax("a valid escape");
      }
      start = this.pos;
    }
  }

  /** \uXXXX, pairing surrogates: a lone one cannot be a name in UTF-8, and the reference refuses it too. */
  private unicodeEscape(): string {
    const unit = this.hex4();
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
    if (unit <= 0xdbff && this.text.startsWith("\\u", this.pos)) {
      this.pos += 2;
      const low = this.hex4();
      if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
      this.pos -= 6;
    }
    return this.syntax("a surrogate pair (a lone surrogate is not Unicode)");
  }

  private hex4(): number {
    const digits = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.syntax("four hex digits");
    this.pos += 4;
    return Number.parseInt(digits, 16);
  }
}

/** A JSON value as an error message names it. */
export function describeJson(value: JsonValue): string {
  if (value === null) return "null";
  if (value instanceof JsonNumber) return `the number ${value.text}`;
  if (value instanceof JsonObject) return "an object";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return String(value);
}

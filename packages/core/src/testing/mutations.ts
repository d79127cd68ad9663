/**
 * @file Corruptions of valid files for the fuzz tests of every loader: one edit of a JSON text (a
 * character, a cut, a field's value, a new field) or of a safetensors file (a byte, a cut, bytes added,
 * an edit of its header's text or of its length). Each arbitrary draws an edit, each mutate applies it;
 * a test reduces a short list of edits over a valid file and checks what the loader makes of it.
 */

import fc from "fast-check";

/** One edit of a JSON text. */
export type JsonMutation =
  | { kind: "char"; at: number; text: string }
  | { kind: "delete"; at: number }
  | { kind: "truncate"; at: number }
  | { kind: "value"; at: number; value: unknown }
  | { kind: "field"; name: string; value: unknown };

const SPECIAL_VALUES = [1e308, -1, 0, 1.5, Number.MAX_SAFE_INTEGER, "x", "", "((.+)+)+z", "[", "(?=q)", null, true, [], {}, ["q", 1], [-1]];
const valueArb = fc.oneof(fc.constantFrom(...SPECIAL_VALUES), fc.jsonValue({ maxDepth: 2 }));

/** Edits of a JSON text; `fieldNames` are field names worth trying besides the usual suspects (__proto__, ...). */
export function jsonMutationArb(fieldNames: readonly string[] = []): fc.Arbitrary<JsonMutation> {
  return fc.oneof(
    fc.record({
      kind: fc.constant("char" as const),
      at: fc.nat(),
      text: fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "\\", "0", "-", "e", "\u0000", "é", " "),
    }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("value" as const), at: fc.nat(), value: valueArb }),
    fc.record({
      kind: fc.constant("field" as const),
      name: fc.oneof(
        fc.constantFrom("constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "foo", ...fieldNames),
        fc.string({ maxLength: 6 }),
      ),
      value: valueArb,
    }),
  );
}

/** The text with one edit applied (an edit of a field's value needs the text to parse as an object: else it is left). */
export function mutateJson(text: string, m: JsonMutation): string {
  switch (m.kind) {
    case "char": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.text + text.slice(at + 1);
    }
    case "delete": {
      const at = m.at % Math.max(text.length, 1);
      return text.slice(0, at) + text.slice(at + 1);
    }
    case "truncate":
      return text.slice(0, m.at % (text.length + 1));
    case "value":
    case "field": {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return text;
      }
      if (json === null || typeof json !== "object" || Array.isArray(json)) return text;
      const keys = Object.keys(json);
      const key = m.kind === "field" ? m.name : keys[m.at % Math.max(keys.length, 1)];
      if (key === undefined) return text;
      // a key such as __proto__ must become an own field of the text, as a hostile file would write it
      const rest = Object.entries(json).filter(([k]) => k !== key);
      return `{${[...rest, [key, m.value]].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`).join(",")}}`;
    }
  }
}

/** One corruption of a safetensors file. */
export type SafetensorsMutation =
  | { kind: "byte"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "extend"; bytes: Uint8Array }
  | { kind: "header-digit"; at: number; digit: string }
  | { kind: "header-delete"; at: number }
  | { kind: "header-insert"; at: number; text: string }
  | { kind: "length"; delta: number };

export const safetensorsMutationArb: fc.Arbitrary<SafetensorsMutation> = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("extend" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    kind: fc.constant("header-digit" as const),
    at: fc.nat(),
    digit: fc.constantFrom("0", "1", "7", "9", "99999999999", "-", ".5", "e9"),
  }),
  fc.record({ kind: fc.constant("header-delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("header-insert" as const),
    at: fc.nat(),
    text: fc.constantFrom(",", "{", "}", "[", "]", '"', "\\", " ", "0", ':""', "\u00e9"),
  }),
  fc.record({ kind: fc.constant("length" as const), delta: fc.integer({ min: -16, max: 16 }) }),
);

/** A safetensors file of this header text and data: the header's length (8 bytes, little-endian), the header, the data. */
function withHeader(header: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The file with one corruption applied. */
export function mutateSafetensors(valid: Uint8Array, m: SafetensorsMutation): Uint8Array {
  // an earlier mutation may have cut the file shorter than its header: edit its bytes only
  const n = valid.length >= 8 ? new DataView(valid.buffer, valid.byteOffset).getUint32(0, true) : Number.POSITIVE_INFINITY;
  if (8 + n > valid.length && m.kind.startsWith("header")) return valid;
  const header = new TextDecoder().decode(valid.subarray(8, 8 + n));
  const data = valid.subarray(8 + n);
  switch (m.kind) {
    case "byte": {
      const out = valid.slice();
      if (out.length > 0) out[m.at % out.length] = m.value;
      return out;
    }
    case "truncate":
      return valid.slice(0, m.at % Math.max(valid.length, 1));
    case "extend":
      return Uint8Array.from([...valid, ...m.bytes]);
    case "header-digit": {
      // replace one number of the header (an offset, a dimension, a length) with another
      const numbers = [...header.matchAll(/[0-9]+/g)];
      if (numbers.length === 0) return valid;
      const hit = numbers[m.at % numbers.length];
      return withHeader(header.slice(0, hit.index) + m.digit + header.slice(hit.index + hit[0].length), data);
    }
    case "header-delete": {
      const at = m.at % Math.max(header.length, 1);
      return withHeader(header.slice(0, at) + header.slice(at + 1), data);
    }
    case "header-insert": {
      const at = m.at % (header.length + 1);
      return withHeader(header.slice(0, at) + m.text + header.slice(at), data);
    }
    case "length": {
      if (valid.length < 8) return valid;
      const out = valid.slice();
      new DataView(out.buffer).setUint32(0, Math.max(0, n + m.delta), true);
      return out;
    }
  }
}

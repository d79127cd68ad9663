/**
 * @file The safetensors format: the spec's test vector and the reference implementation's own byte vectors
 * and golden files, F16/BF16 decoding, a byte-exact writer, a round-trip property, every validation error,
 * and a fuzz property over random and mutated buffers that must end in SafetensorsError and nothing else.
 */

import { readFileSync } from "node:fs";
import { type DType, sizeOf, TsgradError, type TypedArray } from "@tsgrad/core";
import { assertSameNumbers, checkProperty, fuzzSize, mutateSafetensors, safetensorsMutationArb, shapeArb } from "@tsgrad/core/testing";
import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  bfloat16ToNumber,
  decodeTensor,
  encodeValues,
  float16ToNumber,
  naturalDType,
  parseSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsErrorCode,
  serializeSafetensors,
  type WritableDType,
  writableDType,
} from "../src/index.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

// ---- helpers --------------------------------------------------------------------------------------------

const utf8 = (text: string) => new TextEncoder().encode(text);

/** A file from a header text and data bytes, with the header length as given (default: the text's). */
function file(header: string | Uint8Array, data: ArrayLike<number> = [], length?: number | bigint): Uint8Array {
  const json = typeof header === "string" ? utf8(header) : header;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectError(code: SafetensorsErrorCode, fn: () => unknown, pattern?: RegExp): SafetensorsError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SafetensorsError))
      throw new Error(`expected SafetensorsError ${code}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.is(e.code, code, `code for: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  throw new Error(`expected SafetensorsError ${code}, but nothing was thrown`);
}

/** Parses and decodes every tensor in its natural dtype: everything a load does with the bytes. */
function readAll(bytes: Uint8Array, name?: string): Map<string, TypedArray> {
  const parsed = parseSafetensors(bytes, { file: name });
  return new Map([...parsed.tensors].map(([n, t]) => [n, decodeTensor(t, naturalDType(t.dtype), { name: n, file: name })]));
}

/** The expected-value spelling of generate-golden.py: exact decimal, "nan", "inf", "-inf". */
function goldenNumber(text: string): number {
  if (text === "nan") return Number.NaN;
  if (text === "inf") return Number.POSITIVE_INFINITY;
  if (text === "-inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

interface Golden {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: SafetensorsDType; shape: number[]; values: string[] }>;
}

function golden(stem: string): { bytes: Uint8Array; expected: Golden } {
  return {
    bytes: new Uint8Array(readFileSync(new URL(`${stem}.safetensors`, FIXTURES))),
    expected: JSON.parse(readFileSync(new URL(`${stem}.json`, FIXTURES), "utf8")),
  };
}

/** An independent spelling of code-point order: compare the arrays of code points. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

const TYPED: Record<WritableDType, (values: number[]) => TypedArray> = {
  F64: (v) => Float64Array.from(v),
  F32: (v) => Float32Array.from(v),
  I32: (v) => Int32Array.from(v),
  BOOL: (v) => Uint8Array.from(v),
};

// ---- the spec's and the reference's vectors ------------------------------------------------------------

const vectors = suite("reference vectors");

// the test vector of the format's documentation (safetensors/src/tensor.rs, SafeTensors::deserialize)
const SPEC_HEADER = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';

vectors("the spec's test vector: a 60-byte unpadded header and 16 zero bytes", () => {
  const bytes = file(SPEC_HEADER, new Uint8Array(16));
  assert.equal([...bytes.subarray(0, 8)], [60, 0, 0, 0, 0, 0, 0, 0]); // b"<\0\0\0\0\0\0\0"
  assert.is(bytes.length, 84);
  const parsed = parseSafetensors(bytes);
  assert.is(parsed.metadata, null);
  assert.equal([...parsed.tensors.keys()], ["test"]);
  const t = parsed.tensors.get("test")!;
  assert.is(t.dtype, "I32");
  assert.equal(t.shape, [2, 2]);
  assert.equal([...decodeTensor(t)], [0, 0, 0, 0]);
});

// byte arrays asserted by the reference's unit tests (safetensors/src/tensor.rs, mod tests)
const F32_0_TO_5 = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];

vectors("test_serialization: attn.0, F32 [1,2,3], 0..5", () => {
  // biome-ignore format: the reference's byte vector, as compact as in its source
  const expected = [
    64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58,
    34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97,
    95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125,
    ...F32_0_TO_5,
  ];
  const out = serializeSafetensors({
    "attn.0": { dtype: "F32", shape: [1, 2, 3], data: encodeValues(Float32Array.from([0, 1, 2, 3, 4, 5]), "F32") },
  });
  assert.equal([...out], expected);
  assertSameNumbers(readAll(out).get("attn.0")!, [0, 1, 2, 3, 4, 5], "attn.0");
});

vectors("test_serialization_forced_alignement: the header is padded with spaces to a multiple of 8", () => {
  // biome-ignore format: the reference's byte vector, as compact as in its source
  const expected = [
    72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
    70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116,
    97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32,
    ...F32_0_TO_5,
  ];
  const out = serializeSafetensors({
    attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: encodeValues(Float32Array.from([0, 1, 2, 3, 4, 5]), "F32") },
  });
  assert.equal([...out], expected);
});

vectors("test_empty: no tensors, with and without metadata", () => {
  assert.equal([...serializeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  const withMetadata = serializeSafetensors({}, { framework: "pt" });
  assert.equal(
    [...withMetadata],
    [
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119,
      111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ],
  );
  assert.equal(parseSafetensors(withMetadata).metadata, { framework: "pt" });
});

vectors("golden reference-dtypes.safetensors (written by safetensors 0.8.0): every dtype decodes to numpy's values", () => {
  const { bytes, expected } = golden("reference-dtypes");
  const parsed = parseSafetensors(bytes, { file: "reference-dtypes.safetensors" });
  assert.equal(parsed.metadata, expected.metadata);
  assert.equal([...parsed.tensors.keys()].sort(), Object.keys(expected.tensors).sort());
  for (const [name, want] of Object.entries(expected.tensors)) {
    const t = parsed.tensors.get(name)!;
    assert.is(t.dtype, want.dtype, name);
    assert.equal(t.shape, want.shape, name);
    // float64 holds every stored value exactly (the 64-bit integers here are within ±(2^53 - 1))
    assertSameNumbers(decodeTensor(t, "float64", { name }), want.values.map(goldenNumber), name);
  }
  // and in their natural dtypes: 16-bit floats as float32, small integers as int32
  const f16 = parsed.tensors.get("f16")!;
  assertSameNumbers(decodeTensor(f16), Float32Array.from(expected.tensors.f16.values.map(goldenNumber)), "f16 as float32");
  const i8 = decodeTensor(parsed.tensors.get("i8")!);
  assert.ok(i8 instanceof Int32Array);
  assertSameNumbers(i8, [-128, 127, 0, -1], "i8");
  const flags = decodeTensor(parsed.tensors.get("bool")!);
  assert.ok(flags instanceof Uint8Array);
  assertSameNumbers(flags, [1, 0, 1], "bool");
});

vectors("golden reference-writer.safetensors (written by safetensors 0.8.0): the writer reproduces it byte for byte", () => {
  const { bytes, expected } = golden("reference-writer");
  const tensors = new Map(
    Object.entries(expected.tensors).map(([name, t]) => {
      const dtype = t.dtype as WritableDType;
      return [name, { dtype, shape: t.shape, data: encodeValues(TYPED[dtype](t.values.map(goldenNumber)), dtype) }];
    }),
  );
  const out = serializeSafetensors(tensors, expected.metadata);
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  // compare the header as text first: a difference there is far easier to read
  assert.is(new TextDecoder().decode(out.subarray(8, 8 + n)), new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.equal([...out], [...bytes]);
});

// ---- 16-bit floats ----------------------------------------------------------------------------------------

const halves = suite("F16 and BF16 decoding");

halves("F16: zeros, subnormals, normals, extremes, infinities and NaN", () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal: 1 × 2^-24
    [0x8001, -(2 ** -24)],
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 1365 / 4096], // (1 + 341/1024) × 2^-2, the nearest half to 1/3
    [0x7bff, 65504], // (2 - 2^-10) × 2^15, the largest half
    [0x7c00, Number.POSITIVE_INFINITY],
    [0xfc00, Number.NEGATIVE_INFINITY],
  ];
  for (const [bits, value] of cases)
    assert.ok(Object.is(float16ToNumber(bits), value), `0x${bits.toString(16)} -> ${float16ToNumber(bits)}, expected ${value}`);
  for (const bits of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) assert.ok(Number.isNaN(float16ToNumber(bits)), `0x${bits.toString(16)} is NaN`);
});

halves("BF16: the top half of a float32, subnormals included", () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -133], // smallest subnormal: 2^-126 × 2^-7
    [0x007f, 127 * 2 ** -133], // largest subnormal
    [0x0080, 2 ** -126], // smallest normal
    [0x3f80, 1],
    [0xc020, -2.5],
    [0x3eab, 0.333984375], // (1 + 43/128) × 2^-2
    [0x7f7f, 255 * 2 ** 120], // (2 - 2^-7) × 2^127, the largest bfloat16
    [0x7f80, Number.POSITIVE_INFINITY],
    [0xff80, Number.NEGATIVE_INFINITY],
  ];
  for (const [bits, value] of cases)
    assert.ok(Object.is(bfloat16ToNumber(bits), value), `0x${bits.toString(16)} -> ${bfloat16ToNumber(bits)}, expected ${value}`);
  for (const bits of [0x7fc0, 0x7f81, 0xffc0]) assert.ok(Number.isNaN(bfloat16ToNumber(bits)), `0x${bits.toString(16)} is NaN`);
});

halves("every finite F16 and BF16 pattern: strictly increasing in its bits, symmetric in sign, exact in float32", () => {
  for (const [decode, maxFinite] of [
    [float16ToNumber, 0x7bff],
    [bfloat16ToNumber, 0x7f7f],
  ] as const) {
    let previous = -1;
    for (let bits = 0; bits <= maxFinite; bits++) {
      const v = decode(bits);
      if (bits > 0 && !(v > previous)) assert.unreachable(`${decode.name}(0x${bits.toString(16)}) = ${v} is not above ${previous}`);
      if (!Object.is(decode(bits | 0x8000), -v)) assert.unreachable(`${decode.name}: 0x${(bits | 0x8000).toString(16)} is not -${v}`);
      if (Math.fround(v) !== v) assert.unreachable(`${decode.name}(0x${bits.toString(16)}) = ${v} is not a float32`);
      previous = v;
    }
  }
});

halves("F16 and BF16 tensors decode through the same tables, unaligned in their buffer", () => {
  // an odd offset: tensors in a file start wherever the previous one ended
  const raw = new Uint8Array([0xff, 0x01, 0x00, 0x00, 0x3c, 0x00, 0x7c]);
  const t = { dtype: "F16" as const, shape: [3], data: raw.subarray(1) };
  assertSameNumbers(decodeTensor(t, "float64"), [2 ** -24, 1, Number.POSITIVE_INFINITY], "f16");
  // as BF16 the same words are the float32s 0x00010000, 0x3c000000 and 0x7c000000
  assertSameNumbers(decodeTensor({ ...t, dtype: "BF16" }, "float64"), [2 ** -133, 2 ** -7, 2 ** 121], "bf16");
});

// ---- the writer -----------------------------------------------------------------------------------------------

const writer = suite("the writer");

writer("a hand-built layout: metadata first and sorted, then F64, F32, I32, BOOL, each by name", () => {
  const out = serializeSafetensors(
    {
      w: { dtype: "F32", shape: [2], data: encodeValues(Float32Array.from([1, 2]), "F32") },
      b: { dtype: "I32", shape: [1], data: encodeValues(Int32Array.from([3]), "I32") },
      m: { dtype: "BOOL", shape: [2], data: encodeValues(Uint8Array.from([1, 0]), "BOOL") },
      d: { dtype: "F64", shape: [], data: encodeValues(Float64Array.from([0.5]), "F64") },
      a: { dtype: "F32", shape: [0, 3], data: new Uint8Array(0) },
    },
    { format: "pt", b: "xy" },
  );
  const json =
    '{"__metadata__":{"b":"xy","format":"pt"},' +
    '"d":{"dtype":"F64","shape":[],"data_offsets":[0,8]},' +
    '"a":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},' +
    '"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
    '"b":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},' +
    '"m":{"dtype":"BOOL","shape":[2],"data_offsets":[20,22]}}';
  assert.is(json.length, 313); // padded with 7 spaces to 320
  const expected = [
    ...[0x40, 1, 0, 0, 0, 0, 0, 0], // 320 = 0x140, little-endian
    ...utf8(json),
    ...utf8("       "),
    ...[0, 0, 0, 0, 0, 0, 0xe0, 0x3f], // 0.5 as f64
    ...[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40], // 1 and 2 as f32
    ...[3, 0, 0, 0], // 3 as i32
    ...[1, 0],
  ];
  assert.equal([...out], expected);
});

writer("names sort by code point (UTF-8 byte order), not by UTF-16 code unit", () => {
  const one = (v: number) => ({ dtype: "F32" as const, shape: [1], data: encodeValues(Float32Array.from([v]), "F32") });
  const out = serializeSafetensors({ "\u{10000}": one(1), "\uE000": one(2), z: one(3) });
  assert.equal([...parseSafetensors(out).tensors.keys()], ["z", "\uE000", "\u{10000}"]);
});

writer("tensor dtypes map to file dtypes one to one", () => {
  const map: Record<DType, WritableDType> = { float64: "F64", float32: "F32", int32: "I32", bool: "BOOL" };
  for (const [dtype, st] of Object.entries(map)) {
    assert.is(writableDType(dtype as DType), st);
    assert.is(naturalDType(st), dtype);
  }
});

writer("refuses what it cannot write, before writing anything", () => {
  const f32 = { dtype: "F32" as const, shape: [1], data: new Uint8Array(4) };
  expectError("INVALID_ARGUMENT", () => serializeSafetensors({ __metadata__: f32 }), /reserved/);
  expectError("INVALID_ARGUMENT", () => serializeSafetensors({ "a\uD800": f32 }), /lone surrogate/);
  expectError("INVALID_ARGUMENT", () => serializeSafetensors({ a: f32 }, { k: 1 as unknown as string }), /metadata "k" must be a string/);
  expectError("INVALID_ARGUMENT", () => serializeSafetensors({ a: { ...f32, dtype: "F16" as WritableDType } }), /cannot write dtype "F16"/);
  expectError("INVALID_ARGUMENT", () => serializeSafetensors({ a: { ...f32, shape: [2] } }), /needs 8 bytes of data, got 4/);
  expectError("INVALID_ARGUMENT", () => serializeSafetensors({ a: { ...f32, shape: [-1] } }), /non-negative integers/);
  expectError("INVALID_ARGUMENT", () => encodeValues(Float32Array.from([1]), "F64"), /Float32Array cannot be written as F64/);
  expectError("INVALID_ARGUMENT", () => encodeValues(Uint8Array.from([2]), "BOOL"), /not 0 or 1/);
});

// ---- round trip -------------------------------------------------------------------------------------------------

const roundTrip = suite("round trip");

const WRITABLE: WritableDType[] = ["F64", "F32", "I32", "BOOL"];

/** Values of every kind a dtype holds: NaN, ±Infinity, -0, subnormals, the integer extremes. */
function valuesArb(dtype: WritableDType, n: number): fc.Arbitrary<number[]> {
  const element =
    dtype === "F64"
      ? fc.double()
      : dtype === "F32"
        ? fc.float()
        : dtype === "I32"
          ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
          : fc.boolean().map(Number);
  return fc.array(element, { minLength: n, maxLength: n });
}

const tensorArb = fc
  .constantFrom(...WRITABLE)
  .chain((dtype) =>
    shapeArb({ minRank: 0, maxRank: 3, minDim: 0, maxDim: 4 }).chain((shape) =>
      valuesArb(dtype, sizeOf(shape)).map((values) => ({ dtype, shape, values })),
    ),
  );

const nameArb = fc.string({ unit: "binary", maxLength: 10 }).filter((n) => n !== "__metadata__");

const fileArb = fc.record({
  tensors: fc.uniqueArray(fc.tuple(nameArb, tensorArb), { selector: ([name]) => name, maxLength: 6 }),
  metadata: fc.option(
    fc.uniqueArray(fc.tuple(fc.string({ unit: "binary", maxLength: 8 }), fc.string({ unit: "binary", maxLength: 8 })), {
      selector: ([k]) => k,
      maxLength: 3,
    }),
  ),
});

type FileCase = typeof fileArb extends fc.Arbitrary<infer T> ? T : never;

function serializeCase({ tensors, metadata }: FileCase): Uint8Array {
  const map = new Map(
    tensors.map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: encodeValues(TYPED[t.dtype](t.values), t.dtype) }]),
  );
  return serializeSafetensors(map, metadata === null ? null : Object.fromEntries(metadata));
}

roundTrip("random tensors and metadata survive a write and a read bit for bit, in the reference layout", async () => {
  await checkProperty("safetensors round trip", fileArb, (c) => {
    const bytes = serializeCase(c);
    const n = new DataView(bytes.buffer).getUint32(0, true);
    assert.is(n % 8, 0, "the data start 8-byte aligned");
    const parsed = parseSafetensors(bytes);
    if (c.metadata === null) assert.is(parsed.metadata, null);
    else assert.equal(Object.entries(parsed.metadata ?? {}).sort(), [...c.metadata].sort());
    assert.equal([...parsed.tensors.keys()].sort(), c.tensors.map(([name]) => name).sort());
    for (const [name, t] of c.tensors) {
      const read = parsed.tensors.get(name)!;
      assert.is(read.dtype, t.dtype);
      assert.equal(read.shape, t.shape);
      // Float32Array.from rounds exactly as the tensor would have stored the values
      assertSameNumbers(decodeTensor(read, naturalDType(t.dtype)), TYPED[t.dtype](t.values), name);
    }
    // data order is the header order: dtype rank descending, then name by code point
    const order = [...parsed.tensors.entries()];
    const rank = (d: string) => WRITABLE.indexOf(d as WritableDType);
    for (let i = 1; i < order.length; i++) {
      const [pa, a] = order[i - 1];
      const [pb, b] = order[i];
      assert.ok(
        rank(a.dtype) < rank(b.dtype) || (a.dtype === b.dtype && compareCodePoints(pa, pb) < 0),
        `${pa} (${a.dtype}) before ${pb} (${b.dtype})`,
      );
    }
    // a file is a function of its contents: writing what was read gives the same bytes
    const again = serializeSafetensors(
      new Map([...parsed.tensors].map(([name, t]) => [name, { dtype: t.dtype as WritableDType, shape: t.shape, data: t.data }])),
      parsed.metadata,
    );
    assert.equal([...again], [...bytes]);
  });
});

// ---- validation -----------------------------------------------------------------------------------------------------

const validation = suite("validation");

const I32_1 = (offsets = "[0,4]", extra = "") => `{"t":{"dtype":"I32","shape":[1],"data_offsets":${offsets}${extra}}}`;

validation("lengths: too short, header over the cap, header past the end", () => {
  expectError("FILE_TOO_SHORT", () => parseSafetensors(new Uint8Array(0)), /0 bytes/);
  expectError("FILE_TOO_SHORT", () => parseSafetensors(new Uint8Array(7)));
  expectError("HEADER_TOO_LARGE", () => parseSafetensors(file("{}", [], 2n ** 64n - 1n)), /18446744073709551615 bytes; at most 100000000/);
  expectError("HEADER_TOO_LARGE", () => parseSafetensors(file("{}", [], 100_000_001)));
  // at the cap but longer than the file: refused from the sizes alone, nothing allocated
  expectError("HEADER_PAST_END", () => parseSafetensors(file("{}", [], 100_000_000)), /100000000 bytes but only 2 follow/);
  expectError("HEADER_PAST_END", () => parseSafetensors(file("{}", [], 3)));
});

validation("the header must be UTF-8 JSON, without a BOM or lone surrogates, nested no deeper than a header", () => {
  expectError("INVALID_UTF8", () => parseSafetensors(file(new Uint8Array([0x7b, 0xff, 0x7d]))));
  expectError("INVALID_JSON", () => parseSafetensors(file('{"t":')), /expected a value at character 5, found the end of the header/);
  expectError("INVALID_JSON", () => parseSafetensors(file("\uFEFF{}")));
  expectError("INVALID_JSON", () => parseSafetensors(file('{"\\ud800":1}')), /lone surrogate/);
  expectError("INVALID_JSON", () => parseSafetensors(file('{"a":1,}')));
  expectError("INVALID_JSON", () => parseSafetensors(file('{"a\tb":1}')), /control character/);
  expectError("INVALID_JSON", () => parseSafetensors(file("{} x")), /expected the end of the header/);
  // a million brackets: refused at the fifth, with no recursion to overflow
  expectError("INVALID_JSON", () => parseSafetensors(file("[".repeat(1_000_000))), /nests deeper than 4/);
  expectError("INVALID_HEADER", () => parseSafetensors(file("[]")), /must be a JSON object, found an array/);
});

validation("duplicate names are refused, also when spelt differently, where JSON.parse would keep the last", () => {
  const entry = '{"dtype":"I32","shape":[1],"data_offsets":[0,4]}';
  expectError(
    "DUPLICATE_NAME",
    () => parseSafetensors(file(`{"t":${entry},"t":${entry}}`, new Uint8Array(4))),
    /"t" appears twice in the header/,
  );
  expectError("DUPLICATE_NAME", () => parseSafetensors(file(`{"t":${entry},"\\u0074":${entry}}`, new Uint8Array(4))));
  expectError(
    "DUPLICATE_NAME",
    () => parseSafetensors(file(I32_1("[0,4]", ',"dtype":"F32"'), new Uint8Array(4))),
    /"dtype" appears twice in the entry for "t"/,
  );
  expectError("DUPLICATE_NAME", () => parseSafetensors(file('{"__metadata__":{"a":"1","a":"2"}}')), /"a" appears twice/);
  expectError("DUPLICATE_NAME", () => parseSafetensors(file('{"__metadata__":{},"__metadata__":{}}')));
});

validation("entries: fields, types, dtypes and sizes", () => {
  const four = new Uint8Array(4);
  expectError("INVALID_HEADER", () => parseSafetensors(file('{"t":[]}')), /tensor "t" must be an object/);
  expectError(
    "INVALID_HEADER",
    () => parseSafetensors(file('{"t":{"dtype":"I32","data_offsets":[0,4]}}', four)),
    /tensor "t" has no shape/,
  );
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1("[0,4]", ',"offsets":[0,4]'), four)), /unknown field "offsets"/);
  expectError(
    "INVALID_HEADER",
    () => parseSafetensors(file('{"t":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}', four)),
    /dtype must be a string, found the number 3/,
  );
  expectError(
    "UNKNOWN_DTYPE",
    () => parseSafetensors(file('{"t":{"dtype":"i32","shape":[1],"data_offsets":[0,4]}}', four)),
    /"i32", which is not a safetensors dtype/,
  );
  expectError(
    "UNSUPPORTED_DTYPE",
    () => parseSafetensors(file('{"t":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}', four)),
    /F8_E4M3, which this library does not read/,
  );
  expectError(
    "INVALID_HEADER",
    () => parseSafetensors(file('{"t":{"dtype":"I32","shape":1,"data_offsets":[0,4]}}', four)),
    /shape must be an array/,
  );
  expectError(
    "INVALID_HEADER",
    () => parseSafetensors(file('{"t":{"dtype":"I32","shape":[-1],"data_offsets":[0,4]}}', four)),
    /shape\[0\] must be a non-negative integer, found the number -1/,
  );
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1("[0,4.0]"), four)), /found the number 4.0/);
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1("[0,4e0]"), four)));
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1("[-0,4]"), four)));
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1("[0,99999999999999999999]"), four)), /beyond 2\^53 - 1/);
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1("[0,4,4]"), four)), /must be \[begin, end\], found an array of length 3/);
  expectError("INVALID_HEADER", () => parseSafetensors(file(I32_1('["0",4]'), four)), /found the string "0"/);
  expectError(
    "INVALID_HEADER",
    () => parseSafetensors(file('{"__metadata__":{"a":1}}')),
    /__metadata__ "a" must be a string, found the number 1/,
  );
  expectError("INVALID_HEADER", () => parseSafetensors(file('{"__metadata__":["a"]}')), /must be an object of strings/);
});

validation("byte ranges: contiguous from 0, sized by shape and dtype, covering the data exactly", () => {
  expectError(
    "INVALID_OFFSETS",
    () => parseSafetensors(file(I32_1("[4,8]"), new Uint8Array(8))),
    /starts at byte 4, expected 0 \(a gap of 4 bytes/,
  );
  const two = '{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[2,6]}}';
  expectError("INVALID_OFFSETS", () => parseSafetensors(file(two, new Uint8Array(6))), /an overlap of 2 bytes/);
  expectError("INVALID_OFFSETS", () => parseSafetensors(file(I32_1("[4,0]"), new Uint8Array(4))), /end before they begin/);
  expectError(
    "SIZE_MISMATCH",
    () => parseSafetensors(file(I32_1("[0,3]"), new Uint8Array(3))),
    /I32 \[1\] needs 4 bytes, but data_offsets \[0,3\] span 3/,
  );
  const huge = `{"t":{"dtype":"F64","shape":[${2 ** 52},${2 ** 52}],"data_offsets":[0,0]}}`;
  expectError("SIZE_MISMATCH", () => parseSafetensors(file(huge)), /more than 2\^53 - 1 elements/);
  expectError("INCOMPLETE_BUFFER", () => parseSafetensors(file(I32_1(), new Uint8Array(5))), /1 bytes belong to no tensor/);
  expectError("INCOMPLETE_BUFFER", () => parseSafetensors(file(I32_1(), new Uint8Array(3))), /ends at byte 4, but the file holds 3 bytes/);
  // a claim of 10^15 elements in a file of a few bytes is refused from the sizes alone
  expectError("INCOMPLETE_BUFFER", () => parseSafetensors(file(`{"t":{"dtype":"F32","shape":[${1e15}],"data_offsets":[0,${4e15}]}}`)));
});

validation("values: BOOL bytes, 64-bit integers and conversions that would change a value", () => {
  const bool2 = parseSafetensors(file('{"t":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', [1, 2])).tensors.get("t")!;
  expectError(
    "VALUE_OUT_OF_RANGE",
    () => decodeTensor(bool2, "bool", { name: "t", file: "m.safetensors" }),
    /tensor "t" \(BOOL \[2\]\): element 1 is the byte 2/,
  );
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigInt64(0, 2n ** 53n, true);
  const i64 = parseSafetensors(file('{"t":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}', big)).tensors.get("t")!;
  expectError("VALUE_OUT_OF_RANGE", () => decodeTensor(i64, "float64"), /9007199254740992, beyond ±\(2\^53 - 1\)/);
  const f32 = { dtype: "F32" as const, shape: [2], data: encodeValues(Float32Array.from([1, 1.5]), "F32") };
  expectError("VALUE_OUT_OF_RANGE", () => decodeTensor(f32, "int32"), /cannot be loaded as int32: element 1 is 1.5/);
  expectError("VALUE_OUT_OF_RANGE", () => decodeTensor(f32, "bool"), /cannot be loaded as bool: element 1 is 1.5/);
  const u32 = { dtype: "U32" as const, shape: [1], data: new Uint8Array([255, 255, 255, 255]) };
  expectError(
    "VALUE_OUT_OF_RANGE",
    () => decodeTensor(u32),
    /element 0 is 4294967295, expected a whole number in \[-2147483648, 2147483647\]/,
  );
  assertSameNumbers(decodeTensor(u32, "float64"), [4294967295], "u32 as float64");
  // whole floats do convert to int32, and F64 rounds into float32
  assertSameNumbers(decodeTensor({ ...f32, data: encodeValues(Float32Array.from([1, -7]), "F32") }, "int32"), [1, -7], "f32 as int32");
  assertSameNumbers(
    decodeTensor({ dtype: "F64", shape: [1], data: encodeValues(Float64Array.from([0.1]), "F64") }, "float32"),
    [Math.fround(0.1)],
    "f64 as float32",
  );
});

validation("what the reference reader accepts is accepted: whitespace, null metadata, metadata last, empty names", () => {
  const four = new Uint8Array(4);
  assert.ok(parseSafetensors(file(` \n${I32_1()}\t`, four)).tensors.has("t"));
  assert.is(parseSafetensors(file(`{"__metadata__":null,${I32_1().slice(1)}`, four)).metadata, null);
  assert.equal(parseSafetensors(file(`${I32_1().slice(0, -1)},"__metadata__":{"k":"v"}}`, four)).metadata, { k: "v" });
  assert.ok(parseSafetensors(file('{"":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}', [7])).tensors.has(""));
  const zeros = '{"a":{"dtype":"I32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}}';
  assert.equal([...parseSafetensors(file(zeros)).tensors.keys()], ["a", "b"]);
  // a metadata key that is special to JavaScript objects stays an ordinary key
  assert.equal(Object.keys(parseSafetensors(file('{"__metadata__":{"__proto__":"x"}}')).metadata!), ["__proto__"]);
});

validation("errors are TsgradErrors that name the file, what was found and what was expected", () => {
  const e = expectError("SIZE_MISMATCH", () => parseSafetensors(file(I32_1("[0,3]"), new Uint8Array(3)), { file: "model.safetensors" }));
  assert.ok(e instanceof TsgradError);
  assert.is(e.name, "SafetensorsError");
  assert.is(e.message, 'safetensors model.safetensors: tensor "t": I32 [1] needs 4 bytes, but data_offsets [0,3] span 3');
});

// ---- fuzz -----------------------------------------------------------------------------------------------------------

const fuzz = suite("fuzz: random and corrupted buffers end in SafetensorsError");

/** Per-buffer time bound: generous for a slow CI machine, far below what a hang or a huge allocation costs. */
const MAX_MS = 250;
/** No buffer here is over a few kilobytes, so a reader that allocated from claimed sizes would stand out. */
const MAX_EXTRA_BYTES = 64 * 1024 * 1024;

const outcomes = new Map<string, number>();
let worstMs = 0;
let worstBytes = 0;

/** One read of a buffer: its outcome (a SafetensorsError code or "valid"), time and memory growth. */
function readOnce(bytes: Uint8Array): { outcome: string; ms: number; grew: number } {
  const before = process.memoryUsage();
  const started = performance.now();
  let outcome = "valid";
  try {
    readAll(bytes, "fuzz.safetensors");
  } catch (e) {
    if (!(e instanceof SafetensorsError))
      throw new Error(`a ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} escaped for ${bytes.length} bytes`);
    assert.match(e.message, /^safetensors fuzz\.safetensors: /);
    outcome = e.code;
  }
  const ms = performance.now() - started;
  const after = process.memoryUsage();
  return { outcome, ms, grew: after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed) };
}

/** Reads one buffer: either it is a valid file, or a SafetensorsError comes out, quickly and without a big allocation. */
function survive(bytes: Uint8Array): string {
  let { outcome, ms, grew } = readOnce(bytes);
  // a garbage collection or a busy machine can stall any one read; a slow reader is slow every time
  for (let retry = 0; retry < 2 && (ms > MAX_MS || grew > MAX_EXTRA_BYTES); retry++) {
    const again = readOnce(bytes);
    ms = Math.min(ms, again.ms);
    grew = Math.min(grew, again.grew);
  }
  worstMs = Math.max(worstMs, ms);
  worstBytes = Math.max(worstBytes, grew);
  if (ms > MAX_MS) throw new Error(`reading ${bytes.length} bytes took ${ms.toFixed(1)} ms`);
  if (grew > MAX_EXTRA_BYTES) throw new Error(`reading ${bytes.length} bytes grew memory by ${grew} bytes`);
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  return outcome;
}

const DTYPE_NAMES = [
  "F64",
  "F32",
  "F16",
  "BF16",
  "I64",
  "I32",
  "I16",
  "I8",
  "U64",
  "U32",
  "U16",
  "U8",
  "BOOL",
  "F8_E4M3",
  "C64",
  "f32",
  "",
];

/** Headers that are close to valid: the right shape with wrong dtypes, sizes, offsets and extra fields. */
const nearHeaderArb = fc
  .array(
    fc.record({
      name: fc.oneof(fc.string({ maxLength: 4 }), fc.constant("__metadata__")),
      dtype: fc.constantFrom(...DTYPE_NAMES),
      shape: fc.array(fc.oneof(fc.nat(5), fc.constant(2 ** 40), fc.constant(-1), fc.constant(1.5)), { maxLength: 3 }),
      begin: fc.oneof(fc.nat(64), fc.constant(2 ** 53), fc.constant(1e300)),
      length: fc.oneof(fc.nat(64), fc.constant(2 ** 50)),
      extra: fc.boolean(),
    }),
    { maxLength: 4 },
  )
  .chain((entries) =>
    fc.tuple(
      fc.constant(
        `{${entries
          .map(
            (e) =>
              `${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.dtype)},"shape":[${e.shape.join(",")}],"data_offsets":[${e.begin},${e.begin + e.length}]${e.extra ? ',"x":0' : ""}}`,
          )
          .join(",")}}`,
      ),
      fc.uint8Array({ maxLength: 128 }),
    ),
  );

fuzz("random bytes, random JSON headers and near-valid headers", async () => {
  const bufferArb = fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    // a plausible length prefix followed by random bytes
    fc.uint8Array({ maxLength: 256 }).map((rest) => file(rest.subarray(0, rest.length >> 1), rest.subarray(rest.length >> 1))),
    fc.tuple(fc.json({ maxDepth: 4 }), fc.uint8Array({ maxLength: 64 })).map(([json, data]) => file(json, data)),
    nearHeaderArb.map(([json, data]) => file(json, data)),
  );
  // thousands of cases: each is a few kilobytes at most and takes microseconds
  await checkProperty(
    "safetensors fuzz: random buffers",
    bufferArb,
    (bytes) => {
      survive(bytes);
    },
    { numRuns: fuzzSize(4000, 40_000) },
  );
});

fuzz("single mutations of valid files (random and golden) never escape as anything but SafetensorsError", async () => {
  const goldens = [golden("reference-dtypes").bytes, golden("reference-writer").bytes, file(SPEC_HEADER, new Uint8Array(16))];
  const validArb = fc.oneof(fileArb.map(serializeCase), fc.constantFrom(...goldens));
  await checkProperty(
    "safetensors fuzz: mutated files",
    fc.tuple(validArb, fc.array(safetensorsMutationArb, { minLength: 1, maxLength: 3 })),
    ([valid, mutations]) => {
      survive(mutations.reduce(mutateSafetensors, valid));
    },
    { numRuns: fuzzSize(3000, 30_000) },
  );
});

fuzz("every truncation and every single-byte change of a golden file", () => {
  const { bytes } = golden("reference-writer");
  // no proper prefix is valid: the tensors would no longer cover the data, or the header would be cut
  for (let at = 0; at < bytes.length; at++) assert.is.not(survive(bytes.slice(0, at)), "valid", `prefix of ${at} bytes`);
  for (let at = 0; at < bytes.length; at++) {
    for (const value of [0x00, 0x20, 0x22, 0x30, 0x39, 0x5b, 0x7b, 0x7d, 0xff]) {
      const out = bytes.slice();
      out[at] = value;
      survive(out);
    }
  }
});

fuzz.after(() => {
  const summary = [...outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  console.log(
    `  fuzz outcomes: ${summary.join(", ")}; slowest ${worstMs.toFixed(2)} ms, largest growth ${(worstBytes / 1e6).toFixed(1)} MB`,
  );
});

vectors.run();
halves.run();
writer.run();
roundTrip.run();
validation.run();
fuzz.run();

/**
 * @file json-files.ts: JSON texts read from bytes with the line and column of a syntax error (hand-placed
 * errors), the nesting bound, strict UTF-8, SHA-256 against known digests, and a config's record of its
 * sibling files: checked field by field, and a sibling that is not the recorded one refused by name.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFileRecord, checkSibling, fileRecord, parseJsonText, sha256Hex } from "../src/index.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("a syntax error is placed at its line and column, whatever JSON.parse's message says", () => {
  assert.throws(() => parseJsonText(bytes("{ not json"), "read a.json"), /read a\.json: is not valid JSON at line 1, column 3/);
  // the stray comma is the 11th character of line 2
  assert.throws(() => parseJsonText(bytes('{\n  "r": 2,,\n}'), "read a.json"), /at line 2, column 10/);
  assert.throws(() => parseJsonText(bytes(""), "read a.json"), /at line 1, column 1/);
  assert.throws(() => parseJsonText(bytes('{"r": "\\x"}'), "read a.json"), /at line 1, column 8/);
  assert.equal(parseJsonText(bytes('{"a": [1, {"b": null}]}'), "read a.json"), { a: [1, { b: null }] });
  assert.throws(() => parseJsonText(bytes('{"a": 1}x'), "read a.json"), /at line 1, column 9/);
});

test("nesting past the bound and bytes that are not UTF-8 are refused before parsing", () => {
  // brackets inside strings do not count
  assert.equal(parseJsonText(bytes('[{"a": "[[["}]'), "read a.json", { maxDepth: 2 }), [{ a: "[[[" }]);
  assert.throws(
    () => parseJsonText(bytes("[".repeat(100_000)), "read a.json", { maxDepth: 16, what: "a config" }),
    /read a\.json: nests arrays and objects 100000 levels deep; a config has at most 16/,
  );
  assert.throws(() => parseJsonText(new Uint8Array([0x7b, 0xff, 0x7d]), "read a.json"), /read a\.json: is not valid UTF-8 text/);
});

test("sha256Hex gives the known digests", async () => {
  assert.is(await sha256Hex(bytes("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.is(await sha256Hex(bytes("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("bad arguments are refused by name", async () => {
  assert.throws(() => parseJsonText("{}" as never, "read a.json"), /read a\.json: expected the file's bytes \(a Uint8Array\)/);
  assert.throws(() => fileRecord(undefined as never), /fileRecord: expected a written file's \{ bytes, sha256 \}/);
  assert.throws(() => checkSibling({ bytes: 1, sha256: "" }, { bytes: 1, sha256: "" }, null as never), /checkSibling: the options must be/);
  const error = await sha256Hex("abc" as never).catch((e: Error) => e);
  assert.match(String(error), /sha256Hex: expected bytes/);
});

test("a file record is checked field by field; a sibling that is not the recorded one is refused by name", () => {
  const good = { bytes: 3, sha256: "a".repeat(64) };
  assert.equal(checkFileRecord(good, "load c.json", "files.w"), good);
  assert.equal(fileRecord({ ...good, extra: 1 } as typeof good), good);
  for (const bad of [null, [], { bytes: -1, sha256: "a".repeat(64) }, { bytes: 3, sha256: "A".repeat(64) }, { ...good, more: 1 }]) {
    assert.throws(
      () => checkFileRecord(bad, "load c.json", "files.w"),
      /load c\.json: files\.w must be \{ "bytes": <size>, "sha256": <64 hex digits> \}, got/,
    );
  }
  checkSibling(good, good, { where: "load w.bin", config: "c.json", again: "save it again" });
  assert.throws(
    () => checkSibling({ bytes: 4, sha256: "b".repeat(64) }, good, { where: "load w.bin", config: "c.json", again: "save it again" }),
    /load w\.bin: \(4 bytes, sha256 bbbbbbbbbbbb\.\.\.\) is not the file c\.json was saved with \(3 bytes, sha256 aaaaaaaaaaaa\.\.\.\): the save was interrupted or the folder's files come from different saves; save it again/,
  );
  // a length known before the file is read (no hash yet)
  assert.throws(
    () => checkSibling({ bytes: 4, sha256: "" }, good, { where: "load w.bin", config: "c.json", again: "x" }),
    /\(4 bytes\) is not the file/,
  );
});

test.run();

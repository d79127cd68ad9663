/**
 * @file The committed backbone is the one its pretrain.json describes: every file's SHA-256 matches the
 * record, the command that made it is recorded, and the floor the record states holds for its numbers.
 */

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GPT_BACKBONE_DIR as BACKBONE_DIR } from "../src/paths.ts";

test("the committed backbone's files match the hashes in its pretrain.json", async () => {
  const record = JSON.parse(await readFile(join(BACKBONE_DIR, "pretrain.json"), "utf8"));
  assert.equal(Object.keys(record.files).sort(), ["config.json", "model.safetensors", "tokenizer.json"]);
  for (const [file, sha256] of Object.entries(record.files)) {
    const actual = createHash("sha256")
      .update(await readFile(join(BACKBONE_DIR, file)))
      .digest("hex");
    assert.is(actual, sha256, file);
  }
  assert.match(record.command, /^npm run tsgrad -- pretrain --out benchmarks\/backbone/);
});

test("its recorded bits per character are at least 1.5 below the unigram character model's", async () => {
  const { result } = JSON.parse(await readFile(join(BACKBONE_DIR, "pretrain.json"), "utf8"));
  assert.ok(result.bitsPerChar <= result.unigramBitsPerChar - 1.5, `${result.bitsPerChar} vs ${result.unigramBitsPerChar}`);
});

test.run();

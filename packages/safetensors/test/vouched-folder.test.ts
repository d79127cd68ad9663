/**
 * @file A folder saved as one (vouched-folder.ts), file by file: a save's commit is its config; a reader
 * finds each file at its name or, after a kill between the commit and the moves, at its staged twin; and
 * a save after such a kill first finishes it, so that staging its own files, and being killed in turn,
 * never loses the last committed save.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDirs } from "@tsgrad/core/testing/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { STAGED_SUFFIX, saveVouchedFolder, vouchedPath, type WrittenFile, writeFileAtomic } from "../src/node.ts";

const scratch = scratchDirs("tsgrad-vouched-");
const text = (s: string) => new TextEncoder().encode(s);
const writeText = (content: string) => (path: string) => writeFileAtomic(path, (write) => write(text(content)));
const config = (records: Readonly<Record<string, WrittenFile>>) => text(JSON.stringify({ a: records.a }));
const recordsIn = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, WrittenFile>;

/** What a reader of `dir` gets for "a": the file the config's record finds. */
async function read(dir: string): Promise<string> {
  const saved = recordsIn(new Uint8Array(readFileSync(join(dir, "c.json")))).a;
  return readFileSync(await vouchedPath(dir, "a", saved, "test")).toString();
}

const save = (dir: string, content: string) =>
  saveVouchedFolder(dir, [{ name: "a", write: writeText(content) }], "c.json", config, "test", recordsIn);

test("a whole save reads as itself and leaves no staged file", async () => {
  const dir = scratch.fresh();
  await save(dir, "one");
  await save(dir, "two");
  assert.is(await read(dir), "two");
  assert.throws(() => readFileSync(join(dir, `a${STAGED_SUFFIX}`)));
});

test("killed after its commit: the staged twin is read; the next save finishes it before staging its own", async () => {
  const dir = scratch.fresh();
  await save(dir, "one");
  // save "two" killed between its commit and its move: the config vouches for the staged file
  const two = await writeText("two")(join(dir, `a${STAGED_SUFFIX}`));
  writeFileSync(join(dir, "c.json"), config({ a: two }));
  assert.is(await read(dir), "two");
  // save "three" stages its file and is killed before its commit (its write fails once it has staged)
  let failed = false;
  try {
    await saveVouchedFolder(
      dir,
      [
        {
          name: "a",
          write: async (path) => {
            await writeText("three")(path);
            throw new Error("killed");
          },
        },
      ],
      "c.json",
      config,
      "test",
      recordsIn,
    );
  } catch (error) {
    failed = (error as Error).message === "killed";
  }
  assert.ok(failed);
  // the config still vouches for "two", which the failed save moved into place before staging "three"
  assert.is(await read(dir), "two");
  assert.is(readFileSync(join(dir, "a")).toString(), "two");
});

test("a staged file the config does not vouch for (a save killed before its commit) is not read", async () => {
  const dir = scratch.fresh();
  await save(dir, "one");
  writeFileSync(join(dir, `a${STAGED_SUFFIX}`), "ono");
  assert.is(await read(dir), "one", "a staged file of the same size but another hash");
});

test.after(() => scratch.remove());

test.run();

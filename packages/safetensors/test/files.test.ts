/**
 * @file The file policy (files.ts): only regular files, never through a link, capped reads that
 * cannot hang on a FIFO or stream a device, and stale temporary files of killed saves removed by the next
 * save of the same target, never one of a save still running.
 */

import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { tensor } from "@tsgrad/core";
import { assertRejects, scratchDirs } from "@tsgrad/core/testing/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadTensors, readCappedFile, removeStaleTemporaries, saveTensors, writeFileAtomic } from "../src/node.ts";

const scratch = scratchDirs("tsgrad-files-");
const freshDir = scratch.fresh;

/** A process id that is not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid as number;
}

test("a FIFO is refused at once instead of blocking the reader", async () => {
  const dir = freshDir();
  const fifo = join(dir, "adapter_config.json");
  execFileSync("mkfifo", [fifo]);
  const started = performance.now();
  await assertRejects(readCappedFile(fifo, 1024, "loadAdapter"), /loadAdapter: .*adapter_config\.json is a FIFO; expected a regular file/);
  await assertRejects(loadTensors(fifo), /is a FIFO; expected a regular file/);
  assert.ok(performance.now() - started < 5000);
});

test("links are refused, not followed: to /dev/zero, to a file outside the folder, and where a save goes", async () => {
  const dir = freshDir();
  symlinkSync("/dev/zero", join(dir, "zero.json"));
  await assertRejects(
    readCappedFile(join(dir, "zero.json"), 1 << 20, "loadAdapter"),
    /zero\.json is a symbolic link; tsgrad .* never follows a link/,
  );
  const outside = join(freshDir(), "weights.safetensors");
  const t = tensor([1, 2, 3]);
  await saveTensors({ t }, outside);
  symlinkSync(outside, join(dir, "w.safetensors"));
  await assertRejects(loadTensors(join(dir, "w.safetensors")), /w\.safetensors is a symbolic link/);
  // a save onto a planted link is refused, and the file it points to is untouched
  const before = readFileSync(outside);
  await assertRejects(saveTensors({ t: tensor([9]) }, join(dir, "w.safetensors")), /w\.safetensors is a symbolic link/);
  assert.equal(readFileSync(outside), before);
  t.dispose();
});

test("a capped read refuses a file past the cap, by name and size", async () => {
  const dir = freshDir();
  writeFileSync(join(dir, "big.json"), "x".repeat(2000));
  await assertRejects(readCappedFile(join(dir, "big.json"), 1000, "loadAdapter"), /big\.json has 2000 bytes; the most accepted is 1000/);
  assert.is((await readCappedFile(join(dir, "big.json"), 2000, "x")).length, 2000);
});

test("the next save removes stale temporary files of its target only, and only of writers that are gone", async () => {
  const dir = freshDir();
  const target = join(dir, "model.safetensors");
  const dead = await deadPid();
  const host = hostname()
    .replace(/[^A-Za-z0-9-]/g, "-")
    .slice(0, 32)
    .toLowerCase();
  const stale = `.model.safetensors.${host}-${dead}-0123456789ab.tmp`;
  const live = `.model.safetensors.${host}-${process.pid}-0123456789ab.tmp`;
  const otherTarget = `.other.safetensors.${host}-${dead}-0123456789ab.tmp`;
  const notOurs = `.model.safetensors.${host}-${dead}-notours.tmp`;
  // a pid of another host sharing the folder says nothing about that save: left alone
  const otherHost = `.model.safetensors.elsewhere-${dead}-0123456789ab.tmp`;
  for (const name of [stale, live, otherTarget, notOurs, otherHost]) writeFileSync(join(dir, name), "partial");
  const written = await writeFileAtomic(target, async (write) => write(new Uint8Array([1, 2, 3])));
  assert.equal(written.bytes, 3);
  assert.equal(readdirSync(dir).sort(), [live, notOurs, otherTarget, otherHost, "model.safetensors"].sort());
  assert.is(await removeStaleTemporaries(target), 0);
});

test.after(() => scratch.remove());

test.run();

/**
 * @file savePretrained killed with SIGKILL at random moments, over and over: after every kill the folder
 * loads as a whole model, the weights and the tokenizer of one save (the previous one or the one
 * killed), never a mixture and never nothing.
 */

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fuzzSize, printed } from "@tsgrad/core/testing/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type CharTokenizer, loadPretrained } from "../src/node.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const LOOP = fileURLToPath(new URL("./fixtures/save-pretrained-loop.ts", import.meta.url));

test("after every kill the folder loads as one whole save, old or new", async () => {
  const kills = fuzzSize(40, 200);
  const started = performance.now();
  const seen = new Set<number>();
  const dir = await mkdtemp(join(tmpdir(), "tsgrad-models-kill-"));
  try {
    for (let i = 0; i < kills; i++) {
      const child = spawn(process.execPath, ["--import", "tsx", LOOP, dir], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      try {
        await printed(child, "saved 0\n");
        // a save takes a few milliseconds (three files, each fsynced): land anywhere in one
        await new Promise((resolve) => setTimeout(resolve, 3 + ((i * 7919) % 40)));
      } finally {
        child.kill("SIGKILL");
        await exited;
      }
      const { model, tokenizer } = await loadPretrained(dir);
      const k = ((tokenizer as CharTokenizer).chars[2].codePointAt(0) as number) - 0x4e00;
      for (const [key, p] of model.stateDict()) {
        const values = await p.data();
        assert.ok(
          values.every((v) => v === k),
          `a mixed save loaded: ${key} holds ${values[0]}, the tokenizer is save ${k}'s`,
        );
      }
      seen.add(k);
      model.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`kill test: ${kills} kills in ${seconds.toFixed(1)} s, every one a whole model (${seen.size} different saves)`);
  assert.ok(seen.size > 1, "the kills landed in more than one save");
});

test.run();

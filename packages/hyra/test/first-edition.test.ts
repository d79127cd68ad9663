/**
 * @file Behaviour is unchanged by the second edition (PeftModel over a BaseTuner, method state on the
 * tuner): fixtures/first-edition holds adapters trained and saved by the first edition's code (make.ts
 * says how). Today's code replays the same three training steps to bit-identical losses and saved
 * tensors, and loads the first edition's folders to bit-identical outputs.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { randn } from "@tsgrad/core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { getPeftModel, loadAdapter } from "../src/node.ts";
import { CASES, STEPS } from "./fixtures/first-edition/cases.ts";
import { fitMse, inputsFor, outputOf, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

const FIXTURES = new URL("./fixtures/first-edition/", import.meta.url).pathname;
const record = JSON.parse(await readFile(join(FIXTURES, "record.json"), "utf8")) as Record<string, { losses: number[]; outputs: number[] }>;

/** The safetensors file's bytes after its header: every tensor's data, in the header's order. */
async function tensorBytes(folder: string): Promise<Buffer> {
  const bytes = await readFile(join(folder, "adapter_model.safetensors"));
  return bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)));
}

for (const [name, config] of Object.entries(CASES)) {
  test(`${name}: the first edition's folder loads to the outputs it was saved with, bit for bit`, async () => {
    const model = tinyEncoder();
    const x = inputsFor(model);
    const loaded = await loadAdapter(model, join(FIXTURES, name));
    loaded.eval();
    assert.equal(Array.from(await outputOf(loaded, x)), record[name].outputs);
  });

  test(`${name}: training replays to the first edition's losses and saved tensors, bit for bit`, async () => {
    const model = tinyEncoder();
    const x = inputsFor(model);
    const target = randn([2, 3]);
    const peft = getPeftModel(model, config);
    const losses = await fitMse(peft, x, target, STEPS);
    assert.equal(losses, record[name].losses);
    await withTempDir(async (dir) => {
      await peft.saveAdapter(dir);
      assert.ok((await tensorBytes(dir)).equals(await tensorBytes(join(FIXTURES, name))), "the saved tensors are the first edition's");
    });
  });
}

test.run();

/**
 * @file One load path: the same saved adapter loaded through loadAdapter (a base model), PeftModel.
 * fromPretrained, a PeftModel's loadAdapter (as a second adapter) and setAdapterStateDict (its tensors
 * into a fresh adapter) gives the same outputs and the same tensors, and the same bad file is refused
 * by each with the same list of problems, leaving the model as it was.
 */

import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Tensor } from "@tsgrad/core";
import { readSafetensorsFile, saveTensors, uploadTensors } from "@tsgrad/nn/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { getPeftModel, loadAdapter, type PeftConfigInput, PeftModel } from "../src/node.ts";
import { inputsFor, outputOf, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

const CONFIGS: PeftConfigInput[] = [
  { method: "lora", r: 2, modulesToSave: ["head"], bias: "lora_only", initLoraWeights: false },
  { method: "hyra", r: 2, headEmbedding: 2, initLoraWeights: false },
  { method: "vera", r: 4, initWeights: false },
];

async function rejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await fn().then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(error, `expected a refusal matching ${pattern}`);
  assert.match(error.message, pattern);
}

async function values(tensors: Map<string, Tensor>): Promise<[string, number[]][]> {
  return Promise.all(
    [...tensors].sort(([a], [b]) => (a < b ? -1 : 1)).map(async ([k, t]) => [k, Array.from(await t.data())] as [string, number[]]),
  );
}

for (const config of CONFIGS) {
  test(`${config.method}: loadAdapter, fromPretrained, a second adapter and setAdapterStateDict load the same adapter`, async () => {
    const x = inputsFor(tinyEncoder());
    const saved = getPeftModel(tinyEncoder(), config).eval();
    const expected = await outputOf(saved, x);
    await withTempDir(async (dir) => {
      await saved.saveAdapter(dir);
      const viaLoad = (await loadAdapter(tinyEncoder(), dir)).eval();
      const viaPretrained = (await PeftModel.fromPretrained(tinyEncoder(), dir, { isTrainable: true })).eval();
      // a second adapter of a model whose first is another draw of the same config
      const host = getPeftModel(tinyEncoder(), config).eval();
      const report = await host.loadAdapter(dir, "loaded");
      host.setAdapter("loaded");
      const viaState = getPeftModel(tinyEncoder(), config).eval();
      const file = await readSafetensorsFile(join(dir, "adapter_model.safetensors"));
      const tensors = uploadTensors(file, dir);
      const stateReport = viaState.setAdapterStateDict("default", tensors);
      const { ignoredConfigFields: _, ...fileReport } = report;
      assert.equal(fileReport, stateReport);
      for (const [what, peft] of [
        ["loadAdapter", viaLoad],
        ["fromPretrained", viaPretrained],
        ["PeftModel.loadAdapter", host],
        ["setAdapterStateDict", viaState],
      ] as const) {
        assert.equal(await outputOf(peft, x), expected, what);
        assert.equal(await values(peft.adapterStateDict()), await values(saved.adapterStateDict()), what);
      }
      // loaded for inference unless asked: frozen (the trainable count of a frozen adapter is 0)
      assert.is(viaLoad.getNbTrainableParameters().trainable, 0);
      assert.ok(viaPretrained.getNbTrainableParameters().trainable > 0);
      assert.is(host.getNbTrainableParameters().trainable, 0);
    });
  });
}

test("a bad file is refused the same way by every path, and the model is left as it was", async () => {
  const config: PeftConfigInput = { method: "vera", r: 4 };
  await withTempDir(async (dir) => {
    const peft = getPeftModel(tinyEncoder(), config);
    const tensors = new Map(peft.adapterStateDict());
    tensors.delete("base_model.vera_B");
    const problem = /the adapter does not fit this model \(1 problems\): missing key base_model\.vera_B/;
    assert.throws(() => peft.setAdapterStateDict("default", tensors), problem);
    await peft.saveAdapter(dir);
    // the folder's weights without vera_B, and a config that vouches for them
    await rm(join(dir, "adapter_config.json"));
    await saveTensors(tensors, join(dir, "adapter_model.safetensors"));
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "VERA", r: 4, target_modules: ["q", "v"] }));
    const base = tinyEncoder();
    const before = base.namedModules().map(([p]) => p);
    await rejects(() => loadAdapter(base, dir), problem);
    assert.equal(
      base.namedModules().map(([p]) => p),
      before,
    );
    const host = getPeftModel(tinyEncoder(), config);
    await rejects(() => host.loadAdapter(dir, "second"), problem);
    assert.equal([...host.peftConfig.keys()], ["default"]);
    assert.equal(
      host.namedBuffers().map(([n]) => n),
      ["base_model.vera_A.default", "base_model.vera_B.default"],
    );
  });
});

test.run();

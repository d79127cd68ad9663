/**
 * @file The adapter folder: what is written (keys, shapes, config, no leftovers), several adapters in
 * sub-folders, half-precision files, names that would escape the folder, and loads that must fail with
 * every mismatch named and the model left as it was.
 */

import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { noGrad, type Tensor, tensor } from "@tsgrad/core";
import { assertRejects } from "@tsgrad/core/testing";
import { readSafetensorsFile, saveTensors } from "@tsgrad/nn/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AdapterLayer, configToJson, getPeftModel, loadAdapter, type PeftModel } from "../src/node.ts";
import { type HalfDType, roundToHalf, writeHalfSafetensors } from "./support/half.ts";
import { inputsFor, outputOf, type TinyEncoder, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

function lora(model = tinyEncoder()): PeftModel<TinyEncoder> {
  return getPeftModel(model.eval(), { method: "lora", r: 2, initLoraWeights: false });
}

test("the folder holds adapter_config.json and adapter_model.safetensors with PEFT's keys, and nothing else", async () => {
  const peft = lora();
  await withTempDir(async (dir) => {
    await peft.saveAdapter(dir);
    assert.equal((await readdir(dir)).sort(), ["adapter_config.json", "adapter_model.safetensors"]);
    const file = await readSafetensorsFile(join(dir, "adapter_model.safetensors"));
    assert.equal(file.metadata, { format: "pt" });
    const written = [...file.tensors].map(([k, t]) => `${k} ${t.dtype} [${t.shape}]`).sort();
    assert.equal(written, [
      "base_model.model.blocks.0.attn.q.lora_A.weight F32 [2,16]",
      "base_model.model.blocks.0.attn.q.lora_B.weight F32 [16,2]",
      "base_model.model.blocks.0.attn.v.lora_A.weight F32 [2,16]",
      "base_model.model.blocks.0.attn.v.lora_B.weight F32 [16,2]",
      "base_model.model.blocks.1.attn.q.lora_A.weight F32 [2,16]",
      "base_model.model.blocks.1.attn.q.lora_B.weight F32 [16,2]",
      "base_model.model.blocks.1.attn.v.lora_A.weight F32 [2,16]",
      "base_model.model.blocks.1.attn.v.lora_B.weight F32 [16,2]",
    ]);
    const { tsgrad_weights: record, ...config } = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    assert.equal(config, configToJson(peft.peftConfig.get("default") as never));
    // the config vouches for the weights saved with it
    assert.equal(record, { bytes: file.bytes, sha256: file.sha256 });
  });
});

test("several adapters: default in the folder, others in sub-folders; each loads back under any name", async () => {
  const peft = lora();
  peft.addAdapter("second", { method: "lora", r: 3, targetModules: ["k"], initLoraWeights: false });
  const x = inputsFor(peft.model);
  const first = await outputOf(peft, x);
  peft.setAdapter("second");
  const second = await outputOf(peft, x);
  await withTempDir(async (dir) => {
    await peft.saveAdapter(dir);
    assert.equal((await readdir(join(dir, "second"))).sort(), ["adapter_config.json", "adapter_model.safetensors"]);
    const loaded = await loadAdapter(tinyEncoder().eval(), join(dir, "second"), { adapterName: "mine" });
    assert.is(loaded.activeAdapter, "mine");
    assert.equal(await outputOf(loaded, x), second);
    const report = await loaded.loadAdapter(dir, "default");
    assert.equal(report.missingKeys, []);
    loaded.setAdapter("default");
    assert.equal(await outputOf(loaded, x), first);
    await peft.saveAdapter(join(dir, "only"), { selectedAdapters: ["second"] });
    assert.equal(await readdir(join(dir, "only")), ["second"]);
  });
});

for (const dtype of ["F16", "BF16"] as HalfDType[]) {
  test(`an adapter stored in ${dtype} loads, as float32 weights holding exactly the ${dtype} values`, async () => {
    const peft = lora();
    const x = inputsFor(peft.model);
    await withTempDir(async (dir) => {
      const state = await Promise.all(
        [...peft.adapterStateDict()].map(async ([k, p]) => [k, p.shape, Array.from(await p.data())] as const),
      );
      await writeHalfSafetensors(
        join(dir, "adapter_model.safetensors"),
        state.map(([k, s, v]) => [k, s, v]),
        dtype,
      );
      await writeFile(join(dir, "adapter_config.json"), JSON.stringify(configToJson(peft.peftConfig.get("default") as never)));
      const loaded = await loadAdapter(tinyEncoder().eval(), dir);
      // the same weights rounded on the host, put in by hand
      const reference = lora();
      const rounded = new Map<string, Tensor>(
        state.map(([k, s, v]) => [
          k,
          tensor(
            v.map((e) => roundToHalf(e, dtype)),
            [...s],
          ),
        ]),
      );
      reference.setAdapterStateDict("default", rounded);
      assert.equal(await outputOf(loaded, x), await outputOf(reference, x));
      const dtypes = (await readSafetensorsFile(join(dir, "adapter_model.safetensors"))).tensors;
      assert.ok([...dtypes.values()].every((t) => t.dtype === dtype));
    });
  });
}

test("adapter names that would escape the folder are refused everywhere", async () => {
  for (const bad of ["..", "../x", "a/b", "a\\b", "x/../../y"]) {
    assert.throws(() => getPeftModel(tinyEncoder(), { method: "lora" }, bad), /would escape the adapter folder/);
    assert.throws(() => lora().addAdapter(bad, { method: "lora" }), /would escape the adapter folder/);
    await assertRejects(loadAdapter(tinyEncoder(), "/nonexistent", { adapterName: bad }), /would escape the adapter folder/);
    await assertRejects(lora().saveAdapter("/nonexistent", { selectedAdapters: [bad] }), /would escape the adapter folder/);
  }
  assert.throws(() => lora().addAdapter("a.b", { method: "lora" }), /a "\." would split the parameter paths/);
  assert.throws(() => lora().addAdapter("training", { method: "lora" }), /is reserved/);
});

/** Saves a d = 16 LoRA adapter and returns the folder's path inside `dir`. */
async function savedAdapter(
  dir: string,
  config: Parameters<typeof getPeftModel>[1] = { method: "lora", r: 2, initLoraWeights: false },
): Promise<string> {
  await getPeftModel(tinyEncoder(), config).saveAdapter(dir);
  return dir;
}

/** Loading must fail with `pattern` and leave the model without adapters, computing what it did. */
async function refusedLoad(model: TinyEncoder, dir: string, pattern: RegExp): Promise<void> {
  const x = inputsFor(model);
  const before = await outputOf(model, x);
  await assertRejects(loadAdapter(model, dir), pattern);
  assert.ok(
    model.namedModules().every(([, m]) => !(m instanceof AdapterLayer)),
    "the failed load left adapter layers behind",
  );
  assert.equal(await outputOf(model, x), before);
  assert.ok(model.parameters().every((p) => p.requiresGrad));
}

test("an adapter from another model (d = 16 into d = 32) is refused, naming the keys and both shapes", async () => {
  await withTempDir(async (dir) => {
    await savedAdapter(dir);
    await refusedLoad(
      tinyEncoder({ d: 32 }),
      dir,
      /loadAdapter .*: the adapter does not fit this model \(8 problems\): shape mismatch base_model\.model\.blocks\.0\.attn\.q\.lora_A\.weight: the model's is \[2,32\], the file's \[2,16\]/,
    );
  });
});

test("a HyRA adapter with another hidden width or head count is refused by shape", async () => {
  await withTempDir(async (dir) => {
    await savedAdapter(dir, { method: "hyra", r: 2, hiddenWidth: 3 });
    const config = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, hyra_hidden_width: 5 }));
    await refusedLoad(
      tinyEncoder(),
      dir,
      /shape mismatch base_model\.model\.blocks\.0\.attn\.hyra\.theta_A\.U: the model's is \[5,2\], the file's \[3,2\]/,
    );
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify(config));
    // 8 heads of 2 instead of 4 of 4: seed_B (H, d_h, r)
    await refusedLoad(tinyEncoder({ heads: 8 }), dir, /seed_B: the model's is \[8,2,2\], the file's \[4,4,2\]/);
  });
});

test("missing and unexpected keys are named; targets the model lacks are named with what it has", async () => {
  await withTempDir(async (dir) => {
    await savedAdapter(dir);
    const file = await readSafetensorsFile(join(dir, "adapter_model.safetensors"));
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of file.tensors) {
      if (!k.includes("blocks.1.attn.v.lora_B")) tensors.set(k, tensor(Array.from(new Float32Array(t.data.slice().buffer)), t.shape));
    }
    tensors.set("base_model.model.blocks.0.attn.q.lora_C.weight", tensor([1, 2]));
    await saveTensors(tensors, join(dir, "adapter_model.safetensors"));
    // as a folder PEFT wrote (no record of the weights), so that the keys themselves are compared
    const { tsgrad_weights: _, ...peftConfig } = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify(peftConfig));
    await refusedLoad(
      tinyEncoder(),
      dir,
      /missing key base_model\.model\.blocks\.1\.attn\.v\.lora_B\.weight; unexpected key base_model\.model\.blocks\.0\.attn\.q\.lora_C\.weight/,
    );
    const config = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, target_modules: ["q_proj", "v_proj"] }));
    await refusedLoad(
      tinyEncoder(),
      dir,
      /does not fit this model: .*targetModules "q_proj", "v_proj" matched no module; the model's Linear layers are blocks\.0\.attn\.q, blocks\.0\.attn\.k/,
    );
  });
});

test("PEFT features we do not implement are refused by name, not loaded wrong", async () => {
  await withTempDir(async (dir) => {
    await savedAdapter(dir);
    const config = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    for (const [field, value] of [
      ["use_dora", true],
      ["fan_in_fan_out", true],
      ["rank_pattern", { q: 4 }],
      ["init_lora_weights", "pissa"],
    ] as const) {
      await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, [field]: value }));
      await refusedLoad(
        tinyEncoder(),
        dir,
        new RegExp(`${field} = .* (is a PEFT feature that @tsgrad/hyra does not implement|changes the base weights)`),
      );
    }
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, use_mixture_of_experts: true }));
    await refusedLoad(tinyEncoder(), dir, /unknown field use_mixture_of_experts = true: it may change the computation/);
    await writeFile(join(dir, "adapter_config.json"), "{ not json");
    await refusedLoad(tinyEncoder(), dir, /adapter_config\.json: is not valid JSON at line 1, column 3/);
  });
});

test("a loaded adapter is frozen unless isTrainable; a failed load into a PeftModel leaves it as it was", async () => {
  await withTempDir(async (dir) => {
    await savedAdapter(dir);
    const trainable = await loadAdapter(tinyEncoder(), dir, { isTrainable: true });
    // q and v of 2 blocks, each r·d + d·r = 64
    assert.is(trainable.getNbTrainableParameters().trainable, 2 * 2 * 64);
    const peft = getPeftModel(tinyEncoder({ d: 32 }), { method: "lora", r: 2 });
    const names = () => peft.namedParameters().map(([n]) => n);
    const before = names();
    await assertRejects(peft.loadAdapter(dir, "other"), /shape mismatch/);
    assert.equal(names(), before);
    assert.equal([...peft.peftConfig.keys()], ["default"]);
  });
});

test("setAdapterStateDict with strict: false reports instead of throwing, and loads what fits", async () => {
  const peft = lora();
  const key = "base_model.model.blocks.0.attn.q.lora_A.weight";
  const values = noGrad(() =>
    tensor(
      Array.from({ length: 32 }, (_, i) => i / 32),
      [2, 16],
    ),
  );
  const report = peft.setAdapterStateDict("default", new Map([[key, values]]), { strict: false });
  assert.is(report.missingKeys.length, 7);
  assert.equal(Array.from(await (peft.adapterStateDict().get(key) as Tensor).data()), Array.from(await values.data()));
});

test.run();

/**
 * @file PEFT conformance against two committed fixtures: test/fixtures/peft-lora (written from PEFT's
 * documentation: saveAdapter writes exactly its config text and its tensor keys, dtypes and shapes, and
 * loadAdapter reads it) and test/fixtures/peft-lora-real (what PEFT 0.21 itself wrote for the same model
 * and config, made by fixtures/peft-check/save_peft_fixture.py).
 */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensorsFile } from "@tsgrad/nn/node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  configFromJson,
  getPeftModel,
  type LoraConfig,
  LoraLinear,
  loadAdapter,
  ModulePattern,
  ModulesToSaveWrapper,
} from "../src/node.ts";
import { inputsFor, outputOf, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/peft-lora/", import.meta.url));
const REAL = fileURLToPath(new URL("./fixtures/peft-lora-real/", import.meta.url));
const FIXTURE_CONFIG = { method: "lora", r: 4, alpha: 8, dropout: 0.05, targetModules: ["q", "v"], modulesToSave: ["head"] } as const;

/** The keys of the LoRA adapter_config.json example in PEFT's docs/source/developer_guides/checkpoint.md. */
const DOCUMENTED_KEYS = [
  "alpha_pattern",
  "auto_mapping",
  "base_model_name_or_path",
  "bias",
  "fan_in_fan_out",
  "inference_mode",
  "init_lora_weights",
  "layer_replication",
  "layers_pattern",
  "layers_to_transform",
  "loftq_config",
  "lora_alpha",
  "lora_dropout",
  "megatron_config",
  "megatron_core",
  "modules_to_save",
  "peft_type",
  "r",
  "rank_pattern",
  "revision",
  "target_modules",
  "task_type",
  "use_dora",
  "use_rslora",
];

const fixtureConfig = async () => readFile(join(FIXTURE, "adapter_config.json"), "utf8");

test("the fixture's config has exactly the fields of PEFT's documented example", async () => {
  assert.equal(Object.keys(JSON.parse(await fixtureConfig())), DOCUMENTED_KEYS);
});

test("saveAdapter writes the fixture's config as PEFT lays it out, and its tensors' keys, dtypes and shapes", async () => {
  const peft = getPeftModel(tinyEncoder(), FIXTURE_CONFIG);
  await withTempDir(async (dir) => {
    await peft.saveAdapter(dir);
    // PEFT's json.dumps(indent=2, sort_keys=True) lays these values out as JSON.stringify(_, null, 2)
    // does (the fixture file itself is formatted by the repository's formatter, so its text differs)
    const fixture = JSON.parse(await fixtureConfig());
    assert.equal(Object.keys(fixture), Object.keys(fixture).sort());
    // ours adds one field, the weights file it was saved with (PEFT drops fields it does not know,
    // with a warning: _check_and_remove_unused_kwargs, for forward compatibility)
    const file = await readSafetensorsFile(join(dir, "adapter_model.safetensors"));
    const withRecord = { ...fixture, tsgrad_weights: { bytes: file.bytes, sha256: file.sha256 } };
    const sorted = Object.fromEntries(Object.entries(withRecord).sort(([a], [b]) => (a < b ? -1 : 1)));
    assert.fixture(await readFile(join(dir, "adapter_config.json"), "utf8"), `${JSON.stringify(sorted, null, 2)}\n`);
    const expected = JSON.parse(await readFile(join(FIXTURE, "expected-tensors.json"), "utf8"));
    const written = Object.fromEntries([...file.tensors].map(([key, t]) => [key, { dtype: t.dtype, shape: t.shape }]));
    assert.equal(written, expected);
    assert.equal(file.metadata, { format: "pt" });
  });
});

test("loadAdapter reads the fixture's config and builds the adapter it describes", async () => {
  const { config, ignoredFields } = configFromJson(JSON.parse(await fixtureConfig()));
  assert.equal(config, {
    method: "lora",
    r: 4,
    alpha: 8,
    dropout: 0.05,
    targetModules: ["q", "v"],
    excludeModules: null,
    layersToTransform: null,
    layersPattern: null,
    modulesToSave: ["head"],
    bias: "none",
    useRslora: false,
    initLoraWeights: true,
  });
  // fields about the base model's origin, or defaults of features we refuse when set
  assert.equal(ignoredFields.sort(), [
    "auto_mapping",
    "base_model_name_or_path",
    "inference_mode",
    "loftq_config",
    "megatron_core",
    "revision",
    "task_type",
  ]);
  await withTempDir(async (dir) => {
    const source = getPeftModel(tinyEncoder(), { ...(config as LoraConfig), initLoraWeights: false });
    await source.saveAdapter(dir);
    // the fixture's config next to the weights: what a PEFT-written folder would hold
    await writeFile(join(dir, "adapter_config.json"), await fixtureConfig());
    const loaded = await loadAdapter(tinyEncoder(), dir);
    assert.ok(loaded.model.blocks.at(1).getSubmodule("attn.v") instanceof LoraLinear);
    assert.ok(loaded.model.head instanceof ModulesToSaveWrapper);
    const x = inputsFor(loaded.model);
    source.eval();
    loaded.eval();
    assert.equal(await outputOf(loaded, x), await outputOf(source, x));
  });
});

test("against what PEFT 0.21 itself wrote: the same tensors, and every field we write with PEFT's value", async () => {
  const peft = getPeftModel(tinyEncoder(), FIXTURE_CONFIG);
  const real = JSON.parse(await readFile(join(REAL, "adapter_config.json"), "utf8"));
  const realTensors = JSON.parse(await readFile(join(REAL, "tensors.json"), "utf8"));
  await withTempDir(async (dir) => {
    await peft.saveAdapter(dir);
    const ours = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    for (const [key, value] of Object.entries(ours)) {
      if (key === "tsgrad_weights") continue; // ours alone (see above)
      assert.ok(key in real, `we write ${key}, which PEFT 0.21 does not`);
      // PEFT keeps target_modules as a set (any order), and records the Python class in auto_mapping
      if (key === "target_modules") assert.equal([...(value as string[])].sort(), [...real[key]].sort());
      else if (key !== "auto_mapping") assert.equal(value, real[key], key);
    }
    const file = await readSafetensorsFile(join(dir, "adapter_model.safetensors"));
    const written = Object.fromEntries([...file.tensors].map(([key, t]) => [key, { dtype: t.dtype, shape: t.shape }]));
    assert.equal(written, realTensors);
  });
});

test("PEFT 0.21's own config (with its newer fields, all off) loads and describes the same adapter", async () => {
  const real = JSON.parse(await readFile(join(REAL, "adapter_config.json"), "utf8"));
  const config = configFromJson(real).config as LoraConfig;
  assert.equal(
    [config.method, config.r, config.alpha, config.dropout, [...(config.targetModules as string[])].sort(), config.modulesToSave],
    ["lora", 4, 8, 0.05, ["q", "v"], ["head"]],
  );
  // a newer feature switched on is still refused
  assert.throws(
    () => configFromJson({ ...real, use_qalora: true }),
    /use_qalora = true is a PEFT feature that @tsgrad\/hyra does not implement/,
  );
});

test("PEFT's minimal documented config (peft_type and target_modules only) reads with PEFT's defaults", () => {
  const config = configFromJson({ target_modules: ["query", "value"], peft_type: "LORA" }).config as LoraConfig;
  assert.equal(
    [config.method, config.r, config.alpha, config.dropout, config.bias, config.targetModules],
    ["lora", 8, 8, 0, "none", ["query", "value"]],
  );
  // a regex string in target_modules (PEFT's re.fullmatch) becomes a pattern matched in linear time
  const regex = configFromJson({ target_modules: ".*\\.(q|v)", peft_type: "LORA" }).config.targetModules;
  assert.ok(regex instanceof ModulePattern && regex.source === ".*\\.(q|v)");
  assert.ok(regex.matches("blocks.0.attn.q") && !regex.matches("blocks.0.attn.qq"));
});

test.run();

/**
 * @file VeRA (tuners/vera/): a hand-computed forward and ΔW; the frozen projections A and B drawn from
 * their own seed (never the global generator), shared by every adapted layer and sliced per layer; only
 * λ_b and λ_d train; the files PEFT writes (`vera_lambda_b`, `vera_lambda_d`, the shared `vera_A` and
 * `vera_B`), save_projection false refused with why; export as LoRA; float64 gradient checks; and the
 * method's folder touching nothing in src/ but its registration and export lines.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { manualSeed, noGrad, randn, type Tensor, tensor } from "@tsgrad/core";
import { gradcheck } from "@tsgrad/core/testing";
import { functionalCall, Linear, Module } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BufferDict,
  configFromJson,
  configToJson,
  getPeftModel,
  loadAdapter,
  type PeftConfigInput,
  resolveConfig,
  tuners,
  type VeraConfig,
  type VeraLinear,
  veraTuner,
} from "../src/node.ts";
import { Attn, inputsFor, MODEL_F32, maxDiff, outputOf, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

class Holder extends Module {
  fc = new Linear(3, 2, { dtype: "float64" });
  forward(x: Tensor): Tensor {
    return this.fc.forward(x);
  }
}

const vera = (fields: Record<string, unknown> = {}) => ({ method: "vera", ...fields }) as PeftConfigInput;

test("a hand-computed VeRA: λ_b ⊙ B·(λ_d ⊙ A·x) and ΔW = diag(λ_b)·B·diag(λ_d)·A", async () => {
  const model = new Holder();
  noGrad(() => {
    model.fc.weight.assign(tensor([0, 0, 0, 0, 0, 0], [2, 3], "float64"));
    model.fc.bias?.assign(tensor([0, 0], [2], "float64"));
  });
  const peft = getPeftModel(model, vera({ r: 2, targetModules: ["fc"] }));
  peft.setAdapterStateDict(
    "default",
    new Map([
      ["base_model.vera_A", tensor([1, 0, 1, 0, 1, 0], [2, 3], "float64")],
      ["base_model.vera_B", tensor([1, 2, 3, -1], [2, 2], "float64")],
      ["base_model.model.fc.vera_lambda_d", tensor([2, 0.5], [2], "float64")],
      ["base_model.model.fc.vera_lambda_b", tensor([1, -1], [2], "float64")],
    ]),
  );
  // x = [1, 2, 3]: A·x = [4, 2]; λ_d ⊙ = [8, 1]; B· = [8 + 2, 24 − 1] = [10, 23]; λ_b ⊙ = [10, −23]
  assert.equal(Array.from(await outputOf(peft, tensor([1, 2, 3], [1, 3], "float64"))), [10, -23]);
  // B·diag(λ_d) = [[2, 1], [6, −0.5]]; ·A = [[2, 1, 2], [6, −0.5, 6]]; diag(λ_b)· flips the second row
  const layer = model.fc as unknown as VeraLinear;
  assert.equal(Array.from(await noGrad(() => layer.deltaWeight("default")).data()), [2, 1, 2, -6, 0.5, -6]);
});

test("the defaults are PEFT's VeraConfig's, and ΔW starts at 0 (λ_b = 0, λ_d = d_initial)", async () => {
  const config = resolveConfig(vera()) as VeraConfig;
  assert.equal(
    [config.r, config.dropout, config.dInitial, config.projectionPrngKey, config.saveProjection, config.initWeights],
    [256, 0, 0.1, 0, true, true],
  );
  const model = tinyEncoder().eval();
  const x = inputsFor(model);
  const base = await outputOf(model, x);
  const peft = getPeftModel(model, vera({ r: 4 }));
  assert.equal(await outputOf(peft, x), base);
  const d = peft.adapterStateDict().get("base_model.model.blocks.0.attn.q.vera_lambda_d") as Tensor;
  assert.equal(
    Array.from(await d.data()).map((v) => Math.fround(v)),
    [0.1, 0.1, 0.1, 0.1].map(Math.fround),
  );
});

test("A and B come from projectionPrngKey through their own generator, Kaiming-uniform, shared by every layer and sliced per layer", async () => {
  const make = (key: number) =>
    getPeftModel(tinyEncoder(), vera({ r: 3, targetModules: ["q", "v", "up", "down"], projectionPrngKey: key }));
  const a = make(7);
  const b = make(7);
  const c = make(8);
  const A = (p: ReturnType<typeof make>) => p.adapterStateDict().get("base_model.vera_A") as Tensor;
  const B = (p: ReturnType<typeof make>) => p.adapterStateDict().get("base_model.vera_B") as Tensor;
  // the largest target: up is 16 -> 32, down 32 -> 16
  assert.equal(
    [A(a).shape, B(a).shape],
    [
      [3, 32],
      [32, 3],
    ],
  );
  assert.equal(await A(a).data(), await A(b).data());
  assert.ok(maxDiff(await A(a).data(), await A(c).data()) > 0.1, "another key, other projections");
  assert.ok(Array.from(await A(a).data()).every((v) => Math.abs(v) <= Math.sqrt(6 / 32)));
  assert.ok(Array.from(await B(a).data()).every((v) => Math.abs(v) <= Math.sqrt(6 / 3)));
  // one tensor each, kept on the tuner; the layers hold no copy
  assert.ok(a.base_model.getSubmodule("vera_A") instanceof BufferDict);
  assert.equal(
    a.namedBuffers().map(([n]) => n),
    ["base_model.vera_A.default", "base_model.vera_B.default"],
  );
  // the global generator did not move: the same draw follows with or without the adapter
  manualSeed(5);
  const before = Array.from(await randn([4]).data());
  manualSeed(5);
  make(7);
  manualSeed(5);
  assert.equal(Array.from(await randn([4]).data()), before);
});

test("only λ_b and λ_d train; the count is layers·P·(out + r); the projections are saved, never trained", () => {
  const peft = getPeftModel(tinyEncoder(), vera({ r: 4 }));
  const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.ok(trainable.every(([n]) => /\.vera_lambda_[bd]\.default$/.test(n)));
  assert.is(peft.getNbTrainableParameters().trainable, 2 * 2 * (16 + 4));
  assert.is(peft.getNbTrainableParameters().trainable, veraTuner.parameterCount({ d: 16, heads: 4, r: 4, layers: 2 }));
  const A = peft.adapterStateDict().get("base_model.vera_A") as Tensor;
  assert.not.ok(A.requiresGrad);
});

test("saveAdapter writes PEFT's VeRA files; loading them reproduces the outputs; a second adapter has its own projections", async () => {
  const model = tinyEncoder().eval();
  const x = inputsFor(model);
  const peft = getPeftModel(model, vera({ r: 4, initWeights: false, projectionPrngKey: 3 }));
  const adapted = await outputOf(peft, x);
  await withTempDir(async (dir) => {
    await peft.saveAdapter(dir);
    const json = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    assert.equal(
      [json.peft_type, json.r, json.vera_dropout, json.d_initial, json.projection_prng_key, json.save_projection, json.init_weights],
      ["VERA", 4, 0, 0.1, 3, true, false],
    );
    assert.not.ok("lora_alpha" in json, "the LoRA family's fields are not VeRA's");
    const loaded = await loadAdapter(tinyEncoder().eval(), dir);
    assert.equal(await outputOf(loaded, x), adapted);
    assert.equal(
      [...loaded.adapterStateDict().keys()].filter((k) => !k.includes(".blocks.")),
      ["base_model.vera_A", "base_model.vera_B"],
    );
    peft.addAdapter("other", vera({ r: 2, projectionPrngKey: 4, initWeights: false }));
    assert.equal((peft.adapterStateDict("other").get("base_model.vera_A") as Tensor).shape, [2, 16]);
    peft.deleteAdapter("other");
    assert.equal(
      peft.namedBuffers().map(([n]) => n),
      ["base_model.vera_A.default", "base_model.vera_B.default"],
    );
  });
});

test("save_projection false is refused, in code and in a file, saying why", () => {
  assert.throws(
    () => resolveConfig(vera({ saveProjection: false })),
    /saveProjection false is not supported: VeRA's A and B would have to be rebuilt from projection_prng_key with PyTorch's random generator/,
  );
  assert.throws(
    () => configFromJson({ peft_type: "VERA", target_modules: ["q"], save_projection: false }),
    /loadAdapter adapter_config\.json: save_projection false is not supported: .*PyTorch's random generator/,
  );
  assert.throws(() => resolveConfig(vera({ alpha: 8 })), /unknown field "alpha" \(a LoRA option; the method is "vera"\)/);
  assert.throws(() => resolveConfig(vera({ projectionPrngKey: -1 })), /projectionPrngKey must be an integer >= 0/);
  assert.throws(() => configFromJson({ peft_type: "VERA", fan_in_fan_out: true }), /fan_in_fan_out = true is a PEFT feature/);
});

test("PEFT's own VeRA config (the fields VeraConfig writes) reads as this method", () => {
  const { config, ignoredFields } = configFromJson({
    auto_mapping: null,
    base_model_name_or_path: null,
    bias: "none",
    d_initial: 0.1,
    fan_in_fan_out: false,
    inference_mode: true,
    init_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    modules_to_save: null,
    peft_type: "VERA",
    projection_prng_key: 0,
    r: 256,
    revision: null,
    save_projection: true,
    target_modules: ["q", "v"],
    task_type: null,
    vera_dropout: 0.0,
  });
  assert.is(config.method, "vera");
  // PEFT's "vera_only" is our "lora_only" (the adapted layers' own biases), both ways
  assert.is(configFromJson({ peft_type: "VERA", bias: "vera_only" }).config.bias, "lora_only");
  assert.is(configToJson(resolveConfig(vera({ bias: "lora_only" }))).bias, "vera_only");
  assert.throws(
    () => configFromJson({ peft_type: "LORA", bias: "vera_only" }),
    /bias must be one of "none", "all", "lora_only", got "vera_only"/,
  );
  assert.equal(ignoredFields.sort(), ["auto_mapping", "base_model_name_or_path", "inference_mode", "revision", "task_type"]);
});

test("exported as LoRA (A' = diag(λ_d)·A, B' = diag(λ_b)·B), it computes the same", async () => {
  const model = tinyEncoder().eval();
  const x = inputsFor(model);
  const peft = getPeftModel(model, vera({ r: 4, initWeights: false }));
  const adapted = await outputOf(peft, x);
  await withTempDir(async (dir) => {
    await peft.exportAsLora(dir);
    const asLora = await loadAdapter(tinyEncoder().eval(), dir);
    assert.is(asLora.method, "lora");
    assert.ok(maxDiff(await outputOf(asLora, x), adapted) < MODEL_F32.atol);
  });
});

test("float64 gradients of the input, λ_b and λ_d (element by element), on q and v", async () => {
  manualSeed(4);
  const peft = getPeftModel(new Attn(4, 2), vera({ r: 3, initWeights: false }));
  const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.is(trainable.length, 4);
  const names = trainable.map(([n]) => n);
  const fn = (x: Tensor, ...ws: Tensor[]) => functionalCall(peft, names, ws, () => peft.forward(x));
  const x = inputsFor(peft.model, { batch: 2, length: 2, dtype: "float64" });
  await gradcheck(fn, [x, ...trainable.map(([, p]) => p)]);
});

test("the VeRA folder is registered by one line and exported by one; no other code in src/ names it", () => {
  const src = new URL("../src/", import.meta.url).pathname;
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
  // comments may name VeRA as an example of a method; code may not
  const code = (f: string) =>
    readFileSync(f, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
  const naming = files(src)
    .filter((f) => !f.includes("/tuners/vera/"))
    .filter((f) => /vera/i.test(code(f)))
    .map((f) => f.slice(src.length));
  assert.equal(naming.sort(), ["index.ts", "tuners/index.ts"]);
  const lines = (f: string) =>
    readFileSync(join(src, f), "utf8")
      .split("\n")
      .filter((l) => /vera/i.test(l));
  assert.equal(lines("tuners/index.ts"), ['import { veraTuner } from "./vera/tuner.ts";', "registerTuner(veraTuner);"]);
  assert.is(lines("index.ts").length, 1);
  assert.is(
    tuners().find((t) => t.method === "vera"),
    veraTuner,
  );
});

test.run();

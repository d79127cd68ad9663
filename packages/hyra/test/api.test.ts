/**
 * @file The PeftModel API around the adapters: disableAdapters as a scope, modulesToSave copies,
 * printTrainableParameters' format, several adapters of each method, and what is refused once a model
 * is unloaded or already adapted.
 */

import { manualSeed, memory, noGrad, type Tensor, tidy } from "@tsgrad/core";
import { Linear, Module, MultiHeadAttention } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cloneModule, getPeftModel, HyraLayer, type Method, ModulesToSaveWrapper, type PeftConfigInput } from "../src/index.ts";
import { inputsFor, maxDiff, outputOf, tinyEncoder } from "./support/models.ts";

test("dispose frees the base model, every adapter and HyRA's cached factors", () => {
  for (const method of ["lora", "mh-lora", "hyra"] as const) {
    const before = memory().numTensors;
    const peft = getPeftModel(tinyEncoder(), { method, r: 2, modulesToSave: ["head"] });
    peft.addAdapter("second", { method, r: 3 });
    // a forward without grad fills HyRA's factor cache with tensors it owns
    tidy(() => noGrad(() => peft.forward(inputsFor(peft.model)))).dispose();
    peft.dispose();
    assert.is(memory().numTensors, before, method);
  }
});

test("disableAdapters runs a scope on the base model's function and switches the adapters back on (sync and async)", async () => {
  for (const method of ["lora", "mh-lora", "hyra"] as const) {
    const model = tinyEncoder().eval();
    const x = inputsFor(model);
    const base = await outputOf(model, x);
    const peft = getPeftModel(model, { method, r: 2, initLoraWeights: false, modulesToSave: ["head"] });
    const adapted = await outputOf(peft, x);
    assert.ok(maxDiff(adapted, base) > 1e-3);
    assert.equal(await peft.disableAdapters(() => outputOf(peft, x)), base, method);
    assert.equal(await outputOf(peft, x), adapted);
    const sync = peft.disableAdapters(() => tidy(() => peft.forward(x).sum()));
    assert.ok(sync.size === 1);
    assert.throws(
      () =>
        peft.disableAdapters(() => {
          throw new Error("inside");
        }),
      /inside/,
    );
    assert.equal(await outputOf(peft, x), adapted, "re-enabled after a throw");
  }
});

test("modulesToSave: a trainable copy per adapter, the frozen original while disabled and after unload", async () => {
  const model = tinyEncoder().eval();
  const original = model.head;
  const peft = getPeftModel(model, { method: "lora", r: 2, modulesToSave: ["head"] });
  const wrapper = model.head as unknown as ModulesToSaveWrapper;
  assert.ok(wrapper instanceof ModulesToSaveWrapper && wrapper.original_module === original);
  const copy = wrapper.modules_to_save.get("default") as Linear;
  assert.ok(copy !== original && copy instanceof Linear);
  assert.ok(copy.weight.requiresGrad && !original.weight.requiresGrad);
  assert.not.ok(copy.weight.sharesStorage(original.weight), "the copy has its own storage");
  assert.equal(Array.from(await copy.weight.data()), Array.from(await original.weight.data()));
  peft.addAdapter("other", { method: "lora", r: 2, modulesToSave: ["head"] });
  peft.setAdapter("other");
  assert.ok(wrapper.activeModule === wrapper.modules_to_save.get("other"));
  assert.ok(!copy.weight.requiresGrad && (wrapper.modules_to_save.get("other") as Linear).weight.requiresGrad);
  assert.ok(peft.disableAdapters(() => wrapper.activeModule) === original);
  assert.ok(peft.unload().head === original);
});

test("cloneModule refuses a class with private state, naming it and the way out", () => {
  assert.throws(
    () => cloneModule(new MultiHeadAttention(4, 2), "blocks.0.attn"),
    /cannot copy "blocks\.0\.attn": its class MultiHeadAttention has private \(#\) members.*give MultiHeadAttention a clone\(\) method/,
  );
  const model = tinyEncoder();
  assert.throws(
    () => getPeftModel(model, { method: "lora", targetModules: ["mlp.up"], modulesToSave: ["blocks.0.attn"] }),
    /MultiHeadAttention has private/,
  );
  // refused while planning: the targets were not wrapped either
  assert.ok(model.blocks.at(0).getSubmodule("mlp.up") instanceof Linear);
  class Custom extends Module {
    #secret = 1;
    lin = new Linear(2, 2);
    clone(): Custom {
      return new Custom();
    }
    value(): number {
      return this.#secret;
    }
  }
  assert.ok(cloneModule(new Custom(), "custom") instanceof Custom);
});

test("printTrainableParameters prints and returns PEFT's line", () => {
  const peft = getPeftModel(tinyEncoder(), { method: "lora", r: 4 });
  const { trainable, all } = peft.getNbTrainableParameters();
  const logged: string[] = [];
  const log = console.log;
  console.log = (line: string) => logged.push(line);
  try {
    const line = peft.printTrainableParameters();
    assert.is(
      line,
      `trainable params: ${trainable} || all params: ${all.toLocaleString("en-US")} || trainable%: ${((100 * trainable) / all).toFixed(4)}`,
    );
    assert.equal(logged, [line]);
    // base 4,499 (two blocks of 2,224 and a head of 51) plus LoRA's 4·r·d per block
    assert.is(line, "trainable params: 512 || all params: 5,011 || trainable%: 10.2175");
  } finally {
    console.log = log;
  }
});

test("several adapters of each method: switching changes the function; the inactive one is frozen; delete cleans up", async () => {
  for (const method of ["lora", "mh-lora", "hyra"] as Method[]) {
    const model = tinyEncoder().eval();
    const x = inputsFor(model);
    const peft = getPeftModel(model, { method, r: 2, initLoraWeights: false } as PeftConfigInput);
    const first = await outputOf(peft, x);
    peft.addAdapter("b", { method, r: 1, initLoraWeights: false, targetModules: ["k", "v"] } as PeftConfigInput);
    assert.equal(await outputOf(peft, x), first);
    peft.setAdapter("b");
    const second = await outputOf(peft, x);
    assert.ok(maxDiff(first, second) > 1e-4, method);
    const trainable = new Set(peft.trainableParameters());
    assert.ok([...peft.adapterStateDict("b").values()].every((p) => trainable.has(p)));
    assert.ok([...peft.adapterStateDict("default").values()].every((p) => !trainable.has(p)));
    peft.deleteAdapter("b");
    assert.is(peft.activeAdapter, "default");
    assert.equal(await outputOf(peft, x), first);
    // k was adapted only by "b"
    assert.ok(model.blocks.at(0).getSubmodule("attn.k") instanceof Linear);
    if (method === "hyra") assert.equal((peft.base_model.getSubmodule("hyra.blocks.0.attn") as HyraLayer).names(), ["default"]);
  }
});

test("one method per model; a PeftModel or an adapted model cannot be adapted again; an unloaded one refuses its API", () => {
  const model = tinyEncoder();
  const peft = getPeftModel(model, { method: "lora" });
  assert.throws(() => peft.addAdapter("h", { method: "hyra" }), /this model holds lora adapters; a hyra adapter cannot join them/);
  assert.throws(() => getPeftModel(peft, { method: "lora" }), /the model is a PeftModel already; use its addAdapter\(\)/);
  assert.throws(() => getPeftModel(model, { method: "lora" }), /the model holds adapter layers already/);
  assert.throws(() => peft.addAdapter("default", { method: "lora" }), /an adapter named "default" exists already/);
  assert.throws(() => peft.setAdapter("nope"), /no adapter named "nope" \(the adapters are default\)/);
  peft.unload();
  for (const call of [
    () => peft.forward(inputsFor(model)),
    () => peft.setAdapter("default"),
    () => peft.unload(),
    () => peft.addAdapter("x", { method: "lora" }),
  ]) {
    assert.throws(call, /this PeftModel was unloaded/);
  }
  // and the base model can be adapted afresh
  assert.ok(getPeftModel(model, { method: "hyra" }).model === model);
});

test("HyRA adds nothing to the attention module: its generators are the tuner's state, which unload removes", () => {
  const model = tinyEncoder();
  const attention = model.blocks.at(0).getSubmodule("attn");
  const before = Object.keys(attention);
  const peft = getPeftModel(model, { method: "hyra" });
  assert.equal(
    Object.keys(attention).filter((k) => !before.includes(k)),
    [],
  );
  assert.ok(peft.base_model.getSubmodule("hyra.blocks.1.attn") instanceof HyraLayer);
  // saved where the files have always put them
  assert.ok(peft.adapterStateDict().has("base_model.model.blocks.1.attn.hyra.theta_B.P.v"));
  peft.unload();
  assert.equal(Object.keys(attention), before);
  assert.equal(
    peft.base_model.namedChildren().map(([n]) => n),
    ["model"],
  );
});

test("training moves only the adapter: the base weights stay bit-identical", async () => {
  manualSeed(2);
  const model = tinyEncoder();
  const base = await Promise.all(model.parameters().map(async (p) => Array.from(await p.data())));
  const peft = getPeftModel(model, { method: "hyra", r: 2 });
  const { AdamW } = await import("@tsgrad/nn");
  const opt = new AdamW(peft.trainableParameters(), { lr: 0.1 });
  const x = inputsFor(model);
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    tidy(() => (peft.forward(x) as Tensor).square().mean().backward());
    opt.step();
  }
  const after = await Promise.all(
    peft
      .unload()
      .parameters()
      .map(async (p) => Array.from(await p.data())),
  );
  assert.equal(after, base);
});

test.run();

/**
 * @file LoRA on its own: a hand-computed forward, ΔW and merge; PEFT's scaling and initialisations;
 * dropout on the adapter path only; any Linear (not only attention); safe merging; refusals while
 * merged; and PEFT's target matching rules.
 */

import { manualSeed, noGrad, ones, std, type Tensor, tensor } from "@tsgrad/core";
import { assertArrayClose, assertRejects } from "@tsgrad/core/testing";
import { Linear, Module, Sequential } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { getPeftModel, isTargeted, LoraLinear, layerIndexOf, matchesName, resolveConfig, scalingOf } from "../src/index.ts";
import { inputsFor, outputOf, tinyEncoder } from "./support/models.ts";
import { setParameters } from "./support/params.ts";

class One extends Module {
  proj: Linear;
  constructor(inFeatures = 2, outFeatures = 2) {
    super();
    this.proj = new Linear(inFeatures, outFeatures, { dtype: "float64" });
  }
  forward(x: Tensor): Tensor {
    return this.proj.forward(x);
  }
}

/** W = [[1,2],[3,4]], b = [0.5,-0.5], A = [[1,-1]], B = [[2],[0.5]], r = 1, alpha = 2 (s = 2). */
function handExample() {
  const model = new One();
  const peft = getPeftModel(model, { method: "lora", r: 1, alpha: 2, targetModules: ["proj"] });
  setParameters(peft, {
    "base_model.model.proj.base_layer.weight": [
      [1, 2],
      [3, 4],
    ],
    "base_model.model.proj.base_layer.bias": [0.5, -0.5],
    "base_model.model.proj.lora_A.default.weight": [[1, -1]],
    "base_model.model.proj.lora_B.default.weight": [[2], [0.5]],
  });
  return { model, peft };
}

test("forward by hand: W·x + b + s·B·(A·x)", async () => {
  const { peft } = handExample();
  // W·x + b = [3 + 2 + 0.5, 9 + 4 - 0.5] = [5.5, 12.5]; A·x = 3 - 1 = 2; s·B·2 = 2·[4, 1] = [8, 2]
  const y = peft.forward(tensor([[3, 1]], undefined, "float64"));
  assert.equal(await y.array(), [[13.5, 14.5]]);
});

test("ΔW = s·B·A, and merging adds exactly it", async () => {
  const { model, peft } = handExample();
  const layer = model.proj as unknown as LoraLinear;
  assert.ok(layer instanceof LoraLinear);
  // s·B·A = 2·[[2, -2], [0.5, -0.5]]
  assert.equal(await noGrad(() => layer.deltaWeight("default")).array(), [
    [4, -4],
    [1, -1],
  ]);
  await peft.merge();
  assert.equal(await layer.weight.array(), [
    [5, -2],
    [4, 3],
  ]);
  // the merged forward: W'·x + b = [15 - 2 + 0.5, 12 + 3 - 0.5]
  assert.equal(await peft.forward(tensor([[3, 1]], undefined, "float64")).array(), [[13.5, 14.5]]);
  peft.unmerge();
  assert.equal(await layer.weight.array(), [
    [1, 2],
    [3, 4],
  ]);
});

test("the wrapper shows the base layer's weight, bias and sizes", () => {
  const { model } = handExample();
  const layer = model.proj as unknown as LoraLinear;
  assert.ok(layer.weight === layer.base_layer.weight && layer.bias === layer.base_layer.bias);
  assert.equal([layer.inFeatures, layer.outFeatures], [2, 2]);
});

test("scaling: alpha / r, or alpha / √r with rsLoRA", () => {
  assert.is(scalingOf({ r: 4, alpha: 8, useRslora: false }), 2);
  assert.is(scalingOf({ r: 4, alpha: 8, useRslora: true }), 4);
  const model = new One(8, 8);
  getPeftModel(model, { method: "lora", r: 4, alpha: 8, useRslora: true, targetModules: ["proj"] });
  assert.is((model.proj as unknown as LoraLinear).settings.get("default")?.scaling, 4);
});

async function stdOf(t: Tensor): Promise<number> {
  return (await std(t).data())[0];
}

test("init true: A Kaiming-uniform with a = √5 (U(±1/√in), PEFT's), B zero", async () => {
  manualSeed(3);
  const model = new One(256, 64);
  getPeftModel(model, { method: "lora", r: 8, targetModules: ["proj"] });
  const layer = model.proj as unknown as LoraLinear;
  const A = Array.from(await (layer.lora_A.get("default") as Linear).weight.data());
  const B = Array.from(await (layer.lora_B.get("default") as Linear).weight.data());
  assert.ok(B.every((v) => v === 0));
  assert.ok(A.every((v) => Math.abs(v) <= 1 / 16));
  // U(±b) has std b/√3; 2048 draws put the sample std within a few percent
  const s = await stdOf((layer.lora_A.get("default") as Linear).weight);
  assert.ok(Math.abs(s / (1 / 16 / Math.sqrt(3)) - 1) < 0.05, `std ${s}`);
});

test('init "gaussian": A ~ N(0, (1/r)²), B zero; init false: B random too', async () => {
  manualSeed(4);
  const model = new One(256, 64);
  getPeftModel(model, { method: "lora", r: 4, targetModules: ["proj"], initLoraWeights: "gaussian" });
  const layer = model.proj as unknown as LoraLinear;
  const s = await stdOf((layer.lora_A.get("default") as Linear).weight);
  assert.ok(Math.abs(s / 0.25 - 1) < 0.06, `std ${s}`);
  const other = new One(256, 64);
  getPeftModel(other, { method: "lora", r: 4, targetModules: ["proj"], initLoraWeights: false });
  const B = Array.from(await ((other.proj as unknown as LoraLinear).lora_B.get("default") as Linear).weight.data());
  assert.ok(B.some((v) => v !== 0) && B.every((v) => Math.abs(v) <= 0.5), "B ~ U(±1/√r)");
});

test("dropout acts on the adapter's input only, and only while training", async () => {
  // in = out = r = 1, W = 3, b = 0, A = B = 1, s = 1: y = 3x + dropout(x), and x = 1
  const model = new One(1, 1);
  const peft = getPeftModel(model, { method: "lora", r: 1, alpha: 1, dropout: 0.5, targetModules: ["proj"] });
  setParameters(peft, {
    "base_model.model.proj.base_layer.weight": [[3]],
    "base_model.model.proj.base_layer.bias": [0],
    "base_model.model.proj.lora_A.default.weight": [[1]],
    "base_model.model.proj.lora_B.default.weight": [[1]],
  });
  const x = ones([400, 1], { dtype: "float64" });
  const training = Array.from(await peft.forward(x).data());
  // dropout(1) is 0 or 1/(1 - p) = 2; the base path's 3 is never dropped
  assert.ok(training.every((v) => v === 3 || v === 5));
  assert.ok(training.includes(3) && training.includes(5));
  peft.eval();
  assert.ok(Array.from(await peft.forward(x).data()).every((v) => v === 4));
});

test("LoRA adapts any Linear, not only attention projections", async () => {
  manualSeed(5);
  const mlp = new Sequential(new Linear(4, 8), new Linear(8, 2));
  const peft = getPeftModel(mlp, { method: "lora", r: 2, targetModules: ["0"], initLoraWeights: false });
  assert.ok(mlp.at(0) instanceof LoraLinear && mlp.at(1) instanceof Linear);
  const x = tensor([[1, 2, 3, 4]]);
  const adapted = await outputOf(peft, x);
  const base = await peft.disableAdapters(() => outputOf(peft, x));
  assert.ok(adapted.some((v, i) => v !== base[i]));
});

test("a safe merge refuses non-finite weights and changes nothing; an unsafe one merges them", async () => {
  const model = tinyEncoder();
  const peft = getPeftModel(model, { method: "lora", r: 2 });
  setParameters(peft, { "base_model.model.blocks.1.attn.v.lora_B.default.weight": Array.from({ length: 16 }, () => [Number.NaN, 1]) });
  const before = Array.from(await peft.model.blocks.at(0).getSubmodule("attn.q.base_layer").namedParameters()[0][1].data());
  await assertRejects(
    peft.merge({ safe: true }),
    /safe merge refused: adapter "default" would make 256 of the 256 weights of "blocks\.1\.attn\.v" non-finite; nothing was merged/,
  );
  assert.not.ok(peft.merged);
  const after = Array.from(await peft.model.blocks.at(0).getSubmodule("attn.q.base_layer").namedParameters()[0][1].data());
  assert.equal(after, before);
  await peft.merge();
  assert.ok(peft.merged);
});

test("unmerge refuses when the adapter changed after merging; setAdapter, disableAdapters and unload refuse while merged", async () => {
  const model = tinyEncoder();
  const peft = getPeftModel(model, { method: "lora", r: 2, initLoraWeights: false });
  await peft.merge();
  assert.throws(
    () => peft.setAdapter("default"),
    /setAdapter: adapters are merged into 4 layers \(blocks\.0\.attn\.q, \.\.\.\).*unmerge\(\) first/,
  );
  assert.throws(() => peft.disableAdapters(() => 0), /disableAdapters: adapters are merged/);
  assert.throws(() => peft.unload(), /unload: adapters are merged/);
  setParameters(peft, { "base_model.model.blocks.1.attn.q.lora_A.default.weight": Array.from({ length: 2 }, () => Array(16).fill(0.5)) });
  assert.throws(() => peft.unmerge(), /unmerge: the weights of adapter "default" in "blocks\.1\.attn\.q" changed after it was merged/);
  // refused before anything was written: every layer is still merged
  assert.ok(peft.model.namedModules().every(([, m]) => !(m instanceof LoraLinear) || m.merged));
});

test("merging two adapters at once adds both ΔW; unmerge takes both out", async () => {
  const model = tinyEncoder();
  const peft = getPeftModel(model, { method: "lora", r: 2, initLoraWeights: false });
  peft.addAdapter("other", { method: "lora", r: 3, targetModules: ["q"], initLoraWeights: false });
  const q = model.blocks.at(0).getSubmodule("attn.q") as LoraLinear;
  const W = Array.from(await q.weight.data());
  const deltas = await Promise.all(["default", "other"].map(async (n) => Array.from(await noGrad(() => q.deltaWeight(n)).data())));
  await peft.merge({ adapterNames: ["default", "other"] });
  assert.equal(q.mergedAdapters, ["default", "other"]);
  const merged = Array.from(await q.weight.data());
  const scale = W.map((w, i) => Math.abs(w) + Math.abs(deltas[0][i]) + Math.abs(deltas[1][i]));
  assertArrayClose(
    merged,
    W.map((w, i) => w + deltas[0][i] + deltas[1][i]),
    { atol: 0, rtol: 2 ** -23 },
    { scale, what: "W + Δ1 + Δ2" },
  );
  peft.unmerge();
  assertArrayClose(Array.from(await q.weight.data()), W, { atol: 0, rtol: 2 ** -22 }, { scale, what: "W after unmerge" });
});

test("target matching: exact path or last parts, RegExp on the whole path, excludeModules, layers", () => {
  assert.ok(matchesName("blocks.0.attn.q", ["q"]));
  assert.ok(matchesName("blocks.0.attn.q", ["attn.q"]));
  assert.ok(matchesName("blocks.0.attn.q", ["blocks.0.attn.q"]));
  assert.not.ok(matchesName("blocks.0.attn.qq", ["q"]));
  assert.not.ok(matchesName("blocks.0.attn.q", ["tn.q"]));
  // PEFT's re.fullmatch: the whole path must match
  assert.not.ok(matchesName("blocks.0.attn.q", /q/));
  assert.ok(matchesName("blocks.0.attn.q", /.*\.q/));
  assert.ok(matchesName("blocks.0.attn.q", /blocks\.0\.attn\.(q|v)/));
  assert.is(layerIndexOf("blocks.3.attn.q", null), 3);
  assert.is(layerIndexOf("encoder.layers.12.attn.q", null), 12);
  assert.is(layerIndexOf("blocks.3.experts.1.fc", "experts"), 1);
  assert.is(layerIndexOf("head", null), null);
  const config = resolveConfig({
    method: "lora",
    targetModules: ["q", "v"],
    excludeModules: ["blocks.1.attn.v"],
    layersToTransform: [1, 2],
  });
  assert.equal(
    ["blocks.0.attn.q", "blocks.1.attn.q", "blocks.1.attn.v", "blocks.2.attn.v", "blocks.2.attn.k"].map((p) => isTargeted(p, config)),
    [false, true, false, true, false],
  );
  assert.ok(isTargeted("blocks.2.attn.q", resolveConfig({ method: "lora", layersToTransform: 2 })));
});

test("several adapters: each output is its own; trainable parameters follow the active one", async () => {
  const model = tinyEncoder().eval();
  const x = inputsFor(model);
  const base = await outputOf(model, x);
  const peft = getPeftModel(model, { method: "lora", r: 2, initLoraWeights: false });
  const first = await outputOf(peft, x);
  peft.addAdapter("other", { method: "lora", r: 4, targetModules: ["q"], initLoraWeights: false });
  assert.equal(await outputOf(peft, x), first, "a new adapter is not active");
  assert.ok(peft.trainableParameters().every((p) => [...peft.adapterStateDict("default").values()].includes(p)));
  peft.setAdapter("other");
  const second = await outputOf(peft, x);
  assert.ok(second.some((v, i) => v !== first[i]) && second.some((v, i) => v !== base[i]));
  assert.is(peft.getNbTrainableParameters().trainable, 2 * (4 * 16 + 16 * 4));
  peft.deleteAdapter("default");
  assert.is(peft.activeAdapter, "other");
  // v was adapted only by "default": it is a plain Linear again
  assert.ok(model.blocks.at(0).getSubmodule("attn.v") instanceof Linear);
  assert.equal(await outputOf(peft, x), second);
  assert.throws(() => peft.deleteAdapter("other"), /"other" is the only adapter; unload\(\) returns the base model/);
});

test.run();

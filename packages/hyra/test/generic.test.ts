/**
 * @file The checks every (tiny model, config) case must pass, driven by one table as PEFT's TEST_CASES
 * and _test_merge_layers: zero init is the identity; with random non-zero adapters, merged, unmerged and
 * merged-and-unloaded models compute the same function and unmerge restores the weights; save then
 * load reproduces the outputs bit for bit; only the adapter (and modulesToSave, and biases as asked)
 * trains, with the documented count; unload gives the base model back.
 */

import { noGrad, type Tensor } from "@tsgrad/core";
import { assertArrayClose } from "@tsgrad/core/testing";
import { Linear, Parameter } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AdapterLayer,
  adapterParameterCount,
  getPeftModel,
  HyraLayer,
  loadAdapter,
  ModulesToSaveWrapper,
  type PeftConfigInput,
} from "../src/node.ts";
import { inputsFor, MODEL_F32, maxDiff, outputOf, type TinyEncoder, type TinyOptions, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

interface Case {
  name: string;
  model?: TinyOptions;
  config: PeftConfigInput;
  /** The trainable count, from the formulas plus what modulesToSave and bias add. */
  trainable: (m: TinyEncoder) => number;
}

const HEAD = 16 * 3 + 3; // Linear(16, 3)
// biases of one block: ln1 16, q k v o 4·16, ln2 16, mlp up 32 and down 16
const BLOCK_BIASES = 16 + 64 + 16 + 32 + 16;
const d16 = { d: 16, heads: 4, layers: 2 };

const CASES: Case[] = [
  { name: "lora on q, v", config: { method: "lora", r: 4, alpha: 8 }, trainable: () => adapterParameterCount("lora", { ...d16, r: 4 }) },
  {
    name: "lora on every Linear of the blocks (RegExp)",
    config: { method: "lora", r: 2, targetModules: /blocks\.\d+\.(attn\.[qkvo]|mlp\.(up|down))/ },
    // q, k, v, o: 4·(2·16 + 16·2); up 16 -> 32: 2·16 + 32·2; down 32 -> 16: 2·32 + 16·2
    trainable: () => 2 * (4 * 64 + 96 + 96),
  },
  {
    name: "lora, rsLoRA, dropout, modulesToSave head, bias all",
    config: { method: "lora", r: 4, alpha: 4, useRslora: true, dropout: 0.1, modulesToSave: ["head"], bias: "all" },
    trainable: () => adapterParameterCount("lora", { ...d16, r: 4 }) + HEAD + 2 * BLOCK_BIASES,
  },
  {
    name: "lora on q, k, v of layer 1, gaussian init",
    config: { method: "lora", r: 2, targetModules: ["q", "k", "v"], layersToTransform: [1], initLoraWeights: "gaussian" },
    trainable: () => adapterParameterCount("lora", { ...d16, layers: 1, projections: 3, r: 2 }),
  },
  { name: "mh-lora on q, v", config: { method: "mh-lora", r: 2 }, trainable: () => adapterParameterCount("mh-lora", { ...d16, r: 2 }) },
  {
    name: "mh-lora on q, k, v of blocks 0 (layersPattern)",
    config: { method: "mh-lora", r: 3, targetModules: ["attn.q", "attn.k", "attn.v"], layersToTransform: 0, layersPattern: "blocks" },
    trainable: () => adapterParameterCount("mh-lora", { ...d16, layers: 1, projections: 3, r: 3 }),
  },
  {
    name: "mh-lora on q, v and the output projection o (split by its inputs)",
    config: { method: "mh-lora", r: 2, targetModules: ["q", "v", "o"] },
    trainable: () => adapterParameterCount("mh-lora", { ...d16, r: 2, projections: 3 }),
  },
  { name: "hyra, defaults", config: { method: "hyra", r: 4 }, trainable: () => adapterParameterCount("hyra", { ...d16, r: 4 }) },
  {
    name: "hyra on q, v and o, one Ā and one set of B_h per projection",
    config: { method: "hyra", r: 2, targetModules: ["q", "v", "o"], sharedSeeds: false },
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 2, projections: 3, sharedSeeds: false }),
  },
  {
    name: "hyra on o alone, rank-axis Θ_B, separate trunks",
    config: { method: "hyra", r: 2, targetModules: ["o"], mixing: "rank", sharedTrunk: false },
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 2, projections: 1, mixing: "rank", sharedTrunk: false }),
  },
  {
    name: "hyra, rank-axis Θ_B, tanh, m = 8",
    config: { method: "hyra", r: 3, activation: "tanh", mixing: "rank", hiddenWidth: 8 },
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 3, mixing: "rank", hiddenWidth: 8 }),
  },
  {
    name: "hyra, one Θ_B per head, separate trunks, identity σ",
    config: { method: "hyra", r: 2, activation: "identity", perHeadGenerator: true, sharedTrunk: false },
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 2, perHeadGenerator: true, sharedTrunk: false }),
  },
  {
    name: "hyra on q, k, v, zero seeds, modulesToSave head, bias lora_only",
    config: { method: "hyra", r: 2, hyraInit: "zero-seeds", targetModules: ["q", "k", "v"], modulesToSave: ["head"], bias: "lora_only" },
    // lora_only: the biases of the 3 adapted projections in each of 2 blocks
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 2, projections: 3 }) + HEAD + 2 * 3 * 16,
  },
  {
    name: "hyra, relu, d = 24 with 3 heads, 3 layers",
    model: { d: 24, heads: 3, layers: 3 },
    config: { method: "hyra", r: 2, activation: "relu" },
    trainable: () => adapterParameterCount("hyra", { d: 24, heads: 3, layers: 3, r: 2 }),
  },
  {
    name: "hyra with compact head embeddings (e = 2 < d_h = 4)",
    config: { method: "hyra", r: 3, headEmbedding: 2 },
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 3, headEmbedding: 2 }),
  },
  {
    name: "hyra with compact head embeddings, rank mixing (e = 1 < r = 3), separate seeds, on q, v and o",
    config: { method: "hyra", r: 3, headEmbedding: 1, mixing: "rank", sharedSeeds: false, targetModules: ["q", "v", "o"] },
    trainable: () => adapterParameterCount("hyra", { ...d16, r: 3, headEmbedding: 1, mixing: "rank", sharedSeeds: false, projections: 3 }),
  },
  { name: "vera on q, v", config: { method: "vera", r: 4 }, trainable: () => adapterParameterCount("vera", { ...d16, r: 4 }) },
  {
    name: "vera on every Linear of the blocks (one pair of projections, sliced per layer), dropout, modulesToSave head, bias all",
    config: { method: "vera", r: 6, targetModules: ["q", "k", "v", "o", "up", "down"], dropout: 0.1, modulesToSave: ["head"], bias: "all" },
    // per layer out + r: q, k, v, o 4·(16 + 6), up 32 + 6, down 16 + 6
    trainable: () => 2 * (4 * 22 + 38 + 22) + HEAD + 2 * BLOCK_BIASES,
  },
];

/** The case's model in eval mode (outputs are compared, so dropout must be off) and its inputs. */
function setup(c: Case): { model: TinyEncoder; x: Tensor } {
  const model = tinyEncoder(c.model).eval();
  return { model, x: inputsFor(model) };
}

/** The same config with every adapter weight random (nothing zero), so that ΔW ≠ 0. */
function nonZero(c: Case): PeftConfigInput {
  // VeRA is not of the LoRA family: its switch is PEFT's init_weights
  const off = c.config.method === "vera" ? { initWeights: false } : { initLoraWeights: false };
  return { ...c.config, ...off } as PeftConfigInput;
}

for (const c of CASES) {
  test(`${c.name}: a freshly injected adapter leaves the outputs unchanged`, async () => {
    const { model, x } = setup(c);
    const base = await outputOf(model, x);
    const peft = getPeftModel(model, c.config);
    peft.eval();
    // ΔW = 0 exactly, so the sum W·x + 0 is bit-identical
    assert.equal(await outputOf(peft, x), base);
  });

  test(`${c.name}: merged, unmerged and merged-and-unloaded outputs agree; unmerge restores the weights`, async () => {
    const { model, x } = setup(c);
    const base = await outputOf(model, x);
    const peft = getPeftModel(model, nonZero(c));
    peft.eval();
    const adapted = await outputOf(peft, x);
    assert.ok(maxDiff(adapted, base) > 1e-3, "a non-zero adapter must change the outputs");
    const layers = peft.model.namedModules().filter((e): e is [string, AdapterLayer] => e[1] instanceof AdapterLayer);
    const before = await Promise.all(layers.map(async ([, l]) => Array.from(await l.weight.data())));
    const deltas = await Promise.all(layers.map(async ([, l]) => Array.from(await noGrad(() => l.deltaWeight("default")).data())));

    await peft.merge({ safe: true });
    assert.ok(peft.merged);
    assertArrayClose(await outputOf(peft, x), adapted, MODEL_F32, { what: "merged outputs" });

    peft.unmerge();
    assert.not.ok(peft.merged);
    assertArrayClose(await outputOf(peft, x), adapted, MODEL_F32, { what: "unmerged outputs" });
    for (const [i, [path, layer]] of layers.entries()) {
      // W + Δ - Δ in float32: two roundings, each within half an ulp of |W| + |Δ|
      const scale = before[i].map((w, j) => Math.abs(w) + Math.abs(deltas[i][j]));
      assertArrayClose(
        Array.from(await layer.weight.data()),
        before[i],
        { atol: 0, rtol: 2 ** -23 },
        { scale, what: `${path} weight after unmerge` },
      );
    }

    const plain = await peft.mergeAndUnload();
    assert.ok(plain === model, "mergeAndUnload returns the base model object");
    assert.ok(
      plain.namedModules().every(([, m]) => !(m instanceof AdapterLayer || m instanceof ModulesToSaveWrapper || m instanceof HyraLayer)),
      "no adapter module is left",
    );
    assert.ok(plain.namedModules().some(([p, m]) => p === "blocks.0.attn.q" && m instanceof Linear));
    assertArrayClose(await outputOf(plain, x), adapted, MODEL_F32, { what: "merged-and-unloaded outputs" });
    assert.throws(() => peft.unmerge(), /unloaded/);
  });

  test(`${c.name}: save then load reproduces the outputs exactly`, async () => {
    const { model, x } = setup(c);
    const peft = getPeftModel(model, nonZero(c));
    peft.eval();
    const adapted = await outputOf(peft, x);
    await withTempDir(async (dir) => {
      await peft.saveAdapter(dir);
      const fresh = setup(c).model;
      const loaded = await loadAdapter(fresh, dir);
      loaded.eval();
      assert.equal(await outputOf(loaded, x), adapted);
      // loaded for inference, as PEFT's from_pretrained: frozen
      assert.equal(loaded.getNbTrainableParameters().trainable, 0);
    });
  });

  test(`${c.name}: only the adapter, modulesToSave and the configured biases train; the count is the formula's`, () => {
    const { model } = setup(c);
    const peft = getPeftModel(model, c.config);
    const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
    // a method's frozen state (VeRA's shared projections) is saved with the adapter but is no parameter
    const saved = [...peft.adapterStateDict().values()];
    const adapter = new Set(saved.filter((t) => t instanceof Parameter));
    assert.ok(saved.every((t) => t instanceof Parameter || !t.requiresGrad));
    assert.equal(trainable.length, adapter.size);
    for (const [name, p] of trainable) {
      assert.ok(adapter.has(p), `${name} trains but is not part of the adapter`);
      assert.ok(/\.(lora_[AB]|mh_lora_[AB]|hyra|vera_lambda_[bd]|modules_to_save)\.|\.bias$/.test(name), `${name} trains`);
    }
    assert.equal(peft.getNbTrainableParameters().trainable, c.trainable(model));
    const baseCount = setup(c).model.numParameters();
    // a modulesToSave copy stands in for its original: counted once
    assert.equal(
      peft.getNbTrainableParameters().all,
      baseCount + c.trainable(model) - (c.config.modulesToSave ? HEAD : 0) - biasesTrained(c),
    );
  });

  test(`${c.name}: unload gives the base model back, outputs and trainability included`, async () => {
    const { model, x } = setup(c);
    const base = await outputOf(model, x);
    const peft = getPeftModel(model, nonZero(c));
    const plain = peft.unload();
    assert.ok(plain === model);
    assert.equal(await outputOf(plain, x), base);
    assert.ok(plain.parameters().every((p) => p.requiresGrad));
    assert.equal(plain.numParameters(), setup(c).model.numParameters());
  });
}

/** Biases of the base model that train (they are part of the base count already). */
function biasesTrained(c: Case): number {
  if (c.config.bias === "all") return 2 * BLOCK_BIASES;
  if (c.config.bias === "lora_only") return 2 * 3 * 16;
  return 0;
}

test.run();

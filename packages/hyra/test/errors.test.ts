/**
 * @file Bad input gets a clear error naming the module and the numbers, and leaves the model as it was:
 * targets that match nothing or the wrong kind of module, ranks larger than a head-structured update, head counts that
 * do not divide the width, projections without a head split, and every invalid config field.
 */

import type { Tensor } from "@tsgrad/core";
import { Linear, Module } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AdapterLayer, getPeftModel, type PeftConfigInput, resolveConfig } from "../src/index.ts";
import { tinyEncoder } from "./support/models.ts";

/** getPeftModel must throw `pattern` and change nothing in the model. */
function refused(config: PeftConfigInput, pattern: RegExp, model: Module = tinyEncoder()): void {
  const before = model.namedModules().map(([p, m]) => `${p}:${m.constructor.name}`);
  assert.throws(() => getPeftModel(model, config), pattern);
  assert.equal(
    model.namedModules().map(([p, m]) => `${p}:${m.constructor.name}`),
    before,
    "a refused injection must leave the model untouched",
  );
  assert.ok(model.namedModules().every(([, m]) => !(m instanceof AdapterLayer)));
}

test("a target that matches nothing names the targets, the filters and the Linear layers there are", () => {
  refused(
    { method: "lora", targetModules: ["query", "value"] },
    /getPeftModel \(lora\): targetModules "query", "value" matched no module; the model's Linear layers are blocks\.0\.attn\.q, blocks\.0\.attn\.k, blocks\.0\.attn\.v, blocks\.0\.attn\.o, blocks\.0\.mlp\.up, blocks\.0\.mlp\.down, blocks\.1\.attn\.q, blocks\.1\.attn\.k, \.\.\. \(13\)/,
  );
  refused({ method: "hyra", targetModules: /attn\.q/ }, /targetModules \/attn\\\.q\/ matched no module/);
  refused({ method: "lora", layersToTransform: [5] }, /targetModules "q", "v" \(with layersToTransform 5\) matched no module/);
  refused({ method: "lora", targetModules: ["q"], excludeModules: /.*/ }, /\(with excludeModules \/\.\*\/\) matched no module/);
});

test("a target that is not a Linear is named with its class", () => {
  refused({ method: "lora", targetModules: ["attn"] }, /target "blocks\.0\.attn" is a MultiHeadAttention, but lora adapts Linear layers/);
  refused(
    { method: "lora", modulesToSave: ["classifier"] },
    /modulesToSave "classifier" matches no module \(the base model's top-level modules: blocks, head\)/,
  );
  refused({ method: "lora", targetModules: ["head"], modulesToSave: ["head"] }, /"head" is both a target and in modulesToSave/);
});

test("a rank larger than the layer names the layer, r and its size (MH-LoRA, HyRA)", () => {
  refused(
    { method: "hyra", r: 17 },
    /r = 17 is larger than "blocks\.0\.attn\.q" \(Linear 16 -> 16\): an update of a 16×16 weight has rank at most 16/,
  );
  // MH-LoRA's blocks are one head high
  refused(
    { method: "mh-lora", r: 5 },
    /r = 5 is larger than a head of "blocks\.0\.attn\.q": each of its 4 heads updates a 4×16 block \(head size 4\), whose rank is at most 4/,
  );
});

test("LoRA accepts any rank, as PEFT: r above min(in, out) adds parameters but no rank to ΔW", async () => {
  const model = tinyEncoder();
  const peft = getPeftModel(model, { method: "lora", r: 20, targetModules: ["down"], initLoraWeights: false });
  const layer = model.getSubmodule("blocks.0.mlp.down") as AdapterLayer;
  const { A, B } = (layer as Required<AdapterLayer>).loraFactors("default");
  assert.equal(
    [A.shape, B.shape],
    [
      [20, 32],
      [16, 20],
    ],
  );
  const delta = await layer.deltaWeight("default").data();
  assert.ok(
    Array.from(delta).some((v) => v !== 0),
    "a random ΔW (initLoraWeights false)",
  );
  peft.unload();
});

/** An attention-like module that declares its head structure (q and v split into `heads`). */
class Declared extends Module {
  readonly headProjections = ["q", "v"];
  q: Linear;
  v: Linear;
  constructor(
    readonly heads: number,
    qOut = 8,
    vOut = 8,
  ) {
    super();
    this.q = new Linear(8, qOut);
    this.v = new Linear(8, vOut);
  }
}

class Holder extends Module {
  constructor(public attn: Module) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

test("a head count that does not divide the width names the module, the heads and the width", () => {
  for (const method of ["mh-lora", "hyra"] as const) {
    refused(
      { method, r: 1 },
      /"attn" declares 3 heads, which do not divide the 8 output features of "attn\.q", so the head size d_h is undefined/,
      new Holder(new Declared(3)),
    );
  }
  // a declared attention module with a valid split works
  assert.ok(getPeftModel(new Holder(new Declared(2)), { method: "hyra", r: 1 }));
});

/** Declared, plus an output projection it does not declare as split by heads. */
class WithOutput extends Declared {
  o = new Linear(8, 8);
}

test("MH-LoRA and HyRA refuse projections without a head split: outside attention, or one not declared split", () => {
  for (const method of ["mh-lora", "hyra"] as const) {
    refused(
      { method, targetModules: ["mlp.up"] },
      new RegExp(
        `${method} needs the head structure of an attention projection, but "blocks\\.0\\.mlp\\.up" is a Linear whose parent "blocks\\.0\\.mlp" \\(FeedForward\\) is not an attention module`,
      ),
    );
    // an attention module that declares no head split for its output projection (MultiHeadAttention declares o's inputs)
    refused(
      { method, targetModules: ["q", "o"] },
      new RegExp(
        `"attn\\.o" is not split by heads: WithOutput "attn" splits the outputs of q, v into its 2 heads, so ${method} cannot give "o" per-head adapters`,
      ),
      new Holder(new WithOutput(2)),
    );
    refused(
      { method, targetModules: ["head"] },
      /"head" is a Linear whose parent the root module \(TinyEncoder\) is not an attention module/,
    );
  }
});

test("HyRA: one generator per layer needs one projection shape; the attention module's own fields are left alone", () => {
  refused(
    { method: "hyra", r: 1 },
    /the projections of "attn" share one HyRA generator, so they need one shape, but "attn\.q" is 8 -> 8 and "attn\.v" is 8 -> 4/,
    new Holder(new Declared(2, 8, 4)),
  );
  refused(
    { method: "hyra", r: 1, headEmbedding: 4 },
    /headEmbedding = 4 is not below the head size d_h = 4 of "attn" \(feature mixing\): a compact embedding is smaller than the seed it replaces/,
    new Holder(new Declared(2)),
  );
  refused(
    { method: "hyra", r: 2, mixing: "rank", headEmbedding: 2 },
    /headEmbedding = 2 is not below the rank r = 2 of "attn" \(rank mixing\)/,
    new Holder(new Declared(2)),
  );
  // the generators are the tuner's state, so a field named hyra on the user's module is no obstacle
  const taken = new Declared(2) as Declared & { hyra?: number };
  taken.hyra = 1;
  const peft = getPeftModel(new Holder(taken), { method: "hyra", r: 1 });
  assert.is(taken.hyra, 1);
  assert.ok(peft.adapterStateDict().has("base_model.model.attn.hyra.seed_A"));
});

test("every config field is checked, and the error names the field and the value", () => {
  const cases: [unknown, RegExp][] = [
    [{ method: "dora" }, /method must be one of "lora", "mh-lora", "hyra", "vera", got "dora"/],
    [{ method: "lora", rank: 4 }, /unknown field "rank"; the fields of a lora config are method, r, alpha/],
    [{ method: "lora", alhpa: 4 }, /unknown field "alhpa" \(did you mean alpha\?\); the fields of a lora config are/],
    [{ method: "lora", activation: "tanh" }, /unknown field "activation" \(a HyRA option; the method is "lora"\)/],
    [{ method: "lora", r: 0 }, /r must be a positive integer up to 65536, got 0/],
    [{ method: "lora", r: 1.5 }, /r must be a positive integer up to 65536, got 1\.5/],
    [{ method: "lora", alpha: -1 }, /alpha must be a number in \(0, 1000000\], got -1/],
    [{ method: "lora", alpha: 1e308 }, /alpha must be a number in \(0, 1000000\], got 1e\+308/],
    [{ method: "lora", r: 1e9 }, /r must be a positive integer up to 65536, got 1000000000/],
    [{ method: "lora", dropout: 1 }, /dropout must be a number in \[0, 1\), got 1/],
    [{ method: "lora", targetModules: "q" }, /targetModules must be a list of module names or a RegExp .*got "q"/],
    [{ method: "lora", targetModules: [] }, /targetModules must be a non-empty list/],
    [{ method: "lora", targetModules: /q/i }, /targetModules must be a RegExp without flags .*got \/q\/i/],
    [{ method: "lora", targetModules: /q/, layersToTransform: 1 }, /layersToTransform cannot be used when targetModules is a RegExp/],
    [
      { method: "lora", layersPattern: "blocks" },
      /layersPattern \("blocks"\) only says where layersToTransform reads the layer index; give layersToTransform too/,
    ],
    [{ method: "lora", layersToTransform: [-1] }, /layersToTransform must be a layer index, a non-empty list of layer indices/],
    [{ method: "lora", bias: "some" }, /bias must be one of "none", "all", "lora_only", got "some"/],
    [{ method: "lora", initLoraWeights: "pissa" }, /initLoraWeights must be true, false or "gaussian", got "pissa"/],
    [{ method: "lora", modulesToSave: /head/ }, /modulesToSave must be a list of module names, or null/],
    [{ method: "hyra", activation: "swish" }, /activation must be one of "gelu", "tanh", "identity", "relu", got "swish"/],
    [{ method: "hyra", hiddenWidth: 0 }, /hiddenWidth must be a positive integer up to 65536, or null for the head size d_h, got 0/],
    [
      { method: "hyra", headEmbedding: 1.5 },
      /headEmbedding must be a positive integer up to 65536, or null for seeds as large as B_h, got 1\.5/,
    ],
    [{ method: "vera", dInitial: Number.NaN }, /dInitial must be a finite number, got NaN/],
    [{ method: "hyra", mixing: "head" }, /mixing must be one of "feature", "rank", got "head"/],
    [{ method: "hyra", sharedTrunk: "yes" }, /sharedTrunk must be true or false, got "yes"/],
    [null, /expected an object such as/],
  ];
  for (const [config, pattern] of cases) assert.throws(() => resolveConfig(config as PeftConfigInput), pattern);
});

test.run();

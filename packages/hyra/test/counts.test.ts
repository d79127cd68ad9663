/**
 * @file Trainable-parameter counts: the formulas reproduce the table of hyra-paper.md §3.4 (ViT-B/16
 * and two tiny models), a real ViT-B-sized stack gives the same counts, and for random d, H, r, layers
 * and options the count of an adapted model equals the formula (property-based).
 */

import { manualSeed } from "@tsgrad/core";
import { checkProperty } from "@tsgrad/core/testing";
import { Linear, Module, ModuleList, MultiHeadAttention } from "@tsgrad/nn";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type AttentionLike, adapterParameterCount, getPeftModel, type Method, type Mixing, type PeftConfigInput } from "../src/index.ts";

test("the formulas give the table of hyra-paper.md §3.4", () => {
  const rows: [string, { d: number; heads: number; r: number; layers: number; hiddenWidth: number }, number[]][] = [
    ["ViT-B/16", { d: 768, heads: 12, r: 8, layers: 12, hiddenWidth: 64 }, [294_912, 1_916_928, 313_344, 184_320]],
    ["tiny d=64", { d: 64, heads: 4, r: 4, layers: 2, hiddenWidth: 16 }, [2_048, 5_120, 2_944, 1_792]],
    ["tiny d=32", { d: 32, heads: 4, r: 4, layers: 2, hiddenWidth: 8 }, [1_024, 2_560, 1_088, 896]],
  ];
  for (const [name, shape, [lora, mh, hyraF, hyraR]] of rows) {
    assert.is(adapterParameterCount("lora", shape), lora, `${name} LoRA`);
    assert.is(adapterParameterCount("mh-lora", shape), mh, `${name} MH-LoRA`);
    assert.is(adapterParameterCount("hyra", { ...shape, mixing: "feature" }), hyraF, `${name} HyRA-F`);
    assert.is(adapterParameterCount("hyra", { ...shape, mixing: "rank" }), hyraR, `${name} HyRA-R`);
    // m = d_h in every row: our default hidden width gives the same numbers
    assert.is(adapterParameterCount("hyra", { ...shape, hiddenWidth: undefined }), hyraF);
  }
});

test("the README's columns for compact HyRA (e = d_h / 4) and VeRA (r = 256, PEFT's default)", () => {
  const rows: [string, { d: number; heads: number; r: number; layers: number }, number, number][] = [
    // ViT: per layer rd 6144 + H·e·r 1536 + 3rm 1536 + m·e 1024 + 2·d_h·m 8192 = 18,432; VeRA 2·(768 + 256)
    ["ViT-B/16", { d: 768, heads: 12, r: 8, layers: 12 }, 221_184, 24_576],
    ["tiny d=64", { d: 64, heads: 4, r: 4, layers: 2 }, 2_176, 1_280],
    ["tiny d=32", { d: 32, heads: 4, r: 4, layers: 2 }, 800, 1_152],
  ];
  for (const [name, shape, compact, vera] of rows) {
    const headEmbedding = shape.d / shape.heads / 4;
    assert.is(adapterParameterCount("hyra", { ...shape, headEmbedding }), compact, `${name} compact HyRA`);
    assert.is(adapterParameterCount("vera", { ...shape, r: 256 }), vera, `${name} VeRA`);
  }
});

/** Attention reduced to what is adapted (q and v): a ViT-B stack of it builds in about a second. */
class QV extends Module implements AttentionLike {
  readonly headProjections = ["q", "v"] as const;
  q: Linear;
  v: Linear;
  constructor(
    d: number,
    readonly heads: number,
  ) {
    super();
    this.q = new Linear(d, d, { bias: false });
    this.v = new Linear(d, d, { bias: false });
  }
}

class Stack extends Module {
  layers: ModuleList;
  constructor(d: number, heads: number, layers: number) {
    super();
    this.layers = new ModuleList(Array.from({ length: layers }, () => new QV(d, heads)));
  }
}

test("a ViT-B-sized stack (d = 768, H = 12, 12 layers) adapted on q and v gives the table's counts", () => {
  const model = new Stack(768, 12, 12);
  const base = model.numParameters();
  const expected: [PeftConfigInput, number][] = [
    [{ method: "lora", r: 8 }, 294_912],
    [{ method: "mh-lora", r: 8 }, 1_916_928],
    [{ method: "hyra", r: 8, hiddenWidth: 64 }, 313_344],
    [{ method: "hyra", r: 8, hiddenWidth: 64, mixing: "rank" }, 184_320],
    [{ method: "hyra", r: 8, headEmbedding: 16 }, 221_184],
    [{ method: "vera", r: 256 }, 24_576],
  ];
  for (const [config, count] of expected) {
    const peft = getPeftModel(model, config);
    assert.equal(peft.getNbTrainableParameters(), { trainable: count, all: base + count }, config.method);
    if (config.method === "lora") {
      assert.is(peft.printTrainableParameters(), "trainable params: 294,912 || all params: 14,450,688 || trainable%: 2.0408");
    }
    peft.unload();
  }
});

test("property: the adapted model's trainable count is the formula's, for any d, H, r, layers and options", async () => {
  const arb = fc.record({
    heads: fc.integer({ min: 1, max: 4 }),
    headSize: fc.integer({ min: 1, max: 4 }),
    r: fc.integer({ min: 1, max: 4 }),
    layers: fc.integer({ min: 1, max: 3 }),
    method: fc.constantFrom<Method>("lora", "mh-lora", "hyra", "vera"),
    targets: fc.constantFrom(["q", "v"], ["q", "k", "v"], ["q", "v", "o"], ["o"]),
    hiddenWidth: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    mixing: fc.constantFrom<Mixing>("feature", "rank"),
    perHeadGenerator: fc.boolean(),
    sharedTrunk: fc.boolean(),
    sharedSeeds: fc.boolean(),
    headEmbedding: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
  });
  await checkProperty(
    "count = formula",
    arb.filter(
      ({ method, r, heads, headSize, mixing, headEmbedding }) =>
        (method === "vera" || r <= (method === "mh-lora" ? headSize : heads * headSize)) &&
        (headEmbedding === null || headEmbedding < (mixing === "rank" ? r : headSize)),
    ),
    (shape) => {
      const {
        heads,
        headSize,
        r,
        layers,
        method,
        targets: targetModules,
        hiddenWidth,
        mixing,
        perHeadGenerator,
        sharedTrunk,
        sharedSeeds,
      } = shape;
      manualSeed(1);
      const d = heads * headSize;
      const model = new (class extends Module {
        blocks = new ModuleList(Array.from({ length: layers }, () => new MultiHeadAttention(d, heads, { bias: false })));
      })();
      const base = model.numParameters();
      const hyra = { hiddenWidth, mixing, perHeadGenerator, sharedTrunk, sharedSeeds, headEmbedding: shape.headEmbedding };
      const config = (method === "hyra" ? { method, r, targetModules, ...hyra } : { method, r, targetModules }) as PeftConfigInput;
      const peft = getPeftModel(model, config);
      const expected = adapterParameterCount(method, { d, heads, r, layers, projections: targetModules.length, ...hyra });
      assert.equal(peft.getNbTrainableParameters(), { trainable: expected, all: base + expected });
    },
  );
});

test.run();

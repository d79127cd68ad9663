/**
 * @file A fourth adapter method defined in this file alone, registered with one line, works through the
 * whole PeftModel API: its own config field (checked, saved, loaded), injection, training, its parameter
 * count, merge and unmerge, save and load, export as LoRA, delete and unload. Nothing in src/ knows it.
 *
 * The method, "outer": ΔW = s·u·vᵀ per adapted Linear, u (out, 1) and v (1, in), s = alpha, and its
 * option `outerInit` ("zero-u", PEFT-like: ΔW = 0 at the start, or "random").
 */

import { matmul, noGrad, type Tensor, tidy, zeros } from "@tsgrad/core";
import { Linear } from "@tsgrad/nn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AdapterDict,
  AdapterLayer,
  adapterParameterCount,
  baseOf,
  type CommonConfig,
  configToJson,
  getPeftModel,
  type LoraFactors,
  loadAdapter,
  type PeftConfigInput,
  registerTuner,
  resolveConfig,
  type Tuner,
} from "../src/node.ts";
import { fitMse, inputsFor, MODEL_F32, maxDiff, outputOf, tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

class OuterLinear extends AdapterLayer {
  outer_u = new AdapterDict<Linear>(); // each weight (out, 1)
  outer_v = new AdapterDict<Linear>(); // each weight (1, in)
  readonly scaling = new Map<string, number>();

  addAdapter(name: string, config: { alpha: number; outerInit: string }): void {
    const dtype = this.base_layer.weight.dtype;
    const u = new Linear(1, this.outFeatures, { bias: false, dtype });
    const v = new Linear(this.inFeatures, 1, { bias: false, dtype });
    if (config.outerInit === "zero-u") noGrad(() => tidy(() => u.weight.assign(zeros([this.outFeatures, 1], { dtype }))));
    this.outer_u.set(name, u);
    this.outer_v.set(name, v);
    this.scaling.set(name, config.alpha);
  }

  adapterNames(): string[] {
    return this.outer_u.names();
  }

  hasAdapter(name: string): boolean {
    return this.outer_u.has(name);
  }

  removeAdapter(name: string): void {
    this.outer_u.delete(name);
    this.outer_v.delete(name);
    this.scaling.delete(name);
  }

  #pair(name: string): { u: Linear; v: Linear; s: number } {
    return { u: this.outer_u.get(name) as Linear, v: this.outer_v.get(name) as Linear, s: this.scaling.get(name) as number };
  }

  protected adapterOutput(x: Tensor, name: string): Tensor {
    const { u, v, s } = this.#pair(name);
    return u.forward(v.forward(x)).mul(s); // (..., 1) -> (..., out)
  }

  deltaWeight(name: string): Tensor {
    const { u, v, s } = this.#pair(name);
    return matmul(u.weight, v.weight).mul(s); // (out, 1)·(1, in)
  }

  override loraFactors(name: string): LoraFactors {
    const { u, v, s } = this.#pair(name);
    return { A: v.weight, B: u.weight, scaling: s };
  }

  protected adapterTensors(name: string): Tensor[] {
    const { u, v } = this.#pair(name);
    return [u.weight, v.weight];
  }
}

interface OuterConfig extends CommonConfig {
  method: "outer";
  alpha: number;
  outerInit: "zero-u" | "random";
}

const outerTuner: Tuner<OuterConfig> = {
  method: "outer",
  label: "Outer",
  peftType: "TEST_OUTER",
  fields: {
    defaults: { outerInit: "zero-u", alpha: 1 },
    diskNames: { outerInit: "outer_init", alpha: "outer_alpha" },
    nullable: [],
    resolve(fields, bad) {
      if (fields.outerInit !== "zero-u" && fields.outerInit !== "random") bad("outerInit", fields.outerInit, '"zero-u" or "random"');
      if (typeof fields.alpha !== "number" || !(fields.alpha > 0)) bad("alpha", fields.alpha, "a positive number");
      return { outerInit: fields.outerInit as OuterConfig["outerInit"], alpha: fields.alpha as number };
    },
  },
  layerClass: OuterLinear,
  inject({ model }, name, config, targets) {
    for (const { path, layer } of targets) {
      const wrapper = layer instanceof OuterLinear ? layer : new OuterLinear(baseOf(layer), path);
      wrapper.addAdapter(name, config);
      if (wrapper !== layer) model.setSubmodule(path, wrapper);
    }
  },
  parameterCount: ({ d, layers, projections = 2 }) => layers * projections * (d + d),
};

registerTuner(outerTuner);

const outer = (fields: Record<string, unknown> = {}) => ({ method: "outer", ...fields }) as unknown as PeftConfigInput;

test("the method's own field is defaulted, checked and refused for the other methods by name", () => {
  assert.is((resolveConfig(outer()) as unknown as { outerInit: string }).outerInit, "zero-u");
  assert.throws(() => resolveConfig(outer({ outerInit: "ones" })), /PeftConfig: outerInit must be "zero-u" or "random", got "ones"/);
  assert.throws(
    () => resolveConfig({ method: "lora", outerInit: "random" } as unknown as PeftConfigInput),
    /unknown field "outerInit" \(a Outer option; the method is "lora"\)/,
  );
  assert.throws(() => resolveConfig(outer({ mixing: "rank" })), /unknown field "mixing" \(a HyRA option; the method is "outer"\)/);
  const json = configToJson(resolveConfig(outer({ outerInit: "random" })));
  assert.is(json.peft_type, "TEST_OUTER");
  assert.is(json.outer_init, "random");
  assert.not.ok("alpha_pattern" in json, "LoRA's PEFT defaults belong to LoRA");
});

test("it trains, counts, merges, saves, loads, exports and unloads through PeftModel", async () => {
  const model = tinyEncoder();
  const x = inputsFor(model);
  const base = await outputOf(model, x);
  const peft = getPeftModel(model, outer({ alpha: 0.5 }));
  assert.ok(model.getSubmodule("blocks.0.attn.q") instanceof OuterLinear);
  assert.is(maxDiff(await outputOf(peft, x), base), 0, "zero-u starts at ΔW = 0");
  assert.is(peft.getNbTrainableParameters().trainable, adapterParameterCount("outer" as never, { d: 16, heads: 4, r: 1, layers: 2 }));

  const target = tidy(() => noGrad(() => model.forward(x).mul(0.5).keep()));
  const losses = await fitMse(peft, x, target, 30);
  assert.ok(losses[29] < 0.9 * losses[0], `the loss fell: ${losses[0]} -> ${losses[29]}`);

  const adapted = await outputOf(peft, x);
  await peft.merge();
  assert.ok(maxDiff(await outputOf(peft, x), adapted) < MODEL_F32.atol * 10, "merged = adapted");
  peft.unmerge();

  await withTempDir(async (dir) => {
    await peft.saveAdapter(dir);
    const loaded = await loadAdapter(tinyEncoder(), dir);
    assert.is(loaded.method as string, "outer");
    assert.is((loaded.peftConfig.get("default") as unknown as { alpha: number }).alpha, 0.5);
    // unmerge rounds W + ΔW − ΔW in float32, so the model saved from is within rounding of a fresh base
    assert.ok(maxDiff(await outputOf(loaded, x), adapted) < MODEL_F32.atol * 10, "loaded = saved");
    loaded.unload();
    await peft.exportAsLora(`${dir}/lora`);
    const asLora = await loadAdapter(tinyEncoder(), `${dir}/lora`);
    assert.is(asLora.method, "lora");
    assert.ok(maxDiff(await outputOf(asLora, x), adapted) < MODEL_F32.atol * 10, "the LoRA export computes the same");
    asLora.unload();
  });

  peft.addAdapter("second", outer({ outerInit: "random" }));
  peft.deleteAdapter("second");
  const back = peft.unload();
  assert.ok(back.namedModules().every(([, m]) => !(m instanceof AdapterLayer)));
  assert.ok(maxDiff(await outputOf(back, x), base) < MODEL_F32.atol * 10, "unload gives the base model back");
  target.dispose();
  x.dispose();
});

test("a method cannot be registered twice under one name or PEFT type", () => {
  assert.throws(() => registerTuner({ ...outerTuner }), /registerTuner: method "outer" \(TEST_OUTER\) clashes with "outer"/);
  assert.throws(() => registerTuner({ ...outerTuner, method: "lora2" as "outer", peftType: "LORA" }), /clashes with "lora" \(LORA\)/);
  assert.throws(() => registerTuner(null as never), /registerTuner: expected a Tuner/);
});

test.run();

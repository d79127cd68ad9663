/**
 * @file Multi-head LoRA as a method: every head of a targeted attention projection gets its own pair
 * (A_h, B_h), the per-head baseline HyRA is compared with. q, k and v are split by their outputs, o by
 * its inputs (mh-lora-linear.ts).
 *
 *     parameters per adapted projection   H·(r·in + d_h·r) on q, k, v;  H·(r·d_h + out·r) on o
 *                                         (both H(rd + d_h·r) for width d: 2H(rd + d_h·r) for q and v)
 */

import { checkRank } from "../../adapter-layer.ts";
import type { CommonConfig } from "../../config.ts";
import { headSplitOf } from "../../targets.ts";
import { LORA_FAMILY, type LoraFamilyConfig } from "../lora/family.ts";
import { baseOf, type Tuner } from "../tuner.ts";
import { MhLoraLinear } from "./mh-lora-linear.ts";

export interface MhLoraConfig extends CommonConfig, LoraFamilyConfig {
  method: "mh-lora";
}

declare module "../../config.ts" {
  interface MethodConfigs {
    "mh-lora": MhLoraConfig;
  }
}

export const mhLoraTuner: Tuner<MhLoraConfig> = {
  method: "mh-lora",
  label: "MH-LoRA",
  peftType: "MH_LORA",
  fields: LORA_FAMILY,
  layerClass: MhLoraLinear,
  inject({ model, where }, name, config, targets) {
    const splits = targets.map(({ path, layer }) => headSplitOf(model, path, baseOf(layer), config.method));
    for (const [i, { path, layer }] of targets.entries()) checkRank(where, config.r, path, baseOf(layer), splits[i]);
    for (const [i, { path, layer }] of targets.entries()) {
      const wrapper = layer instanceof MhLoraLinear ? layer : new MhLoraLinear(baseOf(layer), path, splits[i].heads, splits[i].axis);
      wrapper.addAdapter(name, config);
      if (wrapper !== layer) model.setSubmodule(path, wrapper);
    }
  },
  parameterCount({ d, heads, r, layers, projections = 2 }) {
    return layers * projections * heads * (r * d + (d / heads) * r);
  },
};

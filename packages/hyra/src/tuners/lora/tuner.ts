/**
 * @file LoRA as a method (PEFT's tuners/lora): every targeted Linear gets its own pair (A, B).
 *
 *     parameters per adapted projection   r·in + out·r   (4rd per layer for q and v of width d)
 */

import type { CommonConfig } from "../../config.ts";
import { baseOf, combineFields, type MethodFields, type Tuner } from "../tuner.ts";
import { LORA_FAMILY, type LoraFamilyConfig } from "./family.ts";
import { LoraLinear } from "./lora-linear.ts";

export interface LoraConfig extends CommonConfig, LoraFamilyConfig {
  method: "lora";
}

declare module "../../config.ts" {
  interface MethodConfigs {
    lora: LoraConfig;
  }
}

/**
 * PEFT LoraConfig fields that we write with their defaults (the set of PEFT's documented example
 * adapter_config.json), so that PEFT reads our file as it reads its own.
 */
const PEFT_LORA_DEFAULTS: Record<string, unknown> = {
  alpha_pattern: {},
  auto_mapping: null,
  base_model_name_or_path: null,
  fan_in_fan_out: false,
  inference_mode: true,
  layer_replication: null,
  loftq_config: {},
  megatron_config: null,
  megatron_core: "megatron.core",
  rank_pattern: {},
  revision: null,
  task_type: null,
  use_dora: false,
};

const PEFT_FILE: MethodFields<object> = { defaults: {}, diskNames: {}, nullable: [], resolve: () => ({}), jsonExtras: PEFT_LORA_DEFAULTS };

export const loraTuner: Tuner<LoraConfig> = {
  method: "lora",
  label: "LoRA",
  peftType: "LORA",
  fields: combineFields(LORA_FAMILY, PEFT_FILE),
  layerClass: LoraLinear,
  inject({ model }, name, config, targets) {
    for (const { path, layer } of targets) {
      const wrapper = layer instanceof LoraLinear ? layer : new LoraLinear(baseOf(layer), path);
      wrapper.addAdapter(name, config);
      if (wrapper !== layer) model.setSubmodule(path, wrapper);
    }
  },
  parameterCount({ d, r, layers, projections = 2 }) {
    return layers * projections * (r * d + d * r);
  },
};

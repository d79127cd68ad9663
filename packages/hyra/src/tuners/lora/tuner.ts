/**
 * @file LoRA as a method (PEFT's tuners/lora): every targeted Linear gets its own pair (A, B).
 *
 *     parameters per adapted projection   r·in + out·r   (4rd per layer for q and v of width d)
 */

import type { Module } from "@tsgrad/nn";
import type { CommonConfig } from "../../config.ts";
import { baseOf, type Target, type Tuner } from "../tuner.ts";
import { LoraLinear } from "./lora-linear.ts";

export interface LoraConfig extends CommonConfig {
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

export const loraTuner: Tuner = {
  method: "lora",
  label: "LoRA",
  peftType: "LORA",
  fields: { defaults: {}, diskNames: {}, nullable: [], resolve: () => ({}), jsonExtras: PEFT_LORA_DEFAULTS },
  layerClass: LoraLinear,
  inject(model: Module, name: string, config, targets: readonly Target[]) {
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

/**
 * @file The LoRA family's fields (PEFT's LoraConfig beyond what every method has): the rank r, alpha and
 * the scale s it makes, dropout, rsLoRA and the initialisation, with their checks, their names in
 * adapter_config.json, and the PEFT LoRA features we refuse. LoRA, MH-LoRA and HyRA spread these into
 * their own fields (combineFields); a method of another family (VeRA) does not see them.
 */

import { fail, showValue } from "@tsgrad/core";
import { checkBoolean } from "../../config.ts";
import type { MethodFields } from "../tuner.ts";

/** true: A Kaiming-uniform, B zero (PEFT's default); "gaussian": A ~ N(0, 1/r²), B zero; false: both random. */
export type InitLoraWeights = boolean | "gaussian";

export interface LoraFamilyConfig {
  /** The rank r. */
  r: number;
  /** The scale is alpha / r (alpha / √r with useRslora). */
  alpha: number;
  /** Dropout on the adapter's input path only, while training. */
  dropout: number;
  useRslora: boolean;
  initLoraWeights: InitLoraWeights;
}

/** Ranks past this are no adapter of a model tsgrad can hold; a file saying so is refused. */
export const MAX_RANK = 1 << 16;
/**
 * alpha / r scales ΔW: PEFT's configs use up to a few hundred; a file with 1e308 would make every output
 * non-finite, so the bound is far above any real use and far below overflow.
 */
const MAX_ALPHA = 1e6;

/** The scale s of the update: alpha / r, or alpha / √r with rsLoRA. */
export function scalingOf(config: Pick<LoraFamilyConfig, "r" | "alpha" | "useRslora">): number {
  if (config === null || typeof config !== "object") fail("scalingOf", `expected { r, alpha, useRslora }, got ${showValue(config)}`);
  return config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
}

/** A rank: a positive integer up to MAX_RANK (VeRA checks its r with it too). */
export function checkRankField(value: unknown, bad: (field: string, value: unknown, expected: string) => never): number {
  if (!Number.isInteger(value) || (value as number) <= 0 || (value as number) > MAX_RANK)
    bad("r", value, `a positive integer up to ${MAX_RANK}`);
  return value as number;
}

/** A dropout probability in [0, 1). */
export function checkDropout(field: string, value: unknown, bad: (field: string, value: unknown, expected: string) => never): number {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) bad(field, value, "a number in [0, 1)");
  return value as number;
}

export const LORA_FAMILY: MethodFields<LoraFamilyConfig> = {
  // PEFT's LoraConfig defaults (r 8, lora_alpha 8)
  defaults: { r: 8, alpha: 8, dropout: 0, useRslora: false, initLoraWeights: true },
  diskNames: { r: "r", alpha: "lora_alpha", dropout: "lora_dropout", useRslora: "use_rslora", initLoraWeights: "init_lora_weights" },
  nullable: [],
  resolve(fields, bad) {
    const { alpha, initLoraWeights } = fields;
    if (typeof alpha !== "number" || !(alpha > 0 && alpha <= MAX_ALPHA)) bad("alpha", alpha, `a number in (0, ${MAX_ALPHA}]`);
    if (initLoraWeights !== true && initLoraWeights !== false && initLoraWeights !== "gaussian") {
      bad("initLoraWeights", initLoraWeights, 'true, false or "gaussian"');
    }
    return {
      r: checkRankField(fields.r, bad),
      alpha: alpha as number,
      dropout: checkDropout("dropout", fields.dropout, bad),
      useRslora: checkBoolean("useRslora", fields.useRslora),
      initLoraWeights: initLoraWeights as InitLoraWeights,
    };
  },
  // PEFT LoRA features that change the math unless off: not implemented, so refused rather than loaded wrong
  unsupportedIfSet: {
    fan_in_fan_out: false,
    use_dora: false,
    rank_pattern: {},
    alpha_pattern: {},
    layer_replication: null,
    lora_bias: false,
    trainable_token_indices: null,
    target_parameters: null,
    use_qalora: false,
    megatron_config: null,
  },
  // PEFT 0.21 writes qalora_group_size = 16 into every LoRA config, with use_qalora false
  settingOf: { qalora_group_size: "use_qalora" },
  checkFile(raw, where) {
    const init = raw.init_lora_weights;
    if (init !== undefined && init !== true && init !== false && init !== "gaussian") {
      // pissa, olora, loftq, ... rewrite the base weights when the adapter is created: loading only the
      // adapter onto the original base model would give a different model
      fail(
        where,
        `init_lora_weights = ${JSON.stringify(init)} changes the base weights in PEFT; only true, false and "gaussian" are supported`,
      );
    }
  },
};

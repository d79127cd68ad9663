/** @file @tsgrad/hyra: LoRA, multi-head LoRA and HyRA adapters for @tsgrad/nn models, with PEFT's API and files. */

export { AdapterDict, checkAdapterName, ParameterDict } from "./adapter-dict.ts";
export { AdapterLayer, type LoraFactors } from "./adapter-layer.ts";
export {
  type Bias,
  type CommonConfig,
  configFromJson,
  configToJson,
  type InitLoraWeights,
  type Method,
  type MethodConfigs,
  type ModuleSpec,
  type PeftConfig,
  type PeftConfigInput,
  type ResolvedModuleSpec,
  resolveConfig,
  scalingOf,
} from "./config.ts";
export { adapterParameterCount } from "./counts.ts";
export { HyraGenerator, type HyraSettings, type HyraShape, OUTPUT_GAIN, Theta } from "./tuners/hyra/generator.ts";
export { type Factors, HyraLayer, HyraProjection } from "./tuners/hyra/hyra-layer.ts";
export {
  type Activation,
  HYRA_DEFAULTS,
  type HyraConfig,
  type HyraInit,
  type HyraOptions,
  hyraTuner,
  type Mixing,
} from "./tuners/hyra/tuner.ts";

import "./tuners/index.ts";

export { cloneModule, ModulesToSaveWrapper } from "./modules-to-save.ts";
export { ModulePattern } from "./pattern.ts";
export {
  type AdapterLoadReport,
  getPeftModel,
  KEY_PREFIX,
  type LoadAdapterOptions,
  loadAdapter,
  type MergeOptions,
  PeftModel,
  TunerModel,
} from "./peft-model.ts";
export { CONFIG_FILE, MAX_CONFIG_BYTES, WEIGHTS_FILE } from "./save.ts";
export { type AttentionLike, type HeadSplit, headSplitOf, isTargeted, layerIndexOf, matchesName } from "./targets.ts";
export { LoraLinear, type LoraSettings } from "./tuners/lora/lora-linear.ts";
export { type LoraConfig, loraTuner } from "./tuners/lora/tuner.ts";
export { HeadFactor, MhLoraLinear } from "./tuners/mh-lora/mh-lora-linear.ts";
export { type MhLoraConfig, mhLoraTuner } from "./tuners/mh-lora/tuner.ts";
export { baseOf, type CountShape, registerTuner, type Target, type Tuner, tuners } from "./tuners/tuner.ts";

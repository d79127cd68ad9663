/** @file @tsgrad/hyra: LoRA, multi-head LoRA and HyRA adapters for @tsgrad/nn models, with PEFT's API and files. */

export { AdapterDict, checkAdapterName, ParameterDict } from "./adapter-dict.ts";
export { AdapterLayer, type LoraFactors } from "./adapter-layer.ts";
export {
  type Activation,
  type Bias,
  configFromJson,
  configToJson,
  type HyraConfig,
  type HyraInit,
  type HyraOptions,
  type InitLoraWeights,
  type LoraConfig,
  type Method,
  type MhLoraConfig,
  type Mixing,
  type ModuleSpec,
  type PeftConfig,
  type PeftConfigInput,
  type ResolvedModuleSpec,
  resolveConfig,
  scalingOf,
} from "./config.ts";
export { adapterParameterCount, type CountShape } from "./counts.ts";
export { HyraGenerator, type HyraSettings, type HyraShape, OUTPUT_GAIN, Theta } from "./hyra/generator.ts";
export { type Factors, HyraLayer, HyraProjection } from "./hyra/hyra-layer.ts";
export { LoraLinear, type LoraSettings } from "./lora/lora-linear.ts";
export { HeadFactor, MhLoraLinear } from "./mh-lora/mh-lora-linear.ts";
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

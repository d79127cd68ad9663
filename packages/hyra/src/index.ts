/** @file @tsgrad/hyra: LoRA, multi-head LoRA and HyRA adapters for @tsgrad/nn models, with PEFT's API and files. */

export { AdapterDict, AdapterParameters, BufferDict, checkAdapterName, ParameterDict, PerAdapter } from "./adapter-dict.ts";
export type { AdapterLoadReport, LoadAdapterOptions } from "./adapter-io.ts";
export { AdapterLayer, type LoraFactors } from "./adapter-layer.ts";
export { BaseTuner, BaseTuner as TunerModel, type MergeOptions, StateNode, stateAt } from "./base-tuner.ts";
export {
  type Bias,
  type CommonConfig,
  configFromJson,
  configToJson,
  type Method,
  type MethodConfigs,
  type ModuleSpec,
  type PeftConfig,
  type PeftConfigInput,
  type ResolvedModuleSpec,
  resolveConfig,
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
export { getPeftModel, loadAdapter, PeftModel } from "./peft-model.ts";
export { CONFIG_FILE, MAX_CONFIG_BYTES, WEIGHTS_FILE } from "./save.ts";
export { KEY_PREFIX, type StateReport } from "./state-dict.ts";
export { type AttentionLike, type HeadSplit, headSplitOf, isTargeted, layerIndexOf, matchesName } from "./targets.ts";
export { type InitLoraWeights, LORA_FAMILY, type LoraFamilyConfig, scalingOf } from "./tuners/lora/family.ts";
export { LoraLinear, type LoraSettings } from "./tuners/lora/lora-linear.ts";
export { type LoraConfig, loraTuner } from "./tuners/lora/tuner.ts";
export { HeadFactor, MhLoraLinear } from "./tuners/mh-lora/mh-lora-linear.ts";
export { type MhLoraConfig, mhLoraTuner } from "./tuners/mh-lora/tuner.ts";
export {
  type BadField,
  type BaseConfig,
  baseOf,
  type CountShape,
  combineFields,
  type MethodFields,
  type OwnFields,
  registerTuner,
  type Target,
  type Tuner,
  type TunerContext,
  tuners,
} from "./tuners/tuner.ts";
export { VERA_DEFAULTS, type VeraConfig, VeraLinear, type VeraOptions, type VeraSettings, veraTuner } from "./tuners/vera/index.ts";

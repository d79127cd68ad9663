/** @file @tsgrad/models: a small GPT, its tokenizers, a classification head, and the saved-model folder. No data sets. */

export { GPT_DEFAULTS, type GPTConfig, gptConfig, gptParameterCount, MAX_PARAMETERS } from "./config.ts";
export { type GenerateOptions, GPT, type GPTForwardOptions, type SamplingOptions, sampleTokens } from "./gpt.ts";

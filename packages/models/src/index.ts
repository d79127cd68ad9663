/**
 * @file @tsgrad/models: a small GPT, its tokenizers and a classification head, in Node and in a browser.
 * The saved-model folder (files) is in @tsgrad/models/node. No data sets.
 */

export { GPTClassifier, padBatch } from "./classifier.ts";
export { GPT_DEFAULTS, type GPTConfig, gptConfig, gptParameterCount, MAX_PARAMETERS } from "./config.ts";
export { type GenerateOptions, GPT, type GPTForwardOptions, type SamplingOptions, sampleTokens } from "./gpt.ts";
export { type JsonFile, jsonBytes, parseJsonBytes, sha256Hex } from "./json-bytes.ts";
export {
  CONFIG_FILE,
  loadPretrainedFrom,
  loadPretrainedFromBytes,
  MAX_CONFIG_BYTES,
  type SavedModelSource,
  savedModelFromBytes,
  TOKENIZER_FILE,
  WEIGHTS_FILE,
} from "./pretrained.ts";
export { ByteBPETokenizer, type ByteBPETokenizerJson, MAX_MERGES } from "./tokenizers/bpe.ts";
export { CharTokenizer, type CharTokenizerJson, MAX_CHARS } from "./tokenizers/char.ts";
export { MAX_TOKENIZER_BYTES, type Tokenizer, type TokenizerJson, tokenizerFromJson } from "./tokenizers/tokenizer.ts";

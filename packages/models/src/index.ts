/** @file @tsgrad/models: a small GPT, its tokenizers, a classification head, and the saved-model folder. No data sets. */

export { GPTClassifier, padBatch } from "./classifier.ts";
export { GPT_DEFAULTS, type GPTConfig, gptConfig, gptParameterCount, MAX_PARAMETERS } from "./config.ts";
export { type GenerateOptions, GPT, type GPTForwardOptions, type SamplingOptions, sampleTokens } from "./gpt.ts";
export { type JsonFile, readJsonFile, writeJsonFile } from "./json-file.ts";
export { CONFIG_FILE, loadPretrained, savePretrained, TOKENIZER_FILE, WEIGHTS_FILE } from "./pretrained.ts";
export { ByteBPETokenizer, type ByteBPETokenizerJson, MAX_MERGES } from "./tokenizers/bpe.ts";
export { CharTokenizer, type CharTokenizerJson, MAX_CHARS } from "./tokenizers/char.ts";
export {
  loadTokenizer,
  MAX_TOKENIZER_BYTES,
  saveTokenizer,
  type Tokenizer,
  type TokenizerJson,
  tokenizerFromJson,
} from "./tokenizers/tokenizer.ts";

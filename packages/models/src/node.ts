/**
 * @file @tsgrad/models/node: everything @tsgrad/models exports, and files (Node): the saved-model folder
 * (config.json, model.safetensors, tokenizer.json), tokenizer.json on its own, and JSON files.
 */

export * from "./index.ts";
export { type JsonFile, readJsonFile, writeJsonFile } from "./json-file.ts";
export { loadPretrained, savedModelFolder, savePretrained } from "./pretrained-folder.ts";
export { loadTokenizer, saveTokenizer } from "./tokenizers/tokenizer-files.ts";

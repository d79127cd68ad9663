/** @file @tsgrad/models: small GPT and encoder models, their tokenizers and a classification head. */

export {};

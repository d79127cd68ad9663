/**
 * @file GPTConfig: the seven numbers that say what a GPT is (nanoGPT's GPTConfig, camel-cased), its
 * defaults, and the one check every config passes through, whether it comes from code or from a
 * config.json on disk: unknown fields are refused (a typo must not silently become a default), and each
 * number must be in range, so a config cannot make the loader allocate far more than a small model holds.
 */

import { closestName, describeValue, fail } from "@tsgrad/core";

export interface GPTConfig {
  /** Tokens in the vocabulary: at least the tokenizer's vocabSize. */
  vocabSize: number;
  /** The longest context in tokens: the length of the position table. */
  blockSize: number;
  /** Transformer blocks. */
  nLayer: number;
  /** Attention heads per block; must divide nEmbd. */
  nHead: number;
  /** Width of the residual stream (the MLP's hidden layer is 4·nEmbd). */
  nEmbd: number;
  /** Dropout while training: on the embeddings, the attention weights and each residual branch. */
  dropout: number;
  /** Biases in the linears and LayerNorms (nanoGPT: without them is a little better and faster). */
  bias: boolean;
}

/** What a config may leave out: minGPT's "gpt-micro" sizes, no dropout, biases as GPT-2. */
export const GPT_DEFAULTS = { nLayer: 4, nHead: 4, nEmbd: 128, dropout: 0, bias: true } as const;

/** Each integer field's range, inclusive. */
const RANGES = {
  vocabSize: [1, 1 << 20],
  blockSize: [1, 1 << 16],
  nLayer: [1, 256],
  nHead: [1, 1 << 14],
  nEmbd: [1, 1 << 14],
} as const;

/** 2^30 parameters: 4 GiB of float32, far beyond any model this package is meant for. */
export const MAX_PARAMETERS = 2 ** 30;

const FIELDS = ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd", "dropout", "bias"] as const;

/** The parameter count of a config: embeddings, 12·C² + 13·C per block (with biases), the final norm. */
export function gptParameterCount(c: GPTConfig): number {
  const C = c.nEmbd;
  const b = c.bias ? 1 : 0;
  // per block: q, k, v, o (4C² + 4C), up and down (8C² + 5C), two LayerNorms (2C + 2C)
  const block = 12 * C * C + b * 9 * C + 2 * C + b * 2 * C;
  // the LM head is tied to the token embedding, so it adds nothing
  return (c.vocabSize + c.blockSize) * C + c.nLayer * block + C + b * C;
}

/**
 * A complete config from a partial one (defaults filled in), or an error naming `where`, the field and
 * what it got. vocabSize and blockSize have no default: they belong to the data.
 */
export function gptConfig(value: unknown, where = "GPT"): GPTConfig {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(where, `a GPT config must be an object, got ${describeValue(value)}`);
  }
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    // names from a file may be long or many: the message shows a few, cut short
    const names = unknown.slice(0, 4).map((k) => JSON.stringify(k.length > 32 ? `${k.slice(0, 32)}...` : k));
    const more = unknown.length > 4 ? ` and ${unknown.length - 4} more` : "";
    const closest = unknown.length === 1 ? closestName(unknown[0], FIELDS) : null;
    const hint = closest ? ` (did you mean ${closest}?)` : "";
    fail(
      where,
      `unknown config field${unknown.length > 1 ? "s" : ""} ${names.join(", ")}${more}${hint}; the fields are ${FIELDS.join(", ")}`,
    );
  }
  for (const name of ["vocabSize", "blockSize"] as const) {
    if (given[name] === undefined)
      fail(where, `config field "${name}" is required (it comes from the data: the tokenizer and the context length)`);
  }
  // a field given as undefined is left out, as an optional argument is in code
  const present = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const config = { ...GPT_DEFAULTS, ...present } as GPTConfig;
  for (const [name, [low, high]] of Object.entries(RANGES) as [keyof typeof RANGES, readonly [number, number]][]) {
    const v = config[name];
    if (!(Number.isInteger(v) && v >= low && v <= high)) {
      fail(where, `config field "${name}" must be an integer in [${low}, ${high}], got ${describeValue(v)}`);
    }
  }
  if (config.nEmbd % config.nHead !== 0) {
    fail(where, `config field "nHead" (${config.nHead}) must divide "nEmbd" (${config.nEmbd}): each head gets nEmbd / nHead features`);
  }
  const p = config.dropout;
  if (!(typeof p === "number" && p >= 0 && p < 1))
    fail(where, `config field "dropout" must be a number in [0, 1), got ${describeValue(p)}`);
  if (typeof config.bias !== "boolean") fail(where, `config field "bias" must be true or false, got ${describeValue(config.bias)}`);
  const count = gptParameterCount(config);
  if (count > MAX_PARAMETERS) {
    fail(where, `this config has ${count} parameters; the most accepted is ${MAX_PARAMETERS} (2^30, 4 GiB of float32)`);
  }
  // a fresh object with the fields in their documented order, so config.json always reads the same
  return Object.fromEntries(FIELDS.map((k) => [k, config[k]])) as unknown as GPTConfig;
}

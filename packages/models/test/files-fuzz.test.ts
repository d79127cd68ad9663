/**
 * @file Saved models from anyone: mutated config.json, tokenizer.json (of both kinds) and
 * model.safetensors files load, or fail with a TsgradError naming the file or the loader, within a
 * bound of time and memory, never with a raw error or a hang. Each file is fuzzed in a folder whose
 * config records the other files (so a mutated file is refused by its record) and in one whose config
 * records nothing (a config from elsewhere), so that the tokenizer's and the weights' own readers see
 * every mutant.
 */

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Generator, memory, TsgradError } from "@tsgrad/core";
import { checkProperty, fuzzSize, jsonMutationArb, mutateJson, mutateSafetensors, safetensorsMutationArb } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ByteBPETokenizer,
  CharTokenizer,
  CONFIG_FILE,
  GPT,
  loadPretrained,
  savePretrained,
  TOKENIZER_FILE,
  type Tokenizer,
  WEIGHTS_FILE,
} from "../src/node.ts";

const TEXT = "to be or not to be, that is the question; to be, to be";
const root = mkdtempSync(join(tmpdir(), "tsgrad-models-fuzz-"));

/** A saved model's three files, by name, with the config's record or without it. */
async function savedFiles(tokenizer: Tokenizer, record: boolean): Promise<Record<string, Uint8Array>> {
  const dir = join(root, `source-${tokenizer.type}-${record}`);
  const model = new GPT({ vocabSize: tokenizer.vocabSize, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 }, { generator: new Generator(3) });
  await savePretrained(dir, model, tokenizer);
  model.dispose();
  const files = Object.fromEntries([CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE].map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
  if (!record) {
    const { files: _, ...config } = JSON.parse(new TextDecoder().decode(files[CONFIG_FILE]));
    files[CONFIG_FILE] = new TextEncoder().encode(JSON.stringify(config));
  }
  return files;
}

/** Loads `files` from a folder; the outcome is "loaded" or the start of the error's reason. */
async function outcomeOf(files: Record<string, Uint8Array>, what: string): Promise<string> {
  const dir = join(root, "mutant");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  const before = memory().numBytes;
  const started = performance.now();
  let outcome = "loaded";
  try {
    const { model } = await loadPretrained(dir);
    model.dispose();
  } catch (error) {
    if (!(error instanceof TsgradError))
      throw new Error(`a ${(error as Error).name} escaped for a mutated ${what}: ${(error as Error).message}`);
    assert.match(error.message, /loadPretrained|config\.json|tokenizer\.json|model\.safetensors/, error.message);
    assert.ok(error.message.length < 2000, `a message of ${error.message.length} characters`);
    outcome = error.message.replace(/^[^:]*: /, "").slice(0, 40);
  }
  const ms = performance.now() - started;
  assert.ok(ms < 2000, `a load of a mutated ${what} took ${ms.toFixed(0)} ms`);
  assert.ok(memory().numBytes - before < 1 << 20, "a failed load left tensors behind");
  return outcome;
}

const tokenizers: Tokenizer[] = [CharTokenizer.fromText(TEXT), ByteBPETokenizer.train(TEXT, 12)];

for (const record of [true, false]) {
  test(`fuzz: mutated config.json and tokenizer.json files, ${record ? "recorded" : "with no record"}, load or are refused by name`, async () => {
    for (const tokenizer of tokenizers) {
      const valid = await savedFiles(tokenizer, record);
      const outcomes = new Map<string, number>();
      for (const name of [CONFIG_FILE, TOKENIZER_FILE]) {
        const text = new TextDecoder().decode(valid[name]);
        await checkProperty(
          `models fuzz: ${name} of a ${tokenizer.type} tokenizer${record ? "" : ", no record"}`,
          fc.array(jsonMutationArb(["vocabSize", "nEmbd", "merges", "chars", "files", "type"]), { minLength: 1, maxLength: 3 }),
          async (mutations) => {
            const mutant = new TextEncoder().encode(mutations.reduce(mutateJson, text));
            const outcome = await outcomeOf({ ...valid, [name]: mutant }, name);
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          },
          { numRuns: fuzzSize(60, 600) },
        );
      }
      // with a record a mutated tokenizer is refused by it; without one, some mutants are still tokenizers
      // ("(N bytes, sha256 ...) is not the file config.json was saved with", cut to its start)
      if (record)
        assert.ok(
          [...outcomes.keys()].some((o) => o.startsWith("(")),
          [...outcomes.keys()].join(" | "),
        );
      else assert.ok((outcomes.get("loaded") ?? 0) > 0, "some mutants still load");
      assert.ok(outcomes.size > 3, `the mutants were refused for several reasons: ${[...outcomes.keys()].join(" | ")}`);
    }
  });

  test(`fuzz: mutated model.safetensors files, ${record ? "recorded" : "with no record"}, load or are refused by name`, async () => {
    const valid = await savedFiles(tokenizers[1], record);
    await checkProperty(
      `models fuzz: model.safetensors${record ? "" : ", no record"}`,
      fc.array(safetensorsMutationArb, { minLength: 1, maxLength: 3 }),
      async (mutations) => {
        await outcomeOf({ ...valid, [WEIGHTS_FILE]: mutations.reduce(mutateSafetensors, valid[WEIGHTS_FILE]) }, WEIGHTS_FILE);
      },
      { numRuns: fuzzSize(60, 600) },
    );
  });
}

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();

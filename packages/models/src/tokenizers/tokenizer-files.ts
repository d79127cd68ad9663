/**
 * @file tokenizer.json on disk (Node): read through the file policy (regular files, no links, at most
 * 4 MiB) and written atomically.
 */

import { describeValue, fail } from "@tsgrad/core";
import type { WrittenFile } from "@tsgrad/nn";
import { readJsonFile, writeJsonFile } from "../json-file.ts";
import { ByteBPETokenizer } from "./bpe.ts";
import { CharTokenizer } from "./char.ts";
import { MAX_TOKENIZER_BYTES, type Tokenizer, tokenizerFromJson } from "./tokenizer.ts";

/** Writes tokenizer.json (or any path) atomically. */
export async function saveTokenizer(tokenizer: Tokenizer, path: string): Promise<WrittenFile> {
  if (!(tokenizer instanceof CharTokenizer || tokenizer instanceof ByteBPETokenizer)) {
    fail("saveTokenizer", `expected a CharTokenizer or a ByteBPETokenizer, got ${describeValue(tokenizer)}`);
  }
  return writeJsonFile(path, tokenizer.toJSON(), `saveTokenizer ${path}`);
}

/** Reads a file written by saveTokenizer; a malformed, oversized or linked file is an error naming it. */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const where = `loadTokenizer ${path}`;
  return tokenizerFromJson((await readJsonFile(path, MAX_TOKENIZER_BYTES, where)).value, where);
}

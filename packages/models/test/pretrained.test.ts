/**
 * @file The saved-model folder: save then load gives identical logits and the same tokenizer; the config
 * is checked field by field (unknown fields, ranges, required fields), on disk and in code; files from
 * different saves, a missing or linked file and a tokenizer bigger than the model are errors naming the file.
 */

import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Generator, noGrad, tensor } from "@tsgrad/core";
import { assertRejects } from "@tsgrad/core/testing";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ByteBPETokenizer,
  CharTokenizer,
  CONFIG_FILE,
  GPT,
  gptConfig,
  loadPretrained,
  loadPretrainedFromBytes,
  savePretrained,
  TOKENIZER_FILE,
  WEIGHTS_FILE,
} from "../src/node.ts";

const root = mkdtempSync(join(tmpdir(), "tsgrad-models-pretrained-"));
let folders = 0;
const folder = () => join(root, `m${folders++}`);

const TEXT = "to be or not to be, that is the question";

async function saved(options: { bias?: boolean } = {}) {
  const tokenizer = CharTokenizer.fromText(TEXT);
  const model = new GPT(
    { vocabSize: tokenizer.vocabSize, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16, ...options },
    { generator: new Generator(5) },
  );
  const dir = folder();
  await savePretrained(dir, model, tokenizer);
  return { dir, model, tokenizer };
}

const editConfig = (dir: string, edit: (c: Record<string, unknown>) => void) => {
  const path = join(dir, CONFIG_FILE);
  const config = JSON.parse(readFileSync(path, "utf8"));
  edit(config);
  writeFileSync(path, JSON.stringify(config));
};

test("save then load: the same config, the same tokenizer, identical logits; loaded in eval mode", async () => {
  for (const bias of [true, false]) {
    const { dir, model, tokenizer } = await saved({ bias });
    const loaded = await loadPretrained(dir);
    assert.equal(loaded.config, model.config);
    assert.equal(loaded.tokenizer.toJSON(), tokenizer.toJSON());
    assert.not.ok(loaded.model.training);
    const ids = tensor([tokenizer.encode("not to be")], undefined, "int32");
    const [a, b] = noGrad(() => [model.eval().forward(ids), loaded.model.forward(ids)]);
    assert.equal(Array.from(await b.data()), Array.from(await a.data()));
  }
  const config = JSON.parse(readFileSync(join(root, "m0", CONFIG_FILE), "utf8"));
  assert.equal(Object.keys(config), ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd", "dropout", "bias", "files"]);
});

test("the same folder's bytes load as the folder does (a browser's fetch), and a changed byte is refused by name", async () => {
  const { dir, model, tokenizer } = await saved();
  const files = Object.fromEntries([CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE].map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
  const loaded = await loadPretrainedFromBytes(files, { name: "backbone" });
  assert.equal(loaded.config, model.config);
  assert.equal(loaded.tokenizer.toJSON(), tokenizer.toJSON());
  const ids = tensor([tokenizer.encode("to be")], undefined, "int32");
  const [a, b] = noGrad(() => [model.eval().forward(ids), loaded.model.forward(ids)]);
  assert.equal(Array.from(await b.data()), Array.from(await a.data()));
  const weights = files[WEIGHTS_FILE].slice();
  weights[weights.length - 1] ^= 1;
  await assertRejects(
    loadPretrainedFromBytes({ ...files, [WEIGHTS_FILE]: weights }, { name: "backbone" }),
    /loadPretrained backbone\/model\.safetensors: \(\d+ bytes, sha256 [0-9a-f]{12}\.\.\.\) is not the file config\.json was saved with/,
  );
  await assertRejects(loadPretrainedFromBytes({ [CONFIG_FILE]: files[CONFIG_FILE] }), /tokenizer\.json: is missing/);
});

test("a byte-level BPE tokenizer is saved beside the model too; saving again over a folder works", async () => {
  const tokenizer = ByteBPETokenizer.train(TEXT.repeat(3), 20);
  const model = new GPT({ vocabSize: tokenizer.vocabSize, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 8 });
  const dir = folder();
  await savePretrained(dir, model, tokenizer);
  await savePretrained(dir, model, tokenizer);
  const loaded = await loadPretrained(dir);
  assert.ok(loaded.tokenizer instanceof ByteBPETokenizer);
  assert.equal(loaded.tokenizer.encode(TEXT), tokenizer.encode(TEXT));
});

test("the config is checked: unknown fields, ranges, required fields, in code and on disk", async () => {
  const base = { vocabSize: 10, blockSize: 8 };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...base, nLayers: 2 }, /unknown config field "nLayers" \(did you mean nLayer\?\); the fields are vocabSize, blockSize, nLayer/],
    [{ ...base, nEmbd: 0 }, /"nEmbd" must be an integer in \[1, 16384\], got number 0/],
    [{ ...base, nLayer: 2.5 }, /"nLayer" must be an integer in \[1, 256\], got number 2.5/],
    [{ ...base, blockSize: "8" }, /"blockSize" must be an integer in \[1, 65536\], got string "8"/],
    [{ ...base, dropout: 1 }, /"dropout" must be a number in \[0, 1\), got number 1/],
    [{ ...base, bias: "yes" }, /"bias" must be true or false/],
    [{ ...base, nHead: 5, nEmbd: 16 }, /"nHead" \(5\) must divide "nEmbd" \(16\)/],
    [{ blockSize: 8 }, /"vocabSize" is required/],
    [{ ...base, vocabSize: 1 << 20, nEmbd: 16384 }, /parameters; the most accepted is 1073741824/],
  ];
  for (const [config, pattern] of cases) assert.throws(() => gptConfig(config), pattern);
  const { dir } = await saved();
  editConfig(dir, (c) => {
    c.nHead = 3;
  });
  await assertRejects(loadPretrained(dir), /config\.json: config field "nHead" \(3\) must divide "nEmbd" \(16\)/);
  editConfig(dir, (c) => {
    c.nHead = 2;
    c.learningRate = 1;
  });
  await assertRejects(loadPretrained(dir), /config\.json: unknown config field "learningRate"/);
  writeFileSync(join(dir, CONFIG_FILE), "[1, 2]");
  await assertRejects(loadPretrained(dir), /config\.json: must hold a JSON object, got an array/);
  writeFileSync(join(dir, CONFIG_FILE), '{"vocabSize": 12,');
  await assertRejects(loadPretrained(dir), /config\.json: is not valid JSON/);
});

test("files from different saves are refused, naming the file; the record itself is checked", async () => {
  const first = await saved();
  const second = await saved();
  // the same shapes, other weights: only the record tells them apart
  const other = new GPT(first.model.config, { generator: new Generator(9) });
  await savePretrained(second.dir, other, second.tokenizer);
  writeFileSync(join(first.dir, WEIGHTS_FILE), readFileSync(join(second.dir, WEIGHTS_FILE)));
  await assertRejects(
    loadPretrained(first.dir),
    /model\.safetensors: \(\d+ bytes, sha256 [0-9a-f]{12}\.\.\.\) is not the file config\.json was saved with/,
  );
  const third = await saved();
  writeFileSync(join(third.dir, TOKENIZER_FILE), JSON.stringify(CharTokenizer.fromText("abc").toJSON()));
  await assertRejects(loadPretrained(third.dir), /tokenizer\.json: .*is not the file config\.json was saved with.*save the model again/);
  editConfig(third.dir, (c) => {
    c.files = { [WEIGHTS_FILE]: { bytes: -1, sha256: "x" }, [TOKENIZER_FILE]: {} };
  });
  await assertRejects(loadPretrained(third.dir), /"files"."model\.safetensors" must be \{ "bytes": <size>, "sha256": <64 hex digits> \}/);
  // a config without a record (written by hand) loads: no save of ours leaves one
  editConfig(third.dir, (c) => {
    delete c.files;
  });
  assert.ok((await loadPretrained(third.dir)).model instanceof GPT);
});

test("missing and linked files, and a tokenizer with more tokens than the model, are errors naming the file", async () => {
  const { dir, model } = await saved();
  rmSync(join(dir, WEIGHTS_FILE));
  await assertRejects(loadPretrained(dir), /model\.safetensors/);
  await assertRejects(loadPretrained(folder()), /config\.json: does not exist/);
  const linked = folder();
  await savePretrained(linked, model, CharTokenizer.fromText(TEXT));
  rmSync(join(linked, TOKENIZER_FILE));
  symlinkSync(join(dir, TOKENIZER_FILE), join(linked, TOKENIZER_FILE));
  await assertRejects(loadPretrained(linked), /tokenizer\.json is a symbolic link/);
  await assertRejects(
    savePretrained(folder(), model, CharTokenizer.fromText(`${TEXT}XYZ`)),
    /the tokenizer makes 17 tokens but the model's vocabSize is 14/,
  );
  editConfig(dir, (c) => {
    c.vocabSize = 13;
    delete c.files;
  });
  await assertRejects(loadPretrained(dir), /the tokenizer makes 14 tokens but the model's vocabSize is 13/);
});

test("a tokenizer file with more tokens than the config's vocabulary is refused before it is built", async () => {
  const { dir } = await saved();
  editConfig(dir, (c) => {
    delete c.files;
  });
  // 60,000 merges whose last is not even valid: the count is refused first, so nothing was built
  const merges = Array.from({ length: 60_000 }, (_, i) => (i === 59_999 ? [99_999, 0] : [i % 256, (i >> 8) % 256]));
  writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify({ type: "byte-bpe", merges }));
  await assertRejects(loadPretrained(dir), /tokenizer\.json: the tokenizer makes 60256 tokens but the model's vocabSize is 14/);
});

test("a saved model's bytes may be the ArrayBuffers a fetch gives; anything else is named", async () => {
  const { dir } = await saved();
  const buffers = Object.fromEntries(
    [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE].map((f) => {
      const bytes = readFileSync(join(dir, f));
      return [f, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)];
    }),
  );
  const { model } = await loadPretrainedFromBytes(buffers);
  assert.ok(model.numParameters() > 0);
  model.dispose();
  await assertRejects(
    loadPretrainedFromBytes({ ...buffers, [WEIGHTS_FILE]: "bytes" as unknown as ArrayBuffer }),
    /model\.safetensors: must be a Uint8Array or an ArrayBuffer \(a fetch's\), got string "bytes"/,
  );
});

test("a linked weights file is refused as a link before anything follows it", async () => {
  const { dir } = await saved();
  const { dir: other } = await saved();
  rmSync(join(dir, WEIGHTS_FILE));
  symlinkSync(join(other, WEIGHTS_FILE), join(dir, WEIGHTS_FILE));
  await assertRejects(loadPretrained(dir), /model\.safetensors is a symbolic link/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();

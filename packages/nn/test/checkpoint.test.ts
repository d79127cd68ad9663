/**
 * @file Checkpoints of modules and optimisers: a module saved and loaded (dtype conversion, strict and
 * non-strict loads, corrupt files that leave the module untouched, tied parameters), optimiser state beside
 * a model, and module saves that replace a file whole or fail without touching it. Named tensors, the golden
 * files and the kill test are @tsgrad/safetensors's (test/named-tensors.test.ts).
 */

import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DType, Generator, memory, type Tensor, tensor, tidy } from "@tsgrad/core";
import { assertRejects, assertSameNumbers, rejectsWith, scratchDirs } from "@tsgrad/core/testing/node";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  AdamW,
  encodeValues,
  LayerNorm,
  Linear,
  load,
  loadOptimizer,
  loadOptimizerState,
  Module,
  readSafetensorsFile,
  SafetensorsError,
  type SafetensorsErrorCode,
  save,
  saveOptimizer,
  saveOptimizerState,
  saveTensors,
  serializeSafetensors,
} from "../src/node.ts";

const scratch = scratchDirs("tsgrad-checkpoint-");
const freshDir = scratch.fresh;

const expectRejection = (promise: Promise<unknown>, code: SafetensorsErrorCode, pattern?: RegExp) =>
  rejectsWith(promise, SafetensorsError, { code, message: pattern });

/** Every value of a module's state dict, read asynchronously (the suites run in strict-async mode). */
async function snapshot(module: Module): Promise<Map<string, { dtype: DType; values: number[] }>> {
  const out = new Map<string, { dtype: DType; values: number[] }>();
  for (const [name, t] of module.stateDict()) out.set(name, { dtype: t.dtype, values: Array.from(await t.data()) });
  return out;
}

/** A small model with every kind of state: float parameters, an int32 buffer and a bool buffer. */
class Net extends Module {
  fc: Linear;
  norm: LayerNorm;
  declare steps: Tensor;
  declare mask: Tensor;

  constructor(seed: number, dtype: DType = "float32", width = 3) {
    super();
    const generator = new Generator(seed);
    this.fc = new Linear(width, 2, { generator, dtype });
    this.norm = new LayerNorm(2, { dtype });
    this.registerBuffer("steps", tensor([seed, -seed], undefined, "int32"));
    this.registerBuffer("mask", tensor([seed % 2 === 0, true]));
  }
}

// ---- modules -------------------------------------------------------------------------------------------------

const modules = suite("save and load modules");

modules("a module saved and loaded into a differently initialised one gets every value, in place", async () => {
  const path = join(freshDir(), "net.safetensors");
  const source = new Net(1);
  await save(source, path);
  const target = new Net(2);
  const weight = target.fc.weight;
  const result = await load(target, path);
  assert.equal(result, { missingKeys: [], unexpectedKeys: [], shapeMismatches: [] });
  assert.equal(await snapshot(target), await snapshot(source));
  assert.ok(target.fc.weight === weight, "parameters keep their identity (an optimiser holding them keeps working)");
  const file = await readSafetensorsFile(path);
  assert.equal(file.metadata, { format: "pt" });
  assert.equal([...file.tensors.keys()].sort(), ["fc.bias", "fc.weight", "mask", "norm.bias", "norm.weight", "steps"]);
});

modules("metadata is the caller's, on top of format: pt", async () => {
  const path = join(freshDir(), "net.safetensors");
  await save(new Net(1), path, { metadata: { epoch: "3" } });
  assert.equal((await readSafetensorsFile(path)).metadata, { format: "pt", epoch: "3" });
});

modules("values are converted to each target's dtype: float64 file into a float32 model", async () => {
  const path = join(freshDir(), "net64.safetensors");
  const source = new Net(1, "float64");
  await save(source, path);
  assert.is((await readSafetensorsFile(path)).tensors.get("fc.weight")!.dtype, "F64");
  const target = new Net(2, "float32");
  await load(target, path);
  const wanted = (await snapshot(source)).get("fc.weight")!.values.map(Math.fround);
  const got = (await snapshot(target)).get("fc.weight")!;
  assert.is(got.dtype, "float32");
  assertSameNumbers(got.values, wanted, "fc.weight");
});

modules("missing, unexpected and mismatched keys: strict refuses and writes nothing, non-strict reports and loads the rest", async () => {
  const dir = freshDir();
  const path = join(dir, "partial.safetensors");
  const source = new Net(1);
  const dict = source.stateDict();
  dict.delete("norm.bias"); // missing
  const extra = tensor([1, 2, 3]);
  dict.set("head.weight", extra); // unexpected
  await saveTensors(dict, path);
  const target = new Net(2);
  const before = await snapshot(target);
  const tensorsBefore = memory().numTensors;
  await assertRejects(load(target, path), /missing key norm\.bias; unexpected key head\.weight/);
  assert.equal(await snapshot(target), before, "strict: nothing written");
  assert.is(memory().numTensors, tensorsBefore, "the converted tensors of a refused load are freed");
  const result = await load(target, path, { strict: false });
  assert.equal(result, { missingKeys: ["norm.bias"], unexpectedKeys: ["head.weight"], shapeMismatches: [] });
  const after = await snapshot(target);
  assert.equal(after.get("fc.weight"), (await snapshot(source)).get("fc.weight"));
  assert.equal(after.get("norm.bias"), before.get("norm.bias"));

  const wide = join(dir, "wide.safetensors");
  await save(new Net(3, "float32", 4), wide);
  const mismatch = await load(target, wide, { strict: false });
  assert.equal(mismatch.shapeMismatches, ["fc.weight: expected [2,3], got [2,4]"]);
  await assertRejects(load(target, wide), /shape mismatch fc\.weight: expected \[2,3\], got \[2,4\]/);
  extra.dispose();
});

modules("a corrupt or unconvertible file throws before anything reaches the module, and leaks nothing", async () => {
  const dir = freshDir();
  const good = join(dir, "good.safetensors");
  await save(new Net(1), good);
  const bytes = new Uint8Array(readFileSync(good));
  const target = new Net(2);
  const fractionSource = new Net(1);
  const before = await snapshot(target);
  const tensorsBefore = memory().numTensors;

  const truncated = join(dir, "truncated.safetensors");
  writeFileSync(truncated, bytes.subarray(0, bytes.length - 1));
  await expectRejection(load(target, truncated), "INCOMPLETE_BUFFER", /truncated\.safetensors/);

  // the last tensor in the file is the bool buffer "mask": a 2 there is no bool
  const badBool = join(dir, "bad-bool.safetensors");
  const flipped = bytes.slice();
  flipped[flipped.length - 1] = 2;
  writeFileSync(badBool, flipped);
  await expectRejection(
    load(target, badBool),
    "VALUE_OUT_OF_RANGE",
    /tensor "mask" \(BOOL \[2\]\) cannot be loaded as bool|element 1 is the byte 2/,
  );

  // a fraction cannot land in the int32 buffer "steps"
  const fraction = join(dir, "fraction.safetensors");
  const dict = fractionSource.stateDict();
  const steps = tensor([1.5, 2]);
  dict.set("steps", steps);
  await saveTensors(dict, fraction);
  steps.dispose();
  await expectRejection(
    load(target, fraction),
    "VALUE_OUT_OF_RANGE",
    /tensor "steps" \(F32 \[2\]\) cannot be loaded as int32: element 0 is 1.5/,
  );

  assert.equal(await snapshot(target), before, "the module is untouched");
  assert.is(memory().numTensors, tensorsBefore, "no tensor leaked from the failed loads");
  await load(target, good);
  assert.is(memory().numTensors, tensorsBefore, "nor from a good one");
});

modules("a tied parameter is saved once and loads into both places", async () => {
  class Tied extends Module {
    a: Linear;
    b: Linear;
    constructor(seed: number) {
      super();
      const generator = new Generator(seed);
      this.a = new Linear(2, 2, { generator });
      this.b = new Linear(2, 2, { generator });
      this.b.weight = this.a.weight;
    }
  }
  const path = join(freshDir(), "tied.safetensors");
  await save(new Tied(1), path);
  assert.equal([...(await readSafetensorsFile(path)).tensors.keys()].sort(), ["a.bias", "a.weight", "b.bias"]);
  const target = new Tied(2);
  await load(target, path);
  assert.ok(target.a.weight === target.b.weight);
});

// ---- optimiser state -----------------------------------------------------------------------------------------

const optimiser = suite("optimiser state beside the model");

async function trainedAdamW(seed: number): Promise<{ net: Net; opt: AdamW }> {
  const net = new Net(seed);
  const opt = new AdamW(net.parameters(), { lr: 0.01, betas: [0.8, 0.95] });
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    tidy(() => {
      const x = tensor([[1, 2, 3]]);
      net.norm.forward(net.fc.forward(x)).square().sum().backward();
    });
    opt.step();
  }
  return { net, opt };
}

async function stateValues(opt: AdamW): Promise<unknown> {
  const dict = opt.stateDict();
  const out: Record<string, unknown> = { paramGroups: dict.paramGroups };
  for (const [index, s] of Object.entries(dict.state)) {
    for (const [name, v] of Object.entries(s)) {
      out[`${index}.${name}`] = typeof v === "number" ? v : Array.from(await v.data());
      if (typeof v !== "number") v.dispose();
    }
  }
  return out;
}

optimiser("AdamW's moments, step counts and hyper-parameters survive saveOptimizer and loadOptimizer", async () => {
  const dir = freshDir();
  const { net, opt } = await trainedAdamW(1);
  await save(net, join(dir, "model.safetensors"));
  await saveOptimizer(opt, join(dir, "optimizer.safetensors"));
  const { net: net2 } = await trainedAdamW(2);
  const fresh = new AdamW(net2.parameters());
  await loadOptimizer(fresh, join(dir, "optimizer.safetensors"));
  assert.equal(await stateValues(fresh), await stateValues(opt));
  const file = await readSafetensorsFile(join(dir, "optimizer.safetensors"));
  assert.ok(file.tensors.has("state.0.expAvg") && file.tensors.has("state.0.expAvgSq"));
});

optimiser("state dicts: non-finite numbers are refused, and a model file is not optimiser state", async () => {
  const dir = freshDir();
  await expectRejection(
    saveOptimizerState({ state: { 0: { step: Number.NaN } }, paramGroups: [] }, join(dir, "o.safetensors")),
    "INVALID_ARGUMENT",
    /state 0\.step is NaN/,
  );
  assert.equal(readdirSync(dir), [], "refused before a file was made");
  await save(new Net(1), join(dir, "model.safetensors"));
  await expectRejection(loadOptimizerState(join(dir, "model.safetensors")), "INVALID_HEADER", /no "tsgrad\.optimizer" metadata/);
  const bogus = join(dir, "bogus.safetensors");
  writeFileSync(bogus, serializeSafetensors({}, { "tsgrad.optimizer": '{"paramGroups":3}' }));
  await expectRejection(loadOptimizerState(bogus), "INVALID_HEADER", /must hold \{ paramGroups/);
  const badName = join(dir, "bad-name.safetensors");
  writeFileSync(
    badName,
    serializeSafetensors(
      { moment: { dtype: "F32", shape: [1], data: encodeValues(Float32Array.from([1]), "F32") } },
      { "tsgrad.optimizer": '{"paramGroups":[],"numbers":{}}' },
    ),
  );
  const before = memory().numTensors;
  await expectRejection(loadOptimizerState(badName), "INVALID_HEADER", /"moment" is not named state\.<index>\.<name>/);
  assert.is(memory().numTensors, before);
});

// ---- atomic saves --------------------------------------------------------------------------------------------

const atomic = suite("atomic saves");

atomic("a save replaces the file whole, keeps its permissions, and leaves no temporary file", async () => {
  const dir = freshDir();
  const path = join(dir, "net.safetensors");
  await save(new Net(1), path);
  chmodSync(path, 0o600);
  await save(new Net(2), path);
  assert.is(statSync(path).mode & 0o777, 0o600);
  assert.equal(readdirSync(dir), ["net.safetensors"]);
  const target = new Net(3);
  await load(target, path);
  assert.equal(await snapshot(target), await snapshot(new Net(2)));
});

atomic("a save that fails halfway leaves the previous file byte for byte, and removes its temporary file", async () => {
  const dir = freshDir();
  const path = join(dir, "net.safetensors");
  await save(new Net(1), path);
  const previous = readFileSync(path);
  const net = new Net(2);
  // the failure comes after the header and some tensors were written
  (net.mask as unknown as { data: () => Promise<never> }).data = async () => {
    throw new Error("device lost");
  };
  await assertRejects(save(net, path), /device lost/);
  assert.equal(readFileSync(path), previous);
  assert.equal(readdirSync(dir), ["net.safetensors"]);
});

atomic.after(() => {
  scratch.remove();
});

modules.run();
optimiser.run();
atomic.run();

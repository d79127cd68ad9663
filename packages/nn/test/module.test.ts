/**
 * @file Module, Parameter, ModuleList and Sequential: dotted names, train/eval, freezing, counting, weight
 * tying, submodule paths, buffers, state dicts (round trip, non-strict reports, strict refusals).
 */

import { embedding, Generator, grad, linear, memory, noGrad, sum, type Tensor, tensor, tidy, zeros } from "@tsgrad/core";
import { assertClose, tolerance } from "@tsgrad/core/testing";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, Parameter, ReLU, Sequential } from "../src/index.ts";

const EXACT = tolerance("reference", "float32", "exact");

/** A block with two layers, a persistent buffer and a non-persistent one. */
class Block extends Module {
  fc: Linear;
  norm = new LayerNorm(3);
  drop = new Dropout(0.5);

  constructor(generator: Generator) {
    super();
    this.fc = new Linear(3, 3, { generator });
    this.registerBuffer("mask", tensor([1, 0, 1], undefined, "float32"));
    this.registerBuffer("cache", zeros([2]), { persistent: false });
  }
}

/** embed (5×3), two blocks in a ModuleList, head (3 -> 5, no bias); `tie` shares embed's weight with head. */
class Net extends Module {
  embed: Embedding;
  blocks: ModuleList;
  head: Linear;
  // not a parameter, buffer or module: ignored
  scale = 2;

  constructor(seed: number, tie = false) {
    super();
    const generator = new Generator(seed);
    this.embed = new Embedding(5, 3, { generator });
    this.blocks = new ModuleList([new Block(generator), new Block(generator)]);
    this.head = new Linear(3, 5, { bias: false, generator });
    if (tie) this.head.weight = this.embed.weight;
  }
}

/** Exposes registerBuffer (protected) to the tests of its errors. */
class Open extends Module {
  child = new Linear(1, 1);
  weight = new Parameter(zeros([1]));

  register(name: string, value: unknown): void {
    this.registerBuffer(name, value as Tensor);
  }
}

const BLOCK_PARAMS = ["fc.weight", "fc.bias", "norm.weight", "norm.bias"];
const NET_PARAMS = [
  "embed.weight",
  ...BLOCK_PARAMS.map((p) => `blocks.0.${p}`),
  ...BLOCK_PARAMS.map((p) => `blocks.1.${p}`),
  "head.weight",
];
// embed 5·3 = 15; a block: fc 3·3 + 3 = 12 and norm 3 + 3 = 6, so 18; head 3·5 = 15
const NET_SIZE = 15 + 2 * 18 + 15;

async function values(dict: Map<string, Tensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of dict) out[k] = Array.from(await t.data());
  return out;
}

// ---- names ------------------------------------------------------------------------------------------

const names = suite("names: parameters, buffers, modules");

names("namedParameters walks fields depth first, with ModuleList indices in the path", () => {
  const net = new Net(0);
  assert.equal(
    net.namedParameters().map(([n]) => n),
    NET_PARAMS,
  );
  const block = [[3, 3], [3], [3], [3]];
  assert.equal(
    net.namedParameters().map(([, p]) => p.shape),
    [[5, 3], ...block, ...block, [5, 3]],
  );
  // parameters() is the same list without names
  assert.equal(
    net.parameters(),
    net.namedParameters().map(([, p]) => p),
  );
  assert.ok(net.parameters().every((p) => p instanceof Parameter && p.requiresGrad));
});

names("namedModules lists every module once, itself first under the empty path", () => {
  const net = new Net(0);
  const block = ["fc", "norm", "drop"];
  assert.equal(
    net.namedModules().map(([n]) => n),
    ["", "embed", "blocks", "blocks.0", ...block.map((b) => `blocks.0.${b}`), "blocks.1", ...block.map((b) => `blocks.1.${b}`), "head"],
  );
  assert.is(net.namedModules()[0][1], net);
  assert.is(net.namedModules()[2][1], net.blocks);
  // a module reachable twice is listed once, under its first path
  const shared = new Linear(1, 1);
  const twice = new ModuleList([shared, shared]);
  assert.equal(
    twice.namedModules().map(([n]) => n),
    ["", "0"],
  );
  assert.equal(
    twice.namedParameters().map(([n]) => n),
    ["0.weight", "0.bias"],
  );
});

names("namedBuffers lists registered buffers; persistentOnly drops the non-persistent ones", () => {
  const net = new Net(0);
  assert.equal(
    net.namedBuffers().map(([n]) => n),
    ["blocks.0.mask", "blocks.0.cache", "blocks.1.mask", "blocks.1.cache"],
  );
  assert.equal(
    net.namedBuffers({ persistentOnly: true }).map(([n]) => n),
    ["blocks.0.mask", "blocks.1.mask"],
  );
  const block = net.blocks.at(0) as Block;
  assert.is(net.namedBuffers()[0][1], (block as unknown as { mask: Tensor }).mask);
  // buffers are state, not parameters: they do not train
  assert.not.ok(net.namedBuffers()[0][1].requiresGrad);
});

names("the state dict holds parameters and persistent buffers, by dotted path", () => {
  const net = new Net(0);
  assert.equal([...net.stateDict().keys()], [...NET_PARAMS, "blocks.0.mask", "blocks.1.mask"]);
  // the entries are the module's own tensors, not copies
  assert.is(net.stateDict().get("embed.weight"), net.embed.weight);
});

names("registerBuffer refuses what cannot be a buffer, naming the buffer", () => {
  const m = new Open();
  assert.throws(() => m.register("x", [1, 2]), /^registerBuffer: buffer "x" must be a Tensor, got Array$/);
  assert.throws(() => m.register("x", 3), /registerBuffer: buffer "x" must be a Tensor, got number 3/);
  assert.throws(() => m.register("a.b", zeros([1])), /registerBuffer: a buffer name must be non-empty and contain no "\.", got "a\.b"/);
  assert.throws(() => m.register("", zeros([1])), /registerBuffer: a buffer name must be non-empty .*got ""/);
  assert.throws(() => m.register("x", new Parameter(zeros([1]))), /registerBuffer: cannot register buffer "x": the tensor is a Parameter/);
  assert.throws(
    () => m.register("child", zeros([1])),
    /registerBuffer: cannot register buffer "child": field "child" already holds a Module/,
  );
  assert.throws(
    () => m.register("weight", zeros([1])),
    /registerBuffer: cannot register buffer "weight": field "weight" already holds a Parameter/,
  );
  // nothing was registered by the refused calls
  assert.equal(m.namedBuffers(), []);
});

names("a registered buffer survives tidy", () => {
  const m = tidy(() => new Net(0));
  assert.ok(m.namedBuffers().every(([, b]) => !b.isDisposed));
  assert.ok(m.parameters().every((p) => !p.isDisposed));
});

// ---- modes, freezing and counting -----------------------------------------------------------------

const modes = suite("train/eval, requiresGrad_, numParameters");

modes("train() and eval() reach every module below, and return the module", () => {
  const net = new Net(0);
  assert.ok(net.namedModules().every(([, m]) => m.training));
  assert.is(net.eval(), net);
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  net.blocks.train();
  // only the subtree switched back
  assert.equal(
    net
      .namedModules()
      .filter(([, m]) => m.training)
      .map(([n]) => n),
    ["blocks", "blocks.0", "blocks.0.fc", "blocks.0.norm", "blocks.0.drop", "blocks.1", "blocks.1.fc", "blocks.1.norm", "blocks.1.drop"],
  );
  assert.is(net.train(false), net);
  assert.ok(net.namedModules().every(([, m]) => !m.training));
});

modes("requiresGrad_ freezes and unfreezes a subtree; numParameters counts all or the trainable ones", () => {
  const net = new Net(0);
  assert.is(net.numParameters(), NET_SIZE);
  assert.is(net.numParameters({ trainableOnly: true }), NET_SIZE);
  assert.is(net.blocks.at(0).requiresGrad_(false), net.blocks.at(0));
  assert.equal(
    net
      .namedParameters()
      .filter(([, p]) => !p.requiresGrad)
      .map(([n]) => n),
    BLOCK_PARAMS.map((p) => `blocks.0.${p}`),
  );
  // 18 frozen in blocks.0
  assert.is(net.numParameters({ trainableOnly: true }), NET_SIZE - 18);
  assert.is(net.numParameters(), NET_SIZE);
  net.requiresGrad_();
  assert.is(net.numParameters({ trainableOnly: true }), NET_SIZE);
});

modes("a frozen parameter gets no gradient, the others do", () => {
  const net = new Net(0);
  net.embed.requiresGrad_(false);
  const loss = sum(net.head.forward(net.embed.forward(tensor([1, 2], undefined, "int32"))));
  loss.backward();
  assert.is(net.embed.weight.grad, null);
  assert.ok(net.head.weight.grad !== null);
});

// ---- weight tying -----------------------------------------------------------------------------------

const tying = suite("weight tying");

tying("one Parameter in two fields is listed, counted and saved once, under the first name", () => {
  const net = new Net(0, true);
  assert.is(net.head.weight, net.embed.weight);
  const listed = net.namedParameters().map(([n]) => n);
  assert.equal(
    listed,
    NET_PARAMS.filter((n) => n !== "head.weight"),
  );
  assert.is(net.numParameters(), NET_SIZE - 15);
  assert.not.ok(net.stateDict().has("head.weight"));
  assert.is(net.stateDict().get("embed.weight"), net.embed.weight);
});

tying("a tied parameter's gradient sums both uses", async () => {
  const net = new Net(0, true);
  const ids = tensor([0, 3, 3], undefined, "int32");
  sum(net.head.forward(net.embed.forward(ids))).backward();
  // the same function written with the one weight twice, differentiated by core's grad
  const w = net.embed.weight.detach().requiresGrad_();
  const [expected] = grad(sum(linear(embedding(w, ids), w)), [w]);
  await assertClose(net.embed.weight.grad as Tensor, await (expected as Tensor).data(), tolerance("reference", "float32", "matmul"));
});

tying("loading a state dict writes the tied parameter once, and both fields see it", async () => {
  const source = new Net(1, true);
  const target = new Net(2, true);
  target.loadStateDict(source.stateDict());
  await assertClose(target.head.weight, await source.embed.weight.data(), EXACT);
});

// ---- submodules -------------------------------------------------------------------------------------

const paths = suite("getSubmodule and setSubmodule");

paths("getSubmodule follows dotted paths through fields and ModuleList indices", () => {
  const net = new Net(0);
  assert.is(net.getSubmodule(""), net);
  assert.is(net.getSubmodule("head"), net.head);
  assert.is(net.getSubmodule("blocks.1"), net.blocks.at(1));
  assert.is(net.getSubmodule("blocks.1.fc"), (net.blocks.at(1) as Block).fc);
});

paths("getSubmodule names the path, the missing step and what is there instead", () => {
  const net = new Net(0);
  assert.throws(() => net.getSubmodule("blocks.2.fc"), /^getSubmodule: no module "2" in "blocks\.2\.fc" \("blocks" has "0", "1"\)$/);
  assert.throws(
    () => net.getSubmodule("nope"),
    /getSubmodule: no module "nope" in "nope" \(the root module has "embed", "blocks", "head"\)/,
  );
  assert.throws(
    () => net.getSubmodule("head.weight"),
    /getSubmodule: no module "weight" in "head\.weight" \("head" has no child modules\)/,
  );
  // a parameter or plain field is not a module
  assert.throws(() => net.getSubmodule("scale"), /getSubmodule: no module "scale" in "scale"/);
});

paths("setSubmodule replaces a field or a ModuleList item; the new parameters take the old names", () => {
  const net = new Net(0);
  const fc = new Linear(3, 3, { bias: false });
  net.setSubmodule("blocks.0.fc", fc);
  assert.is((net.blocks.at(0) as Block).fc, fc);
  assert.is(net.namedParameters()[1][1], fc.weight);
  assert.not.ok(net.namedParameters().some(([n]) => n === "blocks.0.fc.bias"));

  const block = new Block(new Generator(9));
  net.setSubmodule("blocks.1", block);
  assert.is(net.blocks.at(1), block);
  assert.is(net.getSubmodule("blocks.1.norm"), block.norm);

  const head = new Linear(3, 5);
  net.setSubmodule("head", head);
  assert.is(net.head, head);
});

paths("setSubmodule refuses a missing path or a non-module, naming the path", () => {
  const net = new Net(0);
  assert.throws(
    () => net.setSubmodule("blocks.0.attn", new ReLU()),
    /^setSubmodule: no module "attn" in "blocks\.0\.attn" \("blocks\.0" has "fc", "norm", "drop"\)$/,
  );
  assert.throws(() => net.setSubmodule("blocks.5.fc", new ReLU()), /getSubmodule: no module "5" in "blocks\.5"/);
  assert.throws(() => net.setSubmodule("scale", new ReLU()), /setSubmodule: no module "scale" in "scale" \(the root module has/);
  assert.throws(() => net.setSubmodule("", new ReLU()), /setSubmodule: no module "" in ""/);
  assert.throws(() => net.setSubmodule("head", {} as Module), /setSubmodule: the replacement for "head" is not a Module/);
});

// ---- state dicts ------------------------------------------------------------------------------------

const state = suite("stateDict and loadStateDict");

state("a round trip copies every value in place: parameters keep their identity", async () => {
  const source = new Net(1);
  const target = new Net(2);
  noGrad(() => (source.blocks.at(1) as unknown as { mask: Tensor }).mask.assign(tensor([0, 1, 0])));
  const before = target.parameters();
  const result = target.loadStateDict(source.stateDict());
  assert.equal(result, { missingKeys: [], unexpectedKeys: [], shapeMismatches: [] });
  assert.equal(await values(target.stateDict()), await values(source.stateDict()));
  assert.ok(target.parameters().every((p, i) => p === before[i] && p.requiresGrad));
  // copies, not shared buffers: changing the source later leaves the target alone
  const copied = Array.from(await target.embed.weight.data());
  noGrad(() => source.embed.weight.assign(0));
  assert.equal(Array.from(await target.embed.weight.data()), copied);
});

state("non-persistent buffers are neither saved nor loaded", async () => {
  const source = new Net(1);
  const target = new Net(2);
  noGrad(() => (source.blocks.at(0) as unknown as { cache: Tensor }).cache.assign(7));
  target.loadStateDict(source.stateDict());
  await assertClose((target.blocks.at(0) as unknown as { cache: Tensor }).cache, [0, 0], EXACT);
});

state("a plain object loads like a Map, and values are cast to the target's dtype", async () => {
  const m = new Linear(2, 1);
  m.loadStateDict({ weight: tensor([[1.5, -2]], undefined, "float64"), bias: tensor([3], undefined, "int32") });
  assert.is(m.weight.dtype, "float32");
  await assertClose(m.weight, [1.5, -2], EXACT);
  await assertClose(m.bias as Parameter, [3], EXACT);
});

state("non-strict loading reports missing, unexpected and mismatched keys by name and loads the rest", async () => {
  const target = new Net(2);
  const source = new Net(1).stateDict();
  source.delete("blocks.0.mask");
  source.delete("head.weight");
  source.set("blocks.1.fc.bias", tensor([1, 2]));
  source.set("extra.weight", zeros([2]));
  source.set("embed.weight", zeros([4, 3]));
  const embedBefore = Array.from(await target.embed.weight.data());
  const result = target.loadStateDict(source, { strict: false });
  assert.equal(result, {
    missingKeys: ["head.weight", "blocks.0.mask"],
    unexpectedKeys: ["extra.weight"],
    shapeMismatches: ["embed.weight: expected [5,3], got [4,3]", "blocks.1.fc.bias: expected [3], got [2]"],
  });
  // mismatched entries are skipped, the matching ones loaded
  assert.equal(Array.from(await target.embed.weight.data()), embedBefore);
  await assertClose((target.blocks.at(0) as Block).fc.weight, await (source.get("blocks.0.fc.weight") as Tensor).data(), EXACT);
});

state("strict loading throws naming every problem, and writes nothing", async () => {
  const target = new Net(2);
  const source = new Net(1).stateDict();
  source.delete("head.weight");
  source.set("extra", zeros([1]));
  source.set("blocks.0.norm.weight", zeros([4]));
  const before = await values(target.stateDict());
  assert.throws(
    () => target.loadStateDict(source),
    /^loadStateDict: missing key head\.weight; unexpected key extra; shape mismatch blocks\.0\.norm\.weight: expected \[3\], got \[4\]$/,
  );
  assert.equal(await values(target.stateDict()), before);
});

state("a value that is not a live tensor is refused by name before anything is written", async () => {
  const target = new Linear(2, 1);
  const before = await values(target.stateDict());
  const dead = zeros([1]);
  dead.dispose();
  assert.throws(
    () => target.loadStateDict({ weight: zeros([1, 2]), bias: [1] as unknown as Tensor }, { strict: false }),
    /^loadStateDict: the value of "bias" must be a live Tensor, got Array$/,
  );
  assert.throws(
    () => target.loadStateDict({ weight: zeros([1, 2]), bias: dead }),
    /loadStateDict: the value of "bias" must be a live Tensor, got a disposed tensor/,
  );
  assert.equal(await values(target.stateDict()), before);
});

state("loading leaves no temporaries behind", () => {
  const target = new Linear(2, 1);
  const source = { weight: tensor([[1, 2]], undefined, "float64"), bias: tensor([3], undefined, "float64") };
  const base = memory();
  target.loadStateDict(source);
  assert.equal(memory(), base);
});

// ---- Sequential and ModuleList -------------------------------------------------------------------

const containers = suite("Sequential and ModuleList");

containers("Sequential applies its modules in order", async () => {
  const first = new Linear(2, 2);
  const second = new Linear(2, 1);
  noGrad(() => {
    first.weight.assign(
      tensor([
        [1, 0],
        [0, -1],
      ]),
    );
    (first.bias as Parameter).assign(tensor([0, 1]));
    second.weight.assign(tensor([[2, 3]]));
    (second.bias as Parameter).assign(tensor([-1]));
  });
  const net = new Sequential(first, new ReLU(), second);
  // x = [3, 5]: first gives [3, -5 + 1] = [3, -4]; relu [3, 0]; second 2·3 + 3·0 - 1 = 5
  // x = [-1, -2]: first gives [-1, 2 + 1] = [-1, 3]; relu [0, 3]; second 0 + 9 - 1 = 8
  const x = tensor(
    [
      [3, 5],
      [-1, -2],
    ],
    undefined,
    "float32",
  );
  await assertClose(net.forward(x), [5, 8], EXACT, { shape: [2, 1] });
  assert.equal(
    net.namedParameters().map(([n]) => n),
    ["0.weight", "0.bias", "2.weight", "2.bias"],
  );
});

containers("ModuleList indexes, counts, grows and iterates; a bad index names the length", () => {
  const a = new ReLU();
  const b = new Linear(1, 1);
  const list = new ModuleList([a]);
  list.push(b);
  assert.is(list.length, 2);
  assert.is(list.at(1), b);
  assert.is(list.at(-1), b);
  assert.equal([...list], [a, b]);
  assert.equal(
    list.namedParameters().map(([n]) => n),
    ["1.weight", "1.bias"],
  );
  assert.throws(() => list.at(2), /^ModuleList: index 2 is out of range for 2 modules$/);
});

// ---- Parameter --------------------------------------------------------------------------------------

const params = suite("Parameter");

params("a Parameter requires grad, shares its source's buffer and is a new leaf", async () => {
  const source = tensor([1, 2], undefined, "float32");
  const p = new Parameter(source);
  assert.ok(p.requiresGrad && p.isLeaf);
  assert.not.ok(source.requiresGrad);
  noGrad(() => source.assign(tensor([5, 6])));
  await assertClose(p, [5, 6], EXACT);
  // the source can go; the parameter keeps the buffer
  source.dispose();
  await assertClose(p, [5, 6], EXACT);
});

params("a trainable Parameter must be float; a frozen one may hold integers", () => {
  assert.throws(() => new Parameter(tensor([1, 2])), /^Parameter: only float tensors can be trainable, got int32$/);
  assert.throws(() => new Parameter(tensor([true])), /Parameter: only float tensors can be trainable, got bool/);
  const frozen = new Parameter(tensor([1, 2]), false);
  assert.is(frozen.dtype, "int32");
  assert.not.ok(frozen.requiresGrad);
});

params("a Parameter of a disposed tensor is refused", () => {
  const t = zeros([2]);
  t.dispose();
  assert.throws(() => new Parameter(t), /^Parameter: a float32\[2\] tensor was used after dispose\(\)$/);
});

params("a Parameter survives the tidy scope it was made in, returned or not; the tensors made from it do not", () => {
  const made: Tensor[] = [];
  tidy(() => {
    made.push(new Parameter(zeros([3])), new Parameter(zeros([3])).add(1));
  });
  assert.not.ok(made[0].isDisposed);
  assert.ok(made[1].isDisposed);
  const returned = tidy(() => new Parameter(zeros([3])));
  assert.not.ok(returned.isDisposed);
});

const lifecycle = suite("dispose, and bad arguments to containers and layers");

lifecycle("dispose frees every parameter, gradient, buffer and cached tensor once, tied ones included", () => {
  const before = memory().numTensors;
  const net = new Net(1);
  const grads = tidy(() =>
    grad(sum(net.head.forward(net.embed.forward(tensor([1, 2], undefined, "int32")))), net.parameters(), { allowUnused: true }),
  );
  grads.forEach((g, i) => {
    if (g) net.parameters()[i].grad = g.keep();
  });
  net.dispose();
  assert.is(memory().numTensors, before);
  assert.ok(net.parameters().every((p) => p.isDisposed));
  assert.throws(
    () => net.head.forward(tensor([[1, 2, 3]], undefined, "float32")),
    /linear: a float32\[5,3\] tensor \(the weight\) was used after dispose\(\)/,
  );
  // a tied weight is freed once, and both fields see it freed
  const tied = new Net(2, true);
  tied.dispose();
  assert.ok(tied.head.weight.isDisposed && tied.embed.weight.isDisposed);
});

lifecycle("containers and layers refuse bad arguments where they are written", () => {
  assert.throws(() => new Sequential(42 as never), /Sequential: item 0 must be a Module, got number 42/);
  assert.throws(() => new ModuleList(7 as never), /ModuleList: expected modules, got number 7/);
  assert.throws(() => new ModuleList([new Linear(1, 1), "x" as never]), /ModuleList: item 1 must be a Module, got string x/);
  assert.throws(() => new Linear(1e5, 1e5), /Linear: a float32 tensor of shape \[100000,100000\] needs 40,000,000,000 bytes/);
  assert.throws(() => new Embedding(1e6, 1e4), /Embedding: a float32 tensor of shape \[1000000,10000\]/);
});

names.run();
lifecycle.run();
modes.run();
tying.run();
paths.run();
state.run();
containers.run();
params.run();

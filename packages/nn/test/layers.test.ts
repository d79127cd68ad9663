/**
 * @file Layers: Linear, Embedding, LayerNorm, Dropout, GELU, ReLU, Tanh. Hand-computed values and
 * gradients, a float64 gradcheck property over random sizes (with respect to the input and the
 * parameters), train/eval behaviour, memory, and the errors each layer gives for bad input.
 */

import { Generator, grad, memory, type NestedArray, noGrad, sum, type Tensor, tensor, tidy } from "@tsgrad/core";
import { assertArrayClose, assertClose, checkProperty, gradcheck, shapeArb, tolerance, valuesArb } from "@tsgrad/core/testing";
import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  Dropout,
  Embedding,
  functionalCall,
  GELU,
  LayerNorm,
  Linear,
  type Module,
  type Parameter,
  ReLU,
  Sequential,
  Tanh,
} from "../src/index.ts";

const F32 = tolerance("reference", "float32", "elementwise");
const F64 = tolerance("reference", "float64", "transcendental");
const EXACT = tolerance("reference", "float32", "exact");
const f64 = (values: NestedArray, shape?: number[]) => tensor(values as number[], shape, "float64");
const f32 = (values: NestedArray, shape?: number[]) => tensor(values as number[], shape, "float32");
const i32 = (values: NestedArray, shape?: number[]) => tensor(values as number[], shape, "int32");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

interface Layer extends Module {
  forward(x: Tensor): Tensor;
}

/** Sets a layer's parameters (no-grad, in place), by field name. */
function setParameters(layer: Module, values: Record<string, Tensor>): void {
  noGrad(() => {
    for (const [name, v] of Object.entries(values)) (layer as unknown as Record<string, Parameter>)[name].assign(v);
  });
}

/** Gradients of Σ layer(x) with respect to x and each parameter, by core's grad. */
function gradsOfSum(layer: Layer, x: Tensor): { out: Tensor; grads: (Tensor | null)[] } {
  const out = layer.forward(x);
  const wrt = [x, ...layer.parameters()].filter((t) => t.requiresGrad);
  return { out, grads: grad(sum(out), wrt) };
}

/** The layer's forward as a function of its input and of its parameter fields, for gradcheck (see functionalCall). */
function functionalForward(layer: Layer, fields: readonly string[]): (x: Tensor, ...params: Tensor[]) => Tensor {
  return (x, ...params) => functionalCall(layer, fields, params, () => layer.forward(x));
}

/** A float64 input shape: leading axes (rank 0 to 2) and then the given trailing ones. */
const leadShape = shapeArb({ maxRank: 2, maxDim: 3 });

// ---- Linear -----------------------------------------------------------------------------------------

const linearSuite = suite("Linear");

// W (out 3, in 2) = [[1, 2], [3, 4], [-1, 0]], b = [0.5, -1, 2]
const W = [
  [1, 2],
  [3, 4],
  [-1, 0],
];
const B = [0.5, -1, 2];

linearSuite("y = x·Wᵀ + b, by hand, with the gradients of Σy", async () => {
  const layer = new Linear(2, 3);
  setParameters(layer, { weight: f32(W), bias: f32(B) });
  const x = f32([
    [1, -1],
    [2, 0.5],
  ]).requiresGrad_();
  const { out, grads } = gradsOfSum(layer, x);
  // row [1, -1]: [1 - 2 + 0.5, 3 - 4 - 1, -1 + 0 + 2] = [-0.5, -2, 1]
  // row [2, 0.5]: [2 + 1 + 0.5, 6 + 2 - 1, -2 + 0 + 2] = [3.5, 7, 0]
  await assertClose(out, [-0.5, -2, 1, 3.5, 7, 0], EXACT, { shape: [2, 3] });
  const [dx, dw, db] = grads as Tensor[];
  // ∂Σy/∂x[n, i] = Σ_o W[o, i] = [1 + 3 - 1, 2 + 4 + 0] = [3, 6] for each row
  await assertClose(dx, [3, 6, 3, 6], EXACT);
  // ∂Σy/∂W[o, i] = Σ_n x[n, i] = [1 + 2, -1 + 0.5] = [3, -0.5] for each output
  await assertClose(dw, [3, -0.5, 3, -0.5, 3, -0.5], EXACT);
  // ∂Σy/∂b[o] = the number of rows, 2
  await assertClose(db, [2, 2, 2], EXACT);
});

linearSuite("any number of leading axes, rank 1 included; bias: false adds nothing", async () => {
  const layer = new Linear(2, 3, { bias: false });
  assert.is(layer.bias, null);
  assert.equal(
    layer.namedParameters().map(([n]) => n),
    ["weight"],
  );
  setParameters(layer, { weight: f32(W) });
  // [1, 1]: row sums of W = [3, 7, -1]
  await assertClose(layer.forward(f32([1, 1])), [3, 7, -1], EXACT, { shape: [3] });
  await assertClose(layer.forward(f32([1, 1, 0, 1], [2, 1, 2])), [3, 7, -1, 2, 4, 0], EXACT, { shape: [2, 1, 3] });
});

linearSuite("dtype float64 makes float64 parameters and outputs", () => {
  const layer = new Linear(2, 2, { dtype: "float64" });
  assert.equal(
    layer.parameters().map((p) => p.dtype),
    ["float64", "float64"],
  );
  assert.is(layer.forward(f64([1, 2])).dtype, "float64");
});

linearSuite("gradcheck property: input, weight and bias (float64)", async () => {
  const cases = fc
    .record({ lead: leadShape, inF: fc.integer({ min: 0, max: 3 }), outF: fc.integer({ min: 1, max: 3 }), bias: fc.boolean() })
    .chain((c) =>
      fc.tuple(valuesArb(size(c.lead) * c.inF), valuesArb(c.outF * c.inF), valuesArb(c.outF)).map(([x, w, b]) => ({ ...c, x, w, b })),
    );
  await checkProperty("Linear gradcheck", cases, async ({ lead, inF, outF, bias, x, w, b }) => {
    const layer = new Linear(inF, outF, { bias, dtype: "float64" });
    const fields = bias ? ["weight", "bias"] : ["weight"];
    const params = bias ? [f64(w, [outF, inF]), f64(b, [outF])] : [f64(w, [outF, inF])];
    await gradcheck(functionalForward(layer, fields), [f64(x, [...lead, inF]), ...params]);
  });
});

linearSuite("the helper differentiates the parameters themselves: a wrong parameter gradient is caught", async () => {
  // a layer whose forward detaches its weight: the weight gets no gradient, which gradcheck must notice
  class Broken extends Linear {
    override forward(x: Tensor): Tensor {
      return x.matmul(this.weight.detach().transpose(0, 1));
    }
  }
  const layer = new Broken(2, 1, { bias: false, dtype: "float64" });
  let message = "";
  try {
    await gradcheck(functionalForward(layer, ["weight"]), [f64([1, 2]), f64([[3, 4]])]);
  } catch (error) {
    message = (error as Error).message;
  }
  assert.match(message, /^gradcheck: input 1 \[1,2\] at index/);
});

linearSuite("errors name the layer, what it got and what it expected", () => {
  const layer = new Linear(3, 2);
  assert.throws(() => layer.forward(f32([1, 2])), /^Linear: expected an input whose last axis is inFeatures = 3, got shape \[2\]$/);
  assert.throws(() => layer.forward(f32([[1, 2, 3, 4]])), /Linear: expected an input whose last axis is inFeatures = 3, got shape \[1,4\]/);
  assert.throws(() => layer.forward(tensor(1, [], "float32")), /Linear: expected .*inFeatures = 3, got shape \[\]/);
  assert.throws(() => new Linear(-1, 2), /^Linear: inFeatures must be a non-negative integer, got -1$/);
  assert.throws(() => new Linear(2, 1.5), /^Linear: outFeatures must be a non-negative integer, got 1.5$/);
});

// ---- Embedding ------------------------------------------------------------------------------------

const embeddingSuite = suite("Embedding");

// rows: id 0 -> [0, 1], id 1 -> [2, 3], id 2 -> [4, 5]
const TABLE = [
  [0, 1],
  [2, 3],
  [4, 5],
];

embeddingSuite("picks rows for ids of any shape; each row's gradient counts its uses", async () => {
  const layer = new Embedding(3, 2);
  setParameters(layer, { weight: f32(TABLE) });
  const ids = i32([
    [2, 0],
    [2, 1],
  ]);
  const out = layer.forward(ids);
  await assertClose(out, [4, 5, 0, 1, 4, 5, 2, 3], EXACT, { shape: [2, 2, 2] });
  // id 0 and id 1 appear once, id 2 twice
  const [dw] = grad(sum(out), [layer.weight]) as Tensor[];
  await assertClose(dw, [1, 1, 1, 1, 2, 2], EXACT);
  // a rank-0 id gives one row; no ids give no rows
  await assertClose(layer.forward(i32(1, [])), [2, 3], EXACT, { shape: [2] });
  await assertClose(layer.forward(i32([], [0, 4])), [], EXACT, { shape: [0, 4, 2] });
});

embeddingSuite("paddingIdx: its row starts at zero and gets no gradient, but is read like any row", async () => {
  const layer = new Embedding(3, 2, { paddingIdx: 1, generator: new Generator(3) });
  assert.equal(Array.from((await layer.weight.array()) as number[][])[1], [0, 0]);
  assert.is(layer.paddingIdx, 1);
  // the other rows are untouched draws
  assert.ok(((await layer.weight.array()) as number[][])[0].every((v) => v !== 0));
  const ids = i32([1, 0, 1, 2]);
  const [dw] = grad(sum(layer.forward(ids)), [layer.weight]) as Tensor[];
  // ids 0 and 2 once each; the two padding positions send nothing to row 1
  await assertClose(dw, [1, 1, 0, 0, 1, 1], EXACT);
  // a padding row set by hand is what padding positions read (as PyTorch)
  setParameters(layer, { weight: f32(TABLE) });
  await assertClose(layer.forward(i32([1, 2])), [2, 3, 4, 5], EXACT);
  // a negative paddingIdx counts from the end
  assert.is(new Embedding(3, 2, { paddingIdx: -1 }).paddingIdx, 2);
});

embeddingSuite("dtype float64", () => {
  const layer = new Embedding(4, 2, { dtype: "float64" });
  assert.is(layer.weight.dtype, "float64");
  assert.is(layer.forward(i32([3])).dtype, "float64");
});

embeddingSuite("gradcheck property: the weight (float64)", async () => {
  const cases = fc
    .record({ ids: shapeArb({ maxRank: 2, maxDim: 3 }), num: fc.integer({ min: 1, max: 4 }), dim: fc.integer({ min: 1, max: 3 }) })
    .chain((c) =>
      fc
        .tuple(
          fc.array(fc.integer({ min: 0, max: c.num - 1 }), { minLength: size(c.ids), maxLength: size(c.ids) }),
          valuesArb(c.num * c.dim),
        )
        .map(([idValues, w]) => ({ ...c, idValues, w })),
    );
  await checkProperty("Embedding gradcheck", cases, async ({ ids, num, dim, idValues, w }) => {
    const layer = new Embedding(num, dim, { dtype: "float64" });
    // gradcheck passes the int32 ids through untouched and checks the float weight
    await gradcheck(functionalForward(layer, ["weight"]), [i32(idValues, ids), f64(w, [num, dim])]);
  });
});

embeddingSuite("errors: an out-of-range id names the id and the vocabulary size", () => {
  const layer = new Embedding(3, 2);
  assert.throws(() => layer.forward(i32([0, 3])), /^embedding: index 3 at flat position 1 is out of range: expected 0 <= index < 3$/);
  assert.throws(() => layer.forward(i32([-1])), /embedding: index -1 at flat position 0 is out of range: expected 0 <= index < 3/);
  assert.throws(() => layer.forward(f32([1])), /^embedding: indices must be int32, got float32$/);
  assert.throws(() => new Embedding(-2, 3), /^Embedding: numEmbeddings must be a non-negative integer, got -2$/);
  assert.throws(() => new Embedding(3, 0.5), /^Embedding: embeddingDim must be a non-negative integer, got 0.5$/);
  assert.throws(() => new Embedding(3, 2, { paddingIdx: 3 }), /^Embedding: paddingIdx must be an integer in \[-3, 3\), got 3$/);
  assert.throws(() => new Embedding(3, 2, { paddingIdx: -4 }), /Embedding: paddingIdx must be an integer in \[-3, 3\), got -4/);
  assert.throws(() => new Embedding(3, 2, { paddingIdx: 1.5 }), /Embedding: paddingIdx .*got 1.5/);
});

// ---- LayerNorm ----------------------------------------------------------------------------------------

const normSuite = suite("LayerNorm");

const EPS = 1e-5;

normSuite("normalises the trailing axes, then scales and shifts, by hand, with the parameter gradients", async () => {
  const layer = new LayerNorm(2);
  setParameters(layer, { weight: f32([2, 1]), bias: f32([0, 1]) });
  const x = f32([
    [1, 3],
    [0, 4],
  ]);
  // row [1, 3]: mean 2, centred [-1, 1], variance 1, normalised [-a, a] with a = 1/√(1 + eps)
  // row [0, 4]: mean 2, centred [-2, 2], variance 4, normalised [-c, c] with c = 2/√(4 + eps)
  const a = 1 / Math.sqrt(1 + EPS);
  const c = 2 / Math.sqrt(4 + EPS);
  const out = layer.forward(x);
  // y = normalised·[2, 1] + [0, 1]
  await assertClose(out, [-2 * a, a + 1, -2 * c, c + 1], F32, { shape: [2, 2] });
  const [dw, db] = grad(sum(out), [layer.weight as Tensor, layer.bias as Tensor]) as Tensor[];
  // ∂Σy/∂weight = Σ over rows of the normalised values; ∂Σy/∂bias = the number of rows
  await assertClose(dw, [-a - c, a + c], F32);
  await assertClose(db, [2, 2], EXACT);
});

normSuite("several trailing axes; elementwiseAffine: false and bias: false", async () => {
  // [1, 3, 0, 4] over both axes: mean 2, centred [-1, 1, -2, 2], variance (1 + 1 + 4 + 4)/4 = 2.5
  const s = Math.sqrt(2.5 + EPS);
  const plain = new LayerNorm([2, 2], { elementwiseAffine: false });
  assert.equal(plain.parameters(), []);
  await assertClose(plain.forward(f32([1, 3, 0, 4], [1, 2, 2])), [-1 / s, 1 / s, -2 / s, 2 / s], F32, { shape: [1, 2, 2] });
  const noBias = new LayerNorm(2, { bias: false });
  assert.equal(
    noBias.namedParameters().map(([n]) => n),
    ["weight"],
  );
  // a custom eps: [1, 3] has variance 1, so the scale is 1/√(1 + 3) = 1/2
  await assertClose(new LayerNorm(2, { eps: 3 }).forward(f32([1, 3])), [-0.5, 0.5], F32);
});

normSuite("starts as the identity affine map: weight ones, bias zeros; dtype float64", async () => {
  const layer = new LayerNorm([2, 3], { dtype: "float64" });
  assert.equal(Array.from(await (layer.weight as Tensor).data()), [1, 1, 1, 1, 1, 1]);
  assert.equal(Array.from(await (layer.bias as Tensor).data()), [0, 0, 0, 0, 0, 0]);
  assert.is((layer.weight as Tensor).dtype, "float64");
});

normSuite("gradcheck property: input, weight and bias (float64)", async () => {
  const cases = fc
    .record({ lead: leadShape, norm: shapeArb({ minRank: 1, maxRank: 2, maxDim: 3 }), affine: fc.constantFrom("both", "weight", "none") })
    .chain((c) =>
      fc
        .tuple(valuesArb(size(c.lead) * size(c.norm)), valuesArb(size(c.norm)), valuesArb(size(c.norm)))
        .map(([x, w, b]) => ({ ...c, x, w, b })),
    );
  await checkProperty("LayerNorm gradcheck", cases, async ({ lead, norm, affine, x, w, b }) => {
    const layer = new LayerNorm(norm, { dtype: "float64", elementwiseAffine: affine !== "none", bias: affine === "both" });
    const fields = affine === "both" ? ["weight", "bias"] : affine === "weight" ? ["weight"] : [];
    const params = [f64(w, norm), f64(b, norm)].slice(0, fields.length);
    await gradcheck(functionalForward(layer, fields), [f64(x, [...lead, ...norm]), ...params]);
  });
});

normSuite("errors name the layer, what it got and what it expected", () => {
  const layer = new LayerNorm([2, 3]);
  assert.throws(() => layer.forward(f32([1, 2, 3])), /^LayerNorm: expected an input whose trailing axes are \[2,3\], got shape \[3\]$/);
  assert.throws(() => layer.forward(f32([1, 2, 3, 4, 5, 6], [3, 2])), /LayerNorm: expected .*\[2,3\], got shape \[3,2\]/);
  assert.throws(() => new LayerNorm([]), /^LayerNorm: normalizedShape must be positive integers, got \[\]$/);
  assert.throws(() => new LayerNorm([2, 0]), /LayerNorm: normalizedShape must be positive integers, got \[2,0\]/);
  assert.throws(() => new LayerNorm(1.5), /LayerNorm: normalizedShape must be positive integers, got \[1.5\]/);
  assert.throws(() => new LayerNorm(2, { eps: -1e-5 }), /^LayerNorm: eps must be a non-negative finite number, got -0.00001$/);
  assert.throws(() => new LayerNorm(2, { eps: Number.NaN }), /LayerNorm: eps must be a non-negative finite number, got NaN/);
});

// ---- Dropout ----------------------------------------------------------------------------------------

const dropoutSuite = suite("Dropout");

dropoutSuite("eval mode is the identity, the very same tensor", async () => {
  const layer = new Dropout(0.9).eval();
  const x = f32([1, 2, 3]);
  assert.is(layer.forward(x), x);
});

dropoutSuite("train mode: a mask from the generator, kept values scaled by 1/(1 - p), by hand", async () => {
  // new Generator(0).uniform(4) = [0.595, 0.130, 0.479, 0.682]; an element is kept where u >= p = 0.5:
  // [kept, dropped, dropped, kept], scaled by 1/(1 - 0.5) = 2
  const layer = new Dropout(0.5, new Generator(0));
  const x = f32([1, 2, 3, 4]).requiresGrad_();
  const out = layer.forward(x);
  await assertClose(out, [2, 0, 0, 8], EXACT);
  // the gradient is the same mask and scale
  await assertClose((grad(sum(out), [x]) as Tensor[])[0], [2, 0, 0, 2], EXACT);
});

dropoutSuite("train mode zeroes about p of 20,000 elements and scales the rest by 1/(1 - p)", async () => {
  const p = 0.3;
  const out = await new Dropout(p, new Generator(1)).forward(tensor(new Float32Array(20_000).fill(1), [20_000], "float32")).data();
  const zeros = out.filter((v) => v === 0).length / out.length;
  // the zero fraction is binomial: standard error √(p(1-p)/n) = 0.0032; allow 5 of them
  assert.ok(Math.abs(zeros - p) < 5 * Math.sqrt((p * (1 - p)) / out.length), `zero fraction ${zeros}`);
  assertArrayClose(
    out.filter((v) => v !== 0),
    new Array(out.length - Math.round(zeros * out.length)).fill(1 / (1 - p)),
    F32,
  );
});

dropoutSuite("the same seed gives the same mask; the stream moves on between calls", async () => {
  const x = tensor(new Float32Array(64).fill(1), [64], "float32");
  const a = new Dropout(0.5, new Generator(7));
  const b = new Dropout(0.5, new Generator(7));
  const first = await a.forward(x).data();
  assert.equal(await b.forward(x).data(), first);
  assert.not.equal(await a.forward(x).data(), first);
});

dropoutSuite("train() and eval() on a parent switch it; p = 0 and p = 1", async () => {
  const net = new Sequential(new Dropout(1));
  const x = f32([1, 2]);
  await assertClose(net.forward(x), [0, 0], EXACT);
  net.eval();
  await assertClose(net.forward(x), [1, 2], EXACT);
  assert.is(new Dropout(0).forward(x), x);
});

dropoutSuite("gradcheck property: the input, in train mode with a fixed mask (float64)", async () => {
  const cases = fc.record({ shape: shapeArb({ maxRank: 3, maxDim: 3 }), p: fc.constantFrom(0, 0.25, 0.5, 0.9), seed: fc.nat() });
  await checkProperty(
    "Dropout gradcheck",
    cases.chain((c) => valuesArb(size(c.shape)).map((x) => ({ ...c, x }))),
    async ({ shape, p, seed, x }) => {
      // a fresh generator per call: gradcheck evaluates the function many times and needs the same mask
      await gradcheck((t) => new Dropout(p, new Generator(seed)).forward(t), [f64(x, shape)]);
    },
  );
});

dropoutSuite("p outside [0, 1] is refused", () => {
  assert.throws(() => new Dropout(1.5), /^Dropout: p must be in \[0, 1\], got 1.5$/);
  assert.throws(() => new Dropout(-0.1), /Dropout: p must be in \[0, 1\], got -0.1/);
  assert.throws(() => new Dropout(Number.NaN), /Dropout: p must be in \[0, 1\], got NaN/);
});

// ---- activations ------------------------------------------------------------------------------------

const activations = suite("GELU, ReLU, Tanh");

// Φ(1) = (1 + erf(1/√2))/2 with erf(1/√2) = 0.6826894921370859; φ(1) = e^{-1/2}/√(2π); Φ(-1) = 1 - Φ(1)
const PHI1 = 0.5 * (1 + 0.6826894921370859);
const pdf1 = Math.exp(-0.5) / Math.sqrt(2 * Math.PI);

activations("GELU (exact): x·Φ(x), with derivative Φ(x) + x·φ(x)", async () => {
  const x = f64([-1, 0, 1]).requiresGrad_();
  const out = new GELU().forward(x);
  // -1·Φ(-1) = -(1 - Φ(1)), 0, 1·Φ(1)
  await assertClose(out, [-(1 - PHI1), 0, PHI1], F64);
  // at -1: Φ(-1) - φ(-1) = 1 - Φ(1) - φ(1); at 0: Φ(0) = 1/2; at 1: Φ(1) + φ(1)
  await assertClose((grad(sum(out), [x]) as Tensor[])[0], [1 - PHI1 - pdf1, 0.5, PHI1 + pdf1], F64);
});

activations("GELU (tanh): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))", async () => {
  // at 1: u = √(2/π)·1.044715; at 2: u = √(2/π)·(2 + 0.044715·8) = √(2/π)·2.35772
  const C = Math.sqrt(2 / Math.PI);
  const layer = new GELU({ approximate: "tanh" });
  assert.is(layer.approximate, "tanh");
  await assertClose(layer.forward(f64([1, 2])), [0.5 * (1 + Math.tanh(C * 1.044715)), 1 + Math.tanh(C * 2.35772)], F64);
});

activations("ReLU: max(x, 0), gradient 0 at 0", async () => {
  const x = f32([-2, 0, 3]).requiresGrad_();
  const out = new ReLU().forward(x);
  await assertClose(out, [0, 0, 3], EXACT);
  await assertClose((grad(sum(out), [x]) as Tensor[])[0], [0, 0, 1], EXACT);
});

activations("Tanh: tanh(x), derivative 1 - tanh²", async () => {
  // tanh(ln(3)/2) = (e^{ln 3} - 1)/(e^{ln 3} + 1) = 2/4 = 1/2, derivative 1 - 1/4 = 3/4
  const x = f64([0, Math.log(3) / 2, -Math.log(3) / 2]).requiresGrad_();
  const out = new Tanh().forward(x);
  await assertClose(out, [0, 0.5, -0.5], F64);
  await assertClose((grad(sum(out), [x]) as Tensor[])[0], [1, 0.75, 0.75], F64);
});

activations("gradcheck property: each activation (float64)", async () => {
  const layers: Record<string, Layer> = {
    gelu: new GELU(),
    "gelu-tanh": new GELU({ approximate: "tanh" }),
    relu: new ReLU(),
    tanh: new Tanh(),
  };
  const cases = fc
    .record({ name: fc.constantFrom(...Object.keys(layers)), shape: shapeArb({ maxRank: 3, maxDim: 3 }) })
    // relu has a kink at 0, where central differences straddle two slopes
    .chain((c) => valuesArb(size(c.shape), { avoid: [0] }).map((x) => ({ ...c, x })));
  await checkProperty("activation gradcheck", cases, async ({ name, shape, x }) => {
    await gradcheck((t) => layers[name].forward(t), [f64(x, shape)]);
  });
});

activations("GELU refuses an unknown approximation when it is built", () => {
  assert.throws(() => new GELU({ approximate: "fast" as "tanh" }), /^GELU: approximate must be "none" or "tanh", got "fast"$/);
});

// ---- memory -----------------------------------------------------------------------------------------

const lifetime = suite("memory");

lifetime("building a layer outside tidy leaves exactly its parameters; disposing them frees everything", () => {
  const base = memory();
  const layers = [new Linear(3, 2), new Embedding(4, 2, { paddingIdx: 0 }), new LayerNorm(3)];
  const params = layers.flatMap((l) => l.parameters());
  // Linear 2, Embedding 1, LayerNorm 2
  assert.is(params.length, 5);
  assert.is(memory().numTensors - base.numTensors, 5);
  assert.is(memory().numBuffers - base.numBuffers, 5);
  for (const p of params) p.dispose();
  assert.equal(memory(), base);
});

lifetime("a forward pass in tidy leaves nothing behind; the parameters survive", () => {
  const layer = new Sequential(new Linear(3, 3), new GELU(), new LayerNorm(3), new Dropout(0.5));
  const x = f32([1, 2, 3]);
  const base = memory();
  tidy(() => {
    sum(layer.forward(x)).backward();
  });
  // the gradients stored on the parameters are what remains: one per parameter
  assert.is(memory().numTensors - base.numTensors, layer.parameters().length);
  for (const p of layer.parameters()) p.zeroGrad();
  assert.equal(memory(), base);
  assert.ok(layer.parameters().every((p) => !p.isDisposed));
});

linearSuite.run();
embeddingSuite.run();
normSuite.run();
dropoutSuite.run();
activations.run();
lifetime.run();

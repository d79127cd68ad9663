/**
 * @file FeedForward, TransformerBlock and the position embeddings: hand-computed examples, float64
 * gradient checks (inputs and parameters), exact causality and incremental decoding through a whole
 * block, dropout in training only, and error messages.
 */

import { concat, Generator, getBackend, narrow, noGrad, randn, type Tensor, tensor } from "@tsgrad/core";
import { assertClose, checkProperty, gradcheck, gradcheckDirectional, tolerance, valuesArb } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FeedForward, KVCache, LearnedPositionEmbedding, SinusoidalPositionEmbedding, TransformerBlock } from "../src/index.ts";
import { functionalCall, parametersOf, setParameters } from "./support/parameters.ts";

const f64 = (data: number[] | number[][] | number[][][], shape?: number[]) => tensor(data, shape, "float64");
const tol = tolerance(getBackend().name, "float64", "matmul");
const tol32 = tolerance(getBackend().name, "float32", "transcendental");

// gelu(1) = Φ(1) and gelu(-1) = -Φ(-1)
const GELU_1 = 0.8413447460685429;
const GELU_MINUS_1 = -0.15865525393145707;

// ---- FeedForward ------------------------------------------------------------------------------------

/** d = 1, hidden = 2: up = [1, -1]ᵀ, down = [1, 1], no bias, so out = gelu(x) + gelu(-x). */
function evenFeedForward(approximate?: "none" | "tanh"): FeedForward {
  const ff = new FeedForward(1, 2, { dtype: "float64", approximate });
  setParameters(ff, { "up.weight": [[1], [-1]], "up.bias": [0, 0], "down.weight": [[1, 1]], "down.bias": [0] });
  return ff;
}

test("FeedForward: values and gradient by hand", async () => {
  // gelu(x) + gelu(-x) = x·Φ(x) - x·Φ(-x) = x·(2Φ(x) - 1) = x·erf(x/√2), an even function:
  // x = ±1: erf(1/√2) = 0.6826894921370859; x = 2: 2·erf(√2) = 1.9089994722072832.
  // Its derivative is erf(x/√2) + x·√(2/π)·exp(-x²/2): at 1, 0.6826894921370859 + 0.4839414490382867,
  // at 2, 0.9544997361036416 + 0.2159638660527524, and odd, so -1.1666309411753726 at -1.
  const ff = evenFeedForward();
  const x = f64([[1], [-1], [2], [0]]).requiresGrad_();
  const out = ff.forward(x);
  await assertClose(out, [0.6826894921370859, 0.6826894921370859, 1.9089994722072832, 0], tol, { shape: [4, 1] });
  out.sum().backward();
  await assertClose(x.grad as Tensor, [1.1666309411753726, -1.1666309411753726, 1.170463602156394, 0], tol);
  // GPT-2's tanh form: x·tanh(√(2/π)(x + 0.044715x³)) at 1 is tanh(0.7978845608·1.044715) = 0.6823839812165535
  await assertClose(evenFeedForward("tanh").forward(f64([[1]])), [0.6823839812165535], tol);
});

const ffCase = fc.record({
  rows: fc.integer({ min: 1, max: 3 }),
  dModel: fc.integer({ min: 1, max: 3 }),
  hidden: fc.integer({ min: 1, max: 4 }),
  bias: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

test("FeedForward: float64 gradcheck on the input and both linears", async () => {
  await checkProperty(
    "FeedForward gradcheck",
    ffCase.chain((c) => fc.record({ c: fc.constant(c), x: valuesArb(c.rows * c.dModel) })),
    async ({ c, x }) => {
      const ff = new FeedForward(c.dModel, c.hidden, { dtype: "float64", bias: c.bias, generator: new Generator(c.seed) });
      const { names, values } = parametersOf(ff);
      // element by element: at most 3·4 + 4 + 4·3 + 3 = 31 parameter entries
      await gradcheck((xx, ...params) => functionalCall(ff, names, params, () => ff.forward(xx)), [f64(x, [c.rows, c.dModel]), ...values]);
    },
  );
});

test("FeedForward: dropout acts in training mode only", async () => {
  const ff = new FeedForward(4, 8, { dtype: "float64", dropout: 0.5, generator: new Generator(1) });
  const plain = new FeedForward(4, 8, { dtype: "float64" });
  plain.loadStateDict(ff.stateDict());
  const x = randn([3, 5, 4], { dtype: "float64", generator: new Generator(2) });
  const clean = await plain.forward(x).data();
  await assertClose(ff.eval().forward(x), clean, tol);
  const dropped = await ff.train().forward(x).data();
  // each output is either dropped or doubled
  dropped.forEach((y, i) => {
    if (y !== 0) assert.ok(Math.abs(y - 2 * clean[i]) <= 1e-12 * (1 + Math.abs(clean[i])), `output ${i}: ${y} vs 2·${clean[i]}`);
  });
  assert.ok(dropped.some((y) => y === 0));
});

test("FeedForward: errors name the class, what was received and what was expected", () => {
  const ff = new FeedForward(4);
  assert.is(ff.hidden, 16, "hidden defaults to 4·dModel");
  assert.throws(
    () => ff.forward(tensor(new Array(6).fill(0.5), [2, 3])),
    /FeedForward: expected input \(\.\.\., 4\) with dModel last, got \[2,3\]/,
  );
  assert.throws(() => new FeedForward(4, 0), /FeedForward: hidden must be a positive integer, got 0/);
});

// ---- TransformerBlock -------------------------------------------------------------------------------

test("TransformerBlock: pre-LayerNorm residual wiring, by hand", async () => {
  // dModel 2, one head; LayerNorms with eps 0, weight 1, bias 0; q = 0 (equal scores, so causal attention
  // averages the visible values); k, v, o, up, down identities; every bias 0.
  // x = [[1, 3], [5, 1]]
  // ln1(x) = [[-1, 1], [1, -1]]                 (means 2 and 3, standard deviations 1 and 2)
  // attn   = [[-1, 1], [0, 0]]                  (token 0 sees itself; token 1 averages both)
  // x      = x + attn = [[0, 4], [5, 1]]
  // ln2(x) = [[-1, 1], [1, -1]]
  // mlp    = gelu(ln2(x)) = [[gelu(-1), gelu(1)], [gelu(1), gelu(-1)]]
  // out    = [[gelu(-1), 4 + gelu(1)], [5 + gelu(1), 1 + gelu(-1)]]
  // A post-LN block would normalise the outputs instead: their rows would not keep the offsets 4 and 5.
  const block = new TransformerBlock(2, 1, { dtype: "float64", causal: true, hidden: 2, eps: 0 });
  const identity = [
    [1, 0],
    [0, 1],
  ];
  const zero = [0, 0];
  setParameters(block, {
    "attn.q.weight": [
      [0, 0],
      [0, 0],
    ],
    "attn.k.weight": identity,
    "attn.v.weight": identity,
    "attn.o.weight": identity,
    "mlp.up.weight": identity,
    "mlp.down.weight": identity,
    "attn.q.bias": zero,
    "attn.k.bias": zero,
    "attn.v.bias": zero,
    "attn.o.bias": zero,
    "mlp.up.bias": zero,
    "mlp.down.bias": zero,
  });
  const x = f64([
    [
      [1, 3],
      [5, 1],
    ],
  ]);
  await assertClose(block.forward(x), [GELU_MINUS_1, 4 + GELU_1, 5 + GELU_1, 1 + GELU_MINUS_1], tol, { shape: [1, 2, 2] });
});

test("TransformerBlock: fields ln1, attn, ln2, mlp, and adapter paths attn.q and attn.v", () => {
  const block = new TransformerBlock(4, 2);
  assert.equal(
    block.namedChildren().map(([n]) => n),
    ["ln1", "attn", "ln2", "mlp"],
  );
  assert.ok(block.getSubmodule("attn.q") === block.attn.q && block.getSubmodule("attn.v") === block.attn.v);
  assert.equal(
    block.namedParameters().map(([n]) => n),
    [
      "ln1.weight",
      "ln1.bias",
      "attn.q.weight",
      "attn.q.bias",
      "attn.k.weight",
      "attn.k.bias",
      "attn.v.weight",
      "attn.v.bias",
      "attn.o.weight",
      "attn.o.bias",
      "ln2.weight",
      "ln2.bias",
      "mlp.up.weight",
      "mlp.up.bias",
      "mlp.down.weight",
      "mlp.down.bias",
    ],
  );
  // per dModel 4: 2 LayerNorms (8 each), 4 projections (20 each), up (16·4 + 16) and down (4·16 + 4)
  assert.is(block.numParameters(), 2 * 8 + 4 * 20 + 80 + 68);
});

const blockCase = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  T: fc.integer({ min: 1, max: 4 }),
  heads: fc.integer({ min: 1, max: 2 }),
  headSize: fc.integer({ min: 1, max: 2 }),
  hidden: fc.integer({ min: 1, max: 4 }),
  causal: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

type BlockCase = { batch: number; T: number; heads: number; headSize: number; hidden: number; causal: boolean; seed: number };

function makeBlock(c: BlockCase, extra = {}): TransformerBlock {
  return new TransformerBlock(c.heads * c.headSize, c.heads, {
    dtype: "float64",
    causal: c.causal,
    hidden: c.hidden,
    generator: new Generator(c.seed),
    ...extra,
  });
}

function makeInput(c: BlockCase): Tensor {
  return randn([c.batch, c.T, c.heads * c.headSize], { dtype: "float64", generator: new Generator(c.seed + 1) });
}

test("TransformerBlock: float64 gradcheck on the input and every parameter", async () => {
  await checkProperty("TransformerBlock gradcheck", blockCase, async (c) => {
    const block = makeBlock(c);
    // LayerNorm starts at weight 1, bias 0: move them, so their gradients are checked away from that point
    noGrad(() => {
      for (const [name, p] of block.namedParameters()) {
        if (name.startsWith("ln")) p.assign(p.add(randn(p.shape, { dtype: "float64", generator: new Generator(c.seed + 2) }).mul(0.5)));
      }
    });
    const { names, values } = parametersOf(block);
    // directional: a block has hundreds of parameter entries
    await gradcheckDirectional((x, ...params) => functionalCall(block, names, params, () => block.forward(x)), [makeInput(c), ...values]);
  });
});

test("TransformerBlock: with causal attention, changing a token leaves every earlier output exactly unchanged", async () => {
  const arb = blockCase
    .filter((c) => c.T >= 2)
    .chain((c) => fc.record({ c: fc.constant({ ...c, causal: true }), changed: fc.integer({ min: 1, max: c.T - 1 }) }));
  await checkProperty("TransformerBlock causality", arb, async ({ c, changed }) => {
    const block = makeBlock(c);
    const x = makeInput(c);
    const later = randn([c.batch, c.T - changed, c.heads * c.headSize], { dtype: "float64", generator: new Generator(c.seed + 3) });
    const x2 = concat([narrow(x, 1, 0, changed), later], 1);
    const before = await narrow(block.forward(x), 1, 0, changed).data();
    const after = await narrow(block.forward(x2), 1, 0, changed).data();
    assert.equal(Array.from(after), Array.from(before));
  });
});

test("TransformerBlock: token-by-token decoding with a KV cache equals one causal forward", async () => {
  await checkProperty(
    "TransformerBlock KV cache",
    blockCase.map((c) => ({ ...c, causal: true })),
    async (c) => {
      const block = makeBlock(c);
      const x = makeInput(c);
      const full = await block.forward(x).data();
      const cache = new KVCache();
      const steps = noGrad(() => Array.from({ length: c.T }, (_, t) => block.forward(narrow(x, 1, t, 1), { cache })));
      await assertClose(concat(steps, 1), full, tol);
      cache.clear();
    },
  );
});

test("TransformerBlock: dropout acts in training mode only", async () => {
  const c = { batch: 2, T: 5, heads: 2, headSize: 2, hidden: 8, causal: true, seed: 9 };
  const block = makeBlock(c, { dropout: 0.3 });
  const plain = makeBlock(c);
  plain.loadStateDict(block.stateDict());
  const x = makeInput(c);
  const clean = await plain.forward(x).data();
  await assertClose(block.eval().forward(x), clean, tol);
  block.train();
  const first = Array.from(await block.forward(x).data());
  const second = Array.from(await block.forward(x).data());
  assert.not.equal(first, Array.from(clean));
  assert.not.equal(second, first, "fresh masks on every training forward");
});

test("TransformerBlock: errors name the class, what was received and what was expected", () => {
  assert.throws(() => new TransformerBlock(8, 3), /MultiHeadAttention: heads \(3\) must divide dModel \(8\)/);
  const block = new TransformerBlock(4, 2);
  assert.throws(
    () => block.forward(tensor(new Array(15).fill(0.5), [1, 3, 5])),
    /TransformerBlock: expected input \(B, T, C\) with C = dModel = 4, got \[1,3,5\]/,
  );
  assert.throws(() => block.forward(tensor(new Array(12).fill(0.5), [3, 4])), /TransformerBlock: expected input .*got \[3,4\]/);
});

// ---- position embeddings ----------------------------------------------------------------------------

test("LearnedPositionEmbedding: rows offset ..< offset + length, and gradients only into them", async () => {
  const pe = new LearnedPositionEmbedding(3, 2, { dtype: "float64" });
  setParameters(pe, {
    weight: [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
  });
  await assertClose(pe.forward(3), [0, 1, 2, 3, 4, 5], tol, { shape: [3, 2] });
  const out = pe.forward(2, 1);
  await assertClose(out, [2, 3, 4, 5], tol, { shape: [2, 2] });
  // ∂/∂weight of Σ out·g is g placed at rows 1 and 2
  out
    .mul(
      f64([
        [1, 2],
        [3, 4],
      ]),
    )
    .sum()
    .backward();
  await assertClose(pe.weight.grad as Tensor, [0, 0, 1, 2, 3, 4], tol);
  assert.equal([...pe.stateDict().keys()], ["weight"]);
});

test("LearnedPositionEmbedding: float64 gradcheck on its table", async () => {
  const arb = fc
    .record({ maxLen: fc.integer({ min: 1, max: 5 }), d: fc.integer({ min: 1, max: 3 }) })
    .chain((c) => fc.record({ c: fc.constant(c), offset: fc.integer({ min: 0, max: c.maxLen }) }))
    .chain(({ c, offset }) =>
      fc.record({ c: fc.constant(c), offset: fc.constant(offset), length: fc.integer({ min: 0, max: c.maxLen - offset }) }),
    );
  await checkProperty("LearnedPositionEmbedding gradcheck", arb, async ({ c, offset, length }) => {
    const pe = new LearnedPositionEmbedding(c.maxLen, c.d, { dtype: "float64", generator: new Generator(c.maxLen) });
    // squared, so the gradient depends on the values and a wrong row would show
    await gradcheck((w) => functionalCall(pe, ["weight"], [w], () => pe.forward(length, offset).square()), [pe.weight]);
  });
});

test("SinusoidalPositionEmbedding: the sines and cosines of 'Attention is all you need', by hand", async () => {
  // d = 4: columns 0, 1 use pos / 10000^(0/4) = pos; columns 2, 3 use pos / 10000^(2/4) = pos / 100
  const pe = new SinusoidalPositionEmbedding(3, 4, { dtype: "float64" });
  await assertClose(
    pe.forward(3),
    [
      [0, 1, 0, 1],
      [0.8414709848078965, 0.5403023058681398, 0.009999833334166664, 0.9999500004166653],
      [0.9092974268256817, -0.4161468365471424, 0.01999866669333308, 0.9998000066665778],
    ],
    tol,
    { shape: [3, 4] },
  );
  await assertClose(pe.forward(1, 2), [0.9092974268256817, -0.4161468365471424, 0.01999866669333308, 0.9998000066665778], tol);
  // odd d = 3: column 2 is sin(pos / 10000^(2/3)) with no cosine partner; float32 by default
  const odd = new SinusoidalPositionEmbedding(3, 3);
  assert.is(odd.table.dtype, "float32");
  await assertClose(
    odd.forward(2, 1),
    [0.8414709848078965, 0.5403023058681398, 0.0021544330233656045, 0.9092974268256817, -0.4161468365471424, 0.0043088560467428125],
    tol32,
  );
});

test("SinusoidalPositionEmbedding: a non-persistent buffer, not a parameter", () => {
  const pe = new SinusoidalPositionEmbedding(8, 4);
  assert.is(pe.numParameters(), 0);
  assert.equal(
    pe.namedBuffers().map(([n]) => n),
    ["table"],
  );
  assert.equal([...pe.stateDict().keys()], [], "not saved: it is a function of (maxLen, d)");
});

test("SinusoidalPositionEmbedding: each sin/cos pair lies on the unit circle", async () => {
  const arb = fc.record({ maxLen: fc.integer({ min: 1, max: 64 }), d: fc.integer({ min: 2, max: 16 }) });
  await checkProperty("sinusoid pairs", arb, async ({ maxLen, d }) => {
    const table = await new SinusoidalPositionEmbedding(maxLen, d, { dtype: "float64" }).forward(maxLen).data();
    for (let pos = 0; pos < maxLen; pos++) {
      for (let j = 0; j + 1 < d; j += 2) {
        const r = table[pos * d + j] ** 2 + table[pos * d + j + 1] ** 2;
        assert.ok(Math.abs(r - 1) <= 1e-12, `pos ${pos}, columns ${j}, ${j + 1}: sin² + cos² = ${r}`);
      }
    }
  });
});

test("position embeddings: errors name the class, what was received and what was expected", () => {
  const learned = new LearnedPositionEmbedding(4, 2);
  assert.throws(() => learned.forward(3, 2), /LearnedPositionEmbedding: positions 2\.\.4 \(offset 2, length 3\) go beyond maxLen 4/);
  assert.throws(() => learned.forward(5), /LearnedPositionEmbedding: positions 0\.\.4 \(offset 0, length 5\) go beyond maxLen 4/);
  assert.throws(
    () => learned.forward(1, -1),
    /LearnedPositionEmbedding: length and offset must be non-negative integers, got length 1 and offset -1/,
  );
  const fixed = new SinusoidalPositionEmbedding(4, 2);
  assert.throws(() => fixed.forward(5), /SinusoidalPositionEmbedding: positions 0\.\.4 \(offset 0, length 5\) go beyond maxLen 4/);
  assert.throws(() => new SinusoidalPositionEmbedding(0, 2), /SinusoidalPositionEmbedding: maxLen must be a positive integer, got 0/);
  assert.throws(() => new LearnedPositionEmbedding(4, 1.5), /LearnedPositionEmbedding: d must be a positive integer, got 1.5/);
});

test.run();

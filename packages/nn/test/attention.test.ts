/**
 * @file scaledDotProductAttention, MultiHeadAttention and KVCache: hand-computed examples, float64
 * gradient checks (inputs and parameters), agreement with a per-head loop, exact causality and padding
 * invariance, fully masked rows, incremental decoding, dropout in training only, and error messages.
 */

import {
  concat,
  Generator,
  getBackend,
  grad,
  linear,
  maskedFill,
  matmul,
  memory,
  narrow,
  noGrad,
  randn,
  softmax,
  type Tensor,
  tensor,
  tidy,
  transpose,
} from "@tsgrad/core";
import { assertArrayClose, assertClose, checkProperty, gradcheck, gradcheckDirectional, tolerance, valuesArb } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { KVCache, type Linear, MultiHeadAttention, scaledDotProductAttention } from "../src/index.ts";
import { functionalCall, parametersOf, setParameters } from "./support/parameters.ts";

const f64 = (data: number[] | number[][] | number[][][], shape?: number[]) => tensor(data, shape, "float64");
const tol = tolerance(getBackend().name, "float64", "matmul");
const LN3 = Math.log(3);

const IDENTITY_2 = [
  [1, 0],
  [0, 1],
];

/** A float64 MHA with identity projections and zero biases. */
function identityAttention(heads: number, options: { causal?: boolean } = {}): MultiHeadAttention {
  const mha = new MultiHeadAttention(2, heads, { dtype: "float64", ...options });
  const zero = [0, 0];
  setParameters(mha, {
    "q.weight": IDENTITY_2,
    "k.weight": IDENTITY_2,
    "v.weight": IDENTITY_2,
    "o.weight": IDENTITY_2,
    "q.bias": zero,
    "k.bias": zero,
    "v.bias": zero,
    "o.bias": zero,
  });
  return mha;
}

async function allFinite(ts: readonly (Tensor | null)[]): Promise<boolean> {
  for (const t of ts) if (!t || !(await t.data()).every(Number.isFinite)) return false;
  return true;
}

// ---- scaledDotProductAttention: hand-computed ----------------------------------------------------

test("sdpa: one query, two keys, values and gradients by hand", async () => {
  // E = 1, so the default scale is 1: scores s = q·k = [ln 3, 0], weights w = [3, 1] / 4 = [0.75, 0.25],
  // out = 0.75·4 + 0.25·8 = 5.
  // ∂out/∂v_j = w_j = [0.75, 0.25]; ∂out/∂s_j = w_j (v_j - out) = [0.75·(4-5), 0.25·(8-5)] = [-0.75, 0.75];
  // ∂out/∂q = Σ_j ∂out/∂s_j · k_j = -0.75; ∂out/∂k_j = ∂out/∂s_j · q = [-0.75 ln 3, 0.75 ln 3].
  const q = f64([[LN3]]).requiresGrad_();
  const k = f64([[1], [0]]).requiresGrad_();
  const v = f64([[4], [8]]).requiresGrad_();
  const { output, weights } = scaledDotProductAttention(q, k, v);
  await assertClose(output, [5], tol, { shape: [1, 1] });
  await assertClose(weights, [0.75, 0.25], tol, { shape: [1, 2] });
  const [dq, dk, dv] = grad(output.sum(), [q, k, v]);
  await assertClose(dq as Tensor, [-0.75], tol);
  await assertClose(dk as Tensor, [-0.75 * LN3, 0.75 * LN3], tol);
  await assertClose(dv as Tensor, [0.75, 0.25], tol);
});

test("sdpa: the default scale is 1/√E, and an explicit scale replaces it", async () => {
  // E = 4: q·k = [2 ln 3, 0], times 1/√4 gives the scores of the example above, so out = 5
  const q = f64([[2 * LN3, 0, 0, 0]]);
  const k = f64([
    [1, 0, 0, 0],
    [0, 1, 0, 0],
  ]);
  const v = f64([[4], [8]]);
  await assertClose(scaledDotProductAttention(q, k, v).output, [5], tol);
  // scale 1: scores [2 ln 3, 0], weights [9, 1] / 10, out = 0.9·4 + 0.1·8 = 4.4
  await assertClose(scaledDotProductAttention(q, k, v, { scale: 1 }).output, [4.4], tol);
});

test("sdpa: a bool mask is true where a query may attend", async () => {
  // only key 0: w = [1, 0], out = v_0 = 4; ∂out/∂s_0 = 1·(4 - 4) = 0, so q and k get no gradient
  const q = f64([[LN3]]).requiresGrad_();
  const k = f64([[1], [0]]).requiresGrad_();
  const v = f64([[4], [8]]).requiresGrad_();
  const { output, weights } = scaledDotProductAttention(q, k, v, { mask: tensor([[true, false]]) });
  await assertClose(output, [4], tol);
  await assertClose(weights, [1, 0], tol);
  const [dq, dk, dv] = grad(output.sum(), [q, k, v]);
  await assertClose(dq as Tensor, [0], tol);
  await assertClose(dk as Tensor, [0, 0], tol);
  await assertClose(dv as Tensor, [1, 0], tol);
});

test("sdpa: causal aligns the queries with the last keys (L = S, L < S, L > S)", async () => {
  // zero queries give equal scores, so each row is uniform over the keys it may see: s <= l + (S - L)
  const weightsFor = (L: number, S: number) =>
    scaledDotProductAttention(f64(new Array(L).fill(0), [L, 1]), f64(new Array(S).fill(1), [S, 1]), f64(new Array(S).fill(1), [S, 1]), {
      causal: true,
    }).weights;
  // L = S = 3: the lower triangle
  await assertClose(weightsFor(3, 3), [1, 0, 0, 1 / 2, 1 / 2, 0, 1 / 3, 1 / 3, 1 / 3], tol);
  // L = 2, S = 3 (one cached key): query 0 is position 1, query 1 is position 2
  await assertClose(weightsFor(2, 3), [1 / 2, 1 / 2, 0, 1 / 3, 1 / 3, 1 / 3], tol);
  // L = 3, S = 2: query 0 sits before every key, so it sees none and gets zero weights
  await assertClose(weightsFor(3, 2), [0, 0, 1, 0, 1 / 2, 1 / 2], tol);
});

test("sdpa: a fully masked row gives zeros, with no NaN forward or backward", async () => {
  // row 0 may attend to nothing; row 1 only to key 0, so its output is v_0 = [1, 2]
  const q = f64([
    [0.3, -1],
    [2, 0.5],
  ]).requiresGrad_();
  const k = f64([
    [1, 2],
    [-1, 0.5],
  ]).requiresGrad_();
  const v = f64([
    [1, 2],
    [3, 4],
  ]).requiresGrad_();
  const mask = tensor([
    [false, false],
    [true, false],
  ]);
  const { output, weights } = scaledDotProductAttention(q, k, v, { mask });
  await assertClose(output, [0, 0, 1, 2], tol);
  await assertClose(weights, [0, 0, 1, 0], tol);
  const grads = grad(output.mul(f64([[1.5, -2]])).sum(), [q, k, v]);
  assert.ok(await allFinite(grads), "gradients must be finite");
  // output row 0 is the constant 0, and row 1 is v_0 whatever q and k are: only v_0 has a gradient
  await assertClose(grads[0] as Tensor, [0, 0, 0, 0], tol);
  await assertClose(grads[1] as Tensor, [0, 0, 0, 0], tol);
  await assertClose(grads[2] as Tensor, [1.5, -2, 0, 0], tol);
});

test("sdpa: dropout zeroes weights and scales the rest by 1/(1-p), and output = weights·v", async () => {
  const g = new Generator(5);
  const q = randn([2, 6, 3], { dtype: "float64", generator: g });
  const k = randn([2, 6, 3], { dtype: "float64", generator: g });
  const v = randn([2, 6, 3], { dtype: "float64", generator: g });
  const plain = await scaledDotProductAttention(q, k, v).weights.data();
  const { output, weights } = scaledDotProductAttention(q, k, v, { dropout: 0.5, generator: new Generator(1) });
  const dropped = await weights.data();
  let zeros = 0;
  dropped.forEach((w, i) => {
    if (w === 0) zeros++;
    else assertArrayClose([w], [2 * plain[i]], tol, { what: `weight ${i}` });
  });
  assert.ok(zeros > 0 && zeros < dropped.length, `expected some but not all weights dropped, got ${zeros} of ${dropped.length}`);
  await assertClose(output, await matmul(weights, v).data(), tol);
});

// ---- scaledDotProductAttention: properties -------------------------------------------------------

const sdpaCase = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    L: fc.integer({ min: 1, max: 3 }),
    S: fc.integer({ min: 1, max: 3 }),
    E: fc.integer({ min: 1, max: 3 }),
    Ev: fc.integer({ min: 1, max: 2 }),
    causal: fc.boolean(),
    masked: fc.boolean(),
  })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      q: valuesArb(c.batch * c.L * c.E),
      k: valuesArb(c.batch * c.S * c.E),
      v: valuesArb(c.batch * c.S * c.Ev),
      // true = attend; rows of all false (fully masked) come up often at these sizes
      mask: fc.array(fc.boolean(), { minLength: c.batch * c.L * c.S, maxLength: c.batch * c.L * c.S }),
    }),
  );

test("sdpa: float64 gradcheck on q, k and v, with masks, causal and fully masked rows", async () => {
  await checkProperty("sdpa gradcheck", sdpaCase, async ({ c, q, k, v, mask }) => {
    const options = { causal: c.causal, mask: c.masked ? tensor(mask, [c.batch, c.L, c.S], "bool") : undefined };
    await gradcheck(
      (qq, kk, vv) => scaledDotProductAttention(qq, kk, vv, options).output,
      [f64(q, [c.batch, c.L, c.E]), f64(k, [c.batch, c.S, c.E]), f64(v, [c.batch, c.S, c.Ev])],
    );
  });
});

test("sdpa: weights are a distribution over the allowed keys, zero elsewhere", async () => {
  await checkProperty("sdpa weights", sdpaCase, async ({ c, q, k, v, mask }) => {
    const maskTensor = tensor(mask, [c.batch, c.L, c.S], "bool");
    const { weights } = scaledDotProductAttention(f64(q, [c.batch, c.L, c.E]), f64(k, [c.batch, c.S, c.E]), f64(v, [c.batch, c.S, c.Ev]), {
      causal: c.causal,
      mask: maskTensor,
    });
    const w = await weights.data();
    for (let row = 0; row < c.batch * c.L; row++) {
      const l = row % c.L;
      const allowed = Array.from({ length: c.S }, (_, s) => mask[row * c.S + s] && (!c.causal || s <= l + c.S - c.L));
      const rowWeights = Array.from(w.slice(row * c.S, (row + 1) * c.S));
      rowWeights.forEach((x, s) => {
        if (!allowed[s]) assert.is(x, 0, `row ${row}: masked key ${s} has weight ${x}`);
      });
      const total = rowWeights.reduce((a, b) => a + b, 0);
      assertArrayClose([total], [allowed.some(Boolean) ? 1 : 0], tol, { what: `row ${row} sum` });
    }
  });
});

test("sdpa: errors name the function, what it got and what it expected", () => {
  const q = f64(new Array(6).fill(0), [2, 3]);
  assert.throws(
    () => scaledDotProductAttention(q, f64(new Array(8).fill(0), [2, 4]), q),
    /scaledDotProductAttention: q and k .*\[2,3\].*\[2,4\]/,
  );
  assert.throws(
    () => scaledDotProductAttention(q, q, f64(new Array(9).fill(0), [3, 3])),
    /scaledDotProductAttention: k and v .*\[2,3\].*\[3,3\]/,
  );
  assert.throws(() => scaledDotProductAttention(f64([1, 2, 3]), q, q), /scaledDotProductAttention: q needs at least 2 axes.*\[3\]/);
  assert.throws(
    () => scaledDotProductAttention(q, q, q, { mask: tensor([1, 0], [1, 2], "int32") }),
    /scaledDotProductAttention: mask must be a bool tensor \(true = attend\), got int32/,
  );
  assert.throws(
    () => scaledDotProductAttention(q, q, q, { mask: tensor([true, false, true], [1, 3]) }),
    /scaledDotProductAttention: mask of shape \[1,3\] does not broadcast to the scores \[2,2\]/,
  );
  assert.throws(
    () => scaledDotProductAttention(q, q, q, { dropout: 1.5 }),
    /scaledDotProductAttention: dropout must be in \[0, 1\], got 1.5/,
  );
});

// ---- MultiHeadAttention: hand-computed -------------------------------------------------------------

test("MHA: one head with identity projections is plain attention over the tokens", async () => {
  // dModel 2, one head of size 2, so scale 1/√2. Tokens x0 = [s, 0], x1 = [0, s] with s²/√2 = ln 3:
  // scores [[ln 3, 0], [0, ln 3]], weights [[3/4, 1/4], [1/4, 3/4]],
  // out0 = 3/4·x0 + 1/4·x1 = [3s/4, s/4], out1 = [s/4, 3s/4].
  // Causal: token 0 sees only itself, so out0 = x0 = [s, 0]; token 1 is unchanged.
  const s = Math.sqrt(Math.SQRT2 * LN3);
  const x = f64([
    [
      [s, 0],
      [0, s],
    ],
  ]);
  await assertClose(identityAttention(1).forward(x), [(3 * s) / 4, s / 4, s / 4, (3 * s) / 4], tol, { shape: [1, 2, 2] });
  await assertClose(identityAttention(1, { causal: true }).forward(x), [s, 0, s / 4, (3 * s) / 4], tol);
});

/** Two heads of size 1; q = 0 makes every score 0, so each token averages the values it may see. */
function averagingAttention(causal: boolean): MultiHeadAttention {
  const mha = identityAttention(2, { causal });
  setParameters(mha, {
    "q.weight": [
      [0, 0],
      [0, 0],
    ],
  });
  return mha;
}

test("MHA: causal attention with equal scores is a running mean; padded keys drop out of it", async () => {
  const x = f64([
    [
      [1, 10],
      [3, 20],
      [8, 30],
    ],
  ]);
  // means of tokens 0..t: [1, 10], [(1+3)/2, (10+20)/2], [(1+3+8)/3, (10+20+30)/3]
  await assertClose(averagingAttention(true).forward(x), [1, 10, 2, 15, 4, 20], tol);
  // not causal, token 1 padded: every token averages tokens 0 and 2: [(1+8)/2, (10+30)/2]
  const keyPaddingMask = tensor([[false, true, false]]);
  await assertClose(averagingAttention(false).forward(x, { keyPaddingMask }), [4.5, 20, 4.5, 20, 4.5, 20], tol);
  // causal and padded: token 0 sees [x0], token 1 sees [x0], token 2 sees [x0, x2]
  await assertClose(averagingAttention(true).forward(x, { keyPaddingMask }), [1, 10, 1, 10, 4.5, 20], tol);
});

test("MHA declares its head structure: q, k, v split by output features, o by input features", () => {
  const mha = new MultiHeadAttention(6, 3, { dtype: "float64" });
  assert.equal([mha.heads, mha.headSize], [3, 2]);
  assert.equal([...mha.headProjections], ["q", "k", "v"]);
  assert.equal([...mha.headInputProjections], ["o"]);
});

test("MHA: adapters can reach the projections by path", () => {
  const mha = new MultiHeadAttention(4, 2);
  assert.equal(
    mha.namedParameters().map(([n]) => n),
    ["q.weight", "q.bias", "k.weight", "k.bias", "v.weight", "v.bias", "o.weight", "o.bias"],
  );
  assert.ok(mha.getSubmodule("q") === mha.q && mha.getSubmodule("v") === mha.v);
  assert.equal(new MultiHeadAttention(4, 2, { bias: false }).numParameters(), 4 * 16);
});

// ---- MultiHeadAttention: properties ---------------------------------------------------------------

const mhaCase = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  T: fc.integer({ min: 1, max: 4 }),
  heads: fc.integer({ min: 1, max: 3 }),
  headSize: fc.integer({ min: 1, max: 3 }),
  causal: fc.boolean(),
  bias: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

function makeAttention(c: { heads: number; headSize: number; causal: boolean; bias: boolean; seed: number }, extra = {}) {
  return new MultiHeadAttention(c.heads * c.headSize, c.heads, {
    dtype: "float64",
    causal: c.causal,
    bias: c.bias,
    generator: new Generator(c.seed),
    ...extra,
  });
}

function makeInput(c: { batch: number; T: number; heads: number; headSize: number; seed: number }): Tensor {
  return randn([c.batch, c.T, c.heads * c.headSize], { dtype: "float64", generator: new Generator(c.seed + 1) });
}

/** Multi-head attention written out head by head, from the weights' rows, as a reference. */
function perHeadLoop(mha: MultiHeadAttention, x: Tensor): Tensor {
  const T = x.shape[1];
  const D = mha.headSize;
  // true above the diagonal: the future keys a causal query may not see
  const future = tensor(
    Array.from({ length: T * T }, (_, i) => i % T > Math.floor(i / T)),
    [T, T],
    "bool",
  );
  const project = (layer: Linear, h: number) =>
    linear(x, narrow(layer.weight, 0, h * D, D), layer.bias ? narrow(layer.bias, 0, h * D, D) : undefined); // (B, T, D)
  const heads: Tensor[] = [];
  for (let h = 0; h < mha.heads; h++) {
    const [q, k, v] = [mha.q, mha.k, mha.v].map((layer) => project(layer, h));
    const scores = matmul(q, transpose(k)).div(Math.sqrt(D)); // (B, T, T)
    heads.push(matmul(softmax(mha.causal ? maskedFill(scores, future, -Infinity) : scores), v)); // (B, T, D)
  }
  return mha.o.forward(concat(heads, -1)); // (B, T, C)
}

test("MHA equals a per-head loop over slices of the weights", async () => {
  await checkProperty("MHA = per-head loop", mhaCase, async (c) => {
    const mha = makeAttention(c);
    const x = makeInput(c);
    await assertClose(mha.forward(x), await perHeadLoop(mha, x).data(), tol);
  });
});

test("MHA: float64 gradcheck on the input and every parameter, with causal and padding masks", async () => {
  const arb = mhaCase.chain((c) =>
    fc.record({ c: fc.constant(c), padding: fc.array(fc.boolean(), { minLength: c.batch * c.T, maxLength: c.batch * c.T }) }),
  );
  // directional: the parameters alone are 4·C·(C+1) numbers, too many for element-by-element differences
  await checkProperty("MHA gradcheck", arb, async ({ c, padding }) => {
    const mha = makeAttention(c);
    const { names, values } = parametersOf(mha);
    const keyPaddingMask = tensor(padding, [c.batch, c.T], "bool");
    await gradcheckDirectional(
      (x, ...params) => functionalCall(mha, names, params, () => mha.forward(x, { keyPaddingMask })),
      [makeInput(c), ...values],
    );
  });
});

test("MHA: with causal attention, changing a token leaves every earlier output exactly unchanged", async () => {
  const arb = mhaCase
    .filter((c) => c.T >= 2)
    .chain((c) => fc.record({ c: fc.constant(c), changed: fc.integer({ min: 1, max: c.T - 1 }) }))
    .map(({ c, changed }) => ({ c: { ...c, causal: true }, changed }));
  await checkProperty("MHA causality", arb, async ({ c, changed }) => {
    const mha = makeAttention(c);
    const x = makeInput(c);
    const C = c.heads * c.headSize;
    // a new value for token `changed` and everything after it
    const later = randn([c.batch, c.T - changed, C], { dtype: "float64", generator: new Generator(c.seed + 2) });
    const x2 = concat([narrow(x, 1, 0, changed), later], 1);
    const before = await narrow(mha.forward(x), 1, 0, changed).data();
    const after = await narrow(mha.forward(x2), 1, 0, changed).data();
    assert.equal(Array.from(after), Array.from(before));
  });
});

test("MHA: padded keys do not affect the outputs of the other tokens", async () => {
  const arb = mhaCase.chain((c) =>
    fc.record({ c: fc.constant(c), padding: fc.array(fc.boolean(), { minLength: c.batch * c.T, maxLength: c.batch * c.T }) }),
  );
  await checkProperty("MHA key padding", arb, async ({ c, padding }) => {
    const mha = makeAttention(c);
    const x = makeInput(c);
    const C = c.heads * c.headSize;
    const keyPaddingMask = tensor(padding, [c.batch, c.T], "bool");
    // replace every padded token by other values
    const noise = randn(x.shape, { dtype: "float64", generator: new Generator(c.seed + 3) });
    const x2 = x.add(noise.mul(tensor(padding, [c.batch, c.T, 1], "bool")));
    const before = await mha.forward(x, { keyPaddingMask }).data();
    const after = await mha.forward(x2, { keyPaddingMask }).data();
    for (let i = 0; i < before.length; i++) {
      const token = Math.floor(i / C);
      if (!padding[token]) assert.is(after[i], before[i], `output of unpadded token ${token} changed`);
    }
  });
});

test("MHA: a sequence whose keys are all padding gives zeros and finite gradients", async () => {
  const mha = new MultiHeadAttention(4, 2, { dtype: "float64", bias: false, causal: true, generator: new Generator(2) });
  const x = randn([2, 3, 4], { dtype: "float64", generator: new Generator(3) }).requiresGrad_();
  const keyPaddingMask = tensor([
    [false, true, false],
    [true, true, true],
  ]);
  const out = mha.forward(x, { keyPaddingMask, returnWeights: true });
  const values = await out.data();
  assert.equal(Array.from(values.slice(12)), new Array(12).fill(0));
  assert.ok(values.every(Number.isFinite));
  await assertClose(narrow(mha.lastWeights as Tensor, 0, 1, 1), new Array(2 * 3 * 3).fill(0), tol);
  const grads = grad(out.mul(out).sum(), [x, ...mha.parameters()]);
  assert.ok(await allFinite(grads), "gradients must be finite");
});

test("MHA: decoding with a KV cache, in chunks or token by token, equals one causal forward", async () => {
  const arb = mhaCase.chain((c) =>
    fc.record({
      c: fc.constant({ ...c, causal: true }),
      // chunk lengths that add up to T
      cuts: fc.array(fc.boolean(), { minLength: c.T - 1, maxLength: c.T - 1 }),
      padding: fc.array(fc.boolean(), { minLength: c.batch * c.T, maxLength: c.batch * c.T }),
      padded: fc.boolean(),
    }),
  );
  await checkProperty("MHA KV cache", arb, async ({ c, cuts, padding, padded }) => {
    const mha = makeAttention(c);
    const x = makeInput(c);
    const mask = padded ? tensor(padding, [c.batch, c.T], "bool") : undefined;
    const full = await mha.forward(x, { keyPaddingMask: mask }).data();
    const cache = new KVCache();
    const pieces: Tensor[] = [];
    noGrad(() => {
      let start = 0;
      for (let t = 1; t <= c.T; t++) {
        if (t < c.T && !cuts[t - 1]) continue;
        // the padding mask covers every key so far: cached and new
        const keyPaddingMask = mask ? narrow(mask, 1, 0, t) : undefined;
        pieces.push(mha.forward(narrow(x, 1, start, t - start), { cache, keyPaddingMask }));
        start = t;
      }
    });
    assert.is(cache.length, c.T);
    await assertClose(concat(pieces, 1), full, tol);
    cache.clear();
    assert.is(cache.length, 0);
    assert.is(cache.keys, null);
  });
});

test("MHA: decoding inside tidy keeps only the cache and lastWeights alive", () => {
  const mha = new MultiHeadAttention(4, 2, { causal: true, generator: new Generator(8) });
  const x = randn([2, 5, 4], { generator: new Generator(9) });
  const cache = new KVCache();
  const before = memory().numTensors;
  for (let t = 0; t < 5; t++) {
    tidy(() => noGrad(() => mha.forward(narrow(x, 1, t, 1), { cache, returnWeights: true }))).dispose();
    // the cache's keys and values, and the last weights; each step disposes what the previous one kept
    assert.is(memory().numTensors - before, 3, `step ${t}`);
  }
  cache.clear();
  tidy(() => mha.forward(x)).dispose();
  assert.is(memory().numTensors - before, 0);
});

test("MHA: lastWeights holds the weights only when asked", async () => {
  const mha = new MultiHeadAttention(4, 2, { dtype: "float64", causal: true, generator: new Generator(4) });
  const x = randn([2, 3, 4], { dtype: "float64", generator: new Generator(5) });
  mha.forward(x);
  assert.is(mha.lastWeights, null);
  mha.forward(x, { returnWeights: true });
  const weights = mha.lastWeights as Tensor;
  assert.equal(weights.shape, [2, 2, 3, 3]);
  // every row sums to 1, and the causal rows put nothing on the future
  await assertClose(weights.sum(-1), new Array(12).fill(1), tol);
  await assertClose(weights.triu(1).abs().sum(), [0], tol);
  mha.forward(x);
  assert.is(mha.lastWeights, null, "a forward without returnWeights clears them, so they are never stale");
});

test("MHA: attention dropout acts in training mode only", async () => {
  const options = { dtype: "float64" as const, causal: true, generator: new Generator(6) };
  const withDropout = new MultiHeadAttention(4, 2, { ...options, dropout: 0.5, outputDropout: 0.5 });
  const plain = new MultiHeadAttention(4, 2, options);
  plain.loadStateDict(withDropout.stateDict());
  const x = randn([2, 5, 4], { dtype: "float64", generator: new Generator(7) });

  withDropout.eval();
  await assertClose(withDropout.forward(x), await plain.forward(x, { returnWeights: true }).data(), tol);
  const clean = await (plain.lastWeights as Tensor).data();

  withDropout.train();
  const first = await withDropout.forward(x, { returnWeights: true }).data();
  const dropped = await (withDropout.lastWeights as Tensor).data();
  let zeros = 0;
  dropped.forEach((w, i) => {
    if (w === 0) zeros++;
    else assertArrayClose([w], [2 * clean[i]], tol, { what: `kept weight ${i}` });
  });
  // the causal zeros are there anyway; dropout adds more
  const causalZeros = clean.filter((w) => w === 0).length;
  assert.ok(zeros > causalZeros, `expected dropped weights: ${zeros} zeros, ${causalZeros} from the causal mask`);
  const second = await withDropout.forward(x).data();
  assert.not.equal(Array.from(second), Array.from(first), "fresh masks on every training forward");
});

test("MHA: errors name the class, what was received and what was expected", () => {
  assert.throws(() => new MultiHeadAttention(8, 3), /MultiHeadAttention: heads \(3\) must divide dModel \(8\)/);
  assert.throws(() => new MultiHeadAttention(8, 0), /MultiHeadAttention: heads must be a positive integer, got 0/);
  const mha = new MultiHeadAttention(4, 2);
  assert.throws(
    () => mha.forward(tensor(new Array(15).fill(0), [1, 3, 5])),
    /MultiHeadAttention: expected input \(B, T, C\) with C = dModel = 4, got \[1,3,5\]/,
  );
  assert.throws(() => mha.forward(tensor(new Array(12).fill(0), [3, 4])), /MultiHeadAttention: expected input .*got \[3,4\]/);
  const x = tensor(new Array(24).fill(0.5), [2, 3, 4]);
  assert.throws(
    () => mha.forward(x, { keyPaddingMask: tensor(new Array(4).fill(false), [2, 2]) }),
    /MultiHeadAttention: keyPaddingMask must be bool \(B, S\) = \[2,3\] .*got bool \[2,2\]/,
  );
  assert.throws(
    () => mha.forward(x, { keyPaddingMask: tensor(new Array(6).fill(0), [2, 3], "int32") }),
    /MultiHeadAttention: keyPaddingMask must be bool .*got int32 \[2,3\]/,
  );
  assert.throws(
    () => mha.forward(x, { mask: tensor(new Array(4).fill(true), [2, 2]) }),
    /MultiHeadAttention: mask must be bool \(true = attend\) and broadcast to \(B, heads, T, S\) = \[2,2,3,3\], got bool \[2,2\]/,
  );
  const cache = new KVCache();
  noGrad(() => mha.forward(x, { cache }));
  assert.throws(
    () => noGrad(() => mha.forward(tensor(new Array(12).fill(0.5), [3, 1, 4]), { cache })),
    /MultiHeadAttention: the cache holds \(B, heads, S, headSize\) = \[2,2,3,2\], which does not fit input batch 3/,
  );
  // with 3 cached positions, a padding mask for one new token covers 4 keys
  assert.throws(
    () => noGrad(() => mha.forward(narrow(x, 1, 0, 1), { cache, keyPaddingMask: tensor(new Array(2).fill(false), [2, 1]) })),
    /MultiHeadAttention: keyPaddingMask must be bool \(B, S\) = \[2,4\] \(true = padding; S = 3 cached \+ 1 new positions\)/,
  );
  assert.is(cache.length, 3, "a refused call leaves the cache as it was");
  assert.throws(
    () => cache.append(tensor(new Array(6).fill(0), [1, 2, 1, 3], "float32"), tensor(new Array(6).fill(0), [1, 2, 1, 3], "float32")),
    /KVCache: holds float32 \(B, heads, S, headSize\) = \[2,2,3,2\], so new keys must be \[2,2,T,2\] float32, got \[1,2,1,3\] float32/,
  );
});

test.run();

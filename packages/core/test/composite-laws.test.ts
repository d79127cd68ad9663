/**
 * @file Algebraic properties of the composites and matmul over random shapes and values: softmax is a
 * distribution, logSoftmax is its logarithm and stays finite where the naive form overflows, the two gelu
 * forms agree, layerNorm standardises, crossEntropy is the picked -logSoftmax, matmul is bilinear (and
 * so is its backward in dy) and transposes as (A@B)ᵀ = Bᵀ@Aᵀ.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  abs,
  add,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  gelu,
  getBackend,
  grad,
  layerNorm,
  log,
  logSoftmax,
  matmul,
  mean,
  mul,
  softmax,
  sum,
  type Tensor,
  tensor,
  transpose,
  variance,
} from "../src/index.ts";
import {
  assertArrayClose,
  assertClose,
  checkProperty,
  composedGelu,
  composedLayerNorm,
  composedLogSoftmax,
  composedSoftmax,
  gradcheck,
  shapeArb,
  tolerance,
  valuesArb,
} from "../src/testing/index.ts";
import { matmulInputs } from "../src/testing/specs/matmul.ts";
import type { InputData } from "../src/testing/specs/spec.ts";

const f64 = (values: ArrayLike<number>, shape: readonly number[]) => tensor(Array.from(values), shape, "float64");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const tol = (opClass: "elementwise" | "transcendental" | "reduction" | "matmul" = "elementwise") =>
  tolerance(getBackend().name, "float64", opClass);
const read = async (t: Tensor | null) => Array.from(await (t as Tensor).data());

/** A tensor of rank >= 1 with an axis of it. */
const withAxis = (values: fc.Arbitrary<number>) =>
  shapeArb({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
      x: fc.array(values, { minLength: size(shape), maxLength: size(shape) }),
    }),
  );

const moderate = fc.double({ min: -30, max: 30, noNaN: true });
// often exactly ±1e4, where exp overflows unless the maximum is taken out first
const huge = fc.oneof(fc.constantFrom(1e4, -1e4), fc.double({ min: -1e4, max: 1e4, noNaN: true }));

test("the fused softmax, logSoftmax, layerNorm and both GELU forms equal their composite definitions, values and gradients, in float64", async () => {
  const arb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 5 }).chain((shape) =>
    fc.tuple(fc.constant(shape), valuesArb(shape.reduce((a, b) => a * b, 1)), fc.integer({ min: 0, max: shape.length - 1 })),
  );
  await checkProperty("fused softmax = composite", arb, async ([shape, values, axis]) => {
    for (const pair of [
      [softmax, composedSoftmax],
      [logSoftmax, composedLogSoftmax],
      [(x: Tensor) => gelu(x), (x: Tensor) => composedGelu(x)],
      [(x: Tensor) => gelu(x, { approximate: "tanh" }), (x: Tensor) => composedGelu(x, { approximate: "tanh" })],
      // normalised over the axes from `axis` on
      [
        (x: Tensor, axis: number) => layerNorm(x, x.shape.slice(axis)),
        (x: Tensor, axis: number) => composedLayerNorm(x, x.shape.slice(axis)),
      ],
    ] as ((x: Tensor, axis: number) => Tensor)[][]) {
      const results = pair.map((f) => {
        const x = tensor(values, shape, "float64").requiresGrad_();
        const y = f(x, axis);
        // a weighted sum, so that the gradient is not the trivial zero of a softmax summed along its axis
        const w = tensor(
          values.map((_, i) => Math.sin(i + 1)),
          shape,
          "float64",
        );
        sum(mul(y, w)).backward();
        return { y: y.dataSync(), g: x.grad!.dataSync() };
      });
      const tol = tolerance("reference", "float64", "reduction");
      assertArrayClose(results[0].y, results[1].y, tol, { what: "values" });
      assertArrayClose(results[0].g, results[1].g, tol, { what: "gradients" });
    }
  });
});

test("softmax is a distribution along its axis, also for logits of ±1e4", async () => {
  await checkProperty("softmax sums to 1", withAxis(fc.oneof(moderate, huge)), async ({ shape, axis, x }) => {
    const s = softmax(f64(x, shape), axis);
    const values = await read(s);
    assert.ok(
      values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1),
      `softmax left [0, 1]: ${values}`,
    );
    const sums = sum(s, axis);
    // n terms of at most 1 each: rounding grows with n, not with the sum
    await assertClose(sums, new Array(sums.size).fill(1), tol("reduction"), { scale: new Array(sums.size).fill(shape.at(axis) ?? 1) });
  });
});

test("logSoftmax = log(softmax) where both are representable", async () => {
  await checkProperty("logSoftmax = log softmax", withAxis(moderate), async ({ shape, axis, x }) => {
    const xs = f64(x, shape);
    const direct = await read(logSoftmax(xs, axis));
    // the result is x - lse: its rounding is relative to the size of those terms, not of the difference
    const scale = direct.map((v, i) => Math.abs(v) + Math.abs(x[i]) + 1);
    assertArrayClose(direct, await read(log(softmax(xs, axis))), tol("transcendental"), { scale });
  });
});

test("logSoftmax stays finite at ±1e4 in float64 and at ±80 in float32", async () => {
  for (const [dtype, big] of [
    ["float64", 1e4],
    ["float32", 80],
  ] as const) {
    const arb = withAxis(fc.oneof(fc.constantFrom(big, -big), fc.double({ min: -big, max: big, noNaN: true }))).map((d) => ({
      ...d,
      // values that float32 can hold, so the float64 reference below sees the same inputs
      x: d.x.map((v) => (dtype === "float32" ? Math.fround(v) : v)),
    }));
    await checkProperty(`logSoftmax finite at ±${big} (${dtype})`, arb, async ({ shape, axis, x }) => {
      const got = await read(logSoftmax(tensor(x, shape, dtype), axis));
      assert.ok(
        got.every((v) => Number.isFinite(v) && v <= 0),
        `logSoftmax not finite or positive in ${dtype}: ${got}`,
      );
      // exp(-160) = 1e-70 underflows float32, so log(softmax) would be -inf there; logSoftmax gives x - lse
      const reference = await read(logSoftmax(f64(x, shape), axis));
      assertArrayClose(got, reference, tolerance(getBackend().name, dtype, "transcendental"), {
        scale: reference.map((v, i) => Math.abs(v) + Math.abs(x[i]) + 1),
      });
    });
  }
});

function tensorArb(values: fc.Arbitrary<number>) {
  return shapeArb({ maxRank: 3, maxDim: 4 }).chain((shape) =>
    fc.record({ shape: fc.constant(shape), x: fc.array(values, { minLength: size(shape), maxLength: size(shape) }) }),
  );
}

test("gelu's tanh form is within 1e-3 of the exact form", async () => {
  const arb = tensorArb(fc.double({ min: -12, max: 12, noNaN: true }));
  await checkProperty("gelu tanh ≈ exact", arb, async ({ shape, x }) => {
    const xs = f64(x, shape);
    const exact = await read(gelu(xs));
    const approx = await read(gelu(xs, { approximate: "tanh" }));
    // the largest gap, near |x| = 2.3, is about 4.7e-4
    assertArrayClose(approx, exact, { atol: 1e-3, rtol: 0 });
  });
});

test("layerNorm gives each row mean 0 and variance v/(v + eps), about 1 unless the row is nearly constant", async () => {
  const eps = 1e-5;
  const arb = fc
    .tuple(shapeArb({ maxRank: 2, maxDim: 3 }), shapeArb({ minRank: 1, maxRank: 2, minDim: 2, maxDim: 4 }))
    .chain(([lead, norm]) => valuesArb(size(lead) * size(norm)).map((x) => ({ lead, norm, x })));
  await checkProperty("layerNorm standardises", arb, async ({ lead, norm, x }) => {
    const shape = [...lead, ...norm];
    const axes = norm.map((_, i) => lead.length + i);
    const y = layerNorm(f64(x, shape), norm);
    const n = size(norm);
    const rows = size(lead);
    // the population variance of each row, on the host
    const expected = Array.from({ length: rows }, (_, r) => {
      const row = x.slice(r * n, (r + 1) * n);
      const m = row.reduce((a, b) => a + b, 0) / n;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / n;
      return v / (v + eps);
    });
    // |y| <= √n, so sums over a row round at about n·√n ulps
    const scale = new Array(rows).fill(n * Math.sqrt(n));
    await assertClose(mean(y, axes), new Array(rows).fill(0), tol("reduction"), { scale });
    // a nearly constant row is dominated by eps: its centred values carry its own rounding, amplified by 1/√eps
    const got = await read(variance(y, axes, { correction: 0 }));
    assertArrayClose(got, expected, { atol: 1e-9, rtol: 1e-9 });
    for (const [r, v] of got.entries()) {
      const row = x.slice(r * n, (r + 1) * n);
      // a spread of 1 over at most 16 values gives v >= 15/256, so v/(v + eps) > 1 - 2e-4
      if (Math.max(...row) - Math.min(...row) > 1) assert.ok(Math.abs(v - 1) < 1e-3, `row ${r}: variance ${v} is not about 1`);
    }
  });
});

/** logits [...lead, C] with int32 targets in 0..C-1 or -100 (ignored). */
const classification = fc.tuple(shapeArb({ maxRank: 2, maxDim: 3 }), fc.integer({ min: 1, max: 4 })).chain(([lead, classes]) =>
  fc.record({
    lead: fc.constant(lead),
    classes: fc.constant(classes),
    logits: valuesArb(size(lead) * classes, { min: -10, max: 10 }),
    targets: fc.array(
      fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: classes - 1 }) }, { weight: 1, arbitrary: fc.constant(-100) }),
      {
        minLength: size(lead),
        maxLength: size(lead),
      },
    ),
  }),
);

test("crossEntropy is -logSoftmax picked at the target (0 where ignored), and its mean is over kept targets", async () => {
  await checkProperty("crossEntropy = -logSoftmax[target]", classification, async ({ lead, classes, logits, targets }) => {
    const x = f64(logits, [...lead, classes]);
    const t = tensor(targets, lead, "int32");
    const logp = await read(logSoftmax(x));
    const picked = targets.map((c, r) => (c === -100 ? 0 : -logp[r * classes + c]));
    await assertClose(crossEntropy(x, t, { reduction: "none" }), picked, tol(), { shape: lead });
    const kept = targets.filter((c) => c !== -100).length;
    const total = picked.reduce((a, b) => a + b, 0);
    const magnitude = picked.reduce((a, b) => a + Math.abs(b), 0);
    await assertClose(crossEntropy(x, t, { reduction: "sum" }), [total], tol("reduction"), { scale: [magnitude] });
    await assertClose(crossEntropy(x, t), [kept === 0 ? Number.NaN : total / kept], tol("reduction"), { scale: [magnitude] });
  });
});

test("crossEntropy with labelSmoothing and ignored targets, and BCE with a posWeight tensor, pass gradcheck", async () => {
  const smoothing = classification
    .filter(({ targets }) => targets.some((c) => c !== -100))
    .chain((d) => fc.double({ min: 0, max: 1, noNaN: true }).map((eps) => ({ ...d, eps })));
  await checkProperty("crossEntropy labelSmoothing gradcheck", smoothing, async ({ lead, classes, logits, targets, eps }) => {
    await gradcheck(
      (x, t) => crossEntropy(x, t, { labelSmoothing: eps }),
      [f64(logits, [...lead, classes]), tensor(targets, lead, "int32")],
    );
  });
  // logits, targets in [0, 1] and a positive posWeight per class (the last axis), all differentiable
  const weighted = shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((shape) =>
    fc
      .tuple(valuesArb(size(shape)), valuesArb(size(shape), { min: 0, max: 1 }), valuesArb(shape.at(-1) as number, { min: 0.2, max: 5 }))
      .map(
        ([x, t, p]): InputData => [
          { shape, values: x },
          { shape, values: t },
          { shape: [shape.at(-1) as number], values: p },
        ],
      ),
  );
  await checkProperty("BCE posWeight gradcheck", weighted, async (data) => {
    await gradcheck(
      (x, t, p) => binaryCrossEntropyWithLogits(x, t, { posWeight: p }),
      data.map((d) => f64(d.values, d.shape)),
    );
  });
});

// ---- matmul ----------------------------------------------------------------------------------------

/** Two matmul operands plus a second A and B, two scalars and two upstream gradients of the product's shape. */
const bilinear = matmulInputs.chain(([a, b]) => {
  const outShape = matmul(f64(a.values, a.shape), f64(b.values, b.shape)).shape;
  return fc.record({
    a: fc.constant(a),
    b: fc.constant(b),
    a2: valuesArb(a.values.length),
    b2: valuesArb(b.values.length),
    alpha: fc.double({ min: -2, max: 2, noNaN: true }),
    beta: fc.double({ min: -2, max: 2, noNaN: true }),
    dy1: valuesArb(size(outShape)),
    dy2: valuesArb(size(outShape)),
    outShape: fc.constant([...outShape]),
  });
});

test("matmul is linear in each argument", async () => {
  await checkProperty("matmul bilinear", bilinear, async ({ a, b, a2, b2, alpha, beta }) => {
    const [A, B, A2, B2] = [f64(a.values, a.shape), f64(b.values, b.shape), f64(a2, a.shape), f64(b2, b.shape)];
    const comb = (x: Tensor, y: Tensor) => add(mul(x, alpha), mul(y, beta));
    // |αx + βy| <= |α||x| + |β||y|: products of these bound every term either side sums
    const bound = (x: Tensor, y: Tensor) => add(mul(abs(x), Math.abs(alpha)), mul(abs(y), Math.abs(beta)));
    // (αA + βA₂)B = α·AB + β·A₂B, and likewise in B
    for (const [product, split, scale] of [
      [matmul(comb(A, A2), B), comb(matmul(A, B), matmul(A2, B)), matmul(bound(A, A2), abs(B))],
      [matmul(A, comb(B, B2)), comb(matmul(A, B), matmul(A, B2)), matmul(abs(A), bound(B, B2))],
    ]) {
      assertArrayClose(await read(product), await read(split), tol("matmul"), { scale: await read(scale) });
    }
  });
});

test("matmul's backward is linear in dy", async () => {
  await checkProperty("matmul backward linear in dy", bilinear, async ({ a, b, dy1, dy2, outShape }) => {
    const A = f64(a.values, a.shape).requiresGrad_();
    const B = f64(b.values, b.shape).requiresGrad_();
    const [g1, g2] = [f64(dy1, outShape), f64(dy2, outShape)];
    const gradsFor = (dy: Tensor) => grad(matmul(A, B), [A, B], { gradOutputs: [dy] });
    const both = gradsFor(add(g1, g2));
    const one = gradsFor(g1);
    const two = gradsFor(g2);
    // the same backward on |A|, |B| and |dy₁| + |dy₂| adds up exactly the magnitudes each gradient sums
    const absA = abs(A.detach()).requiresGrad_();
    const absB = abs(B.detach()).requiresGrad_();
    const scales = grad(matmul(absA, absB), [absA, absB], { gradOutputs: [add(abs(g1), abs(g2))] });
    for (let i = 0; i < 2; i++) {
      const separate = await read(add(one[i] as Tensor, two[i] as Tensor));
      const scale = (await read(scales[i])).map((s) => 2 * s);
      assertArrayClose(await read(both[i]), separate, tol("matmul"), { scale, what: `gradient ${i}` });
    }
  });
});

test("(A@B)ᵀ = Bᵀ@Aᵀ", async () => {
  const matrices = matmulInputs.filter(([a, b]) => a.shape.length >= 2 && b.shape.length >= 2);
  await checkProperty("matmul transpose", matrices, async ([a, b]) => {
    const [A, B] = [f64(a.values, a.shape), f64(b.values, b.shape)];
    const scale = await read(transpose(matmul(abs(A), abs(B))));
    assertArrayClose(await read(transpose(matmul(A, B))), await read(matmul(transpose(B), transpose(A))), tol("matmul"), { scale });
  });
});

test.run();

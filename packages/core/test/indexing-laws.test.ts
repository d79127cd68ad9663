/**
 * @file Algebraic properties of the indexing ops, checked against host-side reimplementations of their
 * index arithmetic: gather and scatterAdd undo each other, embedding is a one-hot matmul, topk agrees
 * with a sorted copy, and the gradients of gather, scatterAdd and topk's values hold along any axis.
 * Last, strict-async mode: host-made indices are checked without a readback, device-made ones refused.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  argmax,
  crossEntropy,
  embedding,
  gather,
  getBackend,
  grad,
  indexSelect,
  matmul,
  ReferenceBackend,
  scatterAdd,
  sum,
  type Tensor,
  tensor,
  topk,
  useBackend,
  zeros,
} from "../src/index.ts";
import {
  assertArrayClose,
  assertClose,
  assertRejects,
  checkProperty,
  gradcheck,
  shapeArb,
  tolerance,
  valuesArb,
} from "../src/testing/index.ts";

const f64 = (values: ArrayLike<number>, shape: readonly number[]) => tensor(Array.from(values), shape, "float64");
const i32 = (values: ArrayLike<number>, shape: readonly number[]) => tensor(Array.from(values), shape, "int32");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const EXACT = tolerance("reference", "int32");
const tol = () => tolerance(getBackend().name, "float64");

function stridesOf(shape: readonly number[]): number[] {
  const out = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** The offsets of every line along `axis`, line by line in row-major order of the other axes. */
function lines(shape: readonly number[], axis: number): number[][] {
  const strides = stridesOf(shape);
  // one line per position of the other axes (even when `axis` itself is empty)
  const outer = shape.map((d, i) => (i === axis ? 1 : d));
  const own = stridesOf(outer);
  return Array.from({ length: size(outer) }, (_, flat) => {
    const start = outer.reduce((offset, d, i) => offset + (Math.floor(flat / own[i]) % d) * strides[i], 0);
    return Array.from({ length: shape[axis] }, (_, k) => start + k * strides[axis]);
  });
}

/** Where each element of `index` points into a tensor of `shape`: its own position with `axis` replaced. */
function targets(shape: readonly number[], axis: number, indexShape: readonly number[], index: readonly number[]): number[] {
  const own = stridesOf(indexShape);
  const strides = stridesOf(shape);
  return index.map((v, flat) =>
    indexShape.reduce((offset, d, i) => offset + (i === axis ? v : Math.floor(flat / own[i]) % d) * strides[i], 0),
  );
}

interface Indexed {
  xShape: number[];
  axis: number;
  indexShape: number[];
  x: number[];
  index: number[];
  src: number[];
}

/** x of rank 1..3, an axis given as -rank..rank-1, and an index for it with values in range, plus src. */
const indexedArb: fc.Arbitrary<Indexed> = shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((xShape) =>
  fc.integer({ min: -xShape.length, max: xShape.length - 1 }).chain((axis) => {
    const a = axis < 0 ? axis + xShape.length : axis;
    return fc.tuple(...xShape.map((d, i) => fc.integer({ min: i === a ? 0 : 1, max: i === a ? 4 : d }))).chain((indexShape) =>
      fc
        .record({
          x: valuesArb(size(xShape)),
          index: fc.array(fc.integer({ min: 0, max: xShape[a] - 1 }), { minLength: size(indexShape), maxLength: size(indexShape) }),
          src: valuesArb(size(indexShape)),
        })
        .map((v) => ({ xShape, axis, indexShape, ...v })),
    );
  }),
);

const normalized = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

test("gather and scatterAdd pass gradcheck along any axis", async () => {
  await checkProperty("gather gradcheck, any axis", indexedArb, async ({ xShape, axis, indexShape, x, index }) => {
    await gradcheck((t, i) => gather(t, axis, i), [f64(x, xShape), i32(index, indexShape)]);
  });
  await checkProperty("scatterAdd gradcheck, any axis", indexedArb, async ({ xShape, axis, indexShape, x, index, src }) => {
    await gradcheck((b, i, s) => scatterAdd(b, axis, i, s), [f64(x, xShape), i32(index, indexShape), f64(src, indexShape)]);
  });
});

test("gather then scatterAdd into zeros puts each value back, times the number of times it was read", async () => {
  await checkProperty("scatterAdd(0, gather(x)) = x·hits", indexedArb, async ({ xShape, axis, indexShape, x, index }) => {
    const hits = new Array<number>(x.length).fill(0);
    for (const offset of targets(xShape, normalized(axis, xShape.length), indexShape, index)) hits[offset]++;
    const xs = f64(x, xShape);
    const idx = i32(index, indexShape);
    const back = scatterAdd(zeros(xShape, { dtype: "float64" }), axis, idx, gather(xs, axis, idx));
    await assertClose(
      back,
      x.map((v, i) => v * hits[i]),
      tol(),
      { shape: xShape },
    );
  });
});

test("with a permutation along the axis as index, gather then scatterAdd is the identity", async () => {
  // every line along the axis gets its own permutation of 0..n-1, so each element is read exactly once
  const arb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((shape) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) => {
      const n = lines(shape, axis).length;
      const perm = fc.shuffledSubarray(
        Array.from({ length: shape[axis] }, (_, i) => i),
        { minLength: shape[axis], maxLength: shape[axis] },
      );
      return fc
        .tuple(valuesArb(size(shape)), fc.array(perm, { minLength: n, maxLength: n }))
        .map(([x, perms]) => ({ shape, axis, x, perms }));
    }),
  );
  await checkProperty("scatterAdd(0, gather(x, perm)) = x", arb, async ({ shape, axis, x, perms }) => {
    const index = new Array<number>(x.length);
    lines(shape, axis).forEach((line, l) => {
      line.forEach((offset, k) => {
        index[offset] = perms[l][k];
      });
    });
    const idx = i32(index, shape);
    const picked = gather(f64(x, shape), axis, idx);
    await assertClose(scatterAdd(zeros(shape, { dtype: "float64" }), axis, idx, picked), x, EXACT, { shape });
  });
});

test("embedding equals one-hot(ids) @ weight, in value and in the weight's gradient", async () => {
  const arb = fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), shapeArb({ maxRank: 2, maxDim: 3 }))
    .chain(([vocab, dim, ids]) =>
      fc.record({
        vocab: fc.constant(vocab),
        dim: fc.constant(dim),
        idShape: fc.constant(ids),
        weight: valuesArb(vocab * dim),
        ids: fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: size(ids), maxLength: size(ids) }),
        dy: valuesArb(size(ids) * dim),
      }),
    );
  await checkProperty("embedding = onehot @ W", arb, async ({ vocab, dim, idShape, weight, ids, dy }) => {
    const w = f64(weight, [vocab, dim]).requiresGrad_();
    const onehot = f64(
      ids.flatMap((id) => Array.from({ length: vocab }, (_, v) => (v === id ? 1 : 0))),
      [ids.length, vocab],
    );
    const outShape = [...idShape, dim];
    const picked = embedding(w, i32(ids, idShape));
    const product = matmul(onehot, w).reshape(outShape);
    await assertClose(picked, Array.from(await product.data()), tol(), { shape: outShape });
    const upstream = f64(dy, outShape);
    const [viaEmbedding] = grad(picked, [w], { gradOutputs: [upstream] });
    const [viaMatmul] = grad(product, [w], { gradOutputs: [upstream] });
    await assertClose(
      viaEmbedding as NonNullable<typeof viaEmbedding>,
      Array.from(await (viaMatmul as NonNullable<typeof viaMatmul>).data()),
      tol(),
    );
  });
});

test("indexSelect picks whole slices: it equals gather with the index broadcast across the other axes", async () => {
  const arb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((shape) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
      fc.record({
        shape: fc.constant(shape),
        axis: fc.constant(axis),
        x: valuesArb(size(shape)),
        index: fc.array(fc.integer({ min: 0, max: shape[axis] - 1 }), { maxLength: 4 }),
      }),
    ),
  );
  await checkProperty("indexSelect = gather", arb, async ({ shape, axis, x, index }) => {
    const outShape = shape.map((d, i) => (i === axis ? index.length : d));
    // the gather index repeats index[k] at every position whose coordinate on `axis` is k
    const full = new Array<number>(size(outShape));
    for (const line of lines(outShape, axis)) {
      for (const [k, offset] of line.entries()) full[offset] = index[k];
    }
    const xs = f64(x, shape);
    const expected = await gather(xs, axis, i32(full, outShape)).data();
    await assertClose(indexSelect(xs, axis, i32(index, [index.length])), Array.from(expected), EXACT, { shape: outShape });
  });
});

/** A tensor with small integer values (so ties are common), an axis, k and a direction. */
const topkArb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((shape) =>
  fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
    fc.record({
      shape: fc.constant(shape),
      axis: fc.constant(axis),
      k: fc.integer({ min: 0, max: shape[axis] }),
      largest: fc.boolean(),
      x: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: size(shape), maxLength: size(shape) }),
    }),
  ),
);

test("topk values are sorted and are the k largest (or smallest), ties by lower position", async () => {
  await checkProperty("topk = head of a stable sort", topkArb, async ({ shape, axis, k, largest, x }) => {
    const outShape = shape.map((d, i) => (i === axis ? k : d));
    const expectedValues = new Array<number>(size(outShape));
    const expectedIndices = new Array<number>(size(outShape));
    const outLines = lines(outShape, axis);
    lines(shape, axis).forEach((line, l) => {
      // Array.prototype.sort is stable: equal values keep their positions in order
      const order = line.map((_, pos) => pos).sort((p, q) => (largest ? x[line[q]] - x[line[p]] : x[line[p]] - x[line[q]]));
      outLines[l].forEach((offset, c) => {
        expectedIndices[offset] = order[c];
        expectedValues[offset] = x[line[order[c]]];
      });
    });
    const { values, indices } = topk(f64(x, shape), k, { axis, largest });
    assert.is(indices.dtype, "int32");
    await assertClose(values, expectedValues, EXACT, { shape: outShape, what: "values" });
    await assertClose(indices, expectedIndices, EXACT, { shape: outShape, what: "indices" });
    // sorted along the axis, best first
    const got = Array.from(await values.data());
    for (const line of outLines) {
      for (let c = 1; c < line.length; c++) {
        assert.ok(largest ? got[line[c - 1]] >= got[line[c]] : got[line[c - 1]] <= got[line[c]], "values are not sorted");
      }
    }
  });
});

test("topk values pass gradcheck", async () => {
  // distinct values at least 0.2 apart: central differences straddling a tie would see the switch
  const arb = topkArb.chain((t) =>
    fc
      .tuple(
        fc.shuffledSubarray(
          Array.from({ length: t.x.length }, (_, i) => i),
          { minLength: t.x.length, maxLength: t.x.length },
        ),
        valuesArb(t.x.length, { min: 0, max: 0.1 }),
      )
      .map(([rank, jitter]) => ({ ...t, x: rank.map((r, i) => 0.3 * r + jitter[i] - 2) })),
  );
  await checkProperty("topk values gradcheck", arb, async ({ shape, axis, k, largest, x }) => {
    await gradcheck((t) => topk(t, k, { axis, largest }).values, [f64(x, shape)]);
  });
});

test("strict-async: host-made indices are checked without a readback; indices computed on the device are refused", async () => {
  const previous = getBackend();
  const be = new ReferenceBackend({ strictAsync: true });
  useBackend(be);
  try {
    const x = tensor(
      [
        [1, 5],
        [7, 3],
      ],
      undefined,
      "float64",
    ).requiresGrad_();
    assert.is(x.backend, be);
    const host = tensor([[1, 0]], undefined, "int32");
    const picked = gather(x, 0, host);
    assertArrayClose(await picked.data(), [7, 5], EXACT);
    // the backward pass scatters with the same indices and reads nothing back either
    const [g] = grad(sum(picked), [x]);
    assertArrayClose(await (g as NonNullable<typeof g>).data(), [0, 1, 1, 0], EXACT);

    // argmax's result exists only on the device: each op runs, and its check waits for the next readback
    const device = argmax(x, 0, true); // [[1, 0]]
    const calls: [string, (index: Tensor) => Tensor][] = [
      ["gather", (i) => gather(x, 0, i)],
      ["scatterAdd", (i) => scatterAdd(zeros([2, 2], { dtype: "float64" }), 0, i, tensor([[1, 1]], undefined, "float64"))],
      ["indexSelect", (i) => indexSelect(x, 0, i.reshape([2]))],
      ["embedding", (i) => embedding(x, i)],
      ["crossEntropy", (i) => crossEntropy(x, i.reshape([2]))],
    ];
    for (const [op, call] of calls) {
      const fine = call(device);
      assert.ok((await fine.data()).every(Number.isFinite), `${op} with in-range device indices`);
      const bad = device.add(2);
      call(bad);
      bad.dispose();
      await assertRejects(
        x.data(),
        new RegExp(
          `^${op}: index [23] at flat position \\d is out of range: expected 0 <= index < 2 \\(the index was computed on reference\\(strict-async\\)`,
        ),
      );
    }
    // topk makes its own indices on the device and gathers with them unchecked, by construction in range
    const { values } = topk(x, 1);
    assertArrayClose(await values.data(), [5, 7], EXACT);
  } finally {
    useBackend(previous);
  }
});

test.run();

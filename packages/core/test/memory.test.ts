/**
 * @file Memory lifetime: dispose, tidy scopes (results, nesting, keep, exceptions, async refusal),
 * buffers shared by views, and a training loop whose memory stays flat.
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  dispose,
  Generator,
  getBackend,
  type MemoryReport,
  memory,
  noGrad,
  ones,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../src/index.ts";
import { memoryDelta } from "../src/testing/index.ts";

const NOTHING: MemoryReport = { numTensors: 0, numBuffers: 0, numBytes: 0 };

// ---- dispose ------------------------------------------------------------------------------------

const disposal = suite("dispose and memory()");

disposal("a tensor counts once: one tensor, one buffer, its bytes", () => {
  const base = memory();
  const t = zeros([3, 5], { dtype: "float64" });
  // 15 float64 elements = 120 bytes
  assert.equal(memoryDelta(base), { numTensors: 1, numBuffers: 1, numBytes: 120 });
  const b = tensor([true, false, true]);
  // bool is one byte per element
  assert.equal(memoryDelta(base), { numTensors: 2, numBuffers: 2, numBytes: 123 });
  t.dispose();
  b.dispose();
  assert.equal(memoryDelta(base), NOTHING);
});

disposal("dispose is idempotent", () => {
  const base = memory();
  const backendBase = getBackend().memory();
  const t = ones([4]);
  t.dispose();
  t.dispose();
  dispose(t);
  assert.equal(memoryDelta(base), NOTHING);
  // the backend was asked to free the storage exactly once
  assert.equal(getBackend().memory(), backendBase);
});

disposal("dispose() walks arrays and plain objects", () => {
  const base = memory();
  const a = ones([2]);
  const b = ones([3]);
  const c = ones([4]);
  dispose({ a, nested: [b, { c }], other: 5, text: "x" });
  assert.ok(a.isDisposed && b.isDisposed && c.isDisposed);
  assert.equal(memoryDelta(base), NOTHING);
});

// ---- tidy ---------------------------------------------------------------------------------------

const scopes = suite("tidy");

scopes("frees every intermediate and leaves memory at its baseline", () => {
  const x = randn([8, 8]);
  const base = memory();
  const backendBase = getBackend().memory();
  const value = tidy(() => {
    const y = x.matmul(x).exp().add(1).mean();
    return y.item();
  });
  assert.type(value, "number");
  assert.equal(memoryDelta(base), NOTHING);
  assert.equal(getBackend().memory(), backendBase);
  assert.not.ok(x.isDisposed, "a tensor made outside the scope must survive it");
});

scopes("keeps the returned tensor, also inside arrays and plain objects", () => {
  const base = memory();
  const result = tidy(() => {
    const a = ones([2]).mul(2);
    const b = ones([3]).add(1);
    const c = ones([1]).neg();
    ones([5]).exp(); // garbage
    return { a, pair: [b, { c }], label: "kept" };
  });
  const { a } = result;
  const [b, { c }] = result.pair as [Tensor, { c: Tensor }];
  assert.equal(a.toArray(), [2, 2]);
  assert.equal(b.toArray(), [2, 2, 2]);
  assert.equal(c.toArray(), [-1]);
  assert.is(memoryDelta(base).numTensors, 3);
  dispose(result);
  assert.equal(memoryDelta(base), NOTHING);
});

scopes("a returned tensor moves to the enclosing scope, which frees it unless it returns it too", () => {
  const base = memory();
  let inner: Tensor | null = null;
  const outer = tidy(() => {
    inner = tidy(() => ones([2]).mul(3));
    assert.not.ok(inner.isDisposed);
    return inner.add(1);
  });
  assert.ok((inner as Tensor | null)?.isDisposed, "the inner result was not returned by the outer scope");
  assert.equal(outer.toArray(), [4, 4]);
  outer.dispose();
  assert.equal(memoryDelta(base), NOTHING);

  const passedOut = tidy(() => tidy(() => ones([2])));
  assert.not.ok(passedOut.isDisposed);
  passedOut.dispose();
  assert.equal(memoryDelta(base), NOTHING);
});

scopes("nested tidies each free their own intermediates", () => {
  const base = memory();
  tidy(() => {
    const a = ones([2]);
    const afterA = memory().numTensors;
    tidy(() => {
      ones([3]).add(1).mul(2);
    });
    assert.is(memory().numTensors, afterA, "the inner scope left tensors behind");
    assert.not.ok(a.isDisposed);
  });
  assert.equal(memoryDelta(base), NOTHING);
});

scopes("returning a tensor made outside leaves it alone", () => {
  const x = ones([2]);
  const base = memory();
  const y = tidy(() => {
    x.add(1);
    return x;
  });
  assert.is(y, x);
  assert.not.ok(x.isDisposed);
  assert.equal(memoryDelta(base), NOTHING);
});

scopes("keep() survives every scope until disposed by hand", () => {
  const base = memory();
  let kept: Tensor | null = null;
  tidy(() => {
    tidy(() => {
      kept = ones([2]).mul(5).keep();
    });
  });
  const k = kept as unknown as Tensor;
  assert.ok(k.isKept);
  assert.equal(k.toArray(), [5, 5]);
  assert.is(memoryDelta(base).numTensors, 1);
  k.dispose();
  assert.equal(memoryDelta(base), NOTHING);
});

scopes("an exception disposes what the scope made and rethrows the same error", () => {
  const outside = ones([2]);
  const base = memory();
  const boom = new Error("boom");
  let made: Tensor | null = null;
  try {
    tidy(() => {
      made = ones([3]).add(1);
      throw boom;
    });
    assert.unreachable("tidy swallowed the error");
  } catch (e) {
    assert.is(e, boom);
  }
  assert.ok((made as Tensor | null)?.isDisposed);
  assert.not.ok(outside.isDisposed);
  assert.equal(memoryDelta(base), NOTHING);
  // the failed scope is closed: a later scope's result is not disposed by a stale one
  const later = tidy(() => ones([1]));
  const loose = ones([1]);
  tidy(() => undefined);
  assert.not.ok(later.isDisposed || loose.isDisposed);
  dispose([later, loose]);
});

scopes("an error from an op inside tidy also cleans up", () => {
  const base = memory();
  assert.throws(
    () =>
      tidy(() => {
        const a = ones([2, 3]);
        return a.matmul(ones([2, 3]));
      }),
    /matmul/,
  );
  assert.equal(memoryDelta(base), NOTHING);
});

scopes("an async function is refused with a clear error, and its tensors are freed", async () => {
  const base = memory();
  let made: Tensor | null = null;
  let pending: Promise<unknown> | undefined;
  assert.throws(
    () =>
      tidy(() => {
        made = ones([4]);
        pending = (async () => 1)();
        return pending;
      }),
    /^tidy: the function returned a Promise; tidy is synchronous/,
  );
  await pending;
  assert.ok((made as Tensor | null)?.isDisposed);
  assert.equal(memoryDelta(base), NOTHING);
  const asyncFn = async () => ones([1]);
  assert.throws(() => tidy(asyncFn), /tidy: .*Promise/);
});

scopes("a refused async function that later rejects does not crash the process", async () => {
  let unhandled = 0;
  const count = () => unhandled++;
  process.on("unhandledRejection", count);
  try {
    assert.throws(() => tidy(async () => Promise.reject(new Error("late"))), /tidy: .*Promise/);
    assert.throws(() => noGrad(async () => Promise.reject(new Error("late"))), /noGrad: .*Promise/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.is(unhandled, 0);
  } finally {
    process.off("unhandledRejection", count);
  }
});

// ---- views ------------------------------------------------------------------------------------

const views = suite("views share buffers");

views("reshape and detach add a tensor but no buffer or bytes", () => {
  const base = memory();
  const x = tensor([1, 2, 3, 4, 5, 6]);
  const afterX = memoryDelta(base);
  const v = x.reshape([2, 3]);
  const d = v.detach();
  assert.equal(memoryDelta(base), { numTensors: afterX.numTensors + 2, numBuffers: afterX.numBuffers, numBytes: afterX.numBytes });
  x.dispose();
  // the buffer lives on while a view uses it
  assert.is(memoryDelta(base).numBuffers, 1);
  assert.equal(v.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  v.dispose();
  assert.equal(d.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  d.dispose();
  assert.equal(memoryDelta(base), NOTHING);
});

views("a view returned from tidy keeps the buffer its base was freed from", () => {
  const base = memory();
  const v = tidy(() => ones([4]).mul(2).reshape([2, 2]));
  assert.equal(memoryDelta(base), { numTensors: 1, numBuffers: 1, numBytes: 16 });
  assert.equal(v.toArray(), [
    [2, 2],
    [2, 2],
  ]);
  v.dispose();
  assert.equal(memoryDelta(base), NOTHING);
});

// ---- training loop ------------------------------------------------------------------------------

const training = suite("a training loop stays flat");

/** Linear regression by hand: forward, backward, SGD with assign under noGrad, all inside tidy. */
function makeProblem() {
  const g = new Generator(31);
  const X = randn([16, 4], { generator: g });
  const trueW = randn([4, 2], { generator: g });
  const Y = X.matmul(trueW);
  const w = zeros([4, 2], { requiresGrad: true });
  const b = zeros([2], { requiresGrad: true });
  return { X, Y, w, b, params: [w, b] };
}

function trainStep(p: ReturnType<typeof makeProblem>, lr: number, zeroGradEachStep: boolean): number {
  const loss = tidy(() => {
    const pred = p.X.matmul(p.w).add(p.b);
    const l = pred.sub(p.Y).square().mean();
    l.backward();
    noGrad(() => {
      for (const param of p.params) param.assign(param.sub((param.grad as Tensor).mul(lr)));
    });
    return l;
  });
  if (zeroGradEachStep) for (const param of p.params) param.zeroGrad();
  const value = loss.item();
  loss.dispose();
  return value;
}

training("with zeroGrad every step: tensors, buffers and bytes are constant from the first step", () => {
  const p = makeProblem();
  const base = memory();
  const backendBase = getBackend().memory();
  const losses: number[] = [];
  for (let i = 0; i < 60; i++) {
    losses.push(trainStep(p, 0.1, true));
    assert.equal(memoryDelta(base), NOTHING, `step ${i} leaked`);
  }
  assert.equal(getBackend().memory(), backendBase);
  // a sanity check that the loop trains at all (otherwise "flat" could mean "did nothing")
  assert.ok(losses[59] < losses[0] * 0.05, `loss went from ${losses[0]} to ${losses[59]}`);
});

training("with gradients accumulating in .grad: the old gradient is disposed when the new one is kept", () => {
  const p = makeProblem();
  trainStep(p, 0.01, false); // warm-up: creates the .grad tensors
  const warm = memory();
  const backendWarm = getBackend().memory();
  // two gradients (w and b) live across steps: exactly one tensor each
  assert.ok(p.w.grad && p.b.grad);
  for (let i = 0; i < 40; i++) {
    const previous = p.w.grad;
    trainStep(p, 0.01, false);
    assert.ok(previous?.isDisposed, "the replaced gradient was not disposed");
    assert.ok(p.w.grad?.isKept);
    assert.equal(memoryDelta(warm), NOTHING, `step ${i} leaked`);
  }
  assert.equal(getBackend().memory(), backendWarm);
});

disposal.run();
scopes.run();
views.run();
training.run();

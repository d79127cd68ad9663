/**
 * @file The Tensor object itself: readback (async everywhere, sync where the backend allows), strict-async
 * mode (constructed directly and through TSGRAD_STRICT_ASYNC), toString, moving between backend
 * instances, detach, clone, use after dispose, and what other packages use instead of the buffer
 * (version, sharesStorage, new Tensor(source)).
 */

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { add, type Backend, getBackend, memory, noGrad, ReferenceBackend, Tensor, tensor, useBackend, zeros } from "../src/index.ts";
import { assertRejects } from "../src/testing/index.ts";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** Runs fn with `backend` current, restoring the previous backend even if fn throws. */
async function withBackend<T>(backend: Backend, fn: () => Promise<T> | T): Promise<T> {
  const previous = getBackend();
  useBackend(backend);
  try {
    return await fn();
  } finally {
    useBackend(previous);
  }
}

const STRICT_MESSAGE = /strict-async.*await tensor\.data\(\)/;

// ---- readback -----------------------------------------------------------------------------------

const readback = suite("readback");

readback("data() and dataSync() return fresh copies of the values", async () => {
  const t = tensor([
    [1, 2],
    [3, 4],
  ]);
  const a = await t.data();
  assert.instance(a, Int32Array);
  assert.equal(Array.from(a), [1, 2, 3, 4]);
  a[0] = 99;
  const s = t.dataSync();
  assert.equal(Array.from(s), [1, 2, 3, 4]);
  s[1] = 99;
  assert.equal(Array.from(await t.data()), [1, 2, 3, 4]);
  assert.instance(await tensor([1.5]).data(), Float32Array);
  assert.instance(await tensor([1.5], undefined, "float64").data(), Float64Array);
  assert.instance(await tensor([true]).data(), Uint8Array);
});

readback("array() and toArray() nest by shape; rank 0 gives a number", async () => {
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 1, 3]);
  const expected = [[[1, 2, 3]], [[4, 5, 6]]];
  assert.equal(await t.array(), expected);
  assert.equal(t.toArray(), expected);
  assert.is(await tensor(2.5).array(), 2.5);
  assert.is(tensor(2.5).toArray(), 2.5);
  assert.equal(zeros([2, 0]).toArray(), [[], []]);
});

readback("itemAsync() and item() on any one-element tensor", async () => {
  assert.is(await tensor(7).itemAsync(), 7);
  assert.is(tensor(7).item(), 7);
  // one element in any rank counts
  assert.is(tensor([[0.5]]).item(), 0.5);
  assert.is(await tensor([[0.5]]).itemAsync(), 0.5);
});

readback("item() and itemAsync() on several elements name the method and the shape", async () => {
  assert.throws(() => tensor([1, 2, 3]).item(), /^item: needs a tensor with one element, got shape \[3\]/);
  assert.throws(() => zeros([0]).item(), /item: .*\[0\]/);
  await assertRejects(tensor([[1, 2]]).itemAsync(), /^itemAsync: needs a tensor with one element, got shape \[1,2\]/);
});

// ---- strict-async -------------------------------------------------------------------------------

const strict = suite("strict-async mode");

strict("a strict-async reference backend refuses every synchronous readback", async () => {
  const backend = new ReferenceBackend({ strictAsync: true });
  assert.not.ok(backend.canReadSync);
  await withBackend(backend, async () => {
    const t = tensor([[1, 2]]);
    assert.is(t.backend, backend);
    assert.throws(() => t.dataSync(), STRICT_MESSAGE);
    assert.throws(() => t.toArray(), STRICT_MESSAGE);
    assert.throws(() => tensor(3).item(), STRICT_MESSAGE);
    // the asynchronous paths work, and ops run normally
    assert.equal(Array.from(await t.data()), [1, 2]);
    assert.equal(await t.array(), [[1, 2]]);
    assert.is(await t.mul(2).sum().itemAsync(), 6);
  });
  // the previous backend is back and still reads synchronously
  assert.ok(getBackend().canReadSync);
  assert.equal(tensor([1]).toArray(), [1]);
});

strict("the default backend is not strict", () => {
  assert.is(getBackend().name, "reference");
  assert.ok(getBackend().canReadSync);
});

strict("TSGRAD_STRICT_ASYNC=1 makes the default backend strict (child process)", async () => {
  const script = [
    'const t = await import("./packages/core/src/index.ts");',
    "const x = t.tensor([1, 2]);",
    "let error = null;",
    "try { x.dataSync(); } catch (e) { error = e.message; }",
    "const b = t.getBackend();",
    "console.log(JSON.stringify({ name: b.name, canReadSync: b.canReadSync, data: Array.from(await x.data()), error }));",
  ].join("\n");
  const run = promisify(execFile);
  const child = (value: string | undefined) =>
    run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: REPO_ROOT,
      env: { ...process.env, TSGRAD_STRICT_ASYNC: value },
    }).then(({ stdout }) => JSON.parse(stdout.trim().split("\n").at(-1) as string));
  // the control run (variable unset) shows the child reads the variable, not something else
  const [on, off] = await Promise.all([child("1"), child(undefined)]);
  assert.is(on.name, "reference(strict-async)");
  assert.is(on.canReadSync, false);
  assert.equal(on.data, [1, 2]);
  assert.match(on.error, STRICT_MESSAGE);
  assert.is(off.name, "reference");
  assert.is(off.canReadSync, true);
  assert.is(off.error, null);
});

// ---- toString -----------------------------------------------------------------------------------

const printing = suite("toString");

printing("shows values, shape, dtype and backend", () => {
  assert.is(
    tensor([
      [1, 2],
      [3, 4],
    ]).toString(),
    "Tensor([[1,2],[3,4]], shape=[2,2], dtype=int32, backend=reference)",
  );
  assert.is(String(tensor(1.5, [], "float64")), "Tensor(1.5, shape=[], dtype=float64, backend=reference)");
  assert.is(`${tensor([true, false])}`, "Tensor([1,0], shape=[2], dtype=bool, backend=reference)");
});

printing("never throws: strict-async hides the values, a disposed tensor says so", async () => {
  await withBackend(new ReferenceBackend({ strictAsync: true }), () => {
    assert.is(tensor([1, 2]).toString(), "Tensor(…, shape=[2], dtype=int32, backend=reference(strict-async))");
  });
  const t = tensor([1]);
  t.dispose();
  assert.is(t.toString(), "Tensor(disposed, shape=[1], dtype=int32, backend=-)");
});

// ---- to() ---------------------------------------------------------------------------------------

const moving = suite("to() between backends");

moving("a copy on another backend instance keeps values, dtype, shape and requiresGrad", async () => {
  const home = getBackend();
  const other = new ReferenceBackend({ strictAsync: true });
  assert.is.not(other.name, home.name);
  const x = tensor([1.5, -2, 3], [3, 1], { dtype: "float64", requiresGrad: true });
  const y = await x.to(other);
  assert.is(y.backend, other);
  assert.is.not(y, x);
  assert.is(y.dtype, "float64");
  assert.equal(y.shape, [3, 1]);
  assert.equal(await y.array(), [[1.5], [-2], [3]]);
  // a new leaf: its gradient is its own, the graph does not cross backends
  assert.ok(y.requiresGrad);
  assert.ok(y.isLeaf);
  assert.not.ok((await tensor([1]).to(other)).requiresGrad);
  // and back
  const z = await y.to(home);
  assert.is(z.backend, home);
  assert.equal(z.toArray(), [[1.5], [-2], [3]]);
});

moving("to() the tensor's own backend returns the tensor itself", async () => {
  const x = tensor([1]);
  assert.is(await x.to(x.backend), x);
  assert.is(await x.to("reference"), x);
});

moving("to() a name that was never created is refused", async () => {
  await assertRejects(tensor([1]).to("nowhere"), /to: no backend named "nowhere" has been created/);
});

moving("an op mixing two backends names both", async () => {
  const other = new ReferenceBackend({ strictAsync: true });
  const a = tensor([1, 2]);
  const b = await a.to(other);
  const both = /add: inputs live on different backends: reference and reference\(strict-async\)/;
  assert.throws(() => add(a, b), both);
  assert.throws(() => a.add(b), both);
  assert.throws(() => b.matmul(a), /matmul: .*different backends/);
  // a weak scalar follows its tensor's backend instead of the current one
  assert.is(b.mul(2).backend, other);
  assert.is(add(3, b).backend, other);
});

// ---- detach, clone, dispose ----------------------------------------------------------------------

const identity = suite("detach, clone, dispose");

identity("detach shares the buffer, has no node and does not require grad", () => {
  const x = tensor([1.5, 2.5], undefined, { requiresGrad: true });
  const y = x.mul(2);
  const before = memory().numBuffers;
  const d = y.detach();
  assert.is(memory().numBuffers, before, "detach must not allocate");
  assert.is(d.node, null);
  assert.ok(d.isLeaf);
  assert.not.ok(d.requiresGrad);
  assert.equal(d.toArray(), [3, 5]);
  // same buffer: an in-place write through one is seen by the other
  noGrad(() => d.assign(tensor([7, 8], undefined, "float32")));
  assert.equal(y.toArray(), [7, 8]);
});

identity("a detached tensor can start a graph of its own", () => {
  const x = tensor([2.5], undefined, { requiresGrad: true });
  const d = x.mul(3).detach().requiresGrad_();
  d.mul(d).sum().backward();
  // d = 7.5; d(d²)/dd = 2·7.5 = 15, and nothing flows past the cut into x
  assert.equal(d.grad?.toArray(), [15]);
  assert.is(x.grad, null);
});

identity("clone copies into a new buffer, keeps the dtype, and passes gradients", () => {
  for (const dtype of ["float32", "float64", "int32", "bool"] as const) {
    const x = tensor([1, 0, 1], undefined, dtype);
    const before = memory().numBuffers;
    const c = x.clone();
    assert.is(c.dtype, dtype);
    assert.equal(c.toArray(), [1, 0, 1]);
    assert.ok(memory().numBuffers > before, `${dtype}: clone must allocate`);
    x.assign(0);
    assert.equal(c.toArray(), [1, 0, 1], `${dtype}: the clone changed with its source`);
  }
  const x = tensor([1.5, 2.5], undefined, { requiresGrad: true });
  const c = x.clone();
  assert.ok(c.requiresGrad);
  assert.not.ok(c.isLeaf);
  c.mul(tensor([3, 4], undefined, "float32"))
    .sum()
    .backward();
  assert.equal(x.grad?.toArray(), [3, 4]);
});

identity("use after dispose names the op that used the tensor", async () => {
  const x = tensor([1.5, 2], undefined, "float32");
  x.dispose();
  assert.ok(x.isDisposed);
  const disposed = (op: string) => new RegExp(`^${op}: a float32\\[2\\] tensor( \\([^)]*\\))? was used after dispose\\(\\)`);
  assert.throws(() => x.add(1), disposed("add"));
  assert.throws(() => add(tensor([1], undefined, "float32"), x), disposed("add"));
  assert.throws(() => x.exp(), disposed("exp"));
  assert.throws(() => x.sum(), disposed("sum"));
  assert.throws(() => x.reshape([2, 1]), disposed("reshape"));
  assert.throws(() => x.dataSync(), disposed("dataSync"));
  assert.throws(() => x.toArray(), disposed("dataSync"));
  await assertRejects(x.data(), disposed("data"));
  assert.throws(() => noGrad(() => x.assign(1)), disposed("assign"));
});

identity("dispose of one view leaves the others readable", () => {
  const x = tensor([1, 2, 3, 4]);
  const v = x.reshape([2, 2]);
  x.dispose();
  assert.equal(v.toArray(), [
    [1, 2],
    [3, 4],
  ]);
  const t: Tensor = v.detach();
  v.dispose();
  assert.equal(t.toArray(), [
    [1, 2],
    [3, 4],
  ]);
});

identity("version counts in-place writes; sharesStorage tells views of one storage; new Tensor(t) is one more view", () => {
  const x = tensor([1, 2, 3, 4]);
  const v = x.reshape([2, 2]);
  assert.is(x.version(), 0);
  x.assign(5);
  // one storage, one count: the write through x is seen through v
  assert.is(v.version(), 1);
  assert.ok(x.sharesStorage(v) && v.sharesStorage(x.detach()) && x.sharesStorage(x));
  assert.not.ok(x.sharesStorage(x.clone()));
  assert.throws(() => x.sharesStorage([1] as never), /^sharesStorage: expected a Tensor, got an array \[1\]$/);

  class Wrapped extends Tensor {}
  const before = memory().numBuffers;
  const w = new Wrapped(x);
  assert.is(memory().numBuffers, before, "a view must not allocate");
  assert.equal([w.shape, w.dtype, w.toArray()], [[4], "int32", [5, 5, 5, 5]]);
  assert.ok(w.sharesStorage(x));
  x.dispose();
  v.dispose();
  // the view keeps the storage alive; a disposed tensor shares nothing and has no version
  assert.equal(w.toArray(), [5, 5, 5, 5]);
  assert.not.ok(w.sharesStorage(x) || x.sharesStorage(w));
  assert.throws(() => x.version("myCache"), /^myCache: a int32\[4\] tensor was used after dispose\(\)$/);
  assert.throws(() => new Wrapped(x), /^Wrapped: a int32\[4\] tensor was used after dispose\(\)$/);
  w.dispose();
});

identity("the op methods are on Tensor.prototype itself (tensor-methods.ts installs them), typed, and subclasses inherit them", () => {
  for (const name of ["add", "backward", "cast", "clone", "assign", "copy_", "to", "softplus", "reshape", "matmul", "topk"]) {
    const own = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
    assert.is(typeof own?.value, "function", name);
    assert.not.ok(own?.enumerable, `${name} is enumerable, unlike a class method`);
  }
  class Wrapped extends Tensor {}
  const w = new Wrapped(tensor([1.5, 2]));
  // assign returns the receiver's own type, as `this` did when the method was written in the class
  const same: Wrapped = w.assign(tensor([3, 4], undefined, "float32"));
  assert.is(same, w);
  assert.equal(w.mul(2).sum().toArray(), 14);
  assert.not.ok(Object.keys(w).includes("add"), "a method became an own field");
  w.dispose();
});

readback.run();
strict.run();
printing.run();
moving.run();
identity.run();

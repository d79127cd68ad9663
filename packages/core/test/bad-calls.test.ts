/**
 * @file Bad calls get errors, not garbage: each case a hostile review found, on every host backend
 * (reference, wasm, gpujs:cpu), and indices computed on an asynchronous device checked at the next readback.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  argmax,
  type Backend,
  backendsApart,
  backward,
  broadcastTo,
  closeBackends,
  closestName,
  crossEntropy,
  describeValue,
  full,
  gather,
  getBackend,
  kindOf,
  layerNorm,
  linear,
  logSoftmax,
  matmul,
  noGrad,
  ReferenceBackend,
  randn,
  setBackend,
  showValue,
  sum,
  type Tensor,
  tensor,
  to,
  tril,
  triu,
  useBackend,
  zeros,
} from "../src/index.ts";
import { assertRejects, startGpujs } from "../src/testing/index.ts";

/** Each host backend in turn, made current. */
async function* backends(): AsyncGenerator<Backend> {
  for (const [name, options] of [
    ["reference", {}],
    ["wasm", { threads: 1 }],
    ["gpujs:cpu", {}],
  ] as const) {
    yield await setBackend(name, options);
  }
}

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

test("int32 values that do not fit are refused (PyTorch raises); 3e10 without a dtype is a float", async () => {
  for await (const backend of backends()) {
    assert.throws(
      () => tensor([3e10], undefined, "int32"),
      /tensor: value 30000000000 at flat position 0 does not fit int32/,
      backend.name,
    );
    assert.throws(() => tensor([1, Number.NaN], undefined, "int32"), /value NaN at flat position 1 does not fit int32/);
    assert.throws(() => tensor(new Float64Array([-3e9]), undefined, "int32"), /value -3000000000/);
    assert.throws(() => full([2], 2 ** 31, { dtype: "int32" }), /full: value 2147483648 .* does not fit int32/);
    assert.is(tensor([3e10]).dtype, "float32");
    // a fraction truncates toward zero, as torch.tensor([1.7], dtype=torch.int32)
    assert.equal(await values(tensor([1.7, -1.7], undefined, "int32")), [1, -1]);
  }
});

test("an int32 sum is exact and refuses a result past int32's range instead of wrapping", async () => {
  for await (const backend of backends()) {
    // 200 · (2^24 - 1) = 3,355,443,000: every value fits (gpujs holds int32 exactly to 2^24), the sum does not
    const big = full([200], 2 ** 24 - 1, { dtype: "int32" });
    await assertRejects(
      (async () => values(sum(big)))(),
      backend.name.startsWith("gpujs")
        ? /data: an int32 result holds 33554\d+ at flat position 0, outside int32's range/
        : /sum: the int32 result 3355443000 is outside int32's range \[-2147483648, 2147483647\]; cast the input to float64/,
    );
    // gpujs holds int32 exactly only to 2^24 (its storage is float32, see its file)
    if (!backend.name.startsWith("gpujs"))
      assert.equal(await values(sum(full([127], 2 ** 24 - 1, { dtype: "int32" }))), [127 * (2 ** 24 - 1)]);
    if (backend.supportsFloat64) assert.equal(await values(sum(big.cast("float64"))), [3355443000]);
  }
});

test("tril and triu need an integer diagonal (NaN would zero everything)", async () => {
  for await (const backend of backends()) {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    assert.throws(() => tril(x, Number.NaN), /tril: the diagonal offset k must be an integer, got NaN/, backend.name);
    assert.throws(() => triu(x, 1.5), /triu: the diagonal offset k must be an integer, got 1\.5/);
    assert.equal(await values(tril(x, -1)), [0, 0, 3, 0]);
  }
});

test("functional layerNorm refuses eps -1 and NaN as the module does; crossEntropy refuses a fractional ignoreIndex", async () => {
  for await (const backend of backends()) {
    const x = randn([2, 3]);
    assert.throws(
      () => layerNorm(x, [3], undefined, undefined, -1),
      /layerNorm: eps must be a non-negative finite number, got -1/,
      backend.name,
    );
    assert.throws(() => layerNorm(x, [3], undefined, undefined, Number.NaN), /got NaN/);
    assert.throws(() => crossEntropy(x, tensor([0, 1]), { ignoreIndex: 1.5 }), /crossEntropy: ignoreIndex must be an integer, got 1\.5/);
  }
});

test("logSoftmax keeps its precision at large logits: (x - m) - log Σ exp(x - m), as PyTorch", async () => {
  for await (const backend of backends()) {
    // exact: -log(1 + e^-10) = -4.5398899e-5; float32 rounds 1 + e^-10 (PyTorch gives -4.5418e-05 too),
    // where x - (m + log Σ) lost 34 % (-6.1e-5)
    const [top, other] = await values(logSoftmax(tensor([1000, 990]), -1));
    assert.ok(Math.abs(top - -4.5398899e-5) < 1e-7, `${backend.name}: ${top}`);
    assert.ok(Math.abs(other - -10.0000454) < 1e-5, `${backend.name}: ${other}`);
    if (backend.supportsFloat64) {
      const [exact] = await values(logSoftmax(tensor([1000, 990], undefined, "float64"), -1));
      assert.ok(Math.abs(exact - -4.539889921686465e-5) < 1e-15, `${backend.name} float64: ${exact}`);
    }
  }
});

test("disposed tensors are named by the op the caller used: to, linear, backward", async () => {
  for await (const backend of backends()) {
    const x = tensor([1, 2]);
    x.dispose();
    await assertRejects(to(x, backend), /to: a int32\[2\] tensor \(the tensor\) was used after dispose\(\)/);
    const w = randn([2, 3]);
    w.dispose();
    assert.throws(
      () => linear(randn([1, 3]), w),
      /linear: a float32\[2,3\] tensor \(the weight\) was used after dispose\(\)/,
      backend.name,
    );
  }
});

test("bad arguments get errors naming the op, not a TypeError or RangeError", async () => {
  for await (const backend of backends()) {
    const x = randn([3], { requiresGrad: true });
    const y = x.mul(2);
    assert.throws(
      () => y.backward([1, 1, 1] as never),
      /backward: the gradient must be a Tensor of the tensor's shape \[3\], got an array/,
      backend.name,
    );
    assert.throws(() => backward(y, 5 as never), /got number/);
    // null is "every axis", as tfjs users expect
    assert.equal(await values(sum(tensor([1, 2, 3]), null)), [6]);
    assert.throws(() => sum(tensor([1, 2]), "0" as never), /sum: axes must be an axis, a list of axes, or null/);
    assert.throws(
      () => zeros([1e5, 1e5]),
      /zeros: a float32 tensor of shape \[100000,100000\] needs 40,000,000,000 bytes; one tensor holds at most 4,294,967,296/,
    );
    assert.throws(() => full([2 ** 20, 2 ** 20], 1), /full: a float32 tensor/);
    assert.throws(() => broadcastTo(tensor([1, 2]), [3]), /^broadcastTo: /);
    // gpujs refuses more than 2^24 elements by name; the host backends run out of memory, named by the op
    assert.throws(
      () => matmul(zeros([1e5, 1]), zeros([1, 1e5])),
      /^matmul: (the result does not fit in memory \(inputs float32\[100000,1\], float32\[1,100000\]\)|10000000000 elements is more than the gpujs backend holds)/,
    );
  }
});

test("messages describe a value one of three ways: what it is, as code writes it, or its kind alone", () => {
  const t = tensor([0.5, 2]);
  const gone = tensor([0.5, 2]);
  gone.dispose();
  class Linear {}
  // an argument of the wrong kind (core's checks)
  assert.equal([1.5, "x", [1, 2], t, gone, new Map(), {}, null, undefined, () => 0].map(describeValue), [
    "number 1.5",
    'string "x"',
    "an array [1,2]",
    "a float32[2] tensor",
    "a disposed float32[2] tensor",
    "a Map",
    "an object",
    "null",
    "undefined",
    "a function",
  ]);
  // a setting out of range (the optimisers, hyra's config)
  assert.equal([-0.1, Number.NaN, "gelu", [0.9, [1]], /q/i, t, {}, null, undefined].map(showValue), [
    "-0.1",
    "NaN",
    '"gelu"',
    "[0.9, [1]]",
    "/q/i",
    "a Tensor float32[2]",
    "an object",
    "null",
    "undefined",
  ]);
  const nested: unknown[] = [];
  nested.push(nested);
  assert.is(showValue(nested), "[[[[[...]]]]]");
  // the kind alone (nn's modules, hyra's fields)
  assert.equal(
    [3, "x", [1], new Linear(), Object.create(null), null].map((v) => kindOf(v)),
    ["number", "string", "Array", "Linear", "an object", "null"],
  );
  assert.equal(
    [3, "x", [1], undefined].map((v) => kindOf(v, { withValue: true })),
    ["number 3", "string x", "Array", "undefined"],
  );
  t.dispose();
});

test("an options object with a name the function does not take is refused, naming the closest known name", () => {
  const a = tensor([[1, 2]]);
  assert.throws(
    () => matmul(a, a, { transposeB: true, tranposeA: true } as never),
    /matmul: unknown option "tranposeA" \(did you mean transposeA\?\); its options are transposeA, transposeB/,
  );
  assert.throws(() => tensor([1], undefined, { dtpye: "float32" } as never), /tensor: unknown option "dtpye" \(did you mean dtype\?\)/);
  // nothing close: the options alone
  assert.throws(
    () => crossEntropy(a, tensor([0], [1], "int32"), { weights: 1 } as never),
    /unknown option "weights"; its options are ignoreIndex, labelSmoothing, reduction/,
  );
  assert.is(closestName("temprature", ["temperature", "topK"]), "temperature");
  assert.is(closestName("TopK", ["temperature", "topK"]), "topK", "case aside");
  assert.is(closestName("lr", ["lr", "betas"]), "lr");
  assert.is(closestName("x", ["lr", "betas"]), null, "one letter is nothing close");
  assert.is(closestName("generatr", ["generator", "dtype"]), "generator");
  a.dispose();
});

test("two backend instances with the same name are told apart in the error", async () => {
  await setBackend("reference");
  const a = tensor([1]);
  const b = tensor([1], undefined, { backend: new ReferenceBackend() });
  assert.throws(
    () => a.add(b),
    /add: inputs live on two different backend instances that are both named reference \(reference #\d and reference #\d\)/,
  );
  // assign and the fused AdamW step name the two instances apart too, never "on reference but on reference"
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      return (error as Error).message;
    }
    return "no error";
  };
  const assigned = message(() => noGrad(() => a.assign(b)));
  const [first, second] = [...assigned.matchAll(/reference #(\d+)/g)].map((m) => m[1]);
  assert.match(assigned, /assign: source lives on reference #\d+ but the destination on reference #\d+/);
  assert.is.not(first, second, assigned);
  const other = new ReferenceBackend();
  const c = tensor([2], undefined, { backend: other });
  assert.match(
    message(() => noGrad(() => a.assign(c))),
    /source lives on reference #\d+ but the destination on reference #\d+/,
  );
  assert.is(backendsApart(a.backend, a.backend)[0], "reference", "one instance is named by its name alone");
});

test("an index computed on a device that reads back only asynchronously works, and a bad one fails at the next readback", async () => {
  const device = new ReferenceBackend({ strictAsync: true });
  const previous = getBackend();
  useBackend(device);
  const x = tensor([10, 20, 30]);
  const scores = tensor([
    [0.1, 0.9, 0.3],
    [0.8, 0.1, 0.2],
  ]);
  // argmax's values exist only on the device: before, gather refused them outright
  const picked = gather(x, 0, argmax(scores, 1));
  assert.equal(await values(picked), [20, 10]);
  const outOfRange = argmax(scores, 1).add(5);
  const garbage = gather(x, 0, outOfRange);
  outOfRange.dispose();
  // the next readback on that backend, whatever it reads, throws first
  await assertRejects(
    x.data(),
    /gather: index 6 at flat position 0 is out of range: expected 0 <= index < 3 \(the index was computed on reference/,
  );
  garbage.dispose();
  assert.equal(await values(x), [10, 20, 30]);
  // two readbacks started together: the second waits for the first's checks and fails with them
  const bad = argmax(scores, 1).add(7);
  gather(x, 0, bad).dispose();
  bad.dispose();
  const [first, second] = await Promise.allSettled([x.data(), x.data()]);
  assert.is(first.status, "rejected");
  assert.is(second.status, "rejected", "a readback started during the check must not slip past it");
  assert.equal(await values(x), [10, 20, 30]);
  useBackend(previous);
});

test("on WebGPU, gather(x, 0, argmax(y)) works, and an out-of-range device index fails at the next readback", async () => {
  const { backend, reason } = await startGpujs("webgpu");
  if (!backend) {
    if (process.env.CI === "true") throw new Error(`gpujs:webgpu did not start: ${reason}`);
    console.log(`SKIPPED gpujs:webgpu device indices: ${reason}`);
    return;
  }
  const x = tensor([10, 20, 30]);
  const scores = tensor([
    [0.1, 0.9, 0.3],
    [0.8, 0.1, 0.2],
  ]);
  assert.equal(await values(gather(x, 0, argmax(scores, 1))), [20, 10]);
  gather(x, 0, argmax(scores, 1).add(5));
  await assertRejects(
    x.data(),
    /gather: index 6 at flat position 0 is out of range: expected 0 <= index < 3 \(the index was computed on gpujs:webgpu/,
  );
  assert.equal(await values(x), [10, 20, 30]);
  await closeBackends();
});

test.run();

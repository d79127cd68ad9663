/**
 * @file The backward engine: seeding, accumulation, retained and freed graphs, higher-order gradients,
 * grad(), grad mode, detach, version counters, broadcasting and dtype handling done by the engine, deep
 * graphs, frozen inputs, and valueAndGrad. Per-op gradients are tested in ops.test.ts, not here.
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  add,
  apply,
  defineOp,
  enableGrad,
  grad,
  isGradEnabled,
  mul,
  noGrad,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
} from "../src/index.ts";

const f32 = (data: number[] | number[][], requiresGrad = false) => tensor(data, undefined, { dtype: "float32", requiresGrad });
const f64 = (data: number[] | number[][], requiresGrad = false) => tensor(data, undefined, { dtype: "float64", requiresGrad });
const gradOf = (t: Tensor) => {
  assert.ok(t.grad, "no gradient");
  return (t.grad as Tensor).toArray();
};

// ---- backward basics ----------------------------------------------------------------------------

const basics = suite("backward");

basics("from a scalar", () => {
  const x = f64([1, -2, 3], true);
  x.mul(x).sum().backward();
  // d Σx² / dx = 2x
  assert.equal(gradOf(x), [2, -4, 6]);
  assert.is(x.grad?.dtype, "float64");
  assert.equal(x.grad?.shape, [3]);
});

basics("from a non-scalar with an explicit upstream gradient", () => {
  const x = f64([1, 2], true);
  const y = x.mul(3);
  y.backward(f64([1, 10]));
  // vector-Jacobian product: dy/dx = 3·I, so the gradient is 3·[1, 10]
  assert.equal(gradOf(x), [3, 30]);
});

basics("an upstream gradient of another dtype is cast to the root's", () => {
  const x = f32([1, 2], true);
  x.mul(2).backward(f64([0.5, 0.25]));
  assert.is(x.grad?.dtype, "float32");
  assert.equal(gradOf(x), [1, 0.5]);
});

basics("gradients accumulate across backward calls; zeroGrad clears them", () => {
  const x = f64([2], true);
  x.mul(x).sum().backward();
  x.mul(3).sum().backward();
  // 2x + 3 at x = 2
  assert.equal(gradOf(x), [7]);
  const first = x.grad as Tensor;
  x.zeroGrad();
  assert.is(x.grad, null);
  assert.ok(first.isDisposed, "zeroGrad must dispose the old gradient");
  x.mul(5).sum().backward();
  assert.equal(gradOf(x), [5]);
});

basics("non-leaf gradients are kept only after retainGrad", () => {
  const x = f64([1, 2], true);
  const h = x.mul(2);
  const k = h.add(1);
  h.retainGrad();
  assert.ok(h.retainsGrad);
  k.mul(k).sum().backward();
  // k = 2x + 1 = [3, 5]; dL/dh = 2k = [6, 10]; dL/dx = 2·dL/dh = [12, 20]
  assert.equal(gradOf(h), [6, 10]);
  assert.is(k.grad, null);
  assert.equal(gradOf(x), [12, 20]);
  assert.throws(() => f64([1]).retainGrad(), /retainGrad: the tensor does not require grad/);
});

basics("errors: non-scalar without gradient, no grad required, wrong gradient shape", () => {
  const x = f64([1, 2], true);
  assert.throws(
    () => x.mul(2).backward(),
    /^backward: backward\(\) without a gradient needs a one-element tensor, got shape \[2\]; pass the upstream gradient/,
  );
  assert.throws(() => f64([1, 2]).sum().backward(), /^backward: this tensor does not require grad/);
  assert.throws(() => x.mul(2).backward(f64([1, 2, 3])), /^backward: the gradient has shape \[3\] but the tensor has shape \[2\]/);
  // a one-element tensor of any rank is fine without a gradient
  x.sum().reshape([1, 1]).backward();
  assert.equal(gradOf(x), [1, 1]);
});

basics("a leaf that requires grad can itself be the root", () => {
  const x = f64([4], true);
  x.backward();
  assert.equal(gradOf(x), [1]);
});

basics("integer results are constants: a cast to int32 ends the graph", () => {
  const x = f32([1.5, 2.5], true);
  const i = x.cast("int32");
  assert.not.ok(i.requiresGrad);
  assert.ok(i.isLeaf);
  assert.throws(() => i.sum().backward(), /backward: this tensor does not require grad/);
  assert.not.ok(x.gt(2).requiresGrad);
});

// ---- graph lifetime -----------------------------------------------------------------------------

const lifetime = suite("graph lifetime");

lifetime("the graph is freed after backward; a second backward says to pass retainGraph", () => {
  const x = f64([3], true);
  const y = x.mul(x).sum();
  y.backward();
  assert.throws(() => y.backward(), /^backward: the graph was freed by an earlier backward\(\); pass \{ retainGraph: true \}/);
  // the failed call must not have changed the gradient
  assert.equal(gradOf(x), [6]);
});

lifetime("a freed intermediate cannot be backpropagated through from a new root either", () => {
  const x = f64([3], true);
  const h = x.mul(2);
  h.sum().backward();
  const w = f64([1], true);
  // x would silently miss its gradient if the engine skipped the freed node
  assert.throws(() => h.mul(w).sum().backward(), /graph was freed/);
  assert.throws(() => grad(h.sum(), [x]), /grad: the graph was freed/);
});

lifetime("retainGraph allows a second backward, which accumulates", () => {
  const x = f64([3], true);
  const y = x.mul(x).sum();
  y.backward(undefined, { retainGraph: true });
  y.backward();
  // 2·(2x) at x = 3
  assert.equal(gradOf(x), [12]);
});

lifetime("createGraph gives second derivatives through backward()", () => {
  const x = f64([1.5, -2], true);
  const y = x.mul(x).mul(x).sum();
  y.backward(undefined, { createGraph: true });
  const first = x.grad as Tensor;
  // d x³/dx = 3x² = [6.75, 12]
  assert.equal(first.toArray(), [6.75, 12]);
  assert.ok(first.requiresGrad, "with createGraph the gradient is part of a graph");
  x.grad = null;
  first.sum().backward();
  // d² x³/dx² = 6x = [9, -12]
  assert.equal(gradOf(x), [9, -12]);
});

lifetime("createGraph gives second and third derivatives through grad()", () => {
  const x = f64([2], true);
  const y = x.mul(x).mul(x);
  const [g1] = grad(y, [x], { createGraph: true }) as Tensor[];
  const [g2] = grad(g1, [x], { createGraph: true }) as Tensor[];
  const [g3] = grad(g2, [x]) as Tensor[];
  // 3x² = 12, 6x = 12, 6 at x = 2
  assert.equal([g1.item(), g2.item(), g3.item()], [12, 12, 6]);
  assert.not.ok(g3.requiresGrad, "without createGraph the result is a constant");
});

// ---- grad() -------------------------------------------------------------------------------------

const gradFn = suite("grad()");

gradFn("returns gradients and leaves .grad alone", () => {
  const x = f64([1, 2], true);
  const z = f64([5], true);
  x.sum().backward();
  const before = x.grad as Tensor;
  const [gx, gz] = grad(x.mul(x).sum().mul(z), [x, z]) as Tensor[];
  // d(z·Σx²)/dx = 2xz = [10, 20]; d/dz = Σx² = 5
  assert.equal(gx.toArray(), [10, 20]);
  assert.equal(gz.toArray(), [5]);
  assert.is(x.grad, before);
  assert.equal(gradOf(x), [1, 1]);
  assert.is(z.grad, null);
});

gradFn("works for non-leaf inputs", () => {
  const x = f64([3], true);
  const h = x.mul(2);
  const [gh] = grad(h.mul(h).sum(), [h]) as Tensor[];
  // d h²/dh = 2h = 12
  assert.equal(gh.toArray(), [12]);
});

gradFn("unused inputs: an error, or null with allowUnused", () => {
  const x = f64([1], true);
  const unused = f64([1], true);
  assert.throws(
    () => grad(x.mul(2).sum(), [x, unused]),
    /^grad: input 1 was not used to compute the outputs; pass \{ allowUnused: true \} to get null for it/,
  );
  const [gx, gu] = grad(x.mul(2).sum(), [x, unused], { allowUnused: true });
  assert.equal(gx?.toArray(), [2]);
  assert.is(gu, null);
});

gradFn("several outputs with gradOutputs", () => {
  const x = f64([1, 2], true);
  const [g] = grad([x.mul(2), x.mul(x).sum()], [x], { gradOutputs: [f64([1, 1]), f64([3]).reshape([])] }) as Tensor[];
  // 2·[1,1] + 3·2x = [2 + 6, 2 + 12]
  assert.equal(g.toArray(), [8, 14]);
  assert.throws(() => grad([x.sum(), x.sum()], [x], { gradOutputs: [f64([1]).reshape([])] }), /grad: got 1 gradOutputs for 2 outputs/);
});

gradFn("inputs must require grad", () => {
  const x = f64([1], true);
  assert.throws(() => grad(x.sum(), [f64([1])]), /^grad: input 0 does not require grad/);
});

// ---- grad mode, detach, in-place ---------------------------------------------------------------

const mode = suite("grad mode, detach and in-place writes");

mode("noGrad results are constants; enableGrad switches back on inside it", () => {
  const x = f64([1, 2], true);
  const y = noGrad(() => {
    assert.not.ok(isGradEnabled());
    const inner = enableGrad(() => {
      assert.ok(isGradEnabled());
      return x.mul(2);
    });
    assert.not.ok(isGradEnabled(), "enableGrad must restore the outer mode");
    return { plain: x.mul(2), inner };
  });
  assert.ok(isGradEnabled());
  assert.not.ok(y.plain.requiresGrad);
  assert.is(y.plain.node, null);
  assert.ok(y.inner.requiresGrad);
  y.inner.sum().backward();
  assert.equal(gradOf(x), [2, 2]);
});

mode("noGrad and enableGrad refuse async functions and restore the mode after an exception", async () => {
  let pending: Promise<unknown> | undefined;
  assert.throws(() => noGrad(() => (pending = (async () => 1)())), /^noGrad: the function returned a Promise/);
  await pending;
  assert.ok(isGradEnabled());
  assert.throws(() => noGrad(() => enableGrad(() => (pending = (async () => 2)()))), /^enableGrad: the function returned a Promise/);
  await pending;
  assert.ok(isGradEnabled());
  assert.throws(() =>
    noGrad(() => {
      throw new Error("inside");
    }),
  );
  assert.ok(isGradEnabled(), "an exception left grad mode off");
});

mode("detach cuts the graph", () => {
  const x = f64([3], true);
  x.detach().mul(x).sum().backward();
  // d(c·x)/dx = c = 3 with c = detach(x); without the cut it would be 2x = 6
  assert.equal(gradOf(x), [3]);
});

mode("an in-place write to a tensor the graph saved makes backward throw", () => {
  const x = f64([1, 2], true);
  const c = f64([3, 4]);
  const y = x.mul(c).sum();
  c.assign(f64([0, 0]));
  assert.throws(() => y.backward(), /^backward: an input of "mul" was modified in place \(assign\) after it was used/);

  const w = f64([1, 2], true);
  const z = w.mul(w).sum();
  noGrad(() => w.assign(0));
  assert.throws(() => z.backward(), /modified in place/);
  assert.throws(() => grad(w.mul(w).sum().add(z), [w]), /grad: an input of "mul" was modified in place/);
});

mode("writing through a view also bumps the version", () => {
  const x = f64([1, 2], true);
  const c = f64([3, 4]);
  const y = x.mul(c).sum();
  c.reshape([2, 1]).assign(7);
  assert.throws(() => y.backward(), /modified in place/);
});

mode("assign on a tensor that requires grad: refused in grad mode, allowed under noGrad", () => {
  const x = f64([1, 2], true);
  assert.throws(
    () => x.assign(0),
    /^assign: refused on a tensor that requires grad while grad mode is on; run the update inside noGrad\(\)/,
  );
  const h = f64([1], true).mul(2);
  assert.throws(() => h.assign(0), /^assign: refused/);
  noGrad(() => x.assign(f64([5, 6])));
  assert.equal(x.toArray(), [5, 6]);
  assert.ok(x.requiresGrad);
});

mode("an input disposed before backward gives a clear error", () => {
  const x = f64([1, 2], true);
  const c = f64([3, 4]);
  const y = x.mul(c).sum();
  c.dispose();
  assert.throws(() => y.backward(), /^backward: an input of "mul" was disposed before backward\(\)/);
});

// ---- what the engine does for every op ----------------------------------------------------------

const engine = suite("engine duties");

engine("broadcast gradients are summed back to each input's shape", () => {
  const a = f64([[1], [2], [3]], true);
  const b = f64([10, 20, 30, 40], true);
  a.mul(b).add(b).sum().backward();
  // out[i][j] = a_i·b_j + b_j: dL/da_i = Σ_j b_j = 100; dL/db_j = Σ_i a_i + 3 = 9
  assert.equal(a.grad?.shape, [3, 1]);
  assert.equal(gradOf(a), [[100], [100], [100]]);
  assert.equal(b.grad?.shape, [4]);
  assert.equal(gradOf(b), [9, 9, 9, 9]);
  const s = tensor(2, [], { dtype: "float64", requiresGrad: true });
  const m = f64([[1, 2, 3]]);
  s.mul(m).sum().backward();
  // a rank-0 operand gets the sum over the whole [1,3] output: 1 + 2 + 3
  assert.equal(s.grad?.shape, []);
  assert.is(s.grad?.item(), 6);
});

engine("a tensor used twice gets the sum of both gradients", () => {
  const x = f64([2, 3], true);
  add(mul(x, x), x).sum().backward();
  // d(x² + x)/dx = 2x + 1
  assert.equal(gradOf(x), [5, 7]);
  const y = f64([4], true);
  const h = y.mul(3);
  h.add(h).sum().backward();
  // two paths through h, each 3
  assert.equal(gradOf(y), [6]);
});

engine("deep chains backpropagate without overflowing the stack", () => {
  for (const depth of [1_000, 10_000]) {
    tidy(() => {
      const x = f32([0.5], true);
      let y = x;
      for (let i = 0; i < depth; i++) y = y.add(1);
      y.sum().backward();
      assert.is(y.item(), 0.5 + depth);
      assert.equal(gradOf(x), [1], `depth ${depth}`);
      x.zeroGrad();
    });
  }
});

engine("a float32 input mixed with float64 gets a float32 gradient", () => {
  const x = f32([1.5, 2], true);
  const y = f64([0.1, 0.2], true);
  const out = x.mul(y);
  assert.is(out.dtype, "float64");
  out.sum().backward();
  assert.is(x.grad?.dtype, "float32");
  assert.is(y.grad?.dtype, "float64");
  assert.equal(gradOf(x), [Math.fround(0.1), Math.fround(0.2)]);
  assert.equal(gradOf(y), [1.5, 2]);
});

// Custom ops, defined once per process (defineOp refuses a second definition of a name).

/** a·b, whose backward rule for input 1 must never be asked for. */
engine("each .grad owns its tensor, even where a rule hands one gradient to several inputs", async () => {
  // add's rule gives dy to both inputs; the seed passed by the caller must not become a leaf's .grad either
  const a = f64([1, 2], true);
  const b = f64([3, 4], true);
  add(a, b).sum().backward();
  assert.ok(a.grad !== b.grad, "a and b share one gradient tensor");
  a.zeroGrad();
  assert.equal(await gradOf(b), [1, 1]);
  // accumulating over two backward passes disposes the previous .grad: it must be no one else's
  add(a, b).sum().backward();
  add(a, b).sum().backward();
  assert.equal(await gradOf(a), [2, 2]);
  assert.equal(await gradOf(b), [3, 3]);
  const seed = f64([5, 6]);
  const leaf = f64([0, 0], true);
  leaf.backward(seed);
  assert.ok(leaf.grad !== seed, "the caller's gradient became .grad");
  seed.dispose();
  assert.equal(await gradOf(leaf), [5, 6]);
});

const frozenMulDef = defineOp({
  name: "autogradTest.frozenMul",
  forward: (be, [a, b]) => ({ storage: be.binary("mul", a, b, a.shape, a.dtype), shape: a.shape, dtype: a.dtype }),
  backward: ({ inputs: [, b] }, dy) => [
    () => mul(dy, b),
    () => {
      throw new Error("the thunk for input 1 ran");
    },
  ],
});

/** Identity that upcasts to float64; its rule returns a float64 gradient, whatever the input's dtype. */
const upcastDef = defineOp({
  name: "autogradTest.upcast",
  forward: (be, [x]) => ({ storage: be.cast(x, "float64"), shape: x.shape, dtype: "float64" }),
  backward: (_, dy) => [() => dy],
});

engine("a thunk for an input that needs no gradient is never called", () => {
  const a = f64([2, 3], true);
  const frozen = f64([4, 5]);
  apply(frozenMulDef, [a, frozen], undefined).sum().backward();
  assert.equal(gradOf(a), [4, 5]);
  // grad() for a only: b requires grad but is not asked for, so its thunk is skipped too
  const b = f64([4, 5], true);
  const [ga] = grad(apply(frozenMulDef, [a, b], undefined).sum(), [a]) as Tensor[];
  assert.equal(ga.toArray(), [4, 5]);
  // and the control: when input 1 does need a gradient, the thunk runs (the test can fail)
  assert.throws(() => apply(frozenMulDef, [a, b], undefined).sum().backward(), /the thunk for input 1 ran/);
});

engine("the engine casts a rule's gradient to the input's dtype", () => {
  const x = f32([1.25, 2], true);
  const y = apply(upcastDef, [x], undefined);
  assert.is(y.dtype, "float64");
  y.mul(f64([0.1, 3]))
    .sum()
    .backward();
  assert.is(x.grad?.dtype, "float32");
  assert.equal(gradOf(x), [Math.fround(0.1), 3]);
});

// ---- valueAndGrad -------------------------------------------------------------------------------

const functional = suite("valueAndGrad");

functional("returns the value and one gradient per argument, zeros for unused ones", () => {
  const f = valueAndGrad((a, b, _unused) => a.mul(b).sum());
  const a = f64([1, 2]);
  const b = f64([3, 4]);
  const unused = f64([Number.POSITIVE_INFINITY, Number.NaN, 1]);
  const { value, grads } = f(a, b, unused);
  // Σ a·b = 3 + 8
  assert.is(value.item(), 11);
  assert.not.ok(value.requiresGrad);
  assert.is(grads.length, 3);
  assert.equal(grads[0].toArray(), [3, 4]);
  assert.equal(grads[1].toArray(), [1, 2]);
  // zeros even where the argument holds Infinity or NaN, where 0·x would be NaN
  assert.equal(grads[2].toArray(), [0, 0, 0]);
  assert.is(grads[2].dtype, "float64");
  for (const g of grads) assert.not.ok(g.requiresGrad, "gradients are constants");
});

functional("does not modify its arguments", () => {
  const a = f64([1, 2]);
  const p = f64([3], true);
  const f = valueAndGrad((x, y) => x.mul(x).sum().mul(y).sum());
  const { grads } = f(a, p);
  // d(y·Σx²)/dx = 2xy = [6, 12]
  assert.equal(grads[0].toArray(), [6, 12]);
  assert.not.ok(a.requiresGrad);
  assert.is(a.grad, null);
  assert.ok(a.isLeaf);
  assert.equal(a.toArray(), [1, 2]);
  assert.ok(p.requiresGrad);
  assert.is(p.grad, null, "an argument's .grad must stay untouched");
});

functional("fn must return a one-element tensor; arguments must be tensors", () => {
  assert.throws(() => valueAndGrad((x) => x.mul(2))(f64([1, 2])), /valueAndGrad: fn must return a one-element tensor/);
  assert.throws(() => valueAndGrad((x) => x)(3 as never), /valueAndGrad: argument 0 is not a Tensor/);
});

basics.run();
lifetime.run();
gradFn.run();
mode.run();
engine.run();
functional.run();

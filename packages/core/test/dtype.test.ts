/**
 * @file The dtype rules: the promotion chain bool < int32 < float32 < float64, weak JS scalars, true
 * division, comparisons, cast semantics, tensor() inference and which dtypes may require grad.
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  add,
  cast,
  type DType,
  div,
  eq,
  gt,
  logicalNot,
  lt,
  mul,
  ne,
  ones,
  promoteTypes,
  sub,
  type Tensor,
  tensor,
  zeros,
} from "../src/index.ts";

const CHAIN: DType[] = ["bool", "int32", "float32", "float64"];

/** One tensor of each dtype, holding values every dtype can represent. */
function of(dtype: DType): Tensor {
  return tensor([1, 0, 1], undefined, dtype);
}

const promotion = suite("promotion between tensors");

promotion("promoteTypes follows the chain in both argument orders", () => {
  for (const [i, a] of CHAIN.entries()) {
    for (const [j, b] of CHAIN.entries()) {
      const expected = CHAIN[Math.max(i, j)];
      assert.is(promoteTypes(a, b), expected, `${a} with ${b}`);
    }
  }
});

promotion("binary arithmetic computes in the larger dtype (bool arithmetic lifts to int32)", () => {
  for (const [i, a] of CHAIN.entries()) {
    for (const [j, b] of CHAIN.entries()) {
      const larger = CHAIN[Math.max(i, j)];
      // bool + bool has no bool arithmetic: true + true = 2, so the result is int32
      const expected = larger === "bool" ? "int32" : larger;
      for (const op of [add, sub, mul]) {
        assert.is(op(of(a), of(b)).dtype, expected, `${op.name} ${a} ${b}`);
      }
    }
  }
});

promotion("bool + bool counts: true + true = 2", () => {
  const t = tensor([true, true, false]);
  assert.equal(add(t, t).toArray(), [2, 2, 0]);
});

promotion("mixing float32 and float64 keeps float64 precision", () => {
  const small = 1e-10;
  const out = add(tensor([1], undefined, "float32"), tensor([small], undefined, "float64"));
  assert.is(out.dtype, "float64");
  // 1 + 1e-10 is exact enough in float64 to differ from 1 (it would round to 1 in float32)
  assert.ok((out.item() as number) - 1 > 0.5 * small);
});

const weak = suite("weak JS scalars");

weak("a float scalar adopts a float tensor's dtype", () => {
  assert.is(mul(of("float32"), 0.5).dtype, "float32");
  assert.is(mul(of("float64"), 0.5).dtype, "float64");
  assert.is(add(0.5, of("float64")).dtype, "float64");
});

weak("an integer scalar adopts an int32 or float tensor's dtype", () => {
  assert.is(add(of("int32"), 1).dtype, "int32");
  assert.is(add(of("float32"), 1).dtype, "float32");
  assert.is(add(of("float64"), 1).dtype, "float64");
});

weak("a float scalar lifts int32 and bool to float32 (the default float)", () => {
  const out = mul(tensor([1, 3]), 0.5);
  assert.is(out.dtype, "float32");
  assert.equal(out.toArray(), [0.5, 1.5]);
  assert.is(mul(of("bool"), 0.5).dtype, "float32");
});

weak("bool + integer scalar is int32", () => {
  const out = add(tensor([true, false]), 1);
  assert.is(out.dtype, "int32");
  assert.equal(out.toArray(), [2, 1]);
});

weak("a float32 tensor times a weak scalar rounds like float32, not float64", () => {
  // 0.1 is not representable: a float32 result holds fround(0.1·3), a float64 one would hold 0.30000000000000004
  const out = mul(tensor([3], undefined, "float32"), 0.1);
  assert.is(out.item(), Math.fround(Math.fround(0.1) * 3));
});

weak("two plain numbers: int32 when both are integers, else float32", () => {
  assert.is(add(2, 3).dtype, "int32");
  assert.is(add(2, 0.5).dtype, "float32");
});

const division = suite("true division and comparisons");

division("int32 / int32 is float32 true division", () => {
  const out = div(tensor([7, -7, 1]), tensor([2, 2, 3]));
  assert.is(out.dtype, "float32");
  // no floor or truncation: 7/2 = 3.5, -7/2 = -3.5, 1/3 rounded once to float32
  assert.equal(Array.from(out.dataSync()), [3.5, -3.5, Math.fround(1 / 3)]);
  assert.is(div(of("bool"), of("bool")).dtype, "float32");
  assert.is(div(of("int32"), 2).dtype, "float32");
});

division("division keeps float64", () => {
  assert.is(div(of("float64"), of("int32")).dtype, "float64");
  assert.is(div(tensor([1], undefined, "float64"), 3).item(), 1 / 3);
});

division("comparisons give bool for every input dtype", () => {
  for (const a of CHAIN) {
    for (const b of CHAIN) {
      for (const op of [eq, ne, lt, gt]) assert.is(op(of(a), of(b)).dtype, "bool", `${op.name} ${a} ${b}`);
    }
  }
  assert.equal(lt(tensor([1, 2, 3]), 2.5).toArray(), [1, 1, 0]);
});

const casting = suite("cast");

casting("float to int32 truncates toward zero", () => {
  const out = cast(tensor([-2.7, -0.5, 0.5, 1.999, 3]), "int32");
  assert.is(out.dtype, "int32");
  assert.equal(out.toArray(), [-2, 0, 0, 1, 3]);
});

casting("to bool is x != 0", () => {
  const out = cast(tensor([-0.1, 0, -0, 2, 1e-30], undefined, "float64"), "bool");
  assert.is(out.dtype, "bool");
  assert.equal(out.toArray(), [1, 0, 0, 1, 1]);
  assert.equal(cast(tensor([0, -3, 5]), "bool").toArray(), [0, 1, 1]);
});

casting("NaN casts to true, agreeing with ne(x, 0) and logicalNot", () => {
  const x = tensor([Number.NaN, 0, 1]);
  const asBool = cast(x, "bool").toArray();
  assert.equal(asBool, ne(x, 0).toArray());
  // logicalNot treats its input as bool: it must be the negation of the cast
  assert.equal(
    logicalNot(x).toArray(),
    (asBool as number[]).map((v) => 1 - v),
  );
});

casting("bool to numbers is 0/1; float64 to float32 rounds", () => {
  assert.equal(cast(tensor([true, false]), "float32").toArray(), [1, 0]);
  assert.equal(cast(tensor([true, false]), "int32").toArray(), [1, 0]);
  assert.is(cast(tensor([0.1], undefined, "float64"), "float32").item(), Math.fround(0.1));
});

casting("casting to the same dtype returns the tensor itself", () => {
  const x = tensor([1.5]);
  assert.is(cast(x, "float32"), x);
});

casting("an unknown dtype is refused", () => {
  assert.throws(() => cast(tensor([1]), "int8" as DType), /cast: unknown dtype "int8"/);
  assert.throws(() => tensor([1], undefined, "half" as DType), /tensor: unknown dtype "half"/);
});

const inference = suite("tensor() dtype inference");

inference("numbers, booleans and mixtures", () => {
  assert.is(tensor([1, 2, 3]).dtype, "int32");
  assert.is(tensor([[1], [-4]]).dtype, "int32");
  assert.is(tensor(7).dtype, "int32");
  assert.is(tensor([1, 2.5]).dtype, "float32");
  assert.is(tensor(0.5).dtype, "float32");
  assert.is(tensor([true, false]).dtype, "bool");
  assert.is(tensor(true).dtype, "bool");
  // an empty list has no values to infer from: the default float
  assert.is(tensor([]).dtype, "float32");
});

inference("typed arrays keep their type (Uint8Array is bool)", () => {
  assert.is(tensor(new Float32Array([1, 2])).dtype, "float32");
  assert.is(tensor(new Float64Array([1, 2])).dtype, "float64");
  assert.is(tensor(new Int32Array([1, 2])).dtype, "int32");
  assert.is(tensor(new Uint8Array([1, 0])).dtype, "bool");
  // a Float32Array of integers stays float32: the array type wins over the values
  assert.is(tensor(new Float32Array([3])).dtype, "float32");
});

inference("an explicit dtype overrides inference and converts the values", () => {
  const t = tensor([1.7, -1.7], undefined, "int32");
  assert.is(t.dtype, "int32");
  assert.equal(t.toArray(), [1, -1]);
  assert.is(tensor([1, 2], undefined, { dtype: "float64" }).dtype, "float64");
});

const gradDtypes = suite("requiresGrad and dtypes");

gradDtypes("int32 and bool tensors cannot require grad", () => {
  for (const dtype of ["int32", "bool"] as const) {
    assert.throws(
      () => {
        of(dtype).requiresGrad = true;
      },
      (e: Error) => /requiresGrad/.test(e.message) && e.message.includes(dtype) && /float32 and float64/.test(e.message),
      dtype,
    );
    assert.throws(() => zeros([2], { dtype, requiresGrad: true }), new RegExp(`got ${dtype}`));
  }
});

gradDtypes("float32 and float64 can; switching off is always allowed", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const t = ones([2], { dtype, requiresGrad: true });
    assert.ok(t.requiresGrad);
    t.requiresGrad = false;
    assert.not.ok(t.requiresGrad);
  }
  const i = of("int32");
  i.requiresGrad = false;
  assert.not.ok(i.requiresGrad);
});

promotion.run();
weak.run();
division.run();
casting.run();
inference.run();
gradDtypes.run();

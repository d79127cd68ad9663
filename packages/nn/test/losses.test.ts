/**
 * @file Loss modules: each equals core's functional loss with the same options (values and gradients),
 * hand-computed examples of the options passing through, posWeight as a buffer, and the errors.
 */

import {
  binaryCrossEntropyWithLogits,
  type CrossEntropyOptions,
  crossEntropy,
  grad,
  mse,
  type NestedArray,
  type Reduction,
  type Tensor,
  tensor,
} from "@tsgrad/core";
import { assertClose, checkProperty, shapeArb, tolerance, valuesArb } from "@tsgrad/core/testing";
import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BCEWithLogitsLoss, CrossEntropyLoss, Linear, Module, MSELoss } from "../src/index.ts";

const F64 = tolerance("reference", "float64", "transcendental");
const EXACT = tolerance("reference", "float64", "exact");
const f64 = (values: NestedArray, shape?: number[]) => tensor(values as number[], shape, "float64");
const i32 = (values: number[], shape?: number[]) => tensor(values, shape, "int32");
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const LN2 = Math.LN2;
const LN3 = Math.log(3);

/** The module's loss and its gradient must be exactly the functional loss's: same definition, same ops. */
async function assertSameLoss(fromModule: (x: Tensor) => Tensor, fromCore: (x: Tensor) => Tensor, input: Tensor): Promise<void> {
  const x = input.detach().requiresGrad_();
  const [a, b] = [fromModule(x), fromCore(x)];
  await assertClose(a, await b.data(), EXACT, { shape: b.shape });
  const weights = f64(
    Array.from({ length: a.size }, (_, i) => i + 1),
    [...a.shape],
  );
  const [ga] = grad(a.mul(weights).sum(), [x]) as Tensor[];
  const [gb] = grad(b.mul(weights).sum(), [x]) as Tensor[];
  await assertClose(ga, await gb.data(), EXACT);
}

const reductionArb = fc.constantFrom<Reduction>("mean", "sum", "none");

// two rows used throughout: softmax([0, ln 3]) = [1/4, 3/4] and softmax([0, 0]) = [1/2, 1/2]
const ROWS = [
  [0, LN3],
  [0, 0],
];

// ---- CrossEntropyLoss -------------------------------------------------------------------------------

const ce = suite("CrossEntropyLoss");

ce("by hand: targets [1, 0] cost -ln(3/4) and -ln(1/2); each reduction", async () => {
  const targets = i32([1, 0]);
  const each = [Math.log(4 / 3), LN2];
  await assertClose(new CrossEntropyLoss().forward(f64(ROWS), targets), [(each[0] + each[1]) / 2], F64, { shape: [] });
  await assertClose(new CrossEntropyLoss({ reduction: "sum" }).forward(f64(ROWS), targets), [each[0] + each[1]], F64);
  await assertClose(new CrossEntropyLoss({ reduction: "none" }).forward(f64(ROWS), targets), each, F64, { shape: [2] });
});

ce("ignoreIndex: -100 by default; an ignored target is left out of the mean", async () => {
  // only row 0 counts: the mean is -ln(3/4) alone
  await assertClose(new CrossEntropyLoss().forward(f64(ROWS), i32([1, -100])), [Math.log(4 / 3)], F64);
  await assertClose(new CrossEntropyLoss({ ignoreIndex: 0 }).forward(f64(ROWS), i32([1, 0])), [Math.log(4 / 3)], F64);
  // "none" gives the ignored position 0
  await assertClose(new CrossEntropyLoss({ ignoreIndex: 0, reduction: "none" }).forward(f64(ROWS), i32([1, 0])), [Math.log(4 / 3), 0], F64);
});

ce("labelSmoothing ε: (1 - ε)·(-log p_target) + ε·mean_c(-log p_c)", async () => {
  // row 0 with ε = 0.5: 0.5·ln(4/3) + 0.5·(ln 4 + ln(4/3))/2; row 1: 0.5·ln 2 + 0.5·ln 2 = ln 2
  const row0 = 0.5 * Math.log(4 / 3) + 0.25 * (Math.log(4) + Math.log(4 / 3));
  const loss = new CrossEntropyLoss({ labelSmoothing: 0.5, reduction: "none" });
  await assertClose(loss.forward(f64(ROWS), i32([1, 0])), [row0, LN2], F64);
});

ce("options are copied: changing the caller's object later does not change the loss", async () => {
  const options: CrossEntropyOptions = { reduction: "sum" };
  const loss = new CrossEntropyLoss(options);
  options.reduction = "none";
  assert.equal(loss.options, { reduction: "sum" });
  assert.is(loss.forward(f64(ROWS), i32([1, 0])).rank, 0);
});

ce("property: equals crossEntropy with the same options, values and gradients", async () => {
  const cases = fc
    .record({
      lead: shapeArb({ maxRank: 2, maxDim: 3 }),
      classes: fc.integer({ min: 1, max: 4 }),
      ignoreIndex: fc.constantFrom(-100, 0),
      labelSmoothing: fc.constantFrom(0, 0.1, 1),
      reduction: reductionArb,
    })
    .chain((c) =>
      fc
        .tuple(
          valuesArb(size(c.lead) * c.classes),
          fc.array(fc.integer({ min: 0, max: c.classes - 1 }), { minLength: size(c.lead), maxLength: size(c.lead) }),
        )
        .map(([logits, targets]) => ({ ...c, logits, targets })),
    );
  await checkProperty("CrossEntropyLoss equals crossEntropy", cases, async ({ lead, classes, logits, targets, ...options }) => {
    const t = i32(targets, lead);
    const loss = new CrossEntropyLoss(options);
    await assertSameLoss(
      (x) => loss.forward(x, t),
      (x) => crossEntropy(x, t, options),
      f64(logits, [...lead, classes]),
    );
  });
});

ce("errors come from crossEntropy, naming it, what it got and what it expected", () => {
  assert.throws(
    () => new CrossEntropyLoss({ reduction: "avg" as Reduction }).forward(f64(ROWS), i32([1, 0])),
    /^crossEntropy: reduction must be "mean", "sum" or "none", got "avg"$/,
  );
  assert.throws(
    () => new CrossEntropyLoss({ labelSmoothing: 1.5 }).forward(f64(ROWS), i32([1, 0])),
    /^crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5$/,
  );
  assert.throws(
    () => new CrossEntropyLoss().forward(f64(ROWS), i32([1, 2])),
    /^crossEntropy: index 2 at flat position 1 is out of range: expected 0 <= index < 2$/,
  );
  assert.throws(
    () => new CrossEntropyLoss().forward(f64(ROWS), i32([1])),
    /^crossEntropy: logits \[2,2\] need targets of shape \[2\], got \[1\]$/,
  );
  assert.throws(() => new CrossEntropyLoss().forward(f64(ROWS), f64([1, 0])), /^crossEntropy: indices must be int32, got float64$/);
});

// ---- MSELoss ----------------------------------------------------------------------------------------

const squared = suite("MSELoss");

squared("by hand: [1, 2, 3] against [1, 0, 0] squares to [0, 4, 9]", async () => {
  const [p, t] = [f64([1, 2, 3]), f64([1, 0, 0])];
  await assertClose(new MSELoss().forward(p, t), [13 / 3], F64, { shape: [] });
  await assertClose(new MSELoss({ reduction: "sum" }).forward(p, t), [13], EXACT);
  await assertClose(new MSELoss({ reduction: "none" }).forward(p, t), [0, 4, 9], EXACT, { shape: [3] });
  assert.is(new MSELoss().reduction, "mean");
});

squared("property: equals mse with the same reduction, values and gradients", async () => {
  const cases = fc
    .record({ shape: shapeArb({ maxRank: 3, maxDim: 3 }), reduction: reductionArb })
    .chain((c) => fc.tuple(valuesArb(size(c.shape)), valuesArb(size(c.shape))).map(([a, b]) => ({ ...c, a, b })));
  await checkProperty("MSELoss equals mse", cases, async ({ shape, reduction, a, b }) => {
    const target = f64(b, shape);
    await assertSameLoss(
      (x) => new MSELoss({ reduction }).forward(x, target),
      (x) => mse(x, target, { reduction }),
      f64(a, shape),
    );
  });
});

squared("errors come from mse", () => {
  assert.throws(
    () => new MSELoss().forward(f64([1, 2]), f64([1, 2, 3])),
    /^mse: prediction \[2\] and target \[3\] must have the same shape$/,
  );
  assert.throws(
    () => new MSELoss({ reduction: "all" as Reduction }).forward(f64([1]), f64([1])),
    /^mse: reduction must be "mean", "sum" or "none", got "all"$/,
  );
});

// ---- BCEWithLogitsLoss ------------------------------------------------------------------------------

const bce = suite("BCEWithLogitsLoss");

bce("by hand: max(x, 0) - x·t + log(1 + e^{-|x|})", async () => {
  // x = 0, t = 1: 0 - 0 + ln 2; x = ln 3, t = 0: ln 3 + ln(1 + 1/3) = ln 4
  const [x, t] = [f64([0, LN3]), f64([1, 0])];
  await assertClose(new BCEWithLogitsLoss({ reduction: "none" }).forward(x, t), [LN2, 2 * LN2], F64);
  await assertClose(new BCEWithLogitsLoss().forward(x, t), [1.5 * LN2], F64, { shape: [] });
  await assertClose(new BCEWithLogitsLoss({ reduction: "sum" }).forward(x, t), [3 * LN2], F64);
});

bce("posWeight p scales the positive term: (1 - t)·x + (1 + (p - 1)·t)·(log(1 + e^{-|x|}) + max(-x, 0))", async () => {
  // x = 0, t = 1, p = 3: 0 + 3·(ln 2 + 0); x = ln 3, t = 0: ln 3 + 1·(ln(4/3) + 0) = ln 4, whatever p is
  const [x, t] = [f64([0, LN3]), f64([1, 0])];
  await assertClose(new BCEWithLogitsLoss({ posWeight: 3, reduction: "none" }).forward(x, t), [3 * LN2, 2 * LN2], F64);
  // a tensor posWeight broadcasts over the last axis: class 0 gets 3, class 1 gets 5
  const perClass = new BCEWithLogitsLoss({ posWeight: f64([3, 5]), reduction: "none" });
  await assertClose(perClass.forward(f64([0, 0, 0, 0], [2, 2]), f64([1, 1, 0, 1], [2, 2])), [3 * LN2, 5 * LN2, LN2, 5 * LN2], F64);
});

bce("a tensor posWeight is a buffer, saved with the model; a number is not", () => {
  class Model extends Module {
    fc = new Linear(2, 2);
    loss = new BCEWithLogitsLoss({ posWeight: f64([3, 5]) });
  }
  const model = new Model();
  assert.equal([...model.stateDict().keys()], ["fc.weight", "fc.bias", "loss.posWeight"]);
  assert.is(model.stateDict().get("loss.posWeight"), model.loss.posWeight);
  assert.equal([...new BCEWithLogitsLoss({ posWeight: 3 }).stateDict().keys()], []);
  assert.is(new BCEWithLogitsLoss({ posWeight: 3 }).posWeight, 3);
  // losses hold no parameters
  assert.equal(model.loss.parameters(), []);
});

bce("property: equals binaryCrossEntropyWithLogits with the same options, values and gradients", async () => {
  const cases = fc
    .record({
      shape: shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }),
      reduction: reductionArb,
      weighted: fc.constantFrom("none", "number", "tensor"),
    })
    .chain((c) =>
      fc
        .tuple(
          valuesArb(size(c.shape)),
          valuesArb(size(c.shape), { min: 0, max: 1 }),
          valuesArb(c.shape[c.shape.length - 1], { min: 0.5, max: 4 }),
        )
        .map(([x, t, w]) => ({ ...c, x, t, w })),
    );
  await checkProperty("BCEWithLogitsLoss equals binaryCrossEntropyWithLogits", cases, async ({ shape, reduction, weighted, x, t, w }) => {
    const targets = f64(t, shape);
    const posWeight = weighted === "none" ? undefined : weighted === "number" ? w[0] : f64(w, [shape[shape.length - 1]]);
    const loss = new BCEWithLogitsLoss({ posWeight, reduction });
    await assertSameLoss(
      (logits) => loss.forward(logits, targets),
      (logits) => binaryCrossEntropyWithLogits(logits, targets, { posWeight, reduction }),
      f64(x, shape),
    );
  });
});

bce("errors come from binaryCrossEntropyWithLogits", () => {
  assert.throws(
    () => new BCEWithLogitsLoss().forward(f64([1, 2]), f64([1])),
    /^binaryCrossEntropyWithLogits: logits \[2\] and targets \[1\] must have the same shape$/,
  );
  assert.throws(
    () => new BCEWithLogitsLoss({ reduction: "avg" as Reduction }).forward(f64([1]), f64([1])),
    /^binaryCrossEntropyWithLogits: reduction must be "mean", "sum" or "none", got "avg"$/,
  );
});

ce.run();
squared.run();
bce.run();

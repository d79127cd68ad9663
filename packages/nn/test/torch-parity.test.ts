/**
 * @file Reference parity with PyTorch itself: layers, losses and optimisers give the outputs and
 * gradients that torch 2.13 computed for the same inputs and weights (fixtures/torch-golden.json, made by
 * fixtures/generate-torch-golden.py), in float64.
 */

import { readFileSync } from "node:fs";
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  gelu,
  grad,
  layerNorm,
  logSoftmax,
  mul,
  type NestedArray,
  softplus,
  sum,
  type Tensor,
  tensor,
} from "@tsgrad/core";
import { assertClose } from "@tsgrad/core/testing";
import { suite } from "uvu";
import { AdamW, type Module, MultiHeadAttention, SGD, TransformerBlock } from "../src/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: the fixture is plain JSON written by the generator script
const golden: any = JSON.parse(readFileSync(new URL("./fixtures/torch-golden.json", import.meta.url), "utf8"));
const f64 = (data: NestedArray) => tensor(data as number[], undefined, "float64");
// torch sums in a different order: a few ulps of float64, far below anything a bug would produce
const tol = { atol: 1e-12, rtol: 1e-10 };

function loadWeights(module: Module, weights: Record<string, NestedArray>): void {
  module.loadStateDict(new Map(Object.entries(weights).map(([k, v]) => [k, f64(v)])));
}

/** Output and d(sum(w·out))/dx, the quantities the generator recorded. */
function outputAndInputGrad(forward: (x: Tensor) => Tensor, xData: NestedArray, wData: NestedArray): { out: Tensor; dx: Tensor } {
  const x = f64(xData).requiresGrad_();
  const out = forward(x);
  const [dx] = grad(sum(mul(out, f64(wData))), [x]);
  return { out, dx: dx as Tensor };
}

const layers = suite("layers against torch.nn");

layers("MultiHeadAttention equals torch.nn.MultiheadAttention: plain, causal, key padding", async () => {
  const { x, w, weights, cases } = golden.attention;
  for (const c of cases) {
    const mha = new MultiHeadAttention(4, 2, { dtype: "float64", causal: c.name === "causal" });
    loadWeights(mha, weights);
    const keyPaddingMask =
      c.name === "key-padding"
        ? tensor([
            [false, false, true],
            [false, false, false],
          ])
        : undefined;
    const { out, dx } = outputAndInputGrad((input) => mha.forward(input, { keyPaddingMask }), x, w);
    await assertClose(out, c.out, tol, { what: `${c.name} output` });
    await assertClose(dx, c.dx, tol, { what: `${c.name} input gradient` });
  }
});

layers("TransformerBlock equals torch.nn.TransformerEncoderLayer(norm_first=True, activation=gelu)", async () => {
  const { x, w, weights, out: expected, dx: expectedDx } = golden.block;
  const block = new TransformerBlock(4, 2, { hidden: 8, dtype: "float64" });
  loadWeights(block, weights);
  const { out, dx } = outputAndInputGrad((input) => block.forward(input), x, w);
  await assertClose(out, expected, tol, { what: "block output" });
  await assertClose(dx, expectedDx, tol, { what: "block input gradient" });
});

layers("layerNorm over two trailing axes with affine weights", async () => {
  const g = golden.layerNorm;
  const x = f64(g.x).requiresGrad_();
  const out = layerNorm(x, [3, 4], f64(g.weight), f64(g.bias));
  const positions = tensor(
    Array.from({ length: 24 }, (_, i) => i),
    [2, 3, 4],
    "float64",
  );
  const [dx] = grad(sum(mul(out, positions)), [x]);
  await assertClose(out, g.out, tol);
  await assertClose(dx as Tensor, g.dx, tol);
});

layers("gelu (both forms), softplus with beta and threshold, logSoftmax of large inputs", async () => {
  const a = golden.activations;
  const x = f64(a.x);
  await assertClose(gelu(x), a.gelu, tol, { what: "gelu" });
  await assertClose(gelu(x, { approximate: "tanh" }), a.geluTanh, tol, { what: "gelu tanh" });
  await assertClose(softplus(x, { beta: 2, threshold: 5 }), a.softplusBeta2Threshold5, tol, { what: "softplus" });
  await assertClose(logSoftmax(mul(x, 1000), 0), a.logSoftmax, tol, { what: "logSoftmax" });
});

layers.run();

const losses = suite("losses against torch.nn.functional");

losses("crossEntropy with ignore_index and label_smoothing", async () => {
  const g = golden.crossEntropy;
  const logits = f64(g.logits).requiresGrad_();
  const loss = crossEntropy(logits, tensor(g.targets, undefined, "int32"), { ignoreIndex: -100, labelSmoothing: 0.1 });
  const [d] = grad(loss, [logits]);
  await assertClose(loss, [g.loss], tol);
  await assertClose(d as Tensor, g.dlogits, tol);
});

losses("binaryCrossEntropyWithLogits with pos_weight", async () => {
  const g = golden.bce;
  const logits = f64(g.logits).requiresGrad_();
  const loss = binaryCrossEntropyWithLogits(logits, f64(g.targets), { posWeight: f64(g.posWeight) });
  const [d] = grad(loss, [logits]);
  await assertClose(loss, [g.loss], tol);
  await assertClose(d as Tensor, g.dlogits, tol);
});

losses.run();

const optimisers = suite("optimisers against torch.optim");

optimisers("three steps of AdamW (also AMSGrad) and SGD (momentum with dampening, Nesterov) from fixed gradients", async () => {
  const { initial, grads, cases } = golden.optim;
  for (const c of cases) {
    const p = f64(initial).requiresGrad_();
    const o = c.options;
    const opt = c.name.startsWith("adamw")
      ? new AdamW([p], { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay, amsgrad: o.amsgrad ?? false })
      : new SGD([p], {
          lr: o.lr,
          momentum: o.momentum,
          dampening: o.dampening ?? 0,
          nesterov: o.nesterov ?? false,
          weightDecay: o.weight_decay,
        });
    for (const [i, g] of grads.entries()) {
      p.grad = f64(g).keep();
      opt.step();
      await assertClose(p, c.steps[i], tol, { what: `${c.name} step ${i + 1}` });
    }
  }
});

optimisers.run();

/**
 * @file End to end: a small tanh MLP learns a fixed-seed noisy 2-D XOR set to 100 % training accuracy,
 * with AdamW (nanoGPT's recipe: decay groups, warmup then cosine, gradient clipping) and with SGD plus
 * momentum, each within the number of steps its test name states.
 */

import { argmax, crossEntropy, eq, Generator, mean, memory, type Tensor, tensor, tidy } from "@tsgrad/core";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  AdamW,
  type BaseOptions,
  clipGradNorm,
  constant,
  decayGroups,
  Linear,
  LRScheduler,
  Module,
  type Optimizer,
  type Schedule,
  SGD,
  warmupCosine,
} from "../src/index.ts";

// ---- data: 200 points uniform in [-1, 1]², class 1 where x·y < 0, a 0.05 band around the axes left out
// so that the classes are separable by a margin (else 100 % would hinge on a point on the boundary)
const POINTS = 200;
const coords: number[] = [];
const labels: number[] = [];
const rng = new Generator(0);
while (labels.length < POINTS) {
  const [x, y] = rng.uniform(2, -1, 1);
  if (Math.abs(x) < 0.05 || Math.abs(y) < 0.05) continue;
  coords.push(x, y);
  labels.push(x * y < 0 ? 1 : 0);
}
const X = tensor(coords, [POINTS, 2]).keep(); // (N, 2)
const Y = tensor(labels, [POINTS], "int32").keep(); // (N,)

// Tanh comes from core: the activation modules are another part of this package
class MLP extends Module {
  fc1 = new Linear(2, 16, { generator: new Generator(1) });
  fc2 = new Linear(16, 2, { generator: new Generator(2) });

  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh()); // (N, 2) logits
  }
}

interface Result {
  accuracy: number;
  loss: number;
  firstPerfect: number | null;
}

/** Trains for `steps` steps; reads accuracy back every step (asynchronously) to report when it first hit 100 %. */
async function train(model: MLP, opt: Optimizer<BaseOptions>, schedule: Schedule, steps: number, maxNorm?: number): Promise<Result> {
  const scheduler = new LRScheduler(opt, schedule);
  let firstPerfect: number | null = null;
  let accuracy = 0;
  let loss = Number.NaN;
  for (let step = 1; step <= steps; step++) {
    const [lossT, accT] = tidy(() => {
      const logits = model.forward(X);
      const l = crossEntropy(logits, Y);
      l.backward();
      if (maxNorm !== undefined) clipGradNorm(model.parameters(), maxNorm);
      opt.step();
      return [l, mean(eq(argmax(logits, -1), Y))];
    });
    scheduler.step();
    opt.zeroGrad();
    [loss, accuracy] = [await lossT.itemAsync(), await accT.itemAsync()];
    lossT.dispose();
    accT.dispose();
    if (accuracy === 1 && firstPerfect === null) firstPerfect = step;
  }
  return { accuracy, loss, firstPerfect };
}

const mlp = suite("a small MLP learns a noisy 2-D XOR set");

mlp("AdamW (decay groups, warmup + cosine, clipping at 1) reaches 100 % within 100 steps", async () => {
  const before = memory().numTensors;
  const model = new MLP();
  const opt = new AdamW(decayGroups(model.namedParameters(), 0.01), { lr: 0.05 });
  const result = await train(model, opt, warmupCosine({ lr: 0.05, minLr: 0.005, warmupSteps: 10, totalSteps: 100 }), 100, 1);
  assert.is(result.accuracy, 1, `final accuracy ${result.accuracy} (first 100 % at step ${result.firstPerfect})`);
  assert.ok(result.loss < 0.1, `final loss ${result.loss}`);
  opt.disposeState();
  for (const p of model.parameters()) p.dispose();
  assert.is(memory().numTensors, before, "nothing is left behind");
});

mlp("SGD with momentum 0.9 (lr 0.1) reaches 100 % within 200 steps", async () => {
  const model = new MLP();
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const result = await train(model, opt, constant(0.1), 200);
  assert.is(result.accuracy, 1, `final accuracy ${result.accuracy} (first 100 % at step ${result.firstPerfect})`);
  assert.ok(result.loss < 0.2, `final loss ${result.loss}`);
  opt.disposeState();
  for (const p of model.parameters()) p.dispose();
});

mlp("the XOR set is not linearly separable: a linear model trained the same way stays far from 100 %", async () => {
  class LinearModel extends MLP {
    override forward(x: Tensor): Tensor {
      return this.fc2.forward(this.fc1.forward(x)); // no tanh: one affine map
    }
  }
  const model = new LinearModel();
  const opt = new AdamW(model.parameters(), { lr: 0.05 });
  const result = await train(model, opt, constant(0.05), 100);
  assert.ok(result.accuracy < 0.8, `a linear model reached ${result.accuracy}`);
  opt.disposeState();
  for (const p of model.parameters()) p.dispose();
});

mlp.run();

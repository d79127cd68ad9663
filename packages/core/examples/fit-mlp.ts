/**
 * @file The end-to-end example: a two-layer MLP learns to separate two interleaved spirals, with
 * tsgrad's autodiff and a hand-written SGD-with-momentum step, printing its loss as it falls.
 *
 *     npm run demo -- --steps 500 --hidden 32 --lr 0.3 --seed 0
 */

import { parseArgs } from "node:util";
import {
  argmax,
  closeBackends,
  crossEntropy,
  eq,
  getBackend,
  manualSeed,
  mean,
  noGrad,
  randn,
  ready,
  setBackend,
  type Tensor,
  tensor,
  tidy,
  zeros,
  zerosLike,
} from "../src/index.ts";

const HELP = `Fits a two-layer MLP (2 -> hidden -> 2, tanh) to two interleaved spirals and prints the loss.

Options:
  --steps N     training steps (default 500)
  --hidden N    hidden units (default 32)
  --lr X        learning rate of SGD with momentum 0.9 (default 0.3)
  --points N    points per spiral (default 100)
  --seed N      seed of the data and the initialisation (default 0)
  --backend B   wasm, reference, gpujs:webasm, gpujs:cpu or gpujs:webgpu (default: $TSGRAD_BACKEND, else wasm)
  -h, --help    show this text`;

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "500" },
    hidden: { type: "string", default: "32" },
    lr: { type: "string", default: "0.3" },
    points: { type: "string", default: "100" },
    seed: { type: "string", default: "0" },
    backend: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const number = (name: keyof typeof args, integer: boolean): number => {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    console.error(`fit-mlp: --${name} must be a positive ${integer ? "integer" : "number"}, got "${args[name]}"\n\n${HELP}`);
    process.exit(2);
  }
  return value;
};
const steps = number("steps", true);
const hidden = number("hidden", true);
const lr = number("lr", false);
const points = number("points", true);
manualSeed(Number(args.seed));
try {
  if (args.backend) await setBackend(args.backend);
  else await ready();
} catch (error) {
  console.error(`fit-mlp: ${(error as Error).message}`);
  process.exit(2);
}

// ---- data: two spirals, 2-D points with class 0 or 1 ----
const noise = randn([2 * points, 2]).mul(0.08);
const coords: number[] = [];
const labels: number[] = [];
for (let c = 0; c < 2; c++) {
  for (let i = 0; i < points; i++) {
    const r = (i / points) * 2.5 + 0.2; // radius grows along the arm
    const angle = (i / points) * 3 * Math.PI + c * Math.PI; // the second arm is the first turned by π
    coords.push(r * Math.cos(angle), r * Math.sin(angle));
    labels.push(c);
  }
}
const x = tensor(coords, [2 * points, 2]).add(noise); // (N, 2)
const y = tensor(labels, [2 * points], "int32"); // (N,)

// ---- model: logits = tanh(x·W1 + b1)·W2 + b2, weights scaled as Xavier ----
const params: Tensor[] = [
  randn([2, hidden]).mul(Math.sqrt(1 / 2)), // W1 (2, H)
  zeros([hidden]), // b1 (H,)
  randn([hidden, 2]).mul(Math.sqrt(1 / hidden)), // W2 (H, 2)
  zeros([2]), // b2 (2,)
].map((p) => p.requiresGrad_().keep());
const velocity = params.map((p) => zerosLike(p).keep());

const forward = (input: Tensor): Tensor => {
  const [w1, b1, w2, b2] = params;
  return input.matmul(w1).add(b1).tanh().matmul(w2).add(b2); // (N, 2)
};

console.log(`two spirals: ${2 * points} points, MLP 2-${hidden}-2, SGD lr ${lr} momentum 0.9, ${steps} steps`);
const started = performance.now();
for (let step = 1; step <= steps; step++) {
  // tidy frees every temporary of the step; parameters, velocities and .grad are kept
  const loss = tidy(() => {
    const loss = crossEntropy(forward(x), y);
    loss.backward();
    noGrad(() => {
      params.forEach((p, i) => {
        velocity[i].assign(velocity[i].mul(0.9).add(p.grad as Tensor));
        p.assign(p.sub(velocity[i].mul(lr)));
        p.zeroGrad();
      });
    });
    return loss;
  });
  if (step === 1 || step % Math.max(1, Math.floor(steps / 10)) === 0 || step === steps) {
    console.log(`step ${String(step).padStart(5)}  loss ${(await loss.itemAsync()).toFixed(4)}`);
  }
  loss.dispose();
}
const accuracy = tidy(() => noGrad(() => mean(eq(argmax(forward(x), 1), y))));
console.log(
  `accuracy ${((await accuracy.itemAsync()) * 100).toFixed(1)}% after ${((performance.now() - started) / 1000).toFixed(1)} s on ${getBackend().name}`,
);
// a WebGPU device keeps the process alive until it is released; if Dawn still holds on, exit anyway
await closeBackends();
setTimeout(() => process.exit(0), 2000).unref();

/**
 * @file Layers on the wasm and gpujs backends equal the reference backend: MultiHeadAttention and the transformer
 * block (outputs, input gradients and every parameter's gradient), and a 50-step training run of a
 * one-block transformer (its loss curve). Layers are compared normwise: max|actual - expected| must stay
 * within atol + rtol·max|expected| of the tensor, with the matmul tolerance of the backend, because each
 * output element mixes many products and has no single magnitude of its own.
 */

import { type Backend, crossEntropy, Generator, ReferenceBackend, type Tensor, tensor, tidy, useBackend } from "@tsgrad/core";
import { assertArrayClose, assertNormwiseClose, closeBackendsAndExit, parityBackends, tolerance } from "@tsgrad/core/testing/node";
import { suite } from "uvu";
import { AdamW, Embedding, LayerNorm, Linear, Module, MultiHeadAttention, TransformerBlock } from "../src/index.ts";

const reference = new ReferenceBackend();
const backends = await parityBackends("layer parity");

/** Output, input gradient and parameter gradients of `make()`'s module on `backend` for a fixed input. */
async function runLayer(backend: Backend, make: () => Module & { forward(x: Tensor): Tensor }, shape: number[], seed: number) {
  useBackend(backend);
  const module = make();
  const g = new Generator(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tensor(Array.from(g.normal(size)), shape, { dtype: "float32", backend }).requiresGrad_();
  const out = module.forward(x);
  const upstream = tensor(Array.from(g.normal(out.size)), out.shape, { dtype: "float32", backend });
  out.backward(upstream);
  const result = {
    out: await out.data(),
    dx: await (x.grad as Tensor).data(),
    params: await Promise.all(module.namedParameters().map(async ([name, p]) => [name, await (p.grad as Tensor).data()] as const)),
  };
  for (const t of [x, out, upstream]) t.dispose();
  return result;
}

const layers = suite("layers on every gpujs backend equal the reference backend");

const cases: [string, () => Module & { forward(x: Tensor): Tensor }, number[]][] = [
  ["MultiHeadAttention", () => new MultiHeadAttention(8, 2, { generator: new Generator(1) }), [2, 5, 8]],
  ["causal MultiHeadAttention", () => new MultiHeadAttention(12, 3, { causal: true, generator: new Generator(2) }), [3, 4, 12]],
  ["TransformerBlock", () => new TransformerBlock(8, 2, { hidden: 16, generator: new Generator(3) }), [2, 6, 8]],
  ["causal TransformerBlock", () => new TransformerBlock(16, 4, { causal: true, hidden: 32, generator: new Generator(4) }), [2, 7, 16]],
];

for (const [name, make, shape] of cases) {
  layers(`${name}: outputs, input gradients and parameter gradients`, async () => {
    for (const seed of [0, 1, 2]) {
      const expected = await runLayer(reference, make, shape, seed);
      for (const backend of backends) {
        const actual = await runLayer(backend, make, shape, seed);
        assertNormwiseClose(actual.out, expected.out, backend, `${name} output on ${backend.name}`);
        assertNormwiseClose(actual.dx, expected.dx, backend, `${name} input gradient on ${backend.name}`);
        actual.params.forEach(([param, grad], i) => {
          assertNormwiseClose(grad, expected.params[i][1], backend, `${name} gradient of ${param} on ${backend.name}`);
        });
      }
    }
  });
}
layers.run();

class TinyTransformer extends Module {
  tokens = new Embedding(7, 16, { generator: new Generator(1) });
  block = new TransformerBlock(16, 2, { causal: true, hidden: 32, generator: new Generator(2) });
  norm = new LayerNorm(16);
  head = new Linear(16, 7, { generator: new Generator(3) });

  forward(ids: Tensor): Tensor {
    return this.head.forward(this.norm.forward(this.block.forward(this.tokens.forward(ids))));
  }
}

async function transformerLosses(backend: Backend, steps: number): Promise<number[]> {
  useBackend(backend);
  const model = new TinyTransformer();
  const opt = new AdamW(model.parameters(), { lr: 3e-3 });
  const rng = new Generator(5);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const ids = Array.from(rng.integers(8 * 6, 0, 7));
    const inputs = tensor(ids, [8, 6], "int32");
    const targets = tensor([...ids.slice(1), ids[0]], [8, 6], "int32");
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(inputs), targets);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    losses.push(await loss.itemAsync());
    for (const t of [loss, inputs, targets]) t.dispose();
  }
  return losses;
}

const training = suite("a one-block transformer trains to the same loss curve on every gpujs backend");

training("50 AdamW steps", async () => {
  const expected = await transformerLosses(reference, 50);
  for (const backend of backends) {
    const actual = await transformerLosses(backend, 50);
    // each step adds a matmul-sized rounding difference that training carries on: the bound grows per step
    const tol = tolerance(backend.name, "float32", "matmul");
    for (let i = 0; i < expected.length; i++) {
      assertArrayClose(
        [actual[i]],
        [expected[i]],
        { atol: tol.atol * (i + 1), rtol: tol.rtol * (i + 1) },
        {
          what: `loss at step ${i + 1} on ${backend.name}`,
        },
      );
    }
  }
});
training.after(closeBackendsAndExit);
training.run();

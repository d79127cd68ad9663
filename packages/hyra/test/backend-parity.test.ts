/**
 * @file Adapters on the wasm and gpujs backends equal the reference backend: LoRA, MH-LoRA, HyRA and VeRA on q and v
 * of a tiny encoder, with random (non-zero) adapter weights, give the same outputs and the same
 * gradients of every trainable parameter. Compared normwise, as the layer parity in @tsgrad/nn is:
 * each output mixes many products and has no single magnitude of its own.
 */

import { type Backend, Generator, noGrad, ReferenceBackend, sum, type Tensor, tensor, useBackend } from "@tsgrad/core";
import { assertNormwiseClose, closeBackendsAndExit, parityBackends } from "@tsgrad/core/testing/node";
import { suite } from "uvu";
import { getPeftModel, type PeftConfigInput } from "../src/index.ts";
import { tinyEncoder } from "./support/models.ts";

const reference = new ReferenceBackend();
const backends = await parityBackends("adapter parity");

/** The adapted model's output and the gradients of its trainable parameters, on `backend`. */
async function run(backend: Backend, config: PeftConfigInput) {
  useBackend(backend);
  const peft = getPeftModel(tinyEncoder({ d: 16, heads: 4, layers: 2 }), config);
  const g = new Generator(11);
  // random adapter weights, so that the adapter path really contributes (zero init would hide it)
  noGrad(() => {
    for (const p of peft.trainableParameters()) p.assign(tensor(Array.from(g.normal(p.size, 0, 0.3)), p.shape, { backend }));
  });
  const x = tensor(Array.from(g.normal(2 * 5 * 16)), [2, 5, 16], { backend });
  const out = peft.forward(x) as Tensor;
  const upstream = tensor(Array.from(g.normal(out.size)), out.shape, { backend });
  sum(out.mul(upstream)).backward();
  const named = peft.model.namedParameters().filter(([, p]) => p.requiresGrad);
  return {
    out: await out.data(),
    grads: await Promise.all(named.map(async ([name, p]) => [name, await (p.grad as Tensor).data()] as const)),
  };
}

console.log(`adapter parity on ${backends.map((b) => b.name).join(", ")}`);
const adapters = suite("adapters on every gpujs backend equal the reference backend");

const configs: [string, PeftConfigInput][] = [
  ["LoRA", { method: "lora", r: 4, alpha: 8, targetModules: ["q", "v"] }],
  ["MH-LoRA", { method: "mh-lora", r: 2, alpha: 4 }],
  ["HyRA", { method: "hyra", r: 4, alpha: 8 }],
  [
    "HyRA, tanh, rank-axis mixing, per-head generator",
    { method: "hyra", r: 3, alpha: 6, activation: "tanh", mixing: "rank", perHeadGenerator: true },
  ],
  ["HyRA with compact head embeddings", { method: "hyra", r: 3, alpha: 6, headEmbedding: 2 }],
  ["VeRA", { method: "vera", r: 6, targetModules: ["q", "v", "up"] }],
];

for (const [name, config] of configs) {
  adapters(`${name}: outputs and the gradients of every trainable parameter`, async () => {
    const expected = await run(reference, config);
    for (const backend of backends) {
      const actual = await run(backend, config);
      assertNormwiseClose(actual.out, expected.out, backend, `${name} output on ${backend.name}`);
      actual.grads.forEach(([param, grad], i) => {
        assertNormwiseClose(grad, expected.grads[i][1], backend, `${name} gradient of ${param} on ${backend.name}`);
      });
    }
  });
}
adapters.after(closeBackendsAndExit);
adapters.run();

/** @file tsgrad as a benchmarked library: starts one backend by its registered name and implements every case kind with tsgrad's public API. */

import {
  type Backend,
  closeBackends,
  crossEntropy,
  exp,
  flatten,
  Generator,
  gelu,
  layerNorm,
  matmul,
  max,
  mean,
  mse,
  narrow,
  noGrad,
  setBackend,
  softmax,
  sum,
  type Tensor,
  tensor,
  tidy,
} from "@tsgrad/core";
import { getPeftModel } from "@tsgrad/hyra";
import { AdamW, Embedding, LayerNorm, LearnedPositionEmbedding, Linear, Module, ModuleList, TransformerBlock } from "@tsgrad/nn";
import { CHAIN_STEP, chainSteps } from "./cases/chain.ts";
import { ADAMW, ADAPTER_PREFIX, adapterNames, adapterShape, LN_EPS, parameterNames } from "./cases/encoder.ts";
import type { CaseSpec, HostTensor, HostTensors, Library, Runner } from "./types.ts";

const upload = (h: HostTensor): Tensor => tensor(h.data, h.shape).keep();

/** Reads back one element of `t`: on a backend that queues work, that waits for everything before it. */
async function touch(t: Tensor): Promise<void> {
  const first = tidy(() => narrow(flatten(t), 0, 0, 1));
  await first.data();
  first.dispose();
}

/** A runner whose call makes one new tensor (the previous one is disposed). */
function tensorRunner(make: () => Tensor, keep: Tensor[]): Runner {
  let last: Tensor | null = null;
  return {
    call() {
      last?.dispose();
      last = tidy(make).keep();
    },
    sync: () => touch(last!),
    async outputs() {
      await this.call();
      return { out: (await last!.data()) as Float32Array };
    },
    dispose() {
      last?.dispose();
      for (const t of keep) t.dispose();
    },
  };
}

function encoderRunner(spec: Extract<CaseSpec["params"], { kind: "encoder" }>, inputs: HostTensors): Runner {
  const block = new TransformerBlock(spec.dModel, spec.heads, { hidden: spec.hidden, eps: LN_EPS });
  const weights = new Map(parameterNames(inputs).map((name) => [name, upload(inputs[name])]));
  block.loadStateDict(weights); // strict: a renamed or reshaped parameter in @tsgrad/nn fails here, loudly
  for (const w of weights.values()) w.dispose();
  let model: { forward(x: Tensor): Tensor; parameters(): Tensor[] } = block;
  let trainable: Tensor[] = block.parameters();
  if (spec.adapter !== "none") {
    const { r, alpha } = adapterShape(spec);
    const peft = getPeftModel(block, { method: spec.adapter, r, alpha, targetModules: ["q", "v"] });
    const tensors = new Map(adapterNames(inputs).map((name) => [`base_model.model.${name}`, upload(inputs[ADAPTER_PREFIX + name])]));
    peft.setAdapterStateDict("default", tensors); // strict, as the load above
    for (const t of tensors.values()) t.dispose();
    model = peft;
    trainable = peft.trainableParameters();
  }
  const x = upload(inputs.x);
  const target = upload(inputs.target);
  const keep = [x, target];
  if (!spec.train) {
    block.eval();
    return tensorRunner(() => noGrad(() => model.forward(x)), keep);
  }
  const { lr, beta1, beta2, eps, weightDecay } = ADAMW;
  const optimizer = new AdamW(trainable, { lr, betas: [beta1, beta2], eps, weightDecay });
  return trainingRunner(
    () => mse(model.forward(x), target),
    optimizer,
    () => {
      for (const t of keep) t.dispose();
      for (const p of model.parameters()) p.dispose();
    },
  );
}

/**
 * A runner whose call is one training step (the loss, backward, the optimiser's step); its outputs are
 * the loss before a step and the change that step made, which checks the gradients and the optimiser.
 */
function trainingRunner(lossOf: () => Tensor, optimizer: AdamW, release: () => void): Runner {
  let loss: Tensor | null = null;
  const step = () => {
    loss?.dispose();
    loss = tidy(() => {
      const l = lossOf();
      l.backward();
      optimizer.step();
      optimizer.zeroGrad();
      return l;
    }).keep();
  };
  return {
    call: step,
    sync: () => touch(loss!),
    async outputs() {
      if (!loss) step();
      const before = (await loss!.data())[0];
      step();
      const after = (await loss!.data())[0];
      return { loss: Float32Array.of(before), lossDelta: Float32Array.of(after - before) };
    },
    dispose() {
      loss?.dispose();
      release();
      optimizer.disposeState();
    },
  };
}

/** The study's classifier (cases/finetune.ts), built from @tsgrad/nn with seeded initialisation, so every backend starts from the same weights. */
class Classifier extends Module {
  tokens: Embedding;
  positions: LearnedPositionEmbedding;
  blocks: ModuleList;
  norm: LayerNorm;
  head: Linear;

  constructor(p: Extract<CaseSpec["params"], { kind: "finetune" }>) {
    super();
    const g = new Generator(1234);
    this.tokens = new Embedding(p.vocab, p.dModel, { generator: g });
    this.positions = new LearnedPositionEmbedding(p.seq, p.dModel, { generator: g });
    this.blocks = new ModuleList(
      Array.from({ length: p.layers }, () => new TransformerBlock(p.dModel, p.heads, { hidden: p.hidden, generator: g })),
    );
    this.norm = new LayerNorm(p.dModel);
    this.head = new Linear(p.dModel, p.classes, { generator: g });
  }

  forward(ids: Tensor): Tensor {
    let x = this.tokens.forward(ids).add(this.positions.forward(ids.shape[1])); // (B, T, d)
    for (const block of this.blocks.items) x = (block as TransformerBlock).forward(x);
    return this.head.forward(mean(this.norm.forward(x), 1)); // (B, classes)
  }
}

function finetuneRunner(spec: Extract<CaseSpec["params"], { kind: "finetune" }>, inputs: HostTensors): Runner {
  const classifier = new Classifier(spec);
  let model: { forward(x: Tensor): Tensor; parameters(): Tensor[] } = classifier;
  let trainable: Tensor[] = classifier.parameters();
  if (spec.method !== "full") {
    const peft = getPeftModel(classifier, { method: spec.method, r: 8, alpha: 16, targetModules: ["q", "v"], modulesToSave: ["head"] });
    // non-zero B factors, so that the adapters change the loss from the first step
    const g = new Generator(99);
    noGrad(() => {
      for (const p of peft.trainableParameters()) p.assign(tensor(Array.from(g.normal(p.size, 0, 0.02)), p.shape));
    });
    model = peft;
    trainable = peft.trainableParameters();
  }
  const ids = tensor(Int32Array.from(inputs.ids.data), inputs.ids.shape, "int32").keep();
  const labels = tensor(Int32Array.from(inputs.labels.data), inputs.labels.shape, "int32").keep();
  const optimizer = new AdamW(trainable, { lr: 1e-3, weightDecay: 1e-2 });
  return trainingRunner(
    () => crossEntropy(model.forward(ids), labels),
    optimizer,
    () => {
      ids.dispose();
      labels.dispose();
      for (const p of model.parameters()) p.dispose();
    },
  );
}

function chainRunner(spec: Extract<CaseSpec["params"], { kind: "chain" }>, inputs: HostTensors): Runner {
  const x = upload(inputs.x).requiresGrad_();
  const steps = chainSteps(spec);
  let value: Tensor | null = null;
  return {
    call() {
      value?.dispose();
      x.zeroGrad();
      value = tidy(() => {
        let h = x;
        for (let s = 0; s < steps; s++) {
          for (const op of CHAIN_STEP) h = op.op === "mul" ? h.mul(op.value) : op.op === "add" ? h.add(op.value) : h.tanh();
        }
        const y = h.sum();
        y.backward();
        return y;
      }).keep();
    },
    sync: () => touch(x.grad!),
    async outputs() {
      await this.call();
      return { value: (await value!.data()) as Float32Array, grad: (await x.grad!.data()) as Float32Array };
    },
    dispose() {
      value?.dispose();
      x.zeroGrad();
      x.dispose();
    },
  };
}

export function tsgradRunner(spec: CaseSpec, inputs: HostTensors): Runner {
  const p = spec.params;
  switch (p.kind) {
    case "matmul": {
      const [a, b] = [upload(inputs.a), upload(inputs.b)];
      return tensorRunner(() => matmul(a, b, { transposeA: p.transposeA, transposeB: p.transposeB }), [a, b]);
    }
    case "binary": {
      const [a, b] = [upload(inputs.a), upload(inputs.b)];
      return tensorRunner(() => (p.op === "add" ? a.add(b) : a.mul(b)), [a, b]);
    }
    case "unary": {
      const x = upload(inputs.x);
      return tensorRunner(() => (p.op === "exp" ? exp(x) : gelu(x)), [x]);
    }
    case "softmax": {
      const x = upload(inputs.x);
      return tensorRunner(() => softmax(x, -1), [x]);
    }
    case "layerNorm": {
      const x = upload(inputs.x);
      return tensorRunner(() => layerNorm(x, [p.cols], undefined, undefined, LN_EPS), [x]);
    }
    case "reduce": {
      const x = upload(inputs.x);
      return tensorRunner(() => (p.op === "sum" ? sum(x, -1) : max(x, -1)), [x]);
    }
    case "encoder":
      return encoderRunner(p, inputs);
    case "chain":
      return chainRunner(p, inputs);
    case "finetune":
      return finetuneRunner(p, inputs);
  }
}

/**
 * The highest `backend.memory().bytes` seen after any kernel during fn (inputs, weights and results
 * included): the backend's own peak, measured by wrapping its methods for the duration of one call.
 */
async function backendPeakBytes<T>(backend: Backend, fn: () => Promise<T>): Promise<[T, number]> {
  let peak = backend.memory().bytes;
  const target = backend as unknown as Record<string, unknown>;
  const wrapped: string[] = [];
  for (let proto = Object.getPrototypeOf(backend); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = target[name];
      if (name === "constructor" || name === "memory" || typeof method !== "function" || wrapped.includes(name)) continue;
      if (Object.hasOwn(target, name)) continue;
      wrapped.push(name);
      target[name] = (...args: unknown[]) => {
        const result = (method as (...a: unknown[]) => unknown).apply(backend, args);
        peak = Math.max(peak, backend.memory().bytes);
        return result;
      };
    }
  }
  try {
    const result = await fn();
    return [result, peak];
  } finally {
    for (const name of wrapped) delete target[name];
  }
}

/** Starts the backend registered as `name`; a tiny computation read back proves it runs here. */
export async function startTsgrad(name: string, options: Record<string, unknown> = {}): Promise<Library> {
  const backend = await setBackend(name, options);
  // a backend with worker threads is measured once they all run
  await (backend as { ready?: Promise<void> }).ready;
  const probe = tensor(Float32Array.of(1, 2, 3)).mul(2);
  const values = await probe.data();
  probe.dispose();
  if (values[2] !== 6) throw new Error(`backend "${name}" computed 3·2 = ${values[2]}`);
  // a backend may describe itself further (mode, device, threads): every plain field it has is a fact
  const extra: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(backend)) {
    if (key !== "name" && ["string", "number", "boolean"].includes(typeof value)) extra[key] = value as string | number | boolean;
  }
  return {
    facts: () => ({ library: "tsgrad", backend: backend.name, ...extra }),
    prepare: async (spec, inputs) => tsgradRunner(spec, inputs),
    peakBytes: (fn) => backendPeakBytes(backend, fn),
    close: closeBackends,
  };
}

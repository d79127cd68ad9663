/**
 * @file TensorFlow.js as a peer: every case written with tfjs ops as a tfjs user would (tf.variableGrads
 * and tf.train.adam for the training step), on the backend given (cpu, or wasm from tfjs-backend-wasm).
 */

import type * as TF from "@tensorflow/tfjs";
import { CHAIN_STEP, chainSteps } from "../cases/chain.ts";
import { ADAMW, ADAPTER_PREFIX, adapterNames, adapterShape, LN_EPS, parameterNames } from "../cases/encoder.ts";
import type { CaseParams, CaseSpec, HostTensors, Library, Runner } from "../types.ts";

type Tf = typeof TF;
type Encoder = Extract<CaseParams, { kind: "encoder" }>;

/** Variable names are global in tfjs; a counter keeps those of successive runners apart. */
let runnerCount = 0;

function layerNorm(tf: Tf, x: TF.Tensor, weight?: TF.Tensor, bias?: TF.Tensor): TF.Tensor {
  const centered = tf.sub(x, tf.mean(x, -1, true));
  let out = tf.mul(centered, tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), LN_EPS)));
  if (weight) out = tf.mul(out, weight);
  if (bias) out = tf.add(out, bias);
  return out;
}

/** tfjs has no GELU op: the exact form, x·Φ(x) = x/2·(1 + erf(x/√2)). */
function gelu(tf: Tf, x: TF.Tensor): TF.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** The low-rank path s·B·(A·t) that the adapter (if any) adds to q and v, per projection. */
function adapterPaths(tf: Tf, a: Record<string, TF.Tensor>, p: Encoder): ((t: TF.Tensor, proj: string) => TF.Tensor) | null {
  const { r, alpha, m, headSize: dh } = adapterShape(p);
  const s = alpha / r;
  const lowRank = (t: TF.Tensor, A: TF.Tensor, B: TF.Tensor) => tf.mul(tf.matMul(tf.matMul(t, A, false, true), B, false, true), s);
  if (p.adapter === "lora") return (t, proj) => lowRank(t, a[`attn.${proj}.lora_A.weight`], a[`attn.${proj}.lora_B.weight`]);
  if (p.adapter !== "hyra") return null;
  // the generators run once per forward, for q and v together
  const H = p.heads;
  const hiddenA = gelu(tf, tf.matMul(a["attn.hyra.theta_A.U"], a["attn.hyra.seed_A"])); // (m, d)
  const hiddenB = gelu(tf, tf.matMul(tf.broadcastTo(a["attn.hyra.theta_B.U"], [H, m, dh]), a["attn.hyra.seed_B"])); // (H, m, r)
  const factors = new Map(
    ["q", "v"].map((proj) => {
      const A = tf.matMul(a[`attn.hyra.theta_A.P.${proj}`], hiddenA); // (r, d)
      const B = tf.reshape(tf.matMul(tf.broadcastTo(a[`attn.hyra.theta_B.P.${proj}`], [H, dh, m]), hiddenB), [H * dh, r]); // (H·d_h, r)
      return [proj, { A, B }] as const;
    }),
  );
  return (t, proj) => lowRank(t, factors.get(proj)!.A, factors.get(proj)!.B);
}

/** The pre-LN encoder layer of cases/encoder.ts, with weights (out, in) as @tsgrad/nn stores them. */
function encoderForward(tf: Tf, w: Record<string, TF.Tensor>, a: Record<string, TF.Tensor>, x: TF.Tensor, p: Encoder): TF.Tensor {
  const { batch: B, seq: T, dModel: C, heads: H } = p;
  const D = C / H;
  const linear = (t: TF.Tensor, name: string) => tf.add(tf.matMul(t, w[`${name}.weight`], false, true), w[`${name}.bias`]);
  const adapted = adapterPaths(tf, a, p);
  const project = (t: TF.Tensor, proj: string) => {
    const base = linear(t, `attn.${proj}`);
    return adapted && proj !== "k" ? tf.add(base, adapted(t, proj)) : base;
  };
  const split = (t: TF.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]); // (B, H, T, D)
  const rows = tf.reshape(x, [B * T, C]);
  const h1 = layerNorm(tf, rows, w["ln1.weight"], w["ln1.bias"]);
  const [q, k, v] = ["q", "k", "v"].map((proj) => split(project(h1, proj)));
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)); // (B, H, T, T)
  const attended = tf.matMul(tf.softmax(scores), v); // (B, H, T, D)
  const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [B * T, C]);
  const h = tf.add(rows, linear(merged, "attn.o"));
  const mlp = linear(gelu(tf, linear(layerNorm(tf, h, w["ln2.weight"], w["ln2.bias"]), "mlp.up")), "mlp.down");
  return tf.reshape(tf.add(h, mlp), [B, T, C]);
}

/** Reads back one element: tfjs's cpu and wasm kernels are synchronous, but this keeps every library alike. */
async function touch(tf: Tf, t: TF.Tensor): Promise<void> {
  const first = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await first.data();
  first.dispose();
}

function tensorRunner(tf: Tf, make: () => TF.Tensor, keep: TF.Tensor[]): Runner {
  let last: TF.Tensor | null = null;
  return {
    call() {
      last?.dispose();
      last = tf.tidy(make);
    },
    sync: () => touch(tf, last!),
    async outputs() {
      await this.call();
      return { out: (await last!.data()) as Float32Array };
    },
    dispose() {
      last?.dispose();
      tf.dispose(keep);
    },
  };
}

function encoderRunner(tf: Tf, p: Encoder, inputs: HostTensors): Runner {
  const x = tf.tensor(inputs.x.data, inputs.x.shape);
  const target = tf.tensor(inputs.target.data, inputs.target.shape);
  const prefix = `runner${runnerCount++}/`;
  const tensor = (name: string) => tf.tensor(inputs[name].data, inputs[name].shape);
  // with adapters, the layer is frozen: its weights are plain tensors and only the adapters are variables
  const trainsLayer = p.train && p.adapter === "none";
  const weights: Record<string, TF.Tensor> = {};
  for (const name of parameterNames(inputs)) weights[name] = trainsLayer ? tf.variable(tensor(name), true, prefix + name) : tensor(name);
  const adapters: Record<string, TF.Tensor> = {};
  for (const name of adapterNames(inputs)) adapters[name] = tf.variable(tensor(ADAPTER_PREFIX + name), true, prefix + name);
  const owned = [x, target, ...Object.values(weights), ...Object.values(adapters)];
  if (!p.train) return tensorRunner(tf, () => encoderForward(tf, weights, adapters, x, p), owned);

  const variables = (trainsLayer ? Object.values(weights) : Object.values(adapters)) as TF.Variable[];
  const { lr, beta1, beta2, eps, weightDecay } = ADAMW;
  // tfjs's default epsilon is the backend's (1e-7 for float32): pass AdamW's 1e-8 explicitly
  const optimizer = tf.train.adam(lr, beta1, beta2, eps);
  let loss: TF.Scalar | null = null;
  const step = () => {
    loss?.dispose();
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(tf.sub(encoderForward(tf, weights, adapters, x, p), target))),
      variables,
    );
    // AdamW's decoupled decay, as torch does it: p·(1 − lr·wd), then the Adam step from the same gradient
    tf.tidy(() => {
      for (const v of variables) v.assign(tf.mul(v, 1 - lr * weightDecay));
    });
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    tf.dispose(grads);
    loss = value;
  };
  return {
    call: step,
    sync: () => touch(tf, loss!),
    async outputs() {
      const before = (await loss!.data())[0];
      step();
      const after = (await loss!.data())[0];
      return { loss: Float32Array.of(before), lossDelta: Float32Array.of(after - before) };
    },
    dispose() {
      loss?.dispose();
      optimizer.dispose();
      tf.dispose(owned);
    },
  };
}

function chainRunner(tf: Tf, p: Extract<CaseParams, { kind: "chain" }>, inputs: HostTensors): Runner {
  const x = tf.tensor(inputs.x.data, inputs.x.shape);
  const steps = chainSteps(p);
  const f = (input: TF.Tensor) => {
    let h = input;
    for (let s = 0; s < steps; s++) {
      for (const op of CHAIN_STEP) h = op.op === "mul" ? tf.mul(h, op.value) : op.op === "add" ? tf.add(h, op.value) : tf.tanh(h);
    }
    return tf.sum(h);
  };
  const valueAndGrad = tf.valueAndGrad(f);
  let last: { value: TF.Tensor; grad: TF.Tensor } | null = null;
  return {
    call() {
      if (last) tf.dispose([last.value, last.grad]);
      last = tf.tidy(() => valueAndGrad(x));
    },
    sync: () => touch(tf, last!.grad),
    async outputs() {
      await this.call();
      return { value: (await last!.value.data()) as Float32Array, grad: (await last!.grad.data()) as Float32Array };
    },
    dispose() {
      if (last) tf.dispose([last.value, last.grad]);
      x.dispose();
    },
  };
}

function tfjsRunner(tf: Tf, spec: CaseSpec, inputs: HostTensors): Runner {
  const p = spec.params;
  const t = (name: string) => tf.tensor(inputs[name].data, inputs[name].shape);
  switch (p.kind) {
    case "matmul": {
      const [a, b] = [t("a"), t("b")];
      return tensorRunner(tf, () => tf.matMul(a, b, p.transposeA, p.transposeB), [a, b]);
    }
    case "binary": {
      const [a, b] = [t("a"), t("b")];
      return tensorRunner(tf, () => (p.op === "add" ? tf.add(a, b) : tf.mul(a, b)), [a, b]);
    }
    case "unary": {
      const x = t("x");
      return tensorRunner(tf, () => (p.op === "exp" ? tf.exp(x) : gelu(tf, x)), [x]);
    }
    case "softmax": {
      const x = t("x");
      return tensorRunner(tf, () => tf.softmax(x, -1), [x]);
    }
    case "layerNorm": {
      const x = t("x");
      return tensorRunner(tf, () => layerNorm(tf, x), [x]);
    }
    case "reduce": {
      const x = t("x");
      return tensorRunner(tf, () => (p.op === "sum" ? tf.sum(x, -1) : tf.max(x, -1)), [x]);
    }
    case "encoder":
      return encoderRunner(tf, p, inputs);
    case "chain":
      return chainRunner(tf, p, inputs);
    case "finetune":
      throw new Error("the fine-tune case is tsgrad's own model; peers do not run it");
  }
}

/** Starts tfjs on `backend` ("cpu" or "wasm"); throws if tfjs ends up on another backend. */
export async function startTfjs(backend: "cpu" | "wasm"): Promise<Library> {
  const tf = await import("@tensorflow/tfjs");
  const facts: Record<string, string | number | boolean> = { library: "@tensorflow/tfjs", version: tf.version.tfjs };
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    facts.simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    facts.multithreadSupport = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    const started = await tf.setBackend("wasm");
    if (started) facts.threads = wasm.getThreadsCount();
  } else {
    await tf.setBackend("cpu");
    facts.threads = 1;
  }
  await tf.ready();
  if (tf.getBackend() !== backend) throw new Error(`tfjs could not start its ${backend} backend (it is on ${tf.getBackend()})`);
  facts.backend = tf.getBackend();
  return {
    facts: () => facts,
    prepare: async (spec, inputs) => tfjsRunner(tf, spec, inputs),
    async peakBytes(fn) {
      let result: Awaited<ReturnType<typeof fn>> | undefined;
      const info = await tf.profile(async () => {
        result = await fn();
        return [];
      });
      return [result!, info.peakBytes];
    },
    close: async () => {
      tf.disposeVariables();
    },
  };
}

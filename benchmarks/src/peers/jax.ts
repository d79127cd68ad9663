/**
 * @file jax-js as a peer, on its wasm device (`init("wasm")`, as Node 20 needs). Kernels and the layer
 * are jit-compiled, as a jax user writes them; the training step is one jit over valueAndGrad and a
 * hand-written AdamW (the package has no optimisers), and attention is written by hand.
 *
 * jax-js counts references: every function consumes its array arguments, so an array used twice is
 * passed once as `x.ref`. It is also lazy: an array that is disposed unobserved may never be computed,
 * so every call waits with blockUntilReady.
 */

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Jax from "@jax-js/jax";
import { CHAIN_STEP, chainSteps } from "../cases/chain.ts";
import { ADAMW, ADAPTER_PREFIX, adapterNames, adapterShape, LN_EPS, parameterNames } from "../cases/encoder.ts";
import type { CaseParams, CaseSpec, HostTensor, HostTensors, Library, Runner } from "../types.ts";

type JaxModule = typeof Jax;
type Arr = Jax.numpy.Array;
type Params = Record<string, Arr>;
type Encoder = Extract<CaseParams, { kind: "encoder" }>;

function layerNorm(jax: JaxModule, x: Arr, weight?: Arr, bias?: Arr): Arr {
  const np = jax.numpy;
  const centered = x.ref.sub(np.mean(x, -1, { keepdims: true }));
  const variance = np.mean(np.square(centered.ref), -1, { keepdims: true });
  let out = centered.div(np.sqrt(variance.add(LN_EPS)));
  if (weight) out = out.mul(weight);
  if (bias) out = out.add(bias);
  return out;
}

/** The low-rank path s·B·(A·t) that the adapter (if any) adds to q and v; consumes the adapter tensors, once each. */
function adapterPaths(jax: JaxModule, a: Params, p: Encoder): ((t: Arr, proj: string) => Arr) | null {
  const { numpy: np, nn } = jax;
  const { r, alpha, headSize: dh } = adapterShape(p);
  const s = alpha / r;
  const lowRank = (t: Arr, A: Arr, B: Arr) => np.matmul(np.matmul(t, np.matrixTranspose(A)), np.matrixTranspose(B)).mul(s);
  if (p.adapter === "lora") return (t, proj) => lowRank(t, a[`attn.${proj}.lora_A.weight`], a[`attn.${proj}.lora_B.weight`]);
  if (p.adapter !== "hyra") return null;
  // the generators run once per forward, for q and v together
  const gelu = (t: Arr) => nn.gelu(t, { approximate: false });
  const hiddenA = gelu(np.matmul(a["attn.hyra.theta_A.U"], a["attn.hyra.seed_A"])); // (m, d)
  // jax-js's matmul does not broadcast a matrix against a stack of them: broadcast the shared weights by hand
  const stack = (w: Arr) => np.broadcastTo(w, [p.heads, ...w.shape]);
  const hiddenB = gelu(np.matmul(stack(a["attn.hyra.theta_B.U"]), a["attn.hyra.seed_B"])); // (H, m, d_h)·(H, d_h, r) -> (H, m, r)
  const factors = new Map<string, { A: Arr; B: Arr }>();
  for (const [i, proj] of ["q", "v"].entries()) {
    const last = i === 1;
    const A = np.matmul(a[`attn.hyra.theta_A.P.${proj}`], last ? hiddenA : hiddenA.ref); // (r, d)
    const B = np.matmul(stack(a[`attn.hyra.theta_B.P.${proj}`]), last ? hiddenB : hiddenB.ref).reshape([p.heads * dh, r]); // (H·d_h, r)
    factors.set(proj, { A, B });
  }
  return (t, proj) => lowRank(t, factors.get(proj)!.A, factors.get(proj)!.B);
}

/** The pre-LN encoder layer of cases/encoder.ts; consumes the weights w, the adapters a and x. */
function encoderForward(jax: JaxModule, w: Params, a: Params, x: Arr, p: Encoder): Arr {
  const { numpy: np, nn } = jax;
  const { batch: B, seq: T, dModel: C, heads: H } = p;
  const D = C / H;
  const linear = (t: Arr, name: string) => np.matmul(t, np.matrixTranspose(w[`${name}.weight`])).add(w[`${name}.bias`]);
  const adapted = adapterPaths(jax, a, p);
  const project = (t: Arr, proj: string) =>
    adapted && proj !== "k" ? linear(t.ref, `attn.${proj}`).add(adapted(t, proj)) : linear(t, `attn.${proj}`);
  const split = (t: Arr) => t.reshape([B, T, H, D]).transpose([0, 2, 1, 3]); // (B, H, T, D)
  const rows = x.reshape([B * T, C]);
  const h1 = layerNorm(jax, rows.ref, w["ln1.weight"], w["ln1.bias"]);
  const q = split(project(h1.ref, "q"));
  const k = split(project(h1.ref, "k"));
  const v = split(project(h1, "v"));
  const scores = np.matmul(q, np.matrixTranspose(k)).mul(1 / Math.sqrt(D)); // (B, H, T, T)
  const attended = np.matmul(nn.softmax(scores, -1), v); // (B, H, T, D)
  const merged = attended.transpose([0, 2, 1, 3]).reshape([B * T, C]);
  const h = rows.add(linear(merged, "attn.o"));
  const up = linear(layerNorm(jax, h.ref, w["ln2.weight"], w["ln2.bias"]), "mlp.up");
  const mlp = linear(nn.gelu(up, { approximate: false }), "mlp.down");
  return h.add(mlp).reshape([B, T, C]);
}

/** A runner around one jit-compiled function of fixed arguments. */
function jitRunner(jax: JaxModule, fn: (...args: Arr[]) => Arr, args: Arr[]): Runner {
  const f = jax.jit(fn);
  let last: Arr | null = null;
  return {
    async call() {
      last?.dispose();
      last = f(...args.map((a) => a.ref));
      await jax.blockUntilReady(last);
    },
    sync: async () => {
      await jax.blockUntilReady(last);
    },
    async outputs() {
      await this.call();
      return { out: (await last!.ref.data()) as Float32Array };
    },
    dispose() {
      last?.dispose();
      for (const a of args) a.dispose();
      f.dispose();
    },
  };
}

function encoderRunner(jax: JaxModule, p: Encoder, inputs: HostTensors, upload: (h: HostTensor) => Arr): Runner {
  const np = jax.numpy;
  const names = parameterNames(inputs);
  const weights: Params = Object.fromEntries(names.map((name) => [name, upload(inputs[name])]));
  const adapters: Params = Object.fromEntries(adapterNames(inputs).map((name) => [name, upload(inputs[ADAPTER_PREFIX + name])]));
  const x = upload(inputs.x);
  const target = upload(inputs.target);
  if (!p.train) {
    const forward = (x: Arr, ...ws: Arr[]) => encoderForward(jax, Object.fromEntries(names.map((name, i) => [name, ws[i]])), {}, x, p);
    return jitRunner(jax, forward, [x, ...names.map((name) => weights[name])]);
  }

  // with adapters, the layer is frozen: only the adapters are differentiated and updated
  const trainsLayer = p.adapter === "none";
  let trainable = trainsLayer ? weights : adapters;
  const frozen = trainsLayer ? adapters : weights;
  const trainableNames = Object.keys(trainable);
  const { lr, beta1, beta2, eps, weightDecay } = ADAMW;
  const loss = (t: Params, f: Params, x: Arr, target: Arr) => {
    const out = trainsLayer ? encoderForward(jax, t, f, x, p) : encoderForward(jax, f, t, x, p);
    return np.mean(np.square(out.sub(target)));
  };
  // AdamW as torch.optim.AdamW (and @tsgrad/nn): decay, moments, bias-corrected step with ε after √v̂
  const step = jax.jit((t: Params, m: Params, v: Params, f: Params, x: Arr, target: Arr, stepSize: Arr, bc2Sqrt: Arr) => {
    const [value, grads] = jax.valueAndGrad(loss)(jax.tree.ref(t), f, x, target);
    const next: [Params, Params, Params] = [{}, {}, {}];
    for (const name of trainableNames) {
      const g = grads[name];
      const decayed = t[name].mul(1 - lr * weightDecay);
      const m1 = m[name].ref.add(g.ref.sub(m[name]).mul(1 - beta1));
      const v1 = v[name].mul(beta2).add(g.ref.mul(g).mul(1 - beta2));
      const denom = np.sqrt(v1.ref).div(bc2Sqrt.ref).add(eps);
      next[0][name] = decayed.sub(m1.ref.div(denom).mul(stepSize.ref));
      next[1][name] = m1;
      next[2][name] = v1;
    }
    stepSize.dispose();
    bc2Sqrt.dispose();
    return [value, ...next] as [Arr, Params, Params, Params];
  });
  let m: Params = Object.fromEntries(trainableNames.map((name) => [name, np.zerosLike(trainable[name].ref)]));
  let v: Params = Object.fromEntries(trainableNames.map((name) => [name, np.zerosLike(trainable[name].ref)]));
  let t = 0;
  let last: Arr | null = null;
  const run = async () => {
    t += 1;
    // bias corrections on the host in float64, as @tsgrad/nn's AdamW
    const stepSize = np.array([lr / (1 - beta1 ** t)]).reshape([]);
    const bc2Sqrt = np.array([Math.sqrt(1 - beta2 ** t)]).reshape([]);
    last?.dispose();
    [last, trainable, m, v] = step(trainable, m, v, jax.tree.ref(frozen), x.ref, target.ref, stepSize, bc2Sqrt);
    await jax.blockUntilReady([last, trainable, m, v]);
  };
  return {
    call: run,
    sync: async () => {
      await jax.blockUntilReady(last);
    },
    async outputs() {
      const before = (await last!.ref.data())[0];
      await run();
      const after = (await last!.ref.data())[0];
      return { loss: Float32Array.of(before), lossDelta: Float32Array.of(after - before) };
    },
    dispose() {
      last?.dispose();
      jax.tree.dispose([trainable, frozen, m, v, x, target]);
      step.dispose();
    },
  };
}

/** Eager valueAndGrad, not jit: the case measures what each op costs the autodiff, and jit would trace it away. */
function chainRunner(jax: JaxModule, p: Extract<CaseParams, { kind: "chain" }>, x: Arr): Runner {
  const np = jax.numpy;
  const steps = chainSteps(p);
  const f = (input: Arr) => {
    let h = input;
    for (let s = 0; s < steps; s++) {
      for (const op of CHAIN_STEP) h = op.op === "mul" ? h.mul(op.value) : op.op === "add" ? h.add(op.value) : np.tanh(h);
    }
    return np.sum(h);
  };
  const valueAndGrad = jax.valueAndGrad(f);
  let last: [Arr, Arr] | null = null;
  return {
    async call() {
      jax.tree.dispose(last);
      last = valueAndGrad(x.ref);
      await jax.blockUntilReady(last);
    },
    sync: async () => {
      await jax.blockUntilReady(last);
    },
    async outputs() {
      await this.call();
      return { value: (await last![0].ref.data()) as Float32Array, grad: (await last![1].ref.data()) as Float32Array };
    },
    dispose() {
      jax.tree.dispose(last);
      x.dispose();
    },
  };
}

function jaxRunner(jax: JaxModule, spec: CaseSpec, inputs: HostTensors): Runner {
  const { numpy: np, nn } = jax;
  const upload = (h: HostTensor) => np.array(h.data).reshape(h.shape);
  const arg = (name: string) => upload(inputs[name]);
  const p = spec.params;
  switch (p.kind) {
    case "matmul":
      return jitRunner(jax, (a, b) => np.matmul(p.transposeA ? np.matrixTranspose(a) : a, p.transposeB ? np.matrixTranspose(b) : b), [
        arg("a"),
        arg("b"),
      ]);
    case "binary":
      return jitRunner(jax, (a, b) => (p.op === "add" ? a.add(b) : a.mul(b)), [arg("a"), arg("b")]);
    case "unary":
      return jitRunner(jax, (x) => (p.op === "exp" ? np.exp(x) : nn.gelu(x, { approximate: false })), [arg("x")]);
    case "softmax":
      return jitRunner(jax, (x) => nn.softmax(x, -1), [arg("x")]);
    case "layerNorm":
      return jitRunner(jax, (x) => layerNorm(jax, x), [arg("x")]);
    case "reduce":
      return jitRunner(jax, (x) => (p.op === "sum" ? np.sum(x, -1) : np.max(x, -1)), [arg("x")]);
    case "encoder":
      return encoderRunner(jax, p, inputs, upload);
    case "chain":
      return chainRunner(jax, p, arg("x"));
    case "finetune":
      throw new Error("the fine-tune case is tsgrad's own model; peers do not run it");
  }
}

export async function startJax(): Promise<Library> {
  const jax = await import("@jax-js/jax");
  const devices = await jax.init("wasm");
  if (!devices.includes("wasm")) throw new Error(`jax-js could not start its wasm device (it has ${devices.join(", ") || "none"})`);
  jax.defaultDevice("wasm");
  const packageJson = join(dirname(fileURLToPath(import.meta.resolve("@jax-js/jax"))), "..", "package.json");
  const version = (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
  // its wasm device spreads work over Web Workers, which Node 20 does not have as a global
  const threads = typeof (globalThis as { Worker?: unknown }).Worker === "function" ? "workers" : 1;
  return {
    facts: () => ({ library: "@jax-js/jax", version, device: jax.defaultDevice(), threads }),
    prepare: async (spec, inputs) => jaxRunner(jax, spec, inputs),
    close: async () => {},
  };
}

/**
 * @file The encoder-layer cases: one pre-LayerNorm transformer layer (no mask), trained with AdamW on an
 * MSE loss against a fixed random target. The weights are drawn here, on the host, under the parameter
 * names of @tsgrad/nn's TransformerBlock, and every library loads the same values.
 *
 *     h = x + o(attention(q(ln1(x)), k(ln1(x)), v(ln1(x))))      4 heads, softmax(q·kᵀ/√d)·v
 *     y = h + down(gelu(up(ln2(h))))                             exact (erf) GELU
 *     loss = mean((y − target)²)
 *
 * The adapter cases freeze that layer and train only adapters on q and v (@tsgrad/hyra, PEFT's names):
 *
 *     LoRA:  q(t) = W_q·t + b_q + s·B_q·(A_q·t)                 A (r, d), B (d, r)
 *     HyRA:  A^p = P_A^p·gelu(U_A·Ā),  B_h^p = P_B^p·gelu(U_B·B_h),  q(t) = W_q·t + b_q + s·[B_1^q; …; B_H^q]·(A^q·t)
 *
 * with s = alpha/r, Ā (r, d), B_h (d_h, r), U_A (m, r), P_A^p (r, m), U_B (m, d_h), P_B^p (d_h, m), m = d_h
 * (HyRA's defaults: exact GELU, feature mixing, one trunk shared by q and v).
 */

import type { Generator } from "@tsgrad/core";
import type { CaseParams, HostTensors } from "../types.ts";
import { type Check, U } from "./check.ts";
import { randomTensor, uniformTensor } from "./random.ts";

type Params = Extract<CaseParams, { kind: "encoder" }>;

/** AdamW as torch.optim.AdamW, with a weight decay that is not zero so that the decay is measured too. */
export const ADAMW = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 } as const;

export const LN_EPS = 1e-5;

/** Adapter rank r, alpha and HyRA's hidden width m (r is capped by the head size for the tiny smoke sizes). */
export function adapterShape(p: Params): { r: number; alpha: number; m: number; headSize: number } {
  const headSize = p.dModel / p.heads;
  const r = Math.min(8, headSize);
  return { r, alpha: 2 * r, m: headSize, headSize };
}

/** Adapter inputs are named "adapter/" + their key in @tsgrad/hyra's adapter state dict, less "base_model.model.". */
export const ADAPTER_PREFIX = "adapter/";

/** Linear layers by name: [in, out] features, weights stored (out, in) as in PyTorch. */
export function linearShapes(p: Params): Record<string, [number, number]> {
  const { dModel: c, hidden } = p;
  return { "attn.q": [c, c], "attn.k": [c, c], "attn.v": [c, c], "attn.o": [c, c], "mlp.up": [c, hidden], "mlp.down": [hidden, c] };
}

export function encoderInputs(p: Params, gen: Generator): HostTensors {
  const { batch, seq, dModel } = p;
  const inputs: HostTensors = {
    x: randomTensor(gen, [batch, seq, dModel]),
    target: randomTensor(gen, [batch, seq, dModel]),
  };
  // LayerNorm weights away from 1 and 0, so that a library that ignored them would fail the check
  for (const ln of ["ln1", "ln2"]) {
    inputs[`${ln}.weight`] = randomTensor(gen, [dModel], 0.1, 1);
    inputs[`${ln}.bias`] = randomTensor(gen, [dModel], 0.1);
  }
  // PyTorch's Linear initialisation: U(±1/√in) for the weight and the bias
  for (const [name, [fanIn, fanOut]] of Object.entries(linearShapes(p))) {
    const bound = 1 / Math.sqrt(fanIn);
    inputs[`${name}.weight`] = uniformTensor(gen, [fanOut, fanIn], -bound, bound);
    inputs[`${name}.bias`] = uniformTensor(gen, [fanOut], -bound, bound);
  }
  // adapters drawn with no zero factor (unlike PEFT's B = 0), so that the check sees them from the first step
  const { r, m, headSize: dh } = adapterShape(p);
  const d = p.dModel;
  const u = (name: string, shape: number[], fanIn: number) => {
    const bound = Math.sqrt(3 / fanIn);
    inputs[ADAPTER_PREFIX + name] = uniformTensor(gen, shape, -bound, bound);
  };
  if (p.adapter === "lora") {
    for (const proj of ["q", "v"]) {
      u(`attn.${proj}.lora_A.weight`, [r, d], d);
      u(`attn.${proj}.lora_B.weight`, [d, r], r);
    }
  } else if (p.adapter === "hyra") {
    u("attn.hyra.seed_A", [r, d], d);
    u("attn.hyra.seed_B", [p.heads, dh, r], r);
    u("attn.hyra.theta_A.U", [m, r], r);
    for (const proj of ["q", "v"]) u(`attn.hyra.theta_A.P.${proj}`, [r, m], m);
    u("attn.hyra.theta_B.U", [m, dh], dh);
    for (const proj of ["q", "v"]) u(`attn.hyra.theta_B.P.${proj}`, [dh, m], m);
  }
  return inputs;
}

/** The names of the layer's parameters among a case's inputs (everything but x, target and adapters). */
export function parameterNames(inputs: HostTensors): string[] {
  return Object.keys(inputs).filter((name) => name !== "x" && name !== "target" && !name.startsWith(ADAPTER_PREFIX));
}

/** The adapter tensors among a case's inputs, by their name without the prefix. */
export function adapterNames(inputs: HostTensors): string[] {
  return Object.keys(inputs)
    .filter((name) => name.startsWith(ADAPTER_PREFIX))
    .map((name) => name.slice(ADAPTER_PREFIX.length));
}

/** Forward FLOPs (multiply-adds counted as two) of the projections, the attention and the MLP; a step is three times that. */
export function encoderFlops(p: Params): number {
  const { batch, seq, dModel: c, hidden } = p;
  const perToken = 2 * (4 * c * c) + 2 * (2 * c * hidden) + 2 * (2 * seq * c);
  return batch * seq * perToken * (p.train ? 3 : 1);
}

export function encoderChecks(p: Params, expected: Record<string, Float32Array>): Check[] {
  if (!p.train) return [{ name: "out", cls: "model" }];
  // each loss is a float32 mean of n squared errors, rounded by about √n·2⁻²⁴·|loss| in any order of
  // summation; the change between two of them can be off by twice that (HyRA's change is small: ~1e-3)
  const n = p.batch * p.seq * p.dModel;
  const rounding = 2 * Math.sqrt(n) * U * Math.abs(expected.loss[0]);
  return [
    { name: "loss", cls: "loss" },
    { name: "lossDelta", cls: "lossDelta", atol: rounding },
  ];
}

/**
 * @file LoraLinear: y = W·x + b + s·B·A·dropout(x), PEFT's lora.Linear. A (r, in) and B (out, r) are
 * bias-free Linears under `lora_A.<adapter>` and `lora_B.<adapter>`, so they save as PEFT's
 * `lora_A.weight` / `lora_B.weight`.
 */

import { dropout, fail, matmul, noGrad, normal, type Tensor, tidy, zeros } from "@tsgrad/core";
import { Linear } from "@tsgrad/nn";
import { AdapterDict } from "../../adapter-dict.ts";
import { AdapterLayer, type LoraFactors } from "../../adapter-layer.ts";
import { type InitLoraWeights, scalingOf } from "./family.ts";

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  initLoraWeights: InitLoraWeights;
}

export class LoraLinear extends AdapterLayer {
  lora_A = new AdapterDict<Linear>(); // each weight (r, in)
  lora_B = new AdapterDict<Linear>(); // each weight (out, r)
  /** Per adapter: its scale s and its dropout probability. */
  readonly settings = new Map<string, { scaling: number; dropout: number }>();

  /** Adds an adapter with PEFT's initialisation (see LoraSettings.initLoraWeights). */
  addAdapter(name: string, settings: LoraSettings): void {
    if (this.hasAdapter(name)) fail("LoraLinear", `"${this.path}" already has an adapter "${name}"`);
    // any r >= 1, as PEFT: a rank above min(in, out) adds parameters but no rank to ΔW; refusing it would
    // refuse PEFT's files (and an MH-LoRA adapter exported as LoRA, whose rank H·r can pass the input width)
    const { r } = settings;
    const { inFeatures, outFeatures } = this.base_layer;
    const dtype = this.base_layer.weight.dtype;
    // nn's Linear draws Kaiming-uniform with a = √5 over its fan-in: exactly PEFT's lora_A init, and
    // with initLoraWeights = false B keeps that init too (PEFT's "both random")
    const A = new Linear(inFeatures, r, { bias: false, dtype });
    const B = new Linear(r, outFeatures, { bias: false, dtype });
    noGrad(() =>
      tidy(() => {
        if (settings.initLoraWeights === "gaussian") A.weight.assign(normal([r, inFeatures], 0, 1 / r, { dtype }));
        if (settings.initLoraWeights !== false) B.weight.assign(zeros([outFeatures, r], { dtype }));
      }),
    );
    this.lora_A.set(name, A);
    this.lora_B.set(name, B);
    this.settings.set(name, { scaling: scalingOf(settings), dropout: settings.dropout });
  }

  adapterNames(): string[] {
    return this.lora_A.names();
  }

  hasAdapter(name: string): boolean {
    return this.lora_A.has(name);
  }

  removeAdapter(name: string): void {
    if (this.mergedAdapters.includes(name)) fail("deleteAdapter", `adapter "${name}" is merged into "${this.path}"; unmerge() first`);
    this.lora_A.delete(name);
    this.lora_B.delete(name);
    this.settings.delete(name);
  }

  #factors(name: string): { A: Linear; B: Linear; scaling: number; dropout: number } {
    const A = this.lora_A.get(name);
    const B = this.lora_B.get(name);
    const settings = this.settings.get(name);
    if (!A || !B || !settings) fail("LoraLinear", `"${this.path}" has no adapter "${name}"`);
    return { A, B, ...settings };
  }

  protected adapterOutput(x: Tensor, name: string): Tensor {
    const { A, B, scaling, dropout: p } = this.#factors(name);
    const h = dropout(x, p, { training: this.training }); // (..., in)
    return B.forward(A.forward(h)).mul(scaling); // (..., r) -> (..., out)
  }

  deltaWeight(name: string): Tensor {
    const { A, B, scaling } = this.#factors(name);
    return matmul(B.weight, A.weight).mul(scaling); // (out, r)·(r, in) -> (out, in)
  }

  override loraFactors(name: string): LoraFactors {
    const { A, B, scaling } = this.#factors(name);
    return { A: A.weight, B: B.weight, scaling };
  }

  protected adapterTensors(name: string): Tensor[] {
    const { A, B } = this.#factors(name);
    return [A.weight, B.weight];
  }
}

/**
 * @file MhLoraLinear: multi-head LoRA, an independent pair (B_h, A_h) for every head h of an attention
 * projection: the per-head baseline of the paper's theory. On q, k and v (heads split the outputs) head
 * h's rows of W get s·B_h·A_h; on o (heads split the inputs) head h's columns do:
 *
 *     q, k, v:  ΔW = s·[B_1·A_1; …; B_H·A_H],   A_h (r, in),  B_h (d_h, r)
 *     o:        ΔW = s·[B_1·A_1 | … | B_H·A_H], A_h (r, d_h), B_h (out, r)
 *
 * The factors of all heads are stacked: `mh_lora_A.<adapter>.weight` (H, r, in) and
 * `mh_lora_B.<adapter>.weight` (H, d_h, r) on q, k, v; (H, r, d_h) and (H, out, r) on o.
 */

import {
  concat,
  dropout,
  fail,
  matmul,
  noGrad,
  normal,
  permute,
  reshape,
  sum,
  type Tensor,
  tidy,
  transpose,
  uniform,
  zeros,
} from "@tsgrad/core";
import { type Linear, Module, Parameter } from "@tsgrad/nn";
import { AdapterDict } from "../../adapter-dict.ts";
import { AdapterLayer, checkRank, type LoraFactors } from "../../adapter-layer.ts";
import { scalingOf } from "../lora/family.ts";
import type { LoraSettings } from "../lora/lora-linear.ts";

/** One stacked factor of all heads. */
export class HeadFactor extends Module {
  weight: Parameter;

  constructor(weight: Tensor) {
    super();
    this.weight = tidy(() => new Parameter(weight));
  }
}

export class MhLoraLinear extends AdapterLayer {
  mh_lora_A = new AdapterDict<HeadFactor>(); // each weight (H, r, in)
  mh_lora_B = new AdapterDict<HeadFactor>(); // each weight (H, d_h, r)
  readonly settings = new Map<string, { scaling: number; dropout: number }>();

  constructor(
    base: Linear,
    path: string,
    readonly heads: number,
    /** Which features the heads split: the outputs (q, k, v) or the inputs (o). */
    readonly axis: "output" | "input" = "output",
  ) {
    super(base, path);
  }

  get headSize(): number {
    return (this.axis === "output" ? this.base_layer.outFeatures : this.base_layer.inFeatures) / this.heads;
  }

  /** Adds an adapter: each A_h as LoRA's A (Kaiming-uniform over its fan-in, or N(0, 1/r²)), each B_h zero unless initLoraWeights is false. */
  addAdapter(name: string, settings: LoraSettings): void {
    if (this.hasAdapter(name)) fail("MhLoraLinear", `"${this.path}" already has an adapter "${name}"`);
    const { r } = settings;
    const H = this.heads;
    checkRank("getPeftModel (mh-lora)", r, this.path, this.base_layer, { heads: H, axis: this.axis });
    const dtype = this.base_layer.weight.dtype;
    // A_h reads the whole input on q, k, v and its head's d_h inputs on o; B_h writes its head's d_h
    // outputs on q, k, v and every output on o
    const [aIn, bOut] = this.axis === "output" ? [this.base_layer.inFeatures, this.headSize] : [this.headSize, this.base_layer.outFeatures];
    // Kaiming-uniform with a = √5 over the fan-in is U(±1/√fan-in), PEFT's lora_A init; a Linear(r, d_h)
    // would draw B_h from U(±1/√r)
    const A = noGrad(() =>
      settings.initLoraWeights === "gaussian"
        ? normal([H, r, aIn], 0, 1 / r, { dtype })
        : uniform([H, r, aIn], -1 / Math.sqrt(aIn), 1 / Math.sqrt(aIn), { dtype }),
    );
    const B = noGrad(() =>
      settings.initLoraWeights === false
        ? uniform([H, bOut, r], -1 / Math.sqrt(r), 1 / Math.sqrt(r), { dtype })
        : zeros([H, bOut, r], { dtype }),
    );
    this.mh_lora_A.set(name, new HeadFactor(A));
    this.mh_lora_B.set(name, new HeadFactor(B));
    A.dispose();
    B.dispose();
    this.settings.set(name, { scaling: scalingOf(settings), dropout: settings.dropout });
  }

  adapterNames(): string[] {
    return this.mh_lora_A.names();
  }

  hasAdapter(name: string): boolean {
    return this.mh_lora_A.has(name);
  }

  removeAdapter(name: string): void {
    if (this.mergedAdapters.includes(name)) fail("deleteAdapter", `adapter "${name}" is merged into "${this.path}"; unmerge() first`);
    this.mh_lora_A.delete(name);
    this.mh_lora_B.delete(name);
    this.settings.delete(name);
  }

  #factors(name: string): { A: Tensor; B: Tensor; scaling: number; dropout: number } {
    const A = this.mh_lora_A.get(name);
    const B = this.mh_lora_B.get(name);
    const settings = this.settings.get(name);
    if (!A || !B || !settings) fail("MhLoraLinear", `"${this.path}" has no adapter "${name}"`);
    return { A: A.weight, B: B.weight, ...settings };
  }

  protected adapterOutput(x: Tensor, name: string): Tensor {
    const { A, B, scaling, dropout: p } = this.#factors(name);
    const [H, r] = [A.shape[0], A.shape[1]];
    const lead = x.shape.slice(0, -1);
    const h = dropout(x, p, { training: this.training }); // (..., in)
    if (this.axis === "input") {
      const perHead = reshape(h, [...lead, H, 1, A.shape[2]]); // (..., H, 1, d_h): head h's inputs
      const z = matmul(matmul(perHead, transpose(A)), transpose(B)); // (..., H, 1, r) -> (..., H, 1, out)
      return reshape(sum(z, -3), [...lead, B.shape[1]]).mul(scaling); // the heads' contributions summed: (..., out)
    }
    const z = h.matmul(transpose(reshape(A, [H * r, A.shape[2]]))); // (..., H·r): every head's A_h·x at once
    const perHead = reshape(z, [...lead, H, 1, r]); // (..., H, 1, r)
    const out = matmul(perHead, transpose(B)); // (..., H, 1, r)·(H, r, d_h) -> (..., H, 1, d_h)
    return reshape(out, [...lead, H * B.shape[1]]).mul(scaling); // (..., out): head h's features are h·d_h ..< (h+1)·d_h
  }

  deltaWeight(name: string): Tensor {
    const { A, B, scaling } = this.#factors(name);
    const blocks = matmul(B, A); // (H, d_h, r)·(H, r, in) -> (H, d_h, in); on o (H, out, r)·(H, r, d_h) -> (H, out, d_h)
    if (this.axis === "input") return reshape(permute(blocks, [1, 0, 2]), [B.shape[1], A.shape[0] * A.shape[2]]).mul(scaling); // (out, H·d_h)
    return reshape(blocks, [B.shape[0] * B.shape[1], A.shape[2]]).mul(scaling); // (out, in)
  }

  /**
   * As LoRA of rank H·r. On q, k, v: A stacks the A_h, B is block diagonal with the B_h on its diagonal;
   * on o: A is block diagonal (A_h reads head h's columns), B puts the B_h side by side.
   */
  override loraFactors(name: string): LoraFactors {
    const { A, B, scaling } = this.#factors(name);
    const [H, r, aIn] = A.shape;
    const bOut = B.shape[1];
    const blocks: Tensor[] = [];
    for (let h = 0; h < H; h++) {
      const pad = [h * r, (H - 1 - h) * r] as [number, number];
      if (this.axis === "output") {
        const Bh = reshape(B.narrow(0, h, 1), [bOut, r]); // (d_h, r)
        blocks.push(Bh.pad([[0, 0], pad])); // (d_h, H·r): B_h in columns h·r ..< (h+1)·r
      } else {
        const Ah = reshape(A.narrow(0, h, 1), [r, aIn]); // (r, d_h)
        blocks.push(
          Ah.pad([
            [0, 0],
            [h * aIn, (H - 1 - h) * aIn],
          ]),
        ); // (r, H·d_h): A_h in columns h·d_h ..< (h+1)·d_h
      }
    }
    if (this.axis === "input") {
      return { A: concat(blocks, 0), B: reshape(permute(B, [1, 0, 2]), [bOut, H * r]), scaling }; // A (H·r, H·d_h), B (out, H·r)
    }
    return { A: reshape(A, [H * r, aIn]), B: concat(blocks, 0), scaling }; // A (H·r, in), B (H·d_h, H·r)
  }

  protected adapterTensors(name: string): Tensor[] {
    const { A, B } = this.#factors(name);
    return [A, B];
  }
}

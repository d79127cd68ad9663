/**
 * @file VeraLinear: y = W·x + b + λ_b ⊙ (B·(λ_d ⊙ (A·dropout(x)))), PEFT's vera.Linear. A (r, in_max) and
 * B (out_max, r) are frozen random matrices shared by every adapted layer (the tuner's `vera_A` and
 * `vera_B`); each layer uses their leading in × out block, so layers of different widths share them, and
 * trains only the two scaling vectors λ_d (r) and λ_b (out), under `vera_lambda_d.<adapter>` and
 * `vera_lambda_b.<adapter>` as PEFT's.
 *
 *     ΔW = diag(λ_b) · B[:out] · diag(λ_d) · A[:, :in]      (out, in)
 */

import { dropout, fail, full, linear, matmul, narrow, noGrad, randn, reshape, type Tensor, tidy, zeros } from "@tsgrad/core";
import { Parameter } from "@tsgrad/nn";
import { AdapterParameters, type BufferDict } from "../../adapter-dict.ts";
import { AdapterLayer, type LoraFactors } from "../../adapter-layer.ts";

export interface VeraSettings {
  r: number;
  dropout: number;
  /** λ_d's initial value (PEFT's d_initial), with λ_b = 0 so ΔW starts at 0. */
  dInitial: number;
  /** false: λ_b = 1 and λ_d ~ N(0, 1) (PEFT's init_weights false), a non-zero ΔW for tests. */
  initWeights: boolean;
}

export class VeraLinear extends AdapterLayer {
  vera_lambda_b = new AdapterParameters(); // each (out,)
  vera_lambda_d = new AdapterParameters(); // each (r,)
  /** Per adapter: its dropout probability. */
  readonly #dropout = new Map<string, number>();
  // references to the tuner's shared projections, not fields Module's walk sees: they are saved once there
  readonly #A: BufferDict;
  readonly #B: BufferDict;

  constructor(base: ConstructorParameters<typeof AdapterLayer>[0], path: string, A: BufferDict, B: BufferDict) {
    super(base, path);
    this.#A = A;
    this.#B = B;
  }

  /** Adds an adapter whose projections are already in the shared dicts (checked large enough by the tuner). */
  addAdapter(name: string, settings: VeraSettings): void {
    if (this.hasAdapter(name)) fail("VeraLinear", `"${this.path}" already has an adapter "${name}"`);
    const { r } = settings;
    const out = this.outFeatures;
    const dtype = this.base_layer.weight.dtype;
    const [b, d] = tidy(() =>
      noGrad(() =>
        settings.initWeights
          ? [new Parameter(zeros([out], { dtype })), new Parameter(full([r], settings.dInitial, { dtype }))]
          : [new Parameter(full([out], 1, { dtype })), new Parameter(randn([r], { dtype }))],
      ),
    );
    this.vera_lambda_b.set(name, b);
    this.vera_lambda_d.set(name, d);
    this.#dropout.set(name, settings.dropout);
  }

  adapterNames(): string[] {
    return this.vera_lambda_b.names();
  }

  hasAdapter(name: string): boolean {
    return this.vera_lambda_b.get(name) !== undefined;
  }

  /** The layer's own vectors go; the shared projections are the tuner's, removed with the adapter there. */
  removeAdapter(name: string): void {
    if (this.mergedAdapters.includes(name)) fail("deleteAdapter", `adapter "${name}" is merged into "${this.path}"; unmerge() first`);
    this.vera_lambda_b.delete(name);
    this.vera_lambda_d.delete(name);
    this.#dropout.delete(name);
  }

  #parts(name: string): { A: Tensor; B: Tensor; b: Tensor; d: Tensor; p: number } {
    const A = this.#A.get(name);
    const B = this.#B.get(name);
    const b = this.vera_lambda_b.get(name);
    const d = this.vera_lambda_d.get(name);
    if (!A || !B || !b || !d) fail("VeraLinear", `"${this.path}" has no VeRA adapter "${name}"`);
    return { A, B, b, d, p: this.#dropout.get(name) ?? 0 };
  }

  /** This layer's blocks of the shared projections: A (r, in) and B (out, r). */
  #sliced(A: Tensor, B: Tensor): { A: Tensor; B: Tensor } {
    return { A: narrow(A, 1, 0, this.inFeatures), B: narrow(B, 0, 0, this.outFeatures) };
  }

  protected adapterOutput(x: Tensor, name: string): Tensor {
    const { b, d, p, ...shared } = this.#parts(name);
    const { A, B } = this.#sliced(shared.A, shared.B);
    const h = dropout(x, p, { training: this.training }); // (..., in)
    return linear(linear(h, A).mul(d), B).mul(b); // (..., r) scaled by λ_d -> (..., out) scaled by λ_b
  }

  deltaWeight(name: string): Tensor {
    const { B, A } = this.loraFactors(name);
    return matmul(B, A); // (out, r)·(r, in)
  }

  /** ΔW as LoRA factors with scale 1: A' = diag(λ_d)·A (r, in), B' = diag(λ_b)·B (out, r). */
  override loraFactors(name: string): LoraFactors {
    const { b, d, ...shared } = this.#parts(name);
    const { A, B } = this.#sliced(shared.A, shared.B);
    const column = (v: Tensor) => reshape(v, [v.shape[0], 1]);
    return { A: A.mul(column(d)), B: B.mul(column(b)), scaling: 1 };
  }

  protected adapterTensors(name: string): Tensor[] {
    const { A, B, b, d } = this.#parts(name);
    return [A, B, b, d];
  }
}

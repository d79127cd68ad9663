/**
 * @file HyRA on an attention module: `HyraLayer`, added to the attention module as its child `hyra`,
 * holds each adapter's generator once for the whole layer (its seeds and Θ_A, Θ_B, as PEFT's VeRA keeps
 * shared weights once); each adapted projection is replaced by a `HyraProjection` that asks the layer
 * for its factors and adds s·B^p·A^p·x through the low-rank path. ΔW is never formed in the forward.
 *
 * The layer caches the generated factors so that the generators run once per forward pass (q asks
 * first, v gets the same tensors) and, when no gradient is recorded (eval under noGrad), once until
 * the adapter's weights change. The cache key is every input tensor's identity and version (assign,
 * and so every optimiser step and load, bumps the version), so a stale entry is never used.
 */

import { dropout, fail, isGradEnabled, linear, matmul, noGrad, type Tensor, tidy, transpose } from "@tsgrad/core";
import type { Linear } from "@tsgrad/nn";
import { AdapterDict } from "../../adapter-dict.ts";
import { AdapterLayer, type LoraFactors } from "../../adapter-layer.ts";
import type { HyraGenerator } from "./generator.ts";

export type Factors = Map<string, { A: Tensor; B: Tensor }>;

interface CacheEntry {
  key: string;
  factors: Factors;
  /** Made under noGrad and kept: ours to dispose. Otherwise part of the caller's graph and tidy scope. */
  constant: boolean;
}

/** The HyRA weights of one attention layer: one HyraGenerator per adapter name, at `<attention>.hyra.<adapter>`. */
export class HyraLayer extends AdapterDict<HyraGenerator> {
  readonly #cache = new Map<string, CacheEntry>();

  /** How many times a generator ran (for tests and benchmarks of the cache). */
  generatorRuns = 0;

  /** Every projection's A^p (r, d) and B^p (H·d_h, r) of an adapter, from the cache when still valid. */
  factors(name: string): Factors {
    const generator = this.get(name);
    if (!generator) fail("HyraLayer", `no HyRA adapter "${name}" (has ${this.names().join(", ") || "none"})`);
    const inputs = generator.inputs();
    const recording = isGradEnabled() && inputs.some((t) => t.requiresGrad);
    const key = `${recording}|${inputs.map((t) => `${t.id}@${t.version("HyraLayer")}`).join(",")}`;
    const hit = this.#cache.get(name);
    if (hit && hit.key === key && isAlive(hit.factors)) return hit.factors;
    this.forget(name);
    this.generatorRuns++;
    let factors: Factors;
    if (recording) {
      factors = generator.generate();
    } else {
      // kept inside the scope: tidy does not look into a Map for the tensors it returns
      factors = tidy(() =>
        noGrad(() => {
          const made = generator.generate();
          for (const { A, B } of made.values()) {
            A.keep();
            B.keep();
          }
          return made;
        }),
      );
    }
    this.#cache.set(name, { key, factors, constant: !recording });
    return factors;
  }

  protected override disposeCaches(): void {
    for (const name of [...this.#cache.keys()]) this.forget(name);
  }

  /** Drops an adapter's cached factors (disposing them if they are ours). */
  forget(name: string): void {
    const entry = this.#cache.get(name);
    if (!entry) return;
    this.#cache.delete(name);
    if (!entry.constant) return;
    for (const { A, B } of entry.factors.values()) {
      A.dispose();
      B.dispose();
    }
  }

  override delete(name: string): void {
    this.forget(name);
    super.delete(name);
  }
}

/**
 * Usable again: not disposed by a tidy scope, and (for factors with a graph) not yet consumed by a
 * backward pass, which frees the graph, so the next forward regenerates them with a fresh one.
 */
function isAlive(factors: Factors): boolean {
  for (const { A, B } of factors.values()) {
    for (const t of [A, B]) if (t.isDisposed || t.node?.released) return false;
  }
  return true;
}

/**
 * A projection adapted by the HyRA generators of its attention layer: q, k or v gets s·B·A (B's rows are
 * the heads' features); o, whose inputs are the heads' features, gets the transposed update s·Aᵀ·Bᵀ.
 */
export class HyraProjection extends AdapterLayer {
  // not a field Module's walk sees: the layer is a child of the attention module, saved once there
  readonly #layer: HyraLayer;

  constructor(
    base: Linear,
    path: string,
    layer: HyraLayer,
    /** This projection's name in its attention module ("q"). */
    readonly projection: string,
    /** Which of its features the heads split: outputs (q, k, v) or inputs (o). */
    readonly axis: "output" | "input" = "output",
  ) {
    super(base, path);
    this.#layer = layer;
  }

  get layer(): HyraLayer {
    return this.#layer;
  }

  adapterNames(): string[] {
    return this.#layer.names().filter((n) => this.hasAdapter(n));
  }

  hasAdapter(name: string): boolean {
    return this.#layer.get(name)?.projections.includes(this.projection) ?? false;
  }

  /** The generator belongs to the layer, which removes it once every projection has let go. */
  removeAdapter(name: string): void {
    if (this.mergedAdapters.includes(name)) fail("deleteAdapter", `adapter "${name}" is merged into "${this.path}"; unmerge() first`);
  }

  #generated(name: string): { A: Tensor; B: Tensor; generator: HyraGenerator } {
    const generator = this.#layer.get(name);
    const factors = this.#layer.factors(name).get(this.projection);
    if (!generator || !factors) fail("HyraProjection", `"${this.path}" has no HyRA adapter "${name}"`);
    return { ...factors, generator };
  }

  protected adapterOutput(x: Tensor, name: string): Tensor {
    const { A, B, generator } = this.#generated(name);
    const h = dropout(x, generator.dropout, { training: this.training }); // (..., in)
    if (this.axis === "input") return h.matmul(B).matmul(A).mul(generator.scaling); // (..., H·d_h) -> (..., r) -> (..., d)
    return linear(linear(h, A), B).mul(generator.scaling); // (..., d) -> (..., r) -> (..., H·d_h)
  }

  deltaWeight(name: string): Tensor {
    const { A, B, generator } = this.#generated(name);
    if (this.axis === "input") return matmul(transpose(A), transpose(B)).mul(generator.scaling); // (d, r)·(r, H·d_h) -> (out, in)
    return matmul(B, A).mul(generator.scaling); // (H·d_h, r)·(r, d) -> (out, in)
  }

  override loraFactors(name: string): LoraFactors {
    const { A, B, generator } = this.#generated(name);
    if (this.axis === "input") return { A: transpose(B), B: transpose(A), scaling: generator.scaling }; // (r, in), (out, r)
    return { A, B, scaling: generator.scaling };
  }

  protected adapterTensors(name: string): Tensor[] {
    const generator = this.#layer.get(name);
    if (!generator) fail("HyraProjection", `"${this.path}" has no HyRA adapter "${name}"`);
    return generator.inputs();
  }
}

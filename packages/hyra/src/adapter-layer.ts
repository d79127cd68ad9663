/**
 * @file AdapterLayer: what every adapted Linear shares (PEFT's BaseTunerLayer): the wrapped
 * `base_layer`, the active adapter, disabling, and merging ΔW into the base weight and back out.
 * LoraLinear, MhLoraLinear and HyraProjection each add only their own update.
 */

import { fail, noGrad, type Tensor, tidy } from "@tsgrad/core";
import { type Linear, Module, type Parameter } from "@tsgrad/nn";

/** An update written as plain LoRA factors: ΔW = scaling·B·A, A (rank, in), B (out, rank). */
export interface LoraFactors {
  A: Tensor;
  B: Tensor;
  scaling: number;
}

export abstract class AdapterLayer extends Module {
  /** The frozen layer being adapted (PEFT's name, so its weight saves as `<path>.base_layer.weight`). */
  base_layer: Linear;
  /** The adapter whose update the forward adds; null adds none. */
  activeAdapter: string | null = null;
  /** Set while adapters are disabled: the forward is the base layer's alone. */
  disabled = false;
  /** Merged adapters in merge order, each with a stamp of its weights' versions at merge time. */
  readonly #merged: { name: string; stamp: string }[] = [];

  constructor(
    base: Linear,
    /** The module path, for error messages. */
    readonly path: string,
  ) {
    super();
    this.base_layer = base;
  }

  // The base layer's fields, for code that reads them from the projection it replaced.
  get weight(): Parameter {
    return this.base_layer.weight;
  }

  get bias(): Parameter | null {
    return this.base_layer.bias;
  }

  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }

  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }

  abstract adapterNames(): string[];

  abstract hasAdapter(name: string): boolean;

  /** Removes an adapter's weights from this layer (refused while it is merged). */
  abstract removeAdapter(name: string): void;

  /** The adapter's ΔW (out, in), scale included. */
  abstract deltaWeight(name: string): Tensor;

  /** The same ΔW as plain LoRA factors, for exporting the adapter as a PEFT LoRA (optional: a method may not have them). */
  loraFactors?(name: string): LoraFactors;

  /** Every tensor the adapter's update is computed from (for the merge stamps). */
  protected abstract adapterTensors(name: string): Tensor[];

  /** x (..., in) -> the adapter's contribution (..., out), computed through its low-rank path. */
  protected abstract adapterOutput(x: Tensor, name: string): Tensor;

  forward(x: Tensor): Tensor {
    const out = this.base_layer.forward(x); // (..., out)
    const name = this.activeAdapter;
    // merged: ΔW is inside the base weight already
    if (this.disabled || this.merged || name === null || !this.hasAdapter(name)) return out;
    return out.add(this.adapterOutput(x, name)); // (..., out)
  }

  get merged(): boolean {
    return this.#merged.length > 0;
  }

  get mergedAdapters(): string[] {
    return this.#merged.map((m) => m.name);
  }

  /**
   * W + ΔW of the given adapters, written nowhere yet: a safe merge checks every layer's result before
   * writing any. Several adapters are summed into one weight, so each ΔW is added exactly once.
   */
  mergedWeight(names: readonly string[]): Tensor {
    if (names.length === 0) fail("merge", `no adapter named to merge into "${this.path}"`);
    for (const name of names) {
      this.#checkAdapter(name, "merge");
      if (this.mergedAdapters.includes(name)) fail("merge", `adapter "${name}" is already merged into "${this.path}"`);
    }
    const weight = this.base_layer.weight;
    return tidy(() => noGrad(() => names.reduce((w, name) => w.add(this.deltaWeight(name).cast(weight.dtype)), weight as Tensor))); // (out, in)
  }

  /** Writes a weight made by mergedWeight for `names` and records their merge. */
  commitMerge(names: readonly string[], merged: Tensor): void {
    noGrad(() => this.base_layer.weight.assign(merged));
    for (const name of names) this.#merged.push({ name, stamp: this.#stamp(name) });
  }

  /**
   * Subtracts every merged ΔW, last merged first. Refused, before anything is written, if an
   * adapter's weights changed since it was merged: the ΔW subtracted would not be the one added.
   */
  unmerge(): void {
    this.assertUnmergeable();
    const weight = this.base_layer.weight;
    while (this.#merged.length > 0) {
      const { name } = this.#merged.pop() as { name: string };
      tidy(() => noGrad(() => weight.assign(weight.sub(this.deltaWeight(name).cast(weight.dtype)))));
    }
  }

  /** Throws if unmerge would be refused (so a model can check every layer before changing any). */
  assertUnmergeable(): void {
    for (const { name, stamp } of this.#merged) {
      if (this.#stamp(name) !== stamp) {
        fail(
          "unmerge",
          `the weights of adapter "${name}" in "${this.path}" changed after it was merged, so subtracting its ΔW ` +
            "would not restore the base weight; adapters must not be trained or loaded while merged",
        );
      }
    }
  }

  #stamp(name: string): string {
    return this.adapterTensors(name)
      .map((t) => `${t.id}@${t.version("unmerge")}`)
      .join(",");
  }

  #checkAdapter(name: string, where: string): void {
    if (!this.hasAdapter(name)) fail(where, `"${this.path}" has no adapter "${name}" (it has ${this.adapterNames().join(", ") || "none"})`);
  }
}

/**
 * The rank check of the methods that refuse a rank no update can have (MH-LoRA, HyRA; LoRA accepts
 * any r, as PEFT): r at most the rank of the block one update fills. With a head split, one head's block
 * of the weight (its rows for q, k, v; its columns for o), without, the whole weight.
 */
export function checkRank(
  where: string,
  r: number,
  path: string,
  layer: Linear,
  split?: { heads: number; axis: "output" | "input" },
): void {
  const { inFeatures: din, outFeatures: dout } = layer;
  const [rows, cols] = split === undefined ? [dout, din] : split.axis === "output" ? [dout / split.heads, din] : [dout, din / split.heads];
  const most = Math.min(rows, cols);
  if (r <= most) return;
  fail(
    where,
    split === undefined
      ? `r = ${r} is larger than "${path}" (Linear ${din} -> ${dout}): an update of a ${dout}×${din} weight has rank at most ${most}`
      : `r = ${r} is larger than a head of "${path}": each of its ${split.heads} heads updates a ${rows}×${cols} block ` +
          `(head size ${split.axis === "output" ? rows : cols}), whose rank is at most ${most}`,
  );
}

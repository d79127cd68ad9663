/**
 * @file HyRA's generator for one adapter of one attention layer: the learned seeds Ā and B_1..B_H, and
 * the two small MLPs Θ_A and Θ_B that turn them into every projection's low-rank factors.
 *
 *     A^p   = P_A^p · σ(U_A · Ā)          Ā (r, d),  U_A (m, r),  P_A^p (r, m)       -> A^p (r, d)
 *     B_h^p = P_B^p · σ(U_B · B_h)        B_h (d_h, r),  U_B (m, d_h),  P_B^p (d_h, m) -> B_h^p (d_h, r)
 *     ΔW_p  = s · [B_1^p; …; B_H^p] · A^p
 *
 * for each adapted projection p (q and v by default). U_A and U_B, the trunks, are shared by the
 * projections; U_B and every P_B^p are shared by all heads: the cross-head coupling. Options: mix each
 * B_h along its rank axis instead (B_h^p = σ(B_h·U_B)·P_B^p, U_B (r, m), P_B^p (m, r)), one Θ_B per head
 * (a leading H axis on U_B and P_B^p), one trunk per projection, and one Ā and one set of B_h per
 * projection (sharedSeeds false: `seed_A.q`, `seed_B.q`, ...), which leaves only the generators shared.
 *
 * Compact head embeddings (headEmbedding e): each head's seed is smaller than the factor it generates
 * along the axis Θ_B mixes, Z_h (e, r) with e < d_h (feature mixing: U_B (m, e), P_B^p (d_h, m)) or
 * Z_h (d_h, e) with e < r (rank mixing: U_B (e, m), P_B^p (m, r)). The generator, not the seed, then
 * holds what the heads' factors have in common: a hypernetwork in the proper sense.
 */

import type { DType } from "@tsgrad/core";
import { gelu, matmul, noGrad, normal, relu, reshape, type Tensor, tanh, tidy, uniform, zeros } from "@tsgrad/core";
import { Module, Parameter } from "@tsgrad/nn";
import { ParameterDict } from "../../adapter-dict.ts";
import { type InitLoraWeights, scalingOf } from "../lora/family.ts";
import type { Activation, HyraOptions } from "./tuner.ts";

export interface HyraShape {
  /** The projections' input width d. */
  inFeatures: number;
  heads: number;
  /** d_h: each projection's output is heads·d_h. */
  headSize: number;
  r: number;
  /** m. */
  hiddenWidth: number;
  /** The adapted projections of the layer, by name ("q", "v"). */
  projections: readonly string[];
}

export interface HyraSettings extends Omit<HyraOptions, "hiddenWidth"> {
  alpha: number;
  useRslora: boolean;
  dropout: number;
  initLoraWeights: InitLoraWeights;
}

const ACTIVATIONS: Record<Activation, (x: Tensor) => Tensor> = {
  gelu: (x) => gelu(x),
  tanh: (x) => tanh(x),
  identity: (x) => x,
  relu: (x) => relu(x),
};

/**
 * The init gain of the output projections P. Near initialisation the seeds' entries are O(1/√d), where
 * σ is nearly linear, so P·σ(U·x) ≈ σ'(0)·P·U·x: a gain of 1/σ'(0) (GELU's σ'(0) is 1/2) keeps the
 * variance of x, and A^p starts at the scale of its seed Ā, i.e. of LoRA's A. ReLU is not linear at 0;
 * it halves the variance of a symmetric input, which He's √2 restores.
 */
export const OUTPUT_GAIN: Record<Activation, number> = { gelu: 2, tanh: 1, identity: 1, relu: Math.SQRT2 };

/** U(±gain·√(3/fanIn)): variance gain²/fanIn, so a product with fanIn terms keeps its input's variance when gain = 1. */
function fanInUniform(shape: readonly number[], fanIn: number, gain: number, dtype: DType): Tensor {
  const bound = gain * Math.sqrt(3 / fanIn);
  return uniform(shape, -bound, bound, { dtype });
}

function parameter(make: () => Tensor): Parameter {
  // tidy frees the draw once the parameter holds its buffer
  return tidy(() => noGrad(() => new Parameter(make())));
}

/**
 * One generator network: a trunk h = σ(U·x) and an output projection per adapted projection p.
 * "left" multiplies x from the left (out^p = P^p·σ(U·x), mixing x's rows), "right" from the right
 * (out^p = σ(x·U)·P^p, mixing its columns). Leading axes (the heads of a per-head Θ_B) broadcast.
 */
export class Theta extends Module {
  U: Parameter | ParameterDict; // left (…, m, k), right (…, k, m); a dict of them with one trunk per projection
  P: ParameterDict; // left (…, k', m), right (…, m, k'), k' the output's size of the mixed axis: one per projection

  constructor(
    readonly side: "left" | "right",
    readonly activation: Activation,
    readonly projections: readonly string[],
    options: {
      /** The size k of the mixed axis of x (the fan-in of U). */
      k: number;
      /** The size of that axis in the output (k unless the seeds are compact embeddings). */
      out?: number;
      m: number;
      /** Leading axes of U and P (the heads, for one Θ_B per head). */
      batch: readonly number[];
      sharedTrunk: boolean;
      zeroOutput: boolean;
      dtype: DType;
    },
  ) {
    super();
    const { k, m, batch, dtype } = options;
    const out = options.out ?? k;
    const uShape = side === "left" ? [...batch, m, k] : [...batch, k, m];
    const pShape = side === "left" ? [...batch, out, m] : [...batch, m, out];
    const trunk = () => parameter(() => fanInUniform(uShape, k, 1, dtype));
    this.U = options.sharedTrunk ? trunk() : new ParameterDict(projections.map((p) => [p, trunk()]));
    const gain = OUTPUT_GAIN[activation];
    this.P = new ParameterDict(
      projections.map((p) => [p, parameter(() => (options.zeroOutput ? zeros(pShape, { dtype }) : fanInUniform(pShape, m, gain, dtype)))]),
    );
  }

  #trunk(p: string): Tensor {
    return this.U instanceof ParameterDict ? this.U.get(p) : this.U;
  }

  /**
   * Every projection's output for its input: one x for all, or one per projection (a ParameterDict of
   * seeds); a shared trunk on a shared x is computed once.
   */
  apply(input: Tensor | ParameterDict): Map<string, Tensor> {
    const sigma = ACTIVATIONS[this.activation];
    const xOf = (p: string) => (input instanceof ParameterDict ? input.get(p) : input);
    const hidden = (U: Tensor, x: Tensor) => sigma(this.side === "left" ? matmul(U, x) : matmul(x, U)); // left (…, m, n), right (…, n, m)
    const shared = this.U instanceof ParameterDict || input instanceof ParameterDict ? null : hidden(this.U, input);
    const out = new Map<string, Tensor>();
    for (const p of this.projections) {
      const x = xOf(p);
      const h = shared ?? hidden(this.#trunk(p), x);
      const P = this.P.get(p);
      out.set(p, this.side === "left" ? matmul(P, h) : matmul(h, P)); // the shape of x, its mixed axis k'
    }
    return out;
  }

  /** The tensors apply() reads. */
  inputs(): Tensor[] {
    const trunks = this.U instanceof ParameterDict ? this.projections.map((p) => this.#trunk(p)) : [this.U];
    return [...trunks, ...this.projections.map((p) => this.P.get(p))];
  }
}

export class HyraGenerator extends Module {
  seed_A: Parameter | ParameterDict; // Ā (r, d); with sharedSeeds false, one per projection
  seed_B: Parameter | ParameterDict; // B_1..B_H (H, d_h, r), compact (H, e, r) or (H, d_h, e); with sharedSeeds false, one set per projection
  theta_A: Theta; // mixes Ā along its rank axis
  theta_B: Theta; // mixes each B_h along its feature axis (or its rank axis)
  readonly scaling: number;
  readonly dropout: number;

  constructor(
    readonly shape: HyraShape,
    readonly settings: HyraSettings,
    dtype: DType,
  ) {
    super();
    const { inFeatures: d, heads: H, headSize: dh, r, hiddenWidth: m, projections } = shape;
    const { activation, initLoraWeights, hyraInit, mixing, perHeadGenerator, sharedTrunk } = settings;
    const perProjection = (make: () => Parameter) =>
      settings.sharedSeeds === false ? new ParameterDict(projections.map((p) => [p, make()])) : make();
    // initLoraWeights = false: nothing starts at zero (a random, non-zero ΔW for tests)
    const zeroSeeds = initLoraWeights !== false && hyraInit === "zero-seeds";
    const zeroOutput = initLoraWeights !== false && hyraInit === "zero-output";
    // Ā takes LoRA's A init (Kaiming-uniform with a = √5, U(±1/√d), or N(0, 1/r²)); Θ_A keeps its scale
    this.seed_A = perProjection(() =>
      parameter(() =>
        initLoraWeights === "gaussian"
          ? normal([r, d], 0, 1 / r, { dtype })
          : uniform([r, d], -1 / Math.sqrt(d), 1 / Math.sqrt(d), { dtype }),
      ),
    );
    // the axis Θ_B mixes (d_h features, or r rank columns) and its size e in each head's seed: e = k for a
    // seed as large as B_h, smaller for a compact embedding from which the generator makes B_h
    const k = mixing === "feature" ? dh : r;
    const e = settings.headEmbedding ?? k;
    const seedShape = mixing === "feature" ? [H, e, r] : [H, dh, e];
    // each B_h as the weight of a Linear(r, d_h): Kaiming-uniform with a = √5 is U(±1/√r); U_B's fan-in
    // gain keeps that scale whatever e is
    this.seed_B = perProjection(() =>
      parameter(() => (zeroSeeds ? zeros(seedShape, { dtype }) : uniform(seedShape, -1 / Math.sqrt(r), 1 / Math.sqrt(r), { dtype }))),
    );
    this.theta_A = new Theta("left", activation, projections, { k: r, m, batch: [], sharedTrunk, zeroOutput: false, dtype });
    const thetaB = { k: e, out: k, m, batch: perHeadGenerator ? [H] : [], sharedTrunk, zeroOutput, dtype };
    this.theta_B = new Theta(mixing === "feature" ? "left" : "right", activation, projections, thetaB);
    this.scaling = scalingOf({ r, alpha: settings.alpha, useRslora: settings.useRslora });
    this.dropout = settings.dropout;
  }

  get projections(): readonly string[] {
    return this.shape.projections;
  }

  /** Every projection's factors: A^p (r, d) and B^p (H·d_h, r), the heads' B_h^p stacked in head order. */
  generate(): Map<string, { A: Tensor; B: Tensor }> {
    const { heads: H, headSize: dh, r } = this.shape;
    const A = this.theta_A.apply(this.seed_A); // each (r, d)
    const B = this.theta_B.apply(this.seed_B); // each (H, d_h, r)
    const out = new Map<string, { A: Tensor; B: Tensor }>();
    for (const p of this.projections) {
      out.set(p, { A: A.get(p) as Tensor, B: reshape(B.get(p) as Tensor, [H * dh, r]) }); // B (H·d_h, r): head h is rows h·d_h ..< (h+1)·d_h
    }
    return out;
  }

  /** Every tensor generate() reads (the cache key of the generated factors). */
  inputs(): Tensor[] {
    const seeds = (s: Parameter | ParameterDict) => (s instanceof ParameterDict ? this.projections.map((p) => s.get(p)) : [s]);
    return [...seeds(this.seed_A), ...seeds(this.seed_B), ...this.theta_A.inputs(), ...this.theta_B.inputs()];
  }
}

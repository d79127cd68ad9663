/**
 * @file HyRA as a method: one generator per attention layer and adapter (generator.ts) makes the factors
 * of all its heads and adapted projections; the layer holds it once (HyraLayer, the attention module's
 * child `hyra`) and each adapted projection becomes a HyraProjection that asks it for its factors.
 *
 * Parameters per layer, with P adapted projections of a width-d attention (H heads of d_h = d/H), rank r
 * and generator width m:
 *
 *     S·(r·d + H·d_h·r·e/k) + |Θ_A| + |Θ_B|    seeds Ā and B_1..B_H (S = 1 shared, or P), then the generators
 *       |Θ_A| = T·m·r + P·r·m                  trunk U_A (T = 1, or P with separate trunks), P_A^p
 *       |Θ_B| = G·(T·m·e + P·k·m)              k = d_h (feature mixing) or r (rank mixing), G = H per-head or 1
 *                                              e = headEmbedding (compact seeds), k by default
 *
 * so the default HyRA (feature mixing, shared trunk and seeds, one Θ_B; q and v) is r·d + H·d_h·r + 3rm + 3m·d_h.
 * The output projection o counts as any other (P = 3 for q, v, o): its update is generated transposed,
 * with the same shapes as q's.
 */

import { fail, type Tensor } from "@tsgrad/core";
import type { Linear, Module } from "@tsgrad/nn";
import { checkRank } from "../../adapter-layer.ts";
import { stateAt } from "../../base-tuner.ts";
import { type CommonConfig, checkBoolean, oneOf } from "../../config.ts";
import { type HeadSplit, headSplitOf } from "../../targets.ts";
import { LORA_FAMILY, type LoraFamilyConfig } from "../lora/family.ts";
import { baseOf, combineFields, KEY_PREFIX, type MethodFields, type Target, type Tuner } from "../tuner.ts";
import { HyraGenerator } from "./generator.ts";
import { HyraLayer, HyraProjection } from "./hyra-layer.ts";

/** The generator's nonlinearity σ. */
export type Activation = "gelu" | "tanh" | "identity" | "relu";
/** Which axis of each head seed B_h the generator Θ_B mixes: its d_h features or its r rank columns. */
export type Mixing = "feature" | "rank";
/**
 * How HyRA starts at ΔW = 0: "zero-output" zeroes the output projections P_B (seeds random);
 * "zero-seeds" zeroes the head seeds B_h (P_B random), which needs σ(0) = 0 and σ'(0) ≠ 0.
 */
export type HyraInit = "zero-output" | "zero-seeds";

export interface HyraOptions {
  activation: Activation;
  /** The generators' hidden width m; null means the head size d_h of each layer. */
  hiddenWidth: number | null;
  mixing: Mixing;
  /** One Θ_B per head instead of one shared by all heads (removes the cross-head coupling). */
  perHeadGenerator: boolean;
  /** One trunk U per generator shared by q and v (true), or one per projection. */
  sharedTrunk: boolean;
  /** One Ā and one set of head seeds B_h shared by the adapted projections (true), or one per projection. */
  sharedSeeds: boolean;
  hyraInit: HyraInit;
  /**
   * Compact head embeddings: the size e of the mixed axis of each head's seed (e < d_h with feature
   * mixing, e < r with rank mixing), from which Θ_B generates B_h; null: seeds as large as B_h.
   */
  headEmbedding: number | null;
}

export interface HyraConfig extends CommonConfig, LoraFamilyConfig, HyraOptions {
  method: "hyra";
}

declare module "../../config.ts" {
  interface MethodConfigs {
    hyra: HyraConfig;
  }
}

export const HYRA_DEFAULTS: HyraOptions = {
  activation: "gelu",
  hiddenWidth: null,
  mixing: "feature",
  perHeadGenerator: false,
  sharedTrunk: true,
  sharedSeeds: true,
  hyraInit: "zero-output",
  headEmbedding: null,
};

const ACTIVATIONS: readonly Activation[] = ["gelu", "tanh", "identity", "relu"];
const MIXINGS: readonly Mixing[] = ["feature", "rank"];
const HYRA_INITS: readonly HyraInit[] = ["zero-output", "zero-seeds"];
/** A generator width past this is no adapter of a model tsgrad can hold; a file saying so is refused. */
const MAX_WIDTH = 1 << 16;
/**
 * The generators' width m may be at most this many times the adapted layer's input width: a generator far
 * wider than the model is no adapter of it, and a config (from a file) must not allocate gigabytes.
 */
const MAX_WIDTH_RATIO = 16;

function resolveHyra(
  fields: Readonly<Record<string, unknown>>,
  bad: (field: string, value: unknown, expected: string) => never,
): HyraOptions {
  const { hiddenWidth } = fields;
  if (hiddenWidth !== null && (!Number.isInteger(hiddenWidth) || (hiddenWidth as number) <= 0 || (hiddenWidth as number) > MAX_WIDTH)) {
    bad("hiddenWidth", hiddenWidth, `a positive integer up to ${MAX_WIDTH}, or null for the head size d_h`);
  }
  const { headEmbedding } = fields;
  if (
    headEmbedding !== null &&
    (!Number.isInteger(headEmbedding) || (headEmbedding as number) <= 0 || (headEmbedding as number) > MAX_WIDTH)
  ) {
    bad("headEmbedding", headEmbedding, `a positive integer up to ${MAX_WIDTH}, or null for seeds as large as B_h`);
  }
  const hyra: HyraOptions = {
    activation: oneOf("activation", fields.activation, ACTIVATIONS),
    hiddenWidth: hiddenWidth as number | null,
    mixing: oneOf("mixing", fields.mixing, MIXINGS),
    perHeadGenerator: checkBoolean("perHeadGenerator", fields.perHeadGenerator),
    sharedTrunk: checkBoolean("sharedTrunk", fields.sharedTrunk),
    sharedSeeds: checkBoolean("sharedSeeds", fields.sharedSeeds),
    hyraInit: oneOf("hyraInit", fields.hyraInit, HYRA_INITS),
    headEmbedding: headEmbedding as number | null,
  };
  // B_h = 0 makes ΔW = 0 only if σ(0) = 0, and lets the seeds learn only if σ'(0) ≠ 0: ReLU's
  // derivative at 0 is 0, so every gradient to the seeds would be zero and the adapter would never move
  if (hyra.hyraInit === "zero-seeds" && hyra.activation === "relu") {
    fail(
      "PeftConfig",
      "hyraInit \"zero-seeds\" needs σ(0) = 0 and σ'(0) ≠ 0, and ReLU has σ'(0) = 0: the seeds would get no gradient; use gelu, tanh or identity",
    );
  }
  return hyra;
}

/**
 * A projection as the generator sees it: the width d of its seed Ā and its H·d_h head features. q, k and
 * v read d inputs and write H·d_h outputs; o reads H·d_h and writes d, so it takes the transposed update.
 */
function oriented(linear: Linear, axis: "output" | "input"): { seedWidth: number; features: number } {
  return axis === "output"
    ? { seedWidth: linear.inFeatures, features: linear.outFeatures }
    : { seedWidth: linear.outFeatures, features: linear.inFeatures };
}

type Planned = Target & { linear: Linear; projection: string; axis: "output" | "input" };

/** Targets grouped by attention module (one generator per layer for all its adapted projections), checked. */
function plan(model: Module, config: HyraConfig, targets: readonly Target[], where: string) {
  const groups = new Map<string, { split: HeadSplit; targets: Planned[] }>();
  for (const target of targets) {
    const linear = baseOf(target.layer);
    const split = headSplitOf(model, target.path, linear, config.method);
    checkRank(where, config.r, target.path, linear);
    const group = groups.get(split.attentionPath) ?? { split, targets: [] };
    groups.set(split.attentionPath, group);
    group.targets.push({ ...target, linear, projection: split.projection, axis: split.axis });
  }
  for (const [attentionPath, { split, targets: group }] of groups) {
    // Ā and the head seeds B_h (and the trunks) are shared by the layer's projections: their shapes must agree
    const shape = (t: Planned) => oriented(t.linear, t.axis);
    const describe = (t: Planned) =>
      `"${t.path}" is ${t.linear.inFeatures} -> ${t.linear.outFeatures}${t.axis === "input" ? " (its update is generated transposed)" : ""}`;
    const [first, ...rest] = group;
    for (const other of rest) {
      if (shape(other).seedWidth !== shape(first).seedWidth || shape(other).features !== shape(first).features) {
        fail(
          where,
          `the projections of "${attentionPath}" share one HyRA generator, so they need one shape, but ${describe(first)} and ${describe(other)}`,
        );
      }
    }
    // a compact embedding must be smaller than the seed it replaces, along the axis Θ_B mixes
    const mixed =
      config.mixing === "feature" ? { size: split.headSize, what: "the head size d_h" } : { size: config.r, what: "the rank r" };
    if (config.headEmbedding !== null && config.headEmbedding >= mixed.size) {
      fail(
        where,
        `headEmbedding = ${config.headEmbedding} is not below ${mixed.what} = ${mixed.size} of "${attentionPath}" (${config.mixing} mixing): ` +
          "a compact embedding is smaller than the seed it replaces; null gives seeds as large as B_h",
      );
    }
    const width = config.hiddenWidth ?? split.headSize;
    const seedWidth = shape(first).seedWidth;
    if (width > MAX_WIDTH_RATIO * seedWidth) {
      fail(
        where,
        `hiddenWidth = ${width} is more than ${MAX_WIDTH_RATIO} × the width ${seedWidth} of "${first.path}"; the generators' width m is at most ${MAX_WIDTH_RATIO * seedWidth} here`,
      );
    }
  }
  return groups;
}

const HYRA_FIELDS: MethodFields<HyraOptions> = {
  defaults: HYRA_DEFAULTS,
  diskNames: {
    activation: "hyra_activation",
    hiddenWidth: "hyra_hidden_width",
    mixing: "hyra_mixing",
    perHeadGenerator: "hyra_per_head_generator",
    sharedTrunk: "hyra_shared_trunk",
    sharedSeeds: "hyra_shared_seeds",
    hyraInit: "hyra_init",
    headEmbedding: "hyra_head_embedding",
  },
  nullable: ["hiddenWidth", "headEmbedding"],
  resolve: resolveHyra,
};

/** Where the HyRA layer of the attention module at `attentionPath` lives on the tuner. */
const statePath = (attentionPath: string) => (attentionPath ? `hyra.${attentionPath}` : "hyra");

export const hyraTuner: Tuner<HyraConfig> = {
  method: "hyra",
  label: "HyRA",
  peftType: "HYRA",
  fields: combineFields(LORA_FAMILY, HYRA_FIELDS),
  layerClass: HyraProjection,
  inject({ model, state, where }, name, config, targets) {
    for (const { split, targets: group } of plan(model, config, targets, where).values()) {
      // the layer's generators are the tuner's state, not the attention module's: nothing is written onto the user's model
      const layer = stateAt(state, statePath(split.attentionPath), () => new HyraLayer());
      const { linear, axis } = group[0];
      const generator = new HyraGenerator(
        {
          inFeatures: oriented(linear, axis).seedWidth,
          heads: split.heads,
          headSize: split.headSize,
          r: config.r,
          hiddenWidth: config.hiddenWidth ?? split.headSize,
          projections: group.map((t) => t.projection),
        },
        config,
        linear.weight.dtype,
      );
      layer.set(name, generator);
      for (const { path, layer: target, projection, axis: split } of group) {
        if (!(target instanceof HyraProjection))
          model.setSubmodule(path, new HyraProjection(baseOf(target), path, layer, projection, split));
      }
    }
  },
  /** Saved once per layer where PEFT-style keys put it: `<attention>.hyra.seed_A`, as before the state moved to the tuner. */
  ownState({ state }, name) {
    const root = state.namedChildren().find(([n]) => n === "hyra")?.[1];
    const out: [string, Tensor][] = [];
    for (const [path, layer] of root?.namedModules() ?? []) {
      const generator = layer instanceof HyraLayer ? layer.get(name) : undefined;
      for (const [key, p] of generator?.namedParameters() ?? []) out.push([`${KEY_PREFIX}${path ? `${path}.` : ""}hyra.${key}`, p]);
    }
    return out;
  },
  parameterCount(shape) {
    const { d, heads: H, r, layers } = shape;
    const P = shape.projections ?? 2;
    const dh = d / H;
    const m = (shape.hiddenWidth as number | undefined) ?? dh;
    const T = (shape.sharedTrunk ?? true) ? 1 : P;
    const k = (shape.mixing ?? "feature") === "feature" ? dh : r;
    const e = (shape.headEmbedding as number | null | undefined) ?? k;
    const G = shape.perHeadGenerator ? H : 1;
    const S = (shape.sharedSeeds ?? true) ? 1 : P;
    const thetaA = T * m * r + P * r * m;
    const thetaB = G * (T * m * e + P * k * m);
    // each head's seed has e of the k entries of B_h's mixed axis (d_h·r, or fewer when compact)
    return layers * (S * (r * d + (H * dh * r * e) / k) + thetaA + thetaB);
  },
};

/**
 * @file The trainable-parameter count of each method as a formula (biases and modulesToSave aside),
 * the numbers the README's table shows and the tests check against real models.
 *
 * Per layer, with P adapted projections of a width-d attention (H heads of d_h = d/H), rank r and
 * generator width m (for P = 2, q and v):
 *
 *     LoRA      P·(r·d + d·r)                        = 4rd
 *     MH-LoRA   P·H·(r·d + d_h·r)                    = 2H(rd + d_h r)
 *     HyRA      r·d + H·d_h·r + |Θ_A| + |Θ_B|        seeds Ā and B_1..B_H, then the generators
 *       |Θ_A| = T·m·r + P·r·m                         trunk U_A (T = 1, or P with separate trunks), P_A^p
 *       |Θ_B| = G·(T·m·k + P·k·m)                     k = d_h (feature mixing) or r (rank mixing), G = H per-head or 1
 *
 * so the default HyRA (feature mixing, shared trunk, one Θ_B) is r·d + H·d_h·r + 3rm + 3m·d_h.
 */

import { describeValue, fail } from "@tsgrad/core";

import type { Method, Mixing } from "./config.ts";

export interface CountShape {
  /** Model width d (each adapted projection is d -> d). */
  d: number;
  heads: number;
  r: number;
  layers: number;
  /** Adapted projections per layer (2 for q and v). */
  projections?: number;
  /** HyRA's generator width m (d_h by default). */
  hiddenWidth?: number;
  mixing?: Mixing;
  perHeadGenerator?: boolean;
  sharedTrunk?: boolean;
}

/** Trainable adapter parameters of one method on `layers` attention layers. */
export function adapterParameterCount(method: Method, shape: CountShape): number {
  if (shape === null || typeof shape !== "object")
    fail("adapterParameterCount", `the shape must be an object, got ${describeValue(shape)}`);
  const { d, heads: H, r, layers } = shape;
  const P = shape.projections ?? 2;
  const dh = d / H;
  if (method === "lora") return layers * P * (r * d + d * r);
  if (method === "mh-lora") return layers * P * H * (r * d + dh * r);
  const m = shape.hiddenWidth ?? dh;
  const T = (shape.sharedTrunk ?? true) ? 1 : P;
  const k = (shape.mixing ?? "feature") === "feature" ? dh : r;
  const G = shape.perHeadGenerator ? H : 1;
  const thetaA = T * m * r + P * r * m;
  const thetaB = G * (T * m * k + P * k * m);
  return layers * (r * d + H * dh * r + thetaA + thetaB);
}

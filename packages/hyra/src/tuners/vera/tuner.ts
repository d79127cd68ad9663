/**
 * @file VeRA as a method (Kopiczko et al., 2024, "VeRA: Vector-based Random Matrix Adaptation"; PEFT's
 * tuners/vera): one pair of frozen random matrices A (r, in_max) and B (out_max, r) per adapter, drawn
 * from a seed and shared by every adapted layer, kept on the tuner (`base_model.vera_A.<adapter>`, as
 * PEFT's VeraModel); each layer trains only two scaling vectors (vera-linear.ts).
 *
 *     parameters per adapted layer   out + r   (layers·P·(d + r) for P projections of width d)
 *
 * A and B are Kaiming-uniform with gain √2 over their fan-in (PEFT's _kaiming_init), drawn in that order
 * from a Generator seeded with projectionPrngKey, never from the global one. They are not PyTorch's draws
 * for the same key, so they travel in the file (save_projection true, PEFT's default); a file saved
 * without them could only be rebuilt with PyTorch's generator and is refused.
 */

import { fail, Generator, noGrad, type Tensor, tidy, uniform } from "@tsgrad/core";
import type { Linear } from "@tsgrad/nn";
import { BufferDict } from "../../adapter-dict.ts";
import { stateAt } from "../../base-tuner.ts";
import { type CommonConfig, checkBoolean } from "../../config.ts";
import { checkDropout, checkRankField } from "../lora/family.ts";
import { baseOf, type Tuner } from "../tuner.ts";
import { VeraLinear } from "./vera-linear.ts";

export interface VeraOptions {
  /** The rank r of the shared projections (PEFT's default 256: VeRA trades rank for parameters). */
  r: number;
  /** Dropout on the adapter's input path, while training (PEFT's vera_dropout). */
  dropout: number;
  /** λ_d's initial value (λ_b starts at 0, so ΔW = 0). */
  dInitial: number;
  /** The seed of A and B (PEFT's projection_prng_key). */
  projectionPrngKey: number;
  /** Save A and B with the adapter; must be true (see the file comment). */
  saveProjection: boolean;
  /** false: λ_b = 1, λ_d ~ N(0, 1), a non-zero ΔW (PEFT's init_weights, for tests). */
  initWeights: boolean;
}

export interface VeraConfig extends CommonConfig, VeraOptions {
  method: "vera";
}

declare module "../../config.ts" {
  interface MethodConfigs {
    vera: VeraConfig;
  }
}

export const VERA_DEFAULTS: VeraOptions = {
  r: 256,
  dropout: 0,
  dInitial: 0.1,
  projectionPrngKey: 0,
  saveProjection: true,
  initWeights: true,
};

const NO_PROJECTION =
  "is not supported: VeRA's A and B would have to be rebuilt from projection_prng_key with PyTorch's random generator, " +
  "which tsgrad does not have (its own draws differ), so they must be saved with the adapter; use save_projection true";

/** Kaiming-uniform with gain √2 over the fan-in (the last axis): U(±√(6 / fanIn)), PEFT's _kaiming_init. */
function kaiming(shape: [number, number], generator: Generator, dtype: Linear["weight"]["dtype"]): Tensor {
  const bound = Math.sqrt(6 / shape[1]);
  return tidy(() => noGrad(() => uniform(shape, -bound, bound, { generator, dtype }).keep()));
}

export const veraTuner: Tuner<VeraConfig> = {
  method: "vera",
  label: "VeRA",
  peftType: "VERA",
  fields: {
    defaults: VERA_DEFAULTS,
    diskNames: {
      r: "r",
      dropout: "vera_dropout",
      dInitial: "d_initial",
      projectionPrngKey: "projection_prng_key",
      saveProjection: "save_projection",
      initWeights: "init_weights",
    },
    nullable: [],
    resolve(fields, bad) {
      const { dInitial, projectionPrngKey } = fields;
      if (typeof dInitial !== "number" || !Number.isFinite(dInitial)) bad("dInitial", dInitial, "a finite number");
      if (!Number.isSafeInteger(projectionPrngKey) || (projectionPrngKey as number) < 0) {
        bad("projectionPrngKey", projectionPrngKey, "an integer >= 0 (the seed of A and B)");
      }
      const saveProjection = checkBoolean("saveProjection", fields.saveProjection);
      if (!saveProjection) fail("PeftConfig", `saveProjection false ${NO_PROJECTION.replace("save_projection", "saveProjection")}`);
      return {
        r: checkRankField(fields.r, bad),
        dropout: checkDropout("dropout", fields.dropout, bad),
        dInitial: dInitial as number,
        projectionPrngKey: projectionPrngKey as number,
        saveProjection,
        initWeights: checkBoolean("initWeights", fields.initWeights),
      };
    },
    jsonExtras: { fan_in_fan_out: false, inference_mode: true, task_type: null, base_model_name_or_path: null, revision: null },
    unsupportedIfSet: { fan_in_fan_out: false },
    // PEFT's VeraConfig names the adapted layers' own biases so
    onlyBias: "vera_only",
    checkFile(raw, where) {
      if (raw.save_projection === false) fail(where, `save_projection false ${NO_PROJECTION}`);
    },
  },
  layerClass: VeraLinear,
  inject({ model, state }, name, config, targets) {
    // one pair for the adapter, as large as its largest target (PEFT's _find_dim): each layer takes its block
    const inMax = Math.max(...targets.map((t) => baseOf(t.layer).inFeatures));
    const outMax = Math.max(...targets.map((t) => baseOf(t.layer).outFeatures));
    const dtype = baseOf(targets[0].layer).weight.dtype;
    const generator = new Generator(config.projectionPrngKey);
    const sharedA = stateAt(state, "vera_A", () => new BufferDict());
    const sharedB = stateAt(state, "vera_B", () => new BufferDict());
    sharedA.set(name, kaiming([config.r, inMax], generator, dtype));
    sharedB.set(name, kaiming([outMax, config.r], generator, dtype));
    for (const { path, layer } of targets) {
      const wrapper = layer instanceof VeraLinear ? layer : new VeraLinear(baseOf(layer), path, sharedA, sharedB);
      wrapper.addAdapter(name, config);
      if (wrapper !== layer) model.setSubmodule(path, wrapper);
    }
  },
  /** Saved once, at PEFT's keys: `base_model.vera_A` and `base_model.vera_B` (the adapter name taken out). */
  ownState({ state }, name) {
    const out: [string, Tensor][] = [];
    for (const key of ["vera_A", "vera_B"]) {
      const dict = state.namedChildren().find(([n]) => n === key)?.[1];
      const tensor = dict instanceof BufferDict ? dict.get(name) : undefined;
      if (tensor) out.push([`base_model.${key}`, tensor]);
    }
    return out;
  },
  parameterCount({ d, r, layers, projections = 2 }) {
    return layers * projections * (d + r);
  },
};

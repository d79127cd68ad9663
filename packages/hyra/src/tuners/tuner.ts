/**
 * @file What an adapter method is, to the tuner (PEFT's tuners/<method>/ folders): its config fields,
 * the PEFT type its files carry, how it checks and wraps the modules a config targets, the state it
 * keeps on the tuner, and its parameter count. The tuner talks to this interface only and never asks
 * which method it holds; the methods are registered in tuners/index.ts, one line each.
 *
 * Adding a method: a folder tuners/<method>/ with its layer (an AdapterLayer subclass: its own update,
 * deltaWeight, optionally loraFactors) and a tuner.ts exporting a `Tuner<ItsConfig>`, its config type
 * added to MethodConfigs there (a `declare module` block, as tuners/vera/tuner.ts does), and one line in
 * tuners/index.ts. test/tuner-registry.test.ts adds a method this way from a test file alone.
 */

import { describeValue, fail, type Tensor } from "@tsgrad/core";
import type { Linear, Module } from "@tsgrad/nn";
import { AdapterLayer } from "../adapter-layer.ts";
import type { CommonConfig } from "../config.ts";

/** The prefix of every key of the base model's tensors, as PEFT's (PeftModel.base_model is the tuner, whose .model is the base model). */
export const KEY_PREFIX = "base_model.model.";

/** A module a config targets, with its path; an AdapterLayer when an earlier adapter wrapped it. */
export interface Target {
  path: string;
  layer: Linear | AdapterLayer;
}

/** The Linear under a target (an earlier adapter's wrapper holds it as base_layer). */
export function baseOf(layer: Linear | AdapterLayer): Linear {
  return layer instanceof AdapterLayer ? layer.base_layer : layer;
}

/** Throws the config error "<field> must be <expected>, got <value>". */
export type BadField = (field: string, value: unknown, expected: string) => never;

/** What every resolved config is: the common fields and the method's name. */
export interface BaseConfig extends CommonConfig {
  method: string;
}

/** A method's own fields: everything of its config but the method name and the common fields. */
export type OwnFields<C extends BaseConfig> = Omit<C, "method" | keyof CommonConfig>;

/** A method's own config fields, beyond the ones every method has (config.ts). */
export interface MethodFields<F> {
  /** Each field with its default. */
  defaults: Readonly<F>;
  /** camelCase field -> its adapter_config.json key. */
  diskNames: Readonly<Record<keyof F & string, string>>;
  /** The fields whose null is a value (not PEFT's "use the default"). */
  nullable: readonly (keyof F & string)[];
  /** Checks the method's fields of a config (defaults filled in) and returns them; `bad` throws the error. */
  resolve(fields: Readonly<Record<string, unknown>>, bad: BadField): F;
  /** Keys written into adapter_config.json beside ours (LoRA: PEFT's defaults, so PEFT reads the file as its own). */
  jsonExtras?: Readonly<Record<string, unknown>>;
  /**
   * PEFT fields of this method that change the math unless they have these values; they are not
   * implemented, so a file that sets them is refused rather than loaded wrong.
   */
  unsupportedIfSet?: Readonly<Record<string, unknown>>;
  /** Settings that matter only while a feature's switch is on (setting -> its switch's key). */
  settingOf?: Readonly<Record<string, string>>;
  /**
   * How this method's PEFT config spells bias "lora_only" (the adapted layers' own biases): VeRA's is
   * "vera_only"; the files say it so and read it back.
   */
  onlyBias?: string;
  /** Refuses what a file says that the fields cannot (a value PEFT allows and we do not, with why). */
  checkFile?(raw: Readonly<Record<string, unknown>>, where: string): void;
}

/** Two sets of fields as one (the LoRA family's fields spread into a method's own). */
export function combineFields<A, B>(a: MethodFields<A>, b: MethodFields<B>): MethodFields<A & B> {
  return {
    defaults: { ...a.defaults, ...b.defaults } as A & B,
    diskNames: { ...a.diskNames, ...b.diskNames } as Record<keyof (A & B) & string, string>,
    nullable: [...a.nullable, ...b.nullable] as (keyof (A & B) & string)[],
    resolve: (fields, bad) => ({ ...a.resolve(fields, bad), ...b.resolve(fields, bad) }),
    jsonExtras: { ...a.jsonExtras, ...b.jsonExtras },
    unsupportedIfSet: { ...a.unsupportedIfSet, ...b.unsupportedIfSet },
    settingOf: { ...a.settingOf, ...b.settingOf },
    onlyBias: b.onlyBias ?? a.onlyBias,
    checkFile(raw, where) {
      a.checkFile?.(raw, where);
      b.checkFile?.(raw, where);
    },
  };
}

/** Model width, heads, rank and layers: what every method's parameter count reads; a method reads its options too. */
export interface CountShape {
  /** Model width d (each adapted projection is d -> d). */
  d: number;
  heads: number;
  r: number;
  layers: number;
  /** Adapted projections per layer (2 for q and v). */
  projections?: number;
  /** The method's own options (HyRA's hiddenWidth, mixing, ...), as in its config. */
  [option: string]: unknown;
}

/** What a method's inject and state see. */
export interface TunerContext {
  /** The base model, adapted in place. */
  model: Module;
  /**
   * The tuner (PEFT's BaseTuner, the PeftModel's base_model): a method keeps the state it owns here, as
   * children it adds (VeRA's shared projections, HyRA's per-layer generators), never on the user's modules.
   * The tuner removes an adapter's entries from every AdapterDict found here, and the dicts left empty.
   */
  state: Module;
  /** The caller, for messages ("getPeftModel (vera)"). */
  where: string;
}

export interface Tuner<C extends BaseConfig = BaseConfig> {
  /** The config's `method` ("lora"). */
  readonly method: C["method"];
  /** The method's name in messages ("LoRA"). */
  readonly label: string;
  /** adapter_config.json's peft_type ("LORA"). */
  readonly peftType: string;
  readonly fields: MethodFields<OwnFields<C>>;
  /** The wrapper this method puts in place of an adapted Linear. */
  readonly layerClass: abstract new (
    ...args: never[]
  ) => AdapterLayer;
  /**
   * Checks every target for adapter `name`, throwing (with `where` and the path) before anything changes,
   * then wraps them: a target that is already this method's layer gets the adapter added.
   */
  inject(context: TunerContext, name: string, config: C, targets: readonly Target[]): void;
  /**
   * The tensors of adapter `name` that the method keeps on the tuner, by the key they are saved under
   * (`base_model.vera_A`); parameters train, other tensors (frozen buffers) are saved but never trained.
   */
  ownState?(context: TunerContext, name: string, config: C): [string, Tensor][];
  /** Trainable adapter parameters on `shape.layers` attention layers, biases and modulesToSave aside. */
  parameterCount(shape: CountShape): number;
}

const TUNERS = new Map<string, Tuner>();

/** Makes a method available to configs, getPeftModel and adapter files (PEFT's register_peft_method). */
export function registerTuner<C extends BaseConfig>(tuner: Tuner<C>): void {
  if (tuner === null || typeof tuner !== "object" || typeof tuner.method !== "string" || typeof tuner.inject !== "function") {
    fail(
      "registerTuner",
      `expected a Tuner ({ method, peftType, fields, layerClass, inject, parameterCount }), got ${describeValue(tuner)}`,
    );
  }
  const clash = [...TUNERS.values()].find((t) => t.method === tuner.method || t.peftType === tuner.peftType);
  if (clash && clash !== (tuner as unknown))
    fail("registerTuner", `method "${tuner.method}" (${tuner.peftType}) clashes with "${clash.method}" (${clash.peftType})`);
  // the registry hands each tuner only configs its own resolve made, so its config type holds
  TUNERS.set(tuner.method, tuner as unknown as Tuner);
}

/** The registered methods, in registration order. */
export function tuners(): Tuner[] {
  return [...TUNERS.values()];
}

/** The tuner of a registered method, or undefined. */
export function tunerOf(method: unknown): Tuner | undefined {
  return typeof method === "string" ? TUNERS.get(method) : undefined;
}

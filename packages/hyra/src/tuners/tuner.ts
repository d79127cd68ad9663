/**
 * @file What an adapter method is, to PeftModel (PEFT's tuners/<method>/ folders): its config fields,
 * the PEFT type its files carry, how it checks and wraps the modules a config targets, and its
 * parameter count. PeftModel talks to this interface only and never asks which method it holds; the
 * methods are registered in tuners/index.ts, one line each.
 *
 * Adding a method: a folder tuners/<method>/ with its layer (an AdapterLayer subclass: its own update,
 * deltaWeight, loraFactors) and a tuner.ts exporting a Tuner, its config type added to MethodConfigs
 * there (a `declare module` block, as tuners/hyra/tuner.ts does), and one line in tuners/index.ts.
 * test/tuner-registry.test.ts adds a method this way from a test file alone.
 */

import { describeValue, fail } from "@tsgrad/core";
import type { Linear, Module } from "@tsgrad/nn";
import { AdapterLayer } from "../adapter-layer.ts";
import type { PeftConfig } from "../config.ts";

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

/** A method's own config fields, beyond the ones every method has (config.ts). */
export interface MethodFields {
  /** Each field with its default. */
  defaults: Readonly<Record<string, unknown>>;
  /** camelCase field -> its adapter_config.json key. */
  diskNames: Readonly<Record<string, string>>;
  /** The fields whose null is a value (not PEFT's "use the default"). */
  nullable: readonly string[];
  /** Checks the method's fields of a config (defaults filled in) and returns them; `bad` throws the error. */
  resolve(fields: Readonly<Record<string, unknown>>, bad: BadField): Record<string, unknown>;
  /** Keys written into adapter_config.json beside ours (LoRA: PEFT's defaults, so PEFT reads the file as its own). */
  jsonExtras?: Readonly<Record<string, unknown>>;
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

export interface Tuner {
  /** The config's `method` ("lora"). */
  readonly method: string;
  /** The method's name in messages ("LoRA"). */
  readonly label: string;
  /** adapter_config.json's peft_type ("LORA"). */
  readonly peftType: string;
  readonly fields: MethodFields;
  /** The wrapper this method puts in place of an adapted Linear. */
  readonly layerClass: abstract new (
    ...args: never[]
  ) => AdapterLayer;
  /**
   * Checks every target for adapter `name`, throwing (with `where` and the path) before anything changes,
   * then wraps them: a target that is already this method's layer gets the adapter added.
   */
  inject(model: Module, name: string, config: PeftConfig, targets: readonly Target[], where: string): void;
  /** Trainable adapter parameters on `shape.layers` attention layers, biases and modulesToSave aside. */
  parameterCount(shape: CountShape): number;
}

const TUNERS = new Map<string, Tuner>();

/** Makes a method available to configs, getPeftModel and adapter files (PEFT's register_peft_method). */
export function registerTuner(tuner: Tuner): void {
  if (tuner === null || typeof tuner !== "object" || typeof tuner.method !== "string" || typeof tuner.inject !== "function") {
    fail(
      "registerTuner",
      `expected a Tuner ({ method, peftType, fields, layerClass, inject, parameterCount }), got ${describeValue(tuner)}`,
    );
  }
  const clash = [...TUNERS.values()].find((t) => t.method === tuner.method || t.peftType === tuner.peftType);
  if (clash && clash !== tuner)
    fail("registerTuner", `method "${tuner.method}" (${tuner.peftType}) clashes with "${clash.method}" (${clash.peftType})`);
  TUNERS.set(tuner.method, tuner);
}

/** The registered methods, in registration order. */
export function tuners(): Tuner[] {
  return [...TUNERS.values()];
}

/** The tuner of a registered method, or undefined. */
export function tunerOf(method: unknown): Tuner | undefined {
  return typeof method === "string" ? TUNERS.get(method) : undefined;
}

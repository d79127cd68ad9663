/**
 * @file An adapter's state dict (PEFT's get_peft_model_state_dict and set_peft_model_state_dict): every
 * tensor of one adapter by the key it is saved under, which is the in-memory path with the adapter name
 * taken out (`...q.lora_A.default.weight` -> `...q.lora_A.weight`; a modulesToSave copy
 * `head.modules_to_save.default.weight` -> `head.weight`, as PEFT), plus the base biases its `bias` option
 * trains and the state its method keeps on the tuner (by the method's own keys). And the one copy of a
 * file's tensors into an adapter, which names every mismatch before writing anything.
 */

import { fail, noGrad, type Tensor, tidy } from "@tsgrad/core";
import { type Module, Parameter } from "@tsgrad/nn";
import { AdapterDict, AdapterParameters } from "./adapter-dict.ts";
import { AdapterLayer } from "./adapter-layer.ts";
import type { BaseTuner } from "./base-tuner.ts";
import { isOpaque, tunerFor } from "./base-tuner.ts";
import type { PeftConfig } from "./config.ts";
import { ModulesToSaveWrapper } from "./modules-to-save.ts";
import { KEY_PREFIX } from "./tuners/tuner.ts";

export { KEY_PREFIX };

export interface StateReport {
  missingKeys: string[];
  unexpectedKeys: string[];
  /** "key: the model's [a,b], the file's [c,d]". */
  shapeMismatches: string[];
}

/** Every tensor of adapter `name` by its saved key; parameters train, other tensors are frozen state. */
export function adapterState(tuner: BaseTuner<Module>, name: string): Map<string, Tensor> {
  const config = tuner.configs.get(name) as PeftConfig;
  const out = new Map<string, Tensor>();
  const add = (prefix: string, module: Module | undefined) => {
    for (const [key, p] of module?.namedParameters() ?? []) out.set(`${KEY_PREFIX}${prefix}.${key}`, p);
  };
  for (const [path, m] of tuner.modules()) {
    if (m instanceof AdapterLayer) {
      for (const [dictName, dict] of m.namedChildren()) {
        if (dict instanceof AdapterDict) add(`${path}.${dictName}`, dict.get(name));
        const own = dict instanceof AdapterParameters ? dict.get(name) : undefined;
        if (own) out.set(`${KEY_PREFIX}${path}.${dictName}`, own);
      }
    } else if (m instanceof ModulesToSaveWrapper) {
      add(path, m.modules_to_save.get(name));
    }
  }
  for (const [key, t] of tunerFor(config).ownState?.(tuner.context("adapterStateDict"), name, config) ?? []) out.set(key, t);
  for (const [key, p] of trainedBiases(tuner, name)) out.set(key, p);
  return out;
}

/** The base biases an adapter trains (bias "all": every bias; "lora_only": those of the adapted layers). */
export function trainedBiases(tuner: BaseTuner<Module>, name: string): [string, Parameter][] {
  const { bias } = tuner.configs.get(name) as PeftConfig;
  if (bias === "none") return [];
  const out: [string, Parameter][] = [];
  for (const [path, m] of [["", tuner.model] as [string, Module], ...tuner.modules()]) {
    if (m instanceof AdapterLayer) {
      if ((bias === "all" || m.hasAdapter(name)) && m.base_layer.bias)
        out.push([`${KEY_PREFIX}${path}.base_layer.bias`, m.base_layer.bias]);
      continue;
    }
    // the originals kept by modulesToSave are not used while an adapter is active: never trained
    if (bias !== "all" || isOpaque(m) || !Object.hasOwn(m, "bias")) continue;
    const own: unknown = Reflect.get(m, "bias");
    if (own instanceof Parameter) out.push([`${KEY_PREFIX}${path ? `${path}.` : ""}bias`, own]);
  }
  return out;
}

/** Lists at most `limit` items, then says how many more there are. */
function listSome(items: string[], limit = 12): string {
  return items.length <= limit ? items.join("; ") : `${items.slice(0, limit).join("; ")}; ... and ${items.length - limit} more`;
}

/**
 * Copies `provided` into the adapter's tensors (`expected`, by saved key), casting to their dtype.
 * Missing and unexpected keys and shape mismatches are collected first; with `strict` any of them
 * throws, naming them, before anything is written.
 */
export function compareState(
  expected: ReadonlyMap<string, Tensor>,
  provided: ReadonlyMap<string, Tensor>,
  options: { strict: boolean; where: string },
): StateReport {
  const missingKeys = [...expected.keys()].filter((k) => !provided.has(k));
  const unexpectedKeys = [...provided.keys()].filter((k) => !expected.has(k));
  const shapeMismatches: string[] = [];
  for (const [key, target] of expected) {
    const value = provided.get(key);
    if (value && (value.rank !== target.rank || value.shape.some((d, i) => d !== target.shape[i]))) {
      shapeMismatches.push(`${key}: the model's is [${target.shape}], the file's [${value.shape}]`);
    }
  }
  const problems = [
    ...shapeMismatches.map((m) => `shape mismatch ${m}`),
    ...missingKeys.map((k) => `missing key ${k}`),
    ...unexpectedKeys.map((k) => `unexpected key ${k}`),
  ];
  if (options.strict && problems.length > 0) {
    fail(options.where, `the adapter does not fit this model (${problems.length} problems): ${listSome(problems)}`);
  }
  const mismatched = new Set(shapeMismatches.map((m) => m.slice(0, m.indexOf(": "))));
  tidy(() =>
    noGrad(() => {
      for (const [key, target] of expected) {
        const value = provided.get(key);
        if (value && !mismatched.has(key)) target.assign(value.cast(target.dtype));
      }
    }),
  );
  return { missingKeys, unexpectedKeys, shapeMismatches };
}

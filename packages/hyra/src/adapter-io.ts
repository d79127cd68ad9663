/**
 * @file Saving and loading adapters (PEFT's save_pretrained, load_adapter and from_pretrained): each
 * adapter's folder written from its config and state dict, and the one load path. Every way in
 * (setAdapterStateDict, loadAdapter onto a PeftModel, fromPretrained onto a base model) copies tensors
 * through setAdapterState; the two folder loads differ only in how the adapter is made and undone.
 */

import { checkOptions, describeValue, fail, type Tensor } from "@tsgrad/core";
import type { Module } from "@tsgrad/nn";
import { checkAdapterName } from "./adapter-dict.ts";
import type { BaseTuner } from "./base-tuner.ts";
import { configToJson, type PeftConfig } from "./config.ts";
import { adapterFolderIO } from "./save.ts";
import { adapterState, compareState, type StateReport } from "./state-dict.ts";

export interface AdapterLoadReport extends StateReport {
  /** adapter_config.json fields that do not change the computation and were not used. */
  ignoredConfigFields: string[];
}

export interface LoadAdapterOptions {
  /** The name the adapter gets here ("default"); names do not travel in the file. */
  adapterName?: string;
  /** Leave the adapter trainable; by default a loaded adapter is frozen (PEFT's inference mode). */
  isTrainable?: boolean;
}

/** A folder argument: a non-empty string (a function or an object would reach node:path as a TypeError). */
export function checkFolder(where: string, dir: unknown): asserts dir is string {
  if (typeof dir !== "string" || dir === "") fail(where, `the folder must be a non-empty path string, got ${describeValue(dir)}`);
}

/**
 * The one copy of saved tensors into an adapter: refused while it is merged (unmerge would subtract a
 * different ΔW); missing and unexpected keys and shape mismatches named, and with `strict` refused
 * before anything is written.
 */
export function setAdapterState(
  tuner: BaseTuner<Module>,
  name: string,
  tensors: ReadonlyMap<string, Tensor>,
  options: { strict: boolean; where: string },
): StateReport {
  tuner.checkAdapter(name, "setAdapterStateDict");
  tuner.checkNotMerged(name, "setAdapterStateDict");
  return compareState(adapterState(tuner, name), tensors, options);
}

/** Writes each named adapter: "default" into `dir`, any other into `dir/<name>`, as PEFT's save_pretrained. */
export async function saveAdapters(tuner: BaseTuner<Module>, dir: string, options: { selectedAdapters?: string[] }): Promise<void> {
  checkFolder("saveAdapter", dir);
  checkOptions("saveAdapter", options, ["selectedAdapters"]);
  const names = options.selectedAdapters ?? [...tuner.configs.keys()];
  for (const name of names) {
    checkAdapterName(name, "saveAdapter");
    tuner.checkAdapter(name, "saveAdapter");
  }
  for (const name of names) {
    const folder = name === "default" ? dir : `${dir}/${name}`;
    await adapterFolderIO("saveAdapter").write(folder, configToJson(tuner.configs.get(name) as PeftConfig), adapterState(tuner, name), {
      subfolder: name !== "default",
    });
  }
}

/** How a folder's adapter is made (added to a PeftModel, or a PeftModel made for it) and taken away again. */
export interface AdapterMaker<R> {
  make(config: PeftConfig): { tuner: BaseTuner<Module>; result: R };
  undo(): void;
}

/**
 * Reads an adapter folder and installs it as adapter `name`: made with the folder's config, filled
 * through setAdapterState (strict), then frozen unless `isTrainable`. On any failure what was made is
 * undone, so the model is left as it was.
 */
export async function loadAdapterFolder<R>(
  dir: string,
  name: string,
  options: LoadAdapterOptions,
  maker: AdapterMaker<R>,
): Promise<{ result: R; report: AdapterLoadReport }> {
  const { config, tensors, ignoredFields } = await adapterFolderIO("loadAdapter").read(dir);
  try {
    let made: { tuner: BaseTuner<Module>; result: R };
    try {
      made = maker.make(config);
    } catch (error) {
      return fail("loadAdapter", `${dir} does not fit this model: ${(error as Error).message}`);
    }
    try {
      const report = setAdapterState(made.tuner, name, tensors, { strict: true, where: `loadAdapter ${dir}` });
      if (!options.isTrainable) made.tuner.frozen.add(name);
      made.tuner.markTrainable();
      return { result: made.result, report: { ...report, ignoredConfigFields: ignoredFields } };
    } catch (error) {
      maker.undo();
      throw error;
    }
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

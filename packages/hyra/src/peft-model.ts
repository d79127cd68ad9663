/**
 * @file getPeftModel and PeftModel: PEFT's API in camelCase, a façade over the tuner (base-tuner.ts:
 * injection, switching, deleting, merging), the state dict (state-dict.ts), saving and loading
 * (adapter-io.ts) and the LoRA export (export-lora.ts). Injection wraps each targeted Linear in place,
 * so the base model's own forward runs unchanged; everything but the active adapter (and modulesToSave)
 * is frozen. The PeftModel holds the tuner at `base_model`, so keys read `base_model.model.<path>...`.
 */

import { checkOptions, describeValue, fail, type Tensor } from "@tsgrad/core";
import { Module, type Parameter } from "@tsgrad/nn";
import { checkAdapterName } from "./adapter-dict.ts";
import {
  type AdapterLoadReport,
  checkFolder,
  type LoadAdapterOptions,
  loadAdapterFolder,
  saveAdapters,
  setAdapterState,
} from "./adapter-io.ts";
import { BaseTuner, holdsAdapters, type MergeOptions } from "./base-tuner.ts";
import { type Method, type PeftConfig, type PeftConfigInput, resolveConfig } from "./config.ts";
import { exportAsLora } from "./export-lora.ts";
import { adapterState, type StateReport } from "./state-dict.ts";

type ForwardOf<M> = M extends { forward: (...args: infer A) => infer R } ? (...args: A) => R : never;

export class PeftModel<M extends Module> extends Module {
  base_model: BaseTuner<M>;

  /** Use getPeftModel. */
  constructor(model: M, config: PeftConfig, adapterName: string) {
    super();
    this.base_model = new BaseTuner(model);
    this.base_model.addAdapter(adapterName, config, "getPeftModel");
  }

  /** The base model, adapted in place. */
  get model(): M {
    return this.base_model.model;
  }

  get activeAdapter(): string {
    return this.base_model.activeAdapter;
  }

  get method(): Method {
    return (this.base_model.configs.values().next().value as PeftConfig).method;
  }

  /** Every adapter's configuration, by name. */
  get peftConfig(): ReadonlyMap<string, PeftConfig> {
    return this.base_model.configs;
  }

  /** The base model's forward, with the adapters in it. */
  forward(...args: Parameters<ForwardOf<M>>): ReturnType<ForwardOf<M>> {
    this.base_model.checkLive("forward");
    const forward: unknown = Reflect.get(this.model, "forward");
    if (typeof forward !== "function") fail("PeftModel.forward", `the base model (${this.model.constructor.name}) has no forward method`);
    return forward.apply(this.model, args);
  }

  /** The parameters an optimiser should update: the active adapter's (and modulesToSave, and biases as configured). */
  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** An adapter's tensors by the key they are saved under (state-dict.ts says which keys). */
  adapterStateDict(name: string = this.activeAdapter): Map<string, Tensor> {
    this.base_model.checkAdapter(name, "adapterStateDict");
    return adapterState(this.base_model, name);
  }

  /** Trainable and all parameter counts; a modulesToSave module counts once (its copy stands for the original). */
  getNbTrainableParameters(): { trainable: number; all: number } {
    const originals = new Set(this.base_model.wrappers().flatMap((w) => w.original_module.parameters()));
    let trainable = 0;
    let all = 0;
    for (const p of this.parameters()) {
      if (p.requiresGrad) trainable += p.size;
      if (!originals.has(p)) all += p.size;
    }
    return { trainable, all };
  }

  /** Prints (and returns) PEFT's line: `trainable params: N || all params: M || trainable%: P`. */
  printTrainableParameters(): string {
    const { trainable, all } = this.getNbTrainableParameters();
    const group = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const line = `trainable params: ${group(trainable)} || all params: ${group(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
    console.log(line);
    return line;
  }

  /** Adds another adapter of the same method; it stays inactive (and frozen) until setAdapter. */
  addAdapter(name: string, config: PeftConfigInput): void {
    this.base_model.checkLive("addAdapter");
    checkAdapterName(name, "addAdapter");
    this.base_model.addAdapter(name, resolveConfig(config), "addAdapter");
  }

  /** Makes `name` the adapter the forward uses and the one that trains. */
  setAdapter(name: string): void {
    this.base_model.checkLive("setAdapter");
    this.base_model.checkAdapter(name, "setAdapter");
    this.base_model.checkUnmerged("setAdapter");
    this.base_model.setActive(name);
  }

  /** Removes an adapter everywhere; the last one cannot go (unload() removes them all). */
  deleteAdapter(name: string): void {
    this.base_model.deleteAdapter(name);
  }

  /** Runs fn with every adapter switched off (the base model's function), then switches them back on. */
  disableAdapters<T>(fn: () => T): T {
    return this.base_model.disableAdapters(fn);
  }

  /**
   * Adds ΔW of the active adapter (or `adapterNames`) into each adapted layer's weight. With `safe`,
   * every merged weight is computed and read back first, and if any is not finite nothing is merged.
   * Asynchronous because a safe merge reads the weights back, which asynchronous backends must await.
   */
  merge(options: MergeOptions = {}): Promise<void> {
    return this.base_model.merge(options);
  }

  /** Subtracts every merged ΔW again (checked for every layer before any is changed). */
  unmerge(): void {
    this.base_model.unmerge();
  }

  get merged(): boolean {
    return this.base_model.merged;
  }

  /** Merges the active adapter and returns the base model with plain layers again (and the trained modulesToSave). */
  async mergeAndUnload(options: { safe?: boolean } = {}): Promise<M> {
    this.base_model.checkLive("mergeAndUnload");
    checkOptions("mergeAndUnload", options, ["safe"]);
    await this.merge({ safe: options.safe });
    return this.base_model.unload(true);
  }

  /** Removes every adapter without merging and returns the base model as it was (original modulesToSave too). */
  unload(): M {
    this.base_model.checkLive("unload");
    this.base_model.checkUnmerged("unload");
    return this.base_model.unload(false);
  }

  /** adapter_config.json and adapter_model.safetensors per adapter (all by default): "default" in `dir`, others in `dir/<name>`. */
  saveAdapter(dir: string, options: { selectedAdapters?: string[] } = {}): Promise<void> {
    this.base_model.checkLive("saveAdapter");
    return saveAdapters(this.base_model, dir, options);
  }

  /** Loads a saved adapter as another adapter of this model; on any mismatch the model is left as it was. */
  async loadAdapter(dir: string, name: string, options: { isTrainable?: boolean } = {}): Promise<AdapterLoadReport> {
    this.base_model.checkLive("loadAdapter");
    checkFolder("loadAdapter", dir);
    checkOptions("loadAdapter", options, ["isTrainable"]);
    checkAdapterName(name, "loadAdapter");
    if (this.base_model.configs.has(name)) fail("loadAdapter", `an adapter named "${name}" exists already`);
    const { report } = await loadAdapterFolder(dir, name, options, {
      make: (config) => {
        this.base_model.addAdapter(name, config, "addAdapter");
        return { tuner: this.base_model, result: this };
      },
      undo: () => this.deleteAdapter(name),
    });
    return report;
  }

  /**
   * Copies saved tensors (keys without the adapter name, as adapterStateDict) into an adapter (PEFT's
   * set_peft_model_state_dict). Missing and unexpected keys and shape mismatches are reported by name;
   * with `strict` (the default) any of them throws before anything is written.
   */
  setAdapterStateDict(name: string, tensors: ReadonlyMap<string, Tensor>, options: { strict?: boolean; where?: string } = {}): StateReport {
    if (!(tensors instanceof Map)) fail("setAdapterStateDict", `the tensors must be a Map of key -> Tensor, got ${describeValue(tensors)}`);
    checkOptions("setAdapterStateDict", options, ["strict", "where"]);
    return setAdapterState(this.base_model, name, tensors, {
      strict: options.strict ?? true,
      where: options.where ?? "setAdapterStateDict",
    });
  }

  /** Writes an adapter as a plain PEFT LoRA adapter (export-lora.ts). */
  exportAsLora(dir: string, options: { adapterName?: string } = {}): Promise<void> {
    this.base_model.checkLive("exportAsLora");
    return exportAsLora(this.base_model, dir, options);
  }

  /** loadAdapter(model, dir): PEFT's PeftModel.from_pretrained. */
  static async fromPretrained<B extends Module>(
    model: B | PeftModel<B>,
    dir: string,
    options: LoadAdapterOptions = {},
  ): Promise<PeftModel<B>> {
    if (!(model instanceof Module)) fail("loadAdapter", `the model must be a Module, got ${describeValue(model)}`);
    checkFolder("loadAdapter", dir);
    checkOptions("loadAdapter", options, ["adapterName", "isTrainable"]);
    const name = checkAdapterName(options.adapterName ?? "default", "loadAdapter");
    if (model instanceof PeftModel) {
      await model.loadAdapter(dir, name, options);
      return model;
    }
    let made: PeftModel<B> | undefined;
    const { result } = await loadAdapterFolder(dir, name, options, {
      make: (config) => {
        made = getPeftModel(model, config, name);
        return { tuner: made.base_model, result: made };
      },
      undo: () => made?.unload(),
    });
    return result;
  }
}

/** Wraps the layers of `model` that `config` targets, in place, and returns the adapted model. */
export function getPeftModel<M extends Module>(model: M, config: PeftConfigInput, adapterName = "default"): PeftModel<M> {
  if (!(model instanceof Module)) fail("getPeftModel", `the model must be a Module, got ${describeValue(model)}`);
  checkAdapterName(adapterName, "getPeftModel");
  if (model instanceof PeftModel) fail("getPeftModel", "the model is a PeftModel already; use its addAdapter()");
  if (holdsAdapters(model)) fail("getPeftModel", "the model holds adapter layers already (from another PeftModel); unload that one first");
  return new PeftModel(model, resolveConfig(config), adapterName);
}

/**
 * Loads an adapter saved by saveAdapter (or a PEFT LoRA adapter) onto a base model: builds the
 * PeftModel from adapter_config.json and fills it from adapter_model.safetensors (F32, F16 or BF16).
 * With a PeftModel, adds the adapter to it. On a mismatch nothing is changed and the error names
 * every missing or unexpected key and shape mismatch.
 */
export function loadAdapter<M extends Module>(
  model: M | PeftModel<M>,
  dir: string,
  options: LoadAdapterOptions = {},
): Promise<PeftModel<M>> {
  return PeftModel.fromPretrained(model, dir, options);
}

/**
 * @file getPeftModel and PeftModel: PEFT's API in camelCase. Injection wraps each targeted Linear in
 * place (setSubmodule), so the base model's own forward runs unchanged and only sees projections with
 * a forward(x); then everything but the active adapter (and modulesToSave) is frozen. The PeftModel
 * holds the base model at `base_model.model`, so state-dict keys read `base_model.model.<path>...`.
 */

import { checkFunction, checkOptions, describeValue, fail, noGrad, type Tensor, tidy } from "@tsgrad/core";
import { Linear, Module, Parameter } from "@tsgrad/nn";
import { AdapterDict, checkAdapterName } from "./adapter-dict.ts";
import { AdapterLayer } from "./adapter-layer.ts";
import { configToJson, type Method, type PeftConfig, type PeftConfigInput, resolveConfig } from "./config.ts";
import { cloneModule, ModulesToSaveWrapper } from "./modules-to-save.ts";
import { ModulePattern } from "./pattern.ts";
import { adapterFolderIO, compareState } from "./save.ts";
import { isTargeted, linearPaths, matchesName, modulesOf } from "./targets.ts";
import "./tuners/index.ts";
import { type Target, type Tuner, tunerOf } from "./tuners/tuner.ts";

/** The prefix of every key, as PEFT's (PeftModel.base_model is the tuner, whose .model is the base model). */
export const KEY_PREFIX = "base_model.model.";

type ForwardOf<M> = M extends { forward: (...args: infer A) => infer R } ? (...args: A) => R : never;

/**
 * Modules whose insides are adapter machinery, not the model's own modules: adapted layers, modulesToSave
 * wrappers, and the per-layer dicts a method attaches to a model's module (HyRA's `attn.hyra`).
 */
function isOpaque(module: Module): boolean {
  return module instanceof AdapterLayer || module instanceof ModulesToSaveWrapper || module instanceof AdapterDict;
}

function tunerFor(config: PeftConfig): Tuner {
  return tunerOf(config.method) ?? fail("PeftModel", `no registered method "${config.method}"`);
}

/** The tuner between PeftModel and the base model (PEFT's LoraModel), so that paths read base_model.model. */
export class TunerModel<M extends Module> extends Module {
  constructor(public model: M) {
    super();
  }
}

export interface MergeOptions {
  /** Compute every merged weight first and refuse (merging nothing) if any is not finite. */
  safe?: boolean;
  /** The adapters to merge; the active one by default. */
  adapterNames?: string[];
}

export interface AdapterLoadReport {
  missingKeys: string[];
  unexpectedKeys: string[];
  /** "key: the model's [a,b], the file's [c,d]". */
  shapeMismatches: string[];
  /** adapter_config.json fields that do not change the computation and were not used. */
  ignoredConfigFields: string[];
}

export interface LoadAdapterOptions {
  /** The name the adapter gets here ("default"); names do not travel in the file. */
  adapterName?: string;
  /** Leave the adapter trainable; by default a loaded adapter is frozen (PEFT's inference mode). */
  isTrainable?: boolean;
}

export class PeftModel<M extends Module> extends Module {
  base_model: TunerModel<M>;
  readonly #configs = new Map<string, PeftConfig>();
  /** Adapters loaded for inference only: they stay frozen. */
  readonly #frozen = new Set<string>();
  /** Which base parameters were trainable before injection, restored by unload. */
  readonly #trainableBefore: Map<Parameter, boolean>;
  #active: string;
  #unloaded = false;

  /** Use getPeftModel. */
  constructor(model: M, config: PeftConfig, adapterName: string) {
    super();
    this.#trainableBefore = new Map(model.parameters().map((p) => [p, p.requiresGrad]));
    this.base_model = new TunerModel(model);
    this.#active = adapterName;
    this.#inject(adapterName, config);
    this.#configs.set(adapterName, config);
    this.#setActive(adapterName);
  }

  /** The base model, adapted in place. */
  get model(): M {
    return this.base_model.model;
  }

  get activeAdapter(): string {
    return this.#active;
  }

  get method(): Method {
    return (this.#configs.values().next().value as PeftConfig).method;
  }

  /** Every adapter's configuration, by name. */
  get peftConfig(): ReadonlyMap<string, PeftConfig> {
    return this.#configs;
  }

  /** The base model's forward, with the adapters in it. */
  forward(...args: Parameters<ForwardOf<M>>): ReturnType<ForwardOf<M>> {
    this.#checkLive("forward");
    return (this.model as unknown as { forward: (...a: unknown[]) => ReturnType<ForwardOf<M>> }).forward(...args);
  }

  /** The parameters an optimiser should update: the active adapter's (and modulesToSave, and biases as configured). */
  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  // ---- injection --------------------------------------------------------------------------------

  /** Wraps what `config` targets for adapter `name`. Everything is checked before the model is changed. */
  #inject(name: string, config: PeftConfig): void {
    const model = this.model;
    const where = `getPeftModel (${config.method})`;
    const modules = modulesOf(model, isOpaque);
    const matched = modules.filter(([path]) => isTargeted(path, config));
    if (matched.length === 0) fail(where, noMatchMessage(config, modules));
    const tuner = tunerFor(config);
    const targets: Target[] = [];
    for (const [path, m] of matched) {
      if (m instanceof AdapterLayer && !(m instanceof tuner.layerClass)) {
        fail(where, `"${path}" already holds a ${(m as Module).constructor.name}; one PeftModel holds adapters of one method`);
      }
      if (!(m instanceof Linear || m instanceof AdapterLayer)) {
        fail(
          where,
          `target "${path}" is a ${m.constructor.name}, but ${config.method} adapts Linear layers` +
            (m instanceof ModulesToSaveWrapper ? " (it is in modulesToSave)" : ""),
        );
      }
      targets.push({ path, layer: m });
    }
    const saved = this.#planModulesToSave(name, config, modules, new Set(targets.map((t) => t.path)));
    tuner.inject(model, name, config, targets, where);
    for (const { path, module, copy } of saved) {
      const wrapper = module instanceof ModulesToSaveWrapper ? module : new ModulesToSaveWrapper(module, path);
      wrapper.addAdapter(name, copy);
      if (wrapper !== module) model.setSubmodule(path, wrapper);
    }
  }

  /** The modules to save for a new adapter, checked and copied before anything changes. */
  #planModulesToSave(
    name: string,
    config: PeftConfig,
    modules: [string, Module][],
    targeted: Set<string>,
  ): { path: string; module: Module; copy: Module }[] {
    if (config.modulesToSave === null) return [];
    const where = `getPeftModel (${config.method})`;
    const found = modules.filter(
      ([path, m]) => matchesName(path, config.modulesToSave as readonly string[]) && !(m instanceof AdapterLayer),
    );
    for (const wanted of config.modulesToSave) {
      if (!found.some(([path]) => matchesName(path, [wanted]))) {
        fail(where, `modulesToSave "${wanted}" matches no module (the base model's top-level modules: ${topLevel(modules)})`);
      }
    }
    for (const [path, m] of found) {
      if (targeted.has(path)) fail(where, `"${path}" is both a target and in modulesToSave`);
      if (m instanceof ModulesToSaveWrapper && m.modules_to_save.has(name))
        fail(where, `"${path}" already has a copy for adapter "${name}"`);
    }
    // a wrapped module's children (head.weight) also end with a saved name only through their parent
    return found
      .filter(([path]) => !found.some(([other]) => other !== path && path.startsWith(`${other}.`)))
      .map(([path, module]) => ({
        path,
        module,
        copy: cloneModule(module instanceof ModulesToSaveWrapper ? module.original_module : module, path),
      }));
  }

  // ---- walking the adapted model ----------------------------------------------------------------

  #modules(): [string, Module][] {
    return modulesOf(this.model, isOpaque);
  }

  #adapterLayers(): AdapterLayer[] {
    return this.#modules()
      .map(([, m]) => m)
      .filter((m): m is AdapterLayer => m instanceof AdapterLayer);
  }

  #wrappers(): ModulesToSaveWrapper[] {
    return this.#modules()
      .map(([, m]) => m)
      .filter((m): m is ModulesToSaveWrapper => m instanceof ModulesToSaveWrapper);
  }

  /**
   * An adapter's tensors by the key they are saved under: the in-memory path with the adapter name
   * taken out (`...q.lora_A.default.weight` -> `...q.lora_A.weight`; a modulesToSave copy
   * `head.modules_to_save.default.weight` -> `head.weight`, as PEFT), plus the biases its `bias`
   * option trains.
   */
  adapterStateDict(name: string = this.#active): Map<string, Parameter> {
    this.#checkAdapter(name, "adapterStateDict");
    const out = new Map<string, Parameter>();
    const add = (prefix: string, module: Module | undefined) => {
      for (const [key, p] of module?.namedParameters() ?? []) out.set(`${KEY_PREFIX}${prefix}.${key}`, p);
    };
    for (const [path, m] of this.#modules()) {
      if (m instanceof AdapterLayer) {
        for (const [dictName, dict] of m.namedChildren()) if (dict instanceof AdapterDict) add(`${path}.${dictName}`, dict.get(name));
      } else if (m instanceof AdapterDict) {
        add(path, m.get(name));
      } else if (m instanceof ModulesToSaveWrapper) {
        add(path, m.modules_to_save.get(name));
      }
    }
    for (const [key, p] of this.#trainedBiases(name)) out.set(key, p);
    return out;
  }

  /** The base biases an adapter trains (bias "all": every bias; "lora_only": those of the adapted layers). */
  #trainedBiases(name: string): [string, Parameter][] {
    const { bias } = this.#configs.get(name) as PeftConfig;
    if (bias === "none") return [];
    const out: [string, Parameter][] = [];
    for (const [path, m] of [["", this.model] as [string, Module], ...this.#modules()]) {
      if (m instanceof AdapterLayer) {
        if ((bias === "all" || m.hasAdapter(name)) && m.base_layer.bias)
          out.push([`${KEY_PREFIX}${path}.base_layer.bias`, m.base_layer.bias]);
        continue;
      }
      // the originals kept by modulesToSave are not used while an adapter is active: never trained
      if (bias !== "all" || isOpaque(m) || !Object.hasOwn(m, "bias")) continue;
      const own = (m as unknown as { bias: unknown }).bias;
      if (own instanceof Parameter) out.push([`${KEY_PREFIX}${path ? `${path}.` : ""}bias`, own]);
    }
    return out;
  }

  // ---- trainability and counts ----------------------------------------------------------------

  /** Freezes everything, then unfreezes the active adapter's weights, its modulesToSave copies and its biases. */
  #markTrainable(): void {
    for (const p of this.parameters()) p.requiresGrad = false;
    const name = this.#active;
    if (this.#frozen.has(name)) return;
    for (const p of this.adapterStateDict(name).values()) p.requiresGrad = true;
  }

  /** Trainable and all parameter counts; a modulesToSave module counts once (its copy stands for the original). */
  getNbTrainableParameters(): { trainable: number; all: number } {
    const originals = new Set(this.#wrappers().flatMap((w) => w.original_module.parameters()));
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

  // ---- several adapters ------------------------------------------------------------------------

  /** Adds another adapter of the same method; it stays inactive (and frozen) until setAdapter. */
  addAdapter(name: string, config: PeftConfigInput): void {
    this.#checkLive("addAdapter");
    checkAdapterName(name, "addAdapter");
    if (this.#configs.has(name)) fail("addAdapter", `an adapter named "${name}" exists already`);
    const resolved = resolveConfig(config);
    if (resolved.method !== this.method) {
      fail(
        "addAdapter",
        `this model holds ${this.method} adapters; a ${resolved.method} adapter cannot join them (one method per PeftModel)`,
      );
    }
    this.#inject(name, resolved);
    this.#configs.set(name, resolved);
    this.#setActive(this.#active);
  }

  /** Makes `name` the adapter the forward uses and the one that trains. */
  setAdapter(name: string): void {
    this.#checkLive("setAdapter");
    this.#checkAdapter(name, "setAdapter");
    this.#checkUnmerged("setAdapter");
    this.#setActive(name);
  }

  #setActive(name: string): void {
    this.#active = name;
    for (const layer of this.#adapterLayers()) layer.activeAdapter = name;
    for (const wrapper of this.#wrappers()) wrapper.activeAdapter = name;
    this.#markTrainable();
  }

  /** Removes an adapter everywhere; the last one cannot go (unload() removes them all). */
  deleteAdapter(name: string): void {
    this.#checkLive("deleteAdapter");
    this.#checkAdapter(name, "deleteAdapter");
    if (this.#configs.size === 1) fail("deleteAdapter", `"${name}" is the only adapter; unload() returns the base model`);
    for (const layer of this.#adapterLayers())
      if (layer.mergedAdapters.includes(name)) fail("deleteAdapter", `adapter "${name}" is merged into "${layer.path}"; unmerge() first`);
    const owned = this.#ownedParameters([name]);
    const model = this.model;
    for (const [path, m] of this.#modules()) {
      if (m instanceof AdapterLayer && m.hasAdapter(name)) {
        m.removeAdapter(name);
        if (m.adapterNames().filter((n) => n !== name).length === 0) model.setSubmodule(path, m.base_layer);
      } else if (m instanceof ModulesToSaveWrapper && m.modules_to_save.has(name)) {
        m.modules_to_save.delete(name);
        if (m.modules_to_save.names().length === 0) model.setSubmodule(path, m.original_module);
      }
    }
    for (const [path, m] of this.#modules()) {
      if (m instanceof AdapterDict && m.has(name)) {
        m.delete(name);
        if (m.names().length === 0) detach(model, path);
      }
    }
    this.#configs.delete(name);
    this.#frozen.delete(name);
    this.#setActive(name === this.#active ? (this.#configs.keys().next().value as string) : this.#active);
    this.#disposeUnreachable(owned);
  }

  /** What adapters own (their weights and modulesToSave copies; not the base biases they train). */
  #ownedParameters(names: readonly string[]): Parameter[] {
    return names.flatMap((name) => {
      const biases = new Set(this.#trainedBiases(name).map(([, p]) => p));
      return [...this.adapterStateDict(name).values()].filter((p) => !biases.has(p));
    });
  }

  /** Frees the buffers of removed adapter weights (GPU memory is not garbage collected). */
  #disposeUnreachable(params: readonly Parameter[]): void {
    const reachable = new Set(this.model.parameters());
    for (const p of params) if (!reachable.has(p)) p.dispose();
  }

  /** Runs fn with every adapter switched off (the base model's function), then switches them back on. */
  disableAdapters<T>(fn: () => T): T {
    this.#checkLive("disableAdapters");
    checkFunction("disableAdapters", fn, "the scope");
    this.#checkUnmerged("disableAdapters");
    const switchables = [...this.#adapterLayers(), ...this.#wrappers()];
    const set = (flag: boolean) => {
      for (const m of switchables) m.disabled = flag;
    };
    set(true);
    let result: T;
    try {
      result = fn();
    } catch (error) {
      set(false);
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => set(false)) as T;
    set(false);
    return result;
  }

  // ---- merging ------------------------------------------------------------------------------------

  /**
   * Adds ΔW of the active adapter (or `adapterNames`) into each adapted layer's weight. With `safe`,
   * every merged weight is computed and read back first, and if any is not finite nothing is merged.
   * Asynchronous because a safe merge reads the weights back, which asynchronous backends must await.
   */
  async merge(options: MergeOptions = {}): Promise<void> {
    this.#checkLive("merge");
    checkOptions("merge", options);
    const listed = options.adapterNames;
    if (listed !== undefined && !(Array.isArray(listed) && listed.every((n) => typeof n === "string"))) {
      fail("merge", `adapterNames must be a list of adapter names, got ${describeValue(listed)}`);
    }
    const names = options.adapterNames ?? [this.#active];
    for (const name of names) this.#checkAdapter(name, "merge");
    const plan: { layer: AdapterLayer; names: string[]; weight: Tensor }[] = [];
    try {
      for (const layer of this.#adapterLayers()) {
        const here = names.filter((n) => layer.hasAdapter(n) && !layer.mergedAdapters.includes(n));
        if (here.length > 0) plan.push({ layer, names: here, weight: layer.mergedWeight(here).keep() });
      }
      if (options.safe) {
        for (const { layer, names: here, weight } of plan) {
          const values = Array.from(await weight.data());
          const bad = values.filter((v) => !Number.isFinite(v)).length;
          if (bad > 0) {
            fail(
              "merge",
              `safe merge refused: adapter ${here.map((n) => `"${n}"`).join(" + ")} would make ${bad} of the ${values.length} weights of "${layer.path}" non-finite; nothing was merged`,
            );
          }
        }
      }
      for (const { layer, names: here, weight } of plan) layer.commitMerge(here, weight);
    } finally {
      for (const { weight } of plan) weight.dispose();
    }
  }

  /** Subtracts every merged ΔW again (checked for every layer before any is changed). */
  unmerge(): void {
    this.#checkLive("unmerge");
    const layers = this.#adapterLayers();
    for (const layer of layers) layer.assertUnmergeable();
    for (const layer of layers) layer.unmerge();
  }

  get merged(): boolean {
    return this.#adapterLayers().some((l) => l.merged);
  }

  /** Merges the active adapter and returns the base model with plain layers again (and the trained modulesToSave). */
  async mergeAndUnload(options: { safe?: boolean } = {}): Promise<M> {
    this.#checkLive("mergeAndUnload");
    checkOptions("mergeAndUnload", options);
    await this.merge({ safe: options.safe });
    return this.#unload(true);
  }

  /** Removes every adapter without merging and returns the base model as it was (original modulesToSave too). */
  unload(): M {
    this.#checkLive("unload");
    this.#checkUnmerged("unload");
    return this.#unload(false);
  }

  #unload(merged: boolean): M {
    const owned = this.#ownedParameters([...this.#configs.keys()]);
    const model = this.model;
    for (const [path, m] of this.#modules()) {
      if (m instanceof AdapterLayer) model.setSubmodule(path, m.base_layer);
      else if (m instanceof ModulesToSaveWrapper) model.setSubmodule(path, merged ? m.activeModule : m.original_module);
    }
    for (const [path, m] of this.#modules()) {
      if (m instanceof AdapterDict) {
        // delete lets the dict drop what it derived from an entry (HyRA's cached factors)
        for (const name of m.names()) m.delete(name);
        detach(model, path);
      }
    }
    // the base model's parameters train (or not) as they did before getPeftModel
    for (const [p, flag] of this.#trainableBefore) p.requiresGrad = flag;
    // mergeAndUnload keeps the trained modulesToSave copies, which stay reachable
    this.#disposeUnreachable(owned);
    this.#unloaded = true;
    return model;
  }

  // ---- files --------------------------------------------------------------------------------------

  /**
   * Writes adapter_config.json and adapter_model.safetensors for each adapter (all by default): the
   * adapter "default" into `dir`, any other into `dir/<name>`, as PEFT's save_pretrained.
   */
  async saveAdapter(dir: string, options: { selectedAdapters?: string[] } = {}): Promise<void> {
    this.#checkLive("saveAdapter");
    checkFolder("saveAdapter", dir);
    checkOptions("saveAdapter", options);
    const names = options.selectedAdapters ?? [...this.#configs.keys()];
    for (const name of names) {
      checkAdapterName(name, "saveAdapter");
      this.#checkAdapter(name, "saveAdapter");
    }
    for (const name of names) {
      const folder = name === "default" ? dir : `${dir}/${name}`;
      await adapterFolderIO("saveAdapter").write(folder, configToJson(this.#configs.get(name) as PeftConfig), this.adapterStateDict(name), {
        subfolder: name !== "default",
      });
    }
  }

  /**
   * Loads a saved adapter as another adapter of this model (made with its config, then filled from
   * its file). On any mismatch the model is left as it was.
   */
  async loadAdapter(dir: string, name: string, options: { isTrainable?: boolean } = {}): Promise<AdapterLoadReport> {
    this.#checkLive("loadAdapter");
    checkFolder("loadAdapter", dir);
    checkOptions("loadAdapter", options);
    checkAdapterName(name, "loadAdapter");
    if (this.#configs.has(name)) fail("loadAdapter", `an adapter named "${name}" exists already`);
    const { config, tensors, ignoredFields } = await adapterFolderIO("loadAdapter").read(dir);
    try {
      try {
        this.addAdapter(name, config);
      } catch (error) {
        fail("loadAdapter", `${dir} does not fit this model: ${(error as Error).message}`);
      }
      try {
        const report = this.setAdapterStateDict(name, tensors, { where: `loadAdapter ${dir}` });
        if (!options.isTrainable) this.#frozen.add(name);
        this.#setActive(this.#active);
        return { ...report, ignoredConfigFields: ignoredFields };
      } catch (error) {
        this.deleteAdapter(name);
        throw error;
      }
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /**
   * Copies saved tensors (keys without the adapter name, as adapterStateDict) into an adapter (PEFT's
   * set_peft_model_state_dict). Missing and unexpected keys and shape mismatches are reported by name;
   * with `strict` (the default) any of them throws before anything is written.
   */
  setAdapterStateDict(
    name: string,
    tensors: ReadonlyMap<string, Tensor>,
    options: { strict?: boolean; where?: string } = {},
  ): Omit<AdapterLoadReport, "ignoredConfigFields"> {
    if (!(tensors instanceof Map)) fail("setAdapterStateDict", `the tensors must be a Map of key -> Tensor, got ${describeValue(tensors)}`);
    checkOptions("setAdapterStateDict", options);
    this.#checkAdapter(name, "setAdapterStateDict");
    for (const layer of this.#adapterLayers()) {
      if (layer.mergedAdapters.includes(name))
        fail("setAdapterStateDict", `adapter "${name}" is merged into "${layer.path}"; unmerge() first`);
    }
    return compareState(this.adapterStateDict(name), tensors, {
      strict: options.strict ?? true,
      where: options.where ?? "setAdapterStateDict",
    });
  }

  /**
   * Writes an adapter as a plain PEFT LoRA adapter (peft_type "LORA"): each adapted layer's ΔW as
   * lora_A (rank, in) and lora_B (out, rank) with the same scale, plus its modulesToSave and biases.
   * A HyRA adapter writes its generated factors; an MH-LoRA adapter has rank H·r with block-diagonal B.
   */
  async exportAsLora(dir: string, options: { adapterName?: string } = {}): Promise<void> {
    this.#checkLive("exportAsLora");
    checkFolder("exportAsLora", dir);
    checkOptions("exportAsLora", options);
    const name = options.adapterName ?? this.#active;
    this.#checkAdapter(name, "exportAsLora");
    const config = this.#configs.get(name) as PeftConfig;
    const layers = this.#adapterLayers().filter((l) => l.hasAdapter(name));
    // copies, so the files hold exactly what the forward uses even if a cache entry is dropped meanwhile
    const factors = tidy(() =>
      noGrad(() => layers.map((l) => ({ layer: l, ...l.loraFactors(name) })).map((f) => ({ ...f, A: f.A.clone(), B: f.B.clone() }))),
    );
    try {
      const ranks = new Set(factors.map((f) => f.A.shape[0]));
      const scalings = new Set(factors.map((f) => f.scaling));
      if (ranks.size !== 1 || scalings.size !== 1) {
        fail(
          "exportAsLora",
          `adapter "${name}" has ranks ${[...ranks].join(", ")} across its layers; PEFT LoRA needs one rank (rank_pattern is not written)`,
        );
      }
      const rank = factors[0].A.shape[0];
      const scaling = factors[0].scaling;
      const tensors = new Map<string, Tensor>();
      for (const { layer, A, B } of factors) {
        tensors.set(`${KEY_PREFIX}${layer.path}.lora_A.weight`, A);
        tensors.set(`${KEY_PREFIX}${layer.path}.lora_B.weight`, B);
      }
      for (const [key, p] of this.adapterStateDict(name)) {
        // modulesToSave copies and biases keep their keys; the method's own weights are replaced by the factors
        if (key.endsWith(".bias") || this.#wrappers().some((w) => key.startsWith(`${KEY_PREFIX}${w.path}.`))) tensors.set(key, p);
      }
      const lora = resolveConfig({
        method: "lora",
        r: rank,
        // alpha / r must be the scale s (rsLoRA's alpha / √r is folded in)
        alpha: scaling * rank,
        dropout: config.dropout,
        targetModules: layers.map((l) => l.path),
        modulesToSave: config.modulesToSave,
        bias: config.bias,
        initLoraWeights: config.initLoraWeights,
      });
      await adapterFolderIO("exportAsLora").write(dir, configToJson(lora), tensors, { where: "exportAsLora", record: false });
    } finally {
      for (const { A, B } of factors) {
        A.dispose();
        B.dispose();
      }
    }
  }

  /** loadAdapter(model, dir): PEFT's PeftModel.from_pretrained. */
  static async fromPretrained<B extends Module>(
    model: B | PeftModel<B>,
    dir: string,
    options: LoadAdapterOptions = {},
  ): Promise<PeftModel<B>> {
    if (!(model instanceof Module)) fail("loadAdapter", `the model must be a Module, got ${describeValue(model)}`);
    checkFolder("loadAdapter", dir);
    checkOptions("loadAdapter", options);
    const name = checkAdapterName(options.adapterName ?? "default", "loadAdapter");
    if (model instanceof PeftModel) {
      await model.loadAdapter(dir, name, options);
      return model;
    }
    const { config, tensors } = await adapterFolderIO("loadAdapter").read(dir);
    try {
      let peft: PeftModel<B>;
      try {
        peft = getPeftModel(model, config, name);
      } catch (error) {
        return fail("loadAdapter", `${dir} does not fit this model: ${(error as Error).message}`);
      }
      try {
        peft.setAdapterStateDict(name, tensors, { where: `loadAdapter ${dir}` });
      } catch (error) {
        peft.unload();
        throw error;
      }
      if (!options.isTrainable) {
        peft.#frozen.add(name);
        peft.#markTrainable();
      }
      return peft;
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  // ---- checks ---------------------------------------------------------------------------------------

  #checkLive(where: string): void {
    if (this.#unloaded) fail(where, "this PeftModel was unloaded (unload or mergeAndUnload); use the base model it returned");
  }

  #checkAdapter(name: string, where: string): void {
    if (!this.#configs.has(name)) fail(where, `no adapter named "${name}" (the adapters are ${[...this.#configs.keys()].join(", ")})`);
  }

  #checkUnmerged(where: string): void {
    const merged = this.#adapterLayers().filter((l) => l.merged);
    if (merged.length > 0) {
      fail(
        where,
        `adapters are merged into ${merged.length} layers (${merged[0].path}, ...): ΔW cannot be switched off inside W; unmerge() first`,
      );
    }
  }
}

/** A folder argument: a non-empty string (a function or an object would reach node:path as a TypeError). */
function checkFolder(where: string, dir: unknown): asserts dir is string {
  if (typeof dir !== "string" || dir === "") fail(where, `the folder must be a non-empty path string, got ${describeValue(dir)}`);
}

/** Wraps the layers of `model` that `config` targets, in place, and returns the adapted model. */
export function getPeftModel<M extends Module>(model: M, config: PeftConfigInput, adapterName = "default"): PeftModel<M> {
  if (!(model instanceof Module)) fail("getPeftModel", `the model must be a Module, got ${describeValue(model)}`);
  checkAdapterName(adapterName, "getPeftModel");
  if (model instanceof PeftModel) fail("getPeftModel", "the model is a PeftModel already; use its addAdapter()");
  if (modulesOf(model, isOpaque).some(([, m]) => isOpaque(m))) {
    fail("getPeftModel", "the model holds adapter layers already (from another PeftModel); unload that one first");
  }
  return new PeftModel(model, resolveConfig(config), adapterName);
}

/**
 * Loads an adapter saved by saveAdapter (or a PEFT LoRA adapter) onto a base model: builds the
 * PeftModel from adapter_config.json and fills it from adapter_model.safetensors (F32, F16 or BF16).
 * With a PeftModel, adds the adapter to it. On a mismatch nothing is changed and the error names
 * every missing or unexpected key and shape mismatch.
 */
export async function loadAdapter<M extends Module>(
  model: M | PeftModel<M>,
  dir: string,
  options: LoadAdapterOptions = {},
): Promise<PeftModel<M>> {
  return PeftModel.fromPretrained(model, dir, options);
}

/** Removes a per-layer adapter dict (HyRA's `attn.hyra`) from the module that holds it. */
function detach(model: Module, path: string): void {
  const cut = path.lastIndexOf(".");
  const parent = model.getSubmodule(cut < 0 ? "" : path.slice(0, cut));
  delete (parent as unknown as Record<string, unknown>)[path.slice(cut + 1)];
}

function noMatchMessage(config: PeftConfig, modules: [string, Module][]): string {
  const spec =
    config.targetModules instanceof ModulePattern ? String(config.targetModules) : config.targetModules.map((t) => `"${t}"`).join(", ");
  const filters = [
    config.excludeModules !== null
      ? `excludeModules ${config.excludeModules instanceof ModulePattern ? config.excludeModules : config.excludeModules.join(", ")}`
      : "",
    config.layersToTransform !== null ? `layersToTransform ${config.layersToTransform}` : "",
  ].filter(Boolean);
  const linears = linearPaths(modules);
  const offer =
    linears.length > 0
      ? `the model's Linear layers are ${linears.slice(0, 8).join(", ")}${linears.length > 8 ? `, ... (${linears.length})` : ""}`
      : "the model has no Linear layer";
  return `targetModules ${spec}${filters.length ? ` (with ${filters.join(", ")})` : ""} matched no module; ${offer}`;
}

function topLevel(modules: [string, Module][]): string {
  return (
    modules
      .filter(([p]) => !p.includes("."))
      .map(([p]) => p)
      .join(", ") || "none"
  );
}

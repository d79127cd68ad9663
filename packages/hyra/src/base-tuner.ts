/**
 * @file BaseTuner (PEFT's BaseTuner, the PeftModel's `base_model`): it holds the base model at `model`,
 * so saved keys read `base_model.model.<path>...`, and each method's own state beside it (VeRA's
 * `vera_A`, HyRA's `hyra.<attention path>`). It plans injection and modulesToSave, walks the adapted
 * model, switches, deletes and unloads adapters, and merges and unmerges them; it talks to methods
 * through their Tuner only.
 */

import { checkFunction, checkOptions, describeValue, fail, type Tensor } from "@tsgrad/core";
import { Linear, Module, Parameter } from "@tsgrad/nn";
import { PerAdapter } from "./adapter-dict.ts";
import { AdapterLayer } from "./adapter-layer.ts";
import type { PeftConfig } from "./config.ts";
import { cloneModule, ModulesToSaveWrapper } from "./modules-to-save.ts";
import { ModulePattern } from "./pattern.ts";
import { adapterState, trainedBiases } from "./state-dict.ts";
import { isTargeted, linearPaths, matchesName, modulesOf } from "./targets.ts";
import "./tuners/index.ts";
import { type Target, type Tuner, type TunerContext, tunerOf } from "./tuners/tuner.ts";

export interface MergeOptions {
  /** Compute every merged weight first and refuse (merging nothing) if any is not finite. */
  safe?: boolean;
  /** The adapters to merge; the active one by default. */
  adapterNames?: string[];
}

/** Modules whose insides are adapter machinery, not the model's own modules: adapted layers and modulesToSave wrappers. */
export function isOpaque(module: Module): boolean {
  return module instanceof AdapterLayer || module instanceof ModulesToSaveWrapper || module instanceof PerAdapter;
}

export function tunerFor(config: PeftConfig): Tuner {
  return tunerOf(config.method) ?? fail("PeftModel", `no registered method "${config.method}"`);
}

/** A level of a method's state tree (HyRA's `hyra.blocks.0` on the way to `hyra.blocks.0.attn`). */
export class StateNode extends Module {}

/** The module at `path` below `root`, made by `make` (with StateNode levels on the way) if missing. */
export function stateAt<T extends Module>(root: Module, path: string, make: () => T): T {
  let module = root;
  const parts = path.split(".");
  for (const [i, part] of parts.entries()) {
    const child = module.namedChildren().find(([n]) => n === part)?.[1];
    if (child) {
      module = child;
      continue;
    }
    const made = i === parts.length - 1 ? make() : new StateNode();
    module.addModule(part, made);
    module = made;
  }
  return module as T;
}

export class BaseTuner<M extends Module> extends Module {
  model: M;
  /** Every adapter's configuration, by name, in the order they were added. */
  readonly configs = new Map<string, PeftConfig>();
  /** Adapters loaded for inference only: they stay frozen. */
  readonly frozen = new Set<string>();
  /** Which base parameters were trainable before injection, restored by unload. */
  readonly #trainableBefore: Map<Parameter, boolean>;
  #active = "";
  #unloaded = false;

  constructor(model: M) {
    super();
    this.#trainableBefore = new Map(model.parameters().map((p) => [p, p.requiresGrad]));
    this.model = model;
  }

  get activeAdapter(): string {
    return this.#active;
  }

  context(where: string): TunerContext {
    return { model: this.model, state: this, where };
  }

  // ---- walking the adapted model ----------------------------------------------------------------

  modules(): [string, Module][] {
    return modulesOf(this.model, isOpaque);
  }

  adapterLayers(): AdapterLayer[] {
    return this.modules()
      .map(([, m]) => m)
      .filter((m): m is AdapterLayer => m instanceof AdapterLayer);
  }

  wrappers(): ModulesToSaveWrapper[] {
    return this.modules()
      .map(([, m]) => m)
      .filter((m): m is ModulesToSaveWrapper => m instanceof ModulesToSaveWrapper);
  }

  /** The per-adapter containers of the methods' state, with their paths below this tuner. */
  stateDicts(): [string, PerAdapter][] {
    return this.namedModules()
      .filter(([path]) => path !== "model" && !path.startsWith("model."))
      .filter((e): e is [string, PerAdapter] => e[1] instanceof PerAdapter);
  }

  // ---- adding adapters --------------------------------------------------------------------------

  /** Adds adapter `name` (checked against every adapter already here), then keeps the active one trainable. */
  addAdapter(name: string, config: PeftConfig, where: string): void {
    if (this.configs.has(name)) fail(where, `an adapter named "${name}" exists already`);
    const first = this.configs.values().next().value;
    if (first && config.method !== first.method) {
      fail(where, `this model holds ${first.method} adapters; a ${config.method} adapter cannot join them (one method per PeftModel)`);
    }
    this.#inject(name, config);
    this.configs.set(name, config);
    this.setActive(this.configs.size === 1 ? name : this.#active);
  }

  /** Wraps what `config` targets for adapter `name`. Everything is checked before the model is changed. */
  #inject(name: string, config: PeftConfig): void {
    const model = this.model;
    const where = `getPeftModel (${config.method})`;
    const modules = this.modules();
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
    tuner.inject(this.context(where), name, config, targets);
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
    const wanted = config.modulesToSave;
    if (wanted === null) return [];
    const where = `getPeftModel (${config.method})`;
    const found = modules.filter(([path, m]) => matchesName(path, wanted) && !(m instanceof AdapterLayer));
    for (const one of wanted) {
      if (!found.some(([path]) => matchesName(path, [one]))) {
        fail(where, `modulesToSave "${one}" matches no module (the base model's top-level modules: ${topLevel(modules)})`);
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

  // ---- switching and trainability ---------------------------------------------------------------

  setActive(name: string): void {
    this.#active = name;
    for (const layer of this.adapterLayers()) layer.activeAdapter = name;
    for (const wrapper of this.wrappers()) wrapper.activeAdapter = name;
    this.markTrainable();
  }

  /** Freezes everything, then unfreezes the active adapter's parameters, its modulesToSave copies and its biases. */
  markTrainable(): void {
    for (const p of this.parameters()) p.requiresGrad = false;
    const name = this.#active;
    if (this.frozen.has(name)) return;
    // only parameters train: a method's frozen buffers (VeRA's projections) are saved but never trained
    for (const t of adapterState(this, name).values()) if (t instanceof Parameter) t.requiresGrad = true;
  }

  /** Runs fn with every adapter switched off (the base model's function), then switches them back on. */
  disableAdapters<T>(fn: () => T): T {
    this.checkLive("disableAdapters");
    checkFunction("disableAdapters", fn, "the scope");
    this.checkUnmerged("disableAdapters");
    const switchables = [...this.adapterLayers(), ...this.wrappers()];
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

  // ---- removing adapters ------------------------------------------------------------------------

  /** Removes an adapter everywhere; the last one cannot go (unload() removes them all). */
  deleteAdapter(name: string): void {
    this.checkLive("deleteAdapter");
    this.checkAdapter(name, "deleteAdapter");
    if (this.configs.size === 1) fail("deleteAdapter", `"${name}" is the only adapter; unload() returns the base model`);
    for (const layer of this.adapterLayers())
      if (layer.mergedAdapters.includes(name)) fail("deleteAdapter", `adapter "${name}" is merged into "${layer.path}"; unmerge() first`);
    const owned = this.#owned([name]);
    for (const [path, m] of this.modules()) {
      if (m instanceof AdapterLayer && m.hasAdapter(name)) {
        m.removeAdapter(name);
        if (m.adapterNames().filter((n) => n !== name).length === 0) this.model.setSubmodule(path, m.base_layer);
      } else if (m instanceof ModulesToSaveWrapper && m.modules_to_save.has(name)) {
        m.modules_to_save.delete(name);
        if (m.modules_to_save.names().length === 0) this.model.setSubmodule(path, m.original_module);
      }
    }
    this.#removeState([name]);
    this.configs.delete(name);
    this.frozen.delete(name);
    this.setActive(name === this.#active ? (this.configs.keys().next().value as string) : this.#active);
    this.#disposeUnreachable(owned);
  }

  /** Removes every adapter and returns the base model: merged (mergeAndUnload) keeps the trained modulesToSave. */
  unload(merged: boolean): M {
    const owned = this.#owned([...this.configs.keys()]);
    const model = this.model;
    for (const [path, m] of this.modules()) {
      if (m instanceof AdapterLayer) model.setSubmodule(path, m.base_layer);
      else if (m instanceof ModulesToSaveWrapper) model.setSubmodule(path, merged ? m.activeModule : m.original_module);
    }
    this.#removeState([...this.configs.keys()]);
    // the base model's parameters train (or not) as they did before getPeftModel
    for (const [p, flag] of this.#trainableBefore) p.requiresGrad = flag;
    // mergeAndUnload keeps the trained modulesToSave copies, which stay reachable
    this.#disposeUnreachable(owned);
    this.#unloaded = true;
    return model;
  }

  /**
   * Deletes the adapters from every per-adapter container of the methods' state (which lets a dict drop
   * what it derived from an entry: HyRA's cached factors), then the containers and levels left empty.
   */
  #removeState(names: readonly string[]): void {
    for (const [, dict] of this.stateDicts()) for (const name of names) dict.delete(name);
    const prune = (module: Module): boolean => {
      for (const [child, m] of module.namedChildren()) {
        if (module === this && child === "model") continue;
        const empty = m instanceof PerAdapter ? m.names().length === 0 : m instanceof StateNode && prune(m);
        if (empty) module.deleteModule(child);
      }
      return module.namedChildren().length === 0;
    };
    prune(this);
  }

  /** What adapters own (their weights, frozen state and modulesToSave copies; not the base biases they train). */
  #owned(names: readonly string[]): Tensor[] {
    return names.flatMap((name) => {
      const biases = new Set<Tensor>(trainedBiases(this, name).map(([, p]) => p));
      return [...adapterState(this, name).values()].filter((t) => !biases.has(t));
    });
  }

  /** Frees the buffers of removed adapter tensors (GPU memory is not garbage collected). */
  #disposeUnreachable(tensors: readonly Tensor[]): void {
    const reachable = new Set<Tensor>([...this.parameters(), ...this.namedBuffers().map(([, t]) => t)]);
    for (const t of tensors) if (!reachable.has(t) && !t.isDisposed) t.dispose();
  }

  // ---- merging ------------------------------------------------------------------------------------

  /** See PeftModel.merge. */
  async merge(options: MergeOptions): Promise<void> {
    this.checkLive("merge");
    checkOptions("merge", options, ["safe", "adapterNames"]);
    const listed = options.adapterNames;
    if (listed !== undefined && !(Array.isArray(listed) && listed.every((n) => typeof n === "string"))) {
      fail("merge", `adapterNames must be a list of adapter names, got ${describeValue(listed)}`);
    }
    const names = options.adapterNames ?? [this.#active];
    for (const name of names) this.checkAdapter(name, "merge");
    const plan: { layer: AdapterLayer; names: string[]; weight: Tensor }[] = [];
    try {
      for (const layer of this.adapterLayers()) {
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
    this.checkLive("unmerge");
    const layers = this.adapterLayers();
    for (const layer of layers) layer.assertUnmergeable();
    for (const layer of layers) layer.unmerge();
  }

  get merged(): boolean {
    return this.adapterLayers().some((l) => l.merged);
  }

  // ---- checks ---------------------------------------------------------------------------------------

  checkLive(where: string): void {
    if (this.#unloaded) fail(where, "this PeftModel was unloaded (unload or mergeAndUnload); use the base model it returned");
  }

  checkAdapter(name: string, where: string): void {
    if (!this.configs.has(name)) fail(where, `no adapter named "${name}" (the adapters are ${[...this.configs.keys()].join(", ")})`);
  }

  checkUnmerged(where: string): void {
    const merged = this.adapterLayers().filter((l) => l.merged);
    if (merged.length > 0) {
      fail(
        where,
        `adapters are merged into ${merged.length} layers (${merged[0].path}, ...): ΔW cannot be switched off inside W; unmerge() first`,
      );
    }
  }

  /** Refuses to change an adapter's tensors while it is merged (unmerge would subtract a different ΔW). */
  checkNotMerged(name: string, where: string): void {
    for (const layer of this.adapterLayers()) {
      if (layer.mergedAdapters.includes(name)) fail(where, `adapter "${name}" is merged into "${layer.path}"; unmerge() first`);
    }
  }
}

/** Is `module` one an adapter wrapped or a method's state (for getPeftModel's refusal of a model adapted twice). */
export function holdsAdapters(model: Module): boolean {
  return modulesOf(model, isOpaque).some(([, m]) => isOpaque(m));
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

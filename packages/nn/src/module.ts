/**
 * @file Module and Parameter: a module finds its parameters, buffers and child modules in its own fields,
 * as PyTorch's nn.Module does, and names them with dotted paths (`blocks.0.attn.q.weight`).
 *
 * - A field holding a `Parameter` is a parameter; a field holding a `Module` is a child; tensors
 *   registered with `registerBuffer` are buffers (non-trainable state saved in the state dict). Any other
 *   field (a cache, a config number) is ignored.
 * - A parameter reachable under two names (weight tying) is listed, counted and saved once, under the
 *   first name in field order.
 * - `stateDict()` / `loadStateDict()` copy values in place (parameters keep their identity, so an
 *   optimiser holding them keeps working).
 */

import { checkOptions, fail, isFloat, kindOf, noGrad, Tensor, tidy } from "@tsgrad/core";

/**
 * A trainable tensor: requires grad and is never disposed by a tidy scope. Made from a tensor whose
 * storage it shares.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) fail("Parameter", `expected a Tensor, got ${kindOf(data, { withValue: true })}`);
    super(data);
    this.keep();
    if (requiresGrad) {
      if (!isFloat(data.dtype)) fail("Parameter", `only float tensors can be trainable, got ${data.dtype}`);
      this.requiresGrad = true;
    }
  }
}

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
  /** Keys present in both whose shapes differ: "name: expected [a,b], got [c,d]". */
  shapeMismatches: string[];
}

const buffersOf = new WeakMap<Module, Map<string, { persistent: boolean }>>();

export abstract class Module {
  /** Training mode (dropout active); switch with train() / eval(). */
  training = true;

  /** Registers a buffer: state that is saved but not trained (a mask, running statistics). */
  protected registerBuffer(name: string, tensor: Tensor, options: { persistent?: boolean } = {}): void {
    if (!(tensor instanceof Tensor))
      fail("registerBuffer", `buffer "${name}" must be a Tensor, got ${kindOf(tensor, { withValue: true })}`);
    // a dot would make the buffer's dotted path ambiguous
    if (name === "" || name.includes(".")) fail("registerBuffer", `a buffer name must be non-empty and contain no ".", got "${name}"`);
    const current = (this as unknown as Record<string, unknown>)[name];
    if (tensor instanceof Parameter || current instanceof Parameter || current instanceof Module) {
      const what =
        tensor instanceof Parameter
          ? "the tensor is a Parameter"
          : `field "${name}" already holds a ${current instanceof Module ? "Module" : "Parameter"}`;
      fail("registerBuffer", `cannot register buffer "${name}": ${what}; buffers are tensors that are saved but not trained`);
    }
    const names = buffersOf.get(this) ?? new Map<string, { persistent: boolean }>();
    buffersOf.set(this, names);
    names.set(name, { persistent: options.persistent ?? true });
    (this as unknown as Record<string, unknown>)[name] = tensor.keep();
  }

  /**
   * Adds (or replaces) a child module under `name`, as PyTorch's register_module: code that attaches
   * modules it did not declare as fields (an adapter's per-layer state) needs no cast. A name that holds
   * a parameter, a buffer or any other value is refused, since replacing it would lose that value.
   */
  addModule(name: string, module: Module): void {
    checkMemberName("addModule", name);
    if (!(module instanceof Module)) fail("addModule", `child "${name}" must be a Module, got ${kindOf(module, { withValue: true })}`);
    if (module === this) fail("addModule", `a module cannot be its own child "${name}"`);
    const current = Object.hasOwn(this, name) ? (this as unknown as Record<string, unknown>)[name] : undefined;
    const taken = name in this && !(current instanceof Module);
    if (taken) fail("addModule", `"${name}" is already a field of ${this.constructor.name} (${kindOf(current)}), not a child module`);
    (this as unknown as Record<string, Module>)[name] = module;
  }

  /** Removes the child module `name` (PyTorch's delattr), refusing a name that is not a child. */
  deleteModule(name: string): void {
    checkMemberName("deleteModule", name);
    const current = Object.hasOwn(this, name) ? (this as unknown as Record<string, unknown>)[name] : undefined;
    if (!(current instanceof Module)) {
      fail("deleteModule", `${this.constructor.name} has no child module "${name}" (${childrenOf(this, "")})`);
    }
    delete (this as unknown as Record<string, unknown>)[name];
  }

  /**
   * Adds a parameter under `name`, as PyTorch's register_parameter (a dict of parameters keyed by
   * projection name). A name that holds anything but a parameter is refused.
   */
  protected registerParameter(name: string, parameter: Parameter): void {
    checkMemberName("registerParameter", name);
    if (!(parameter instanceof Parameter))
      fail("registerParameter", `"${name}" must be a Parameter, got ${kindOf(parameter, { withValue: true })}`);
    const current = Object.hasOwn(this, name) ? (this as unknown as Record<string, unknown>)[name] : undefined;
    if (name in this && !(current instanceof Parameter)) {
      fail("registerParameter", `"${name}" is already a field of ${this.constructor.name} (${kindOf(current)}), not a parameter`);
    }
    (this as unknown as Record<string, Parameter>)[name] = parameter;
  }

  /** Removes a buffer registered here (a per-adapter frozen tensor whose adapter is deleted). */
  protected deleteBuffer(name: string): void {
    const names = buffersOf.get(this);
    if (!names?.has(name)) fail("deleteBuffer", `${this.constructor.name} has no buffer "${name}"`);
    names.delete(name);
    delete (this as unknown as Record<string, unknown>)[name];
  }

  /** This module's own children, by field name (ModuleList overrides it with indices). */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((entry): entry is [string, Module] => entry[1] instanceof Module);
  }

  /** This module's own parameters, by field name. */
  protected namedOwnParameters(): [string, Parameter][] {
    return Object.entries(this).filter((entry): entry is [string, Parameter] => entry[1] instanceof Parameter);
  }

  /** Every module below this one, itself first (path ""), depth first in field order. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    const seen = new Set<Module>([this]);
    const walk = (module: Module, path: string) => {
      for (const [name, child] of module.namedChildren()) {
        if (seen.has(child)) continue;
        seen.add(child);
        const childPath = path ? `${path}.${name}` : name;
        out.push([childPath, child]);
        walk(child, childPath);
      }
    };
    walk(this, prefix);
    return out;
  }

  /** Every parameter below this module, with its dotted path; a tied parameter appears once. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [path, module] of this.namedModules()) {
      for (const [name, p] of module.namedOwnParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([path ? `${path}.${name}` : name, p]);
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every registered buffer below this module, with its dotted path. */
  namedBuffers(options: { persistentOnly?: boolean } = {}): [string, Tensor][] {
    checkOptions("namedBuffers", options, ["persistentOnly"]);
    const out: [string, Tensor][] = [];
    for (const [path, module] of this.namedModules()) {
      for (const [name, { persistent }] of buffersOf.get(module) ?? []) {
        if (options.persistentOnly && !persistent) continue;
        out.push([path ? `${path}.${name}` : name, (module as unknown as Record<string, Tensor>)[name]]);
      }
    }
    return out;
  }

  /**
   * Frees every tensor this module and its children hold: parameters and their gradients, buffers, and
   * tensors kept in fields (caches, adapters' weights), as tfjs's LayersModel.dispose(). A tied tensor is
   * freed once. Using the module afterwards is an error naming the op and the disposed tensor.
   */
  dispose(): void {
    const seen = new Set<Tensor>();
    for (const [, module] of this.namedModules()) {
      module.disposeCaches();
      for (const value of Object.values(module)) {
        if (!(value instanceof Tensor) || seen.has(value)) continue;
        seen.add(value);
        if (value.grad) value.grad.dispose();
        value.dispose();
      }
    }
  }

  /** Frees tensors this module keeps outside its fields (a cache in a Map); dispose() calls it. */
  protected disposeCaches(): void {}

  /** Sets training mode here and below (dropout is active only in training mode). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes (false) or unfreezes (true) every parameter below this module. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  /** The number of parameter elements, each tied parameter counted once. */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    checkOptions("numParameters", options, ["trainableOnly"]);
    return this.parameters()
      .filter((p) => !options.trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.size, 0);
  }

  /** The module at a dotted path ("" is this module). */
  getSubmodule(path: string): Module {
    if (path === "") return this;
    let module: Module = this;
    let walked = "";
    for (const name of path.split(".")) {
      const child = module.namedChildren().find(([n]) => n === name)?.[1];
      if (!child) fail("getSubmodule", `no module "${name}" in "${path}" (${childrenOf(module, walked)})`);
      module = child;
      walked = walked ? `${walked}.${name}` : name;
    }
    return module;
  }

  /** Replaces the module at a dotted path (how adapters wrap layers in place). */
  setSubmodule(path: string, replacement: Module): void {
    if (!(replacement instanceof Module)) fail("setSubmodule", `the replacement for "${path}" is not a Module`);
    const cut = path.lastIndexOf(".");
    const parent = this.getSubmodule(cut < 0 ? "" : path.slice(0, cut));
    const name = path.slice(cut + 1);
    if (!parent.namedChildren().some(([n]) => n === name)) {
      fail("setSubmodule", `no module "${name}" in "${path}" (${childrenOf(parent, path.slice(0, Math.max(cut, 0)))})`);
    }
    parent.replaceChild(name, replacement);
  }

  /** Swaps a direct child; ModuleList overrides it to index its items. */
  protected replaceChild(name: string, replacement: Module): void {
    (this as unknown as Record<string, Module>)[name] = replacement;
  }

  /** Parameters and persistent buffers by dotted path; a tied parameter appears once. */
  stateDict(): StateDict {
    return new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers({ persistentOnly: true })]);
  }

  /**
   * Copies values from `dict` into this module's parameters and buffers, in place. Reports missing and
   * unexpected keys and shape mismatches by name; with `strict` (the default, as PyTorch) any of them
   * throws before anything is written.
   */
  loadStateDict(dict: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    checkOptions("loadStateDict", options, ["strict"]);
    const strict = options.strict ?? true;
    const source = dict instanceof Map ? dict : new Map(Object.entries(dict));
    for (const [key, value] of source) {
      // checked before anything is written: a bad value found halfway would leave a half-loaded model
      if (!(value instanceof Tensor) || value.isDisposed) {
        fail(
          "loadStateDict",
          `the value of "${key}" must be a live Tensor, got ${value instanceof Tensor ? "a disposed tensor" : kindOf(value, { withValue: true })}`,
        );
      }
    }
    const own = this.stateDict();
    const result: LoadResult = {
      missingKeys: [...own.keys()].filter((k) => !source.has(k)),
      unexpectedKeys: [...source.keys()].filter((k) => !own.has(k)),
      shapeMismatches: [],
    };
    const mismatched = new Set<string>();
    for (const [key, target] of own) {
      const value = source.get(key);
      if (value && (value.rank !== target.rank || value.shape.some((d, i) => d !== target.shape[i]))) {
        mismatched.add(key);
        result.shapeMismatches.push(`${key}: expected [${target.shape}], got [${value.shape}]`);
      }
    }
    const problems = [
      ...result.missingKeys.map((k) => `missing key ${k}`),
      ...result.unexpectedKeys.map((k) => `unexpected key ${k}`),
      ...result.shapeMismatches.map((m) => `shape mismatch ${m}`),
    ];
    if (strict && problems.length > 0) fail("loadStateDict", problems.join("; "));
    // tidy frees the dtype casts
    tidy(() =>
      noGrad(() => {
        for (const [key, target] of own) {
          const value = source.get(key);
          if (value && !mismatched.has(key)) target.assign(value.cast(target.dtype));
        }
      }),
    );
    return result;
  }
}

/** A child or parameter name: one path segment, so that dotted paths stay unambiguous. */
function checkMemberName(where: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || name === "" || name.includes(".")) {
    const got = typeof name === "string" ? JSON.stringify(name) : kindOf(name, { withValue: true });
    fail(where, `a name must be a non-empty string without ".", got ${got}`);
  }
}

/** What a module path offers instead (`"blocks" has "0", "1"`), for the errors of a path that went astray. */
function childrenOf(module: Module, path: string): string {
  const names = module.namedChildren().map(([n]) => n);
  const where = path ? `"${path}"` : "the root module";
  return names.length > 0 ? `${where} has ${names.map((n) => `"${n}"`).join(", ")}` : `${where} has no child modules`;
}

/** Modules held in a list; their paths are their indices (`blocks.0`). */
export class ModuleList extends Module {
  readonly items: Module[];

  constructor(modules: Iterable<Module> = []) {
    super();
    if (modules === null || typeof (modules as Iterable<Module>)[Symbol.iterator] !== "function") {
      fail(new.target.name, `expected modules, got ${kindOf(modules, { withValue: true })}`);
    }
    this.items = [...modules];
    this.items.forEach((m, i) => {
      // refused here, not later in forward: new Sequential(42) is a mistake at the line that wrote it
      if (!(m instanceof Module)) fail(new.target.name, `item ${i} must be a Module, got ${kindOf(m, { withValue: true })}`);
    });
  }

  override namedChildren(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }

  protected override replaceChild(name: string, replacement: Module): void {
    this.items[Number(name)] = replacement;
  }

  /** A list's children are its items, named by index: push() adds one. */
  override addModule(name: string, _module: Module): void {
    fail("addModule", `${this.constructor.name}'s children are its items, named by index; push() adds one (got "${name}")`);
  }

  override deleteModule(name: string): void {
    fail("deleteModule", `${this.constructor.name}'s children are its items, named by index; "${name}" cannot be deleted`);
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): Module {
    const m = this.items.at(i);
    if (!m) fail("ModuleList", `index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }

  push(module: Module): void {
    this.items.push(module);
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }
}

/** Anything with a forward of one tensor: what Sequential chains. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

/** Applies its modules in order. */
export class Sequential extends ModuleList {
  constructor(...modules: TensorModule[]) {
    super(modules);
  }

  forward(x: Tensor): Tensor {
    let out = x;
    for (const m of this.items) out = (m as TensorModule).forward(out);
    return out;
  }
}

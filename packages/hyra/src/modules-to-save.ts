/**
 * @file modulesToSave (PEFT's ModulesToSaveWrapper): a module trained in full with the adapter, such as
 * a new classifier head. The wrapper keeps the frozen original and one trainable copy per adapter, so
 * that switching adapters switches heads and disabling adapters or unload() gives the original back.
 */

import { describeValue, fail, noGrad, Tensor, tidy } from "@tsgrad/core";
import { Module, Parameter } from "@tsgrad/nn";
import { AdapterDict } from "./adapter-dict.ts";

type AnyForward = (...args: unknown[]) => unknown;

/** The first class on a module's prototype chain whose source uses private (#) members, or null. */
function classWithPrivateMembers(module: Module): string | null {
  for (let proto = Object.getPrototypeOf(module); proto && proto !== Module.prototype; proto = Object.getPrototypeOf(proto)) {
    // a private member is always reached as `x.#name`; a copy made from the fields would not have it
    if (/\.#[A-Za-z_$]/.test(Function.prototype.toString.call(proto.constructor))) return proto.constructor.name;
  }
  return null;
}

function copyValue(value: unknown, path: string): unknown {
  if (value instanceof Parameter)
    return tidy(
      () =>
        new Parameter(
          noGrad(() => value.clone()),
          value.requiresGrad,
        ),
    );
  if (value instanceof Module) return cloneModule(value, path);
  if (value instanceof Tensor) return noGrad(() => value.clone()).keep();
  if (Array.isArray(value)) return value.map((v, i) => copyValue(v, `${path}.${i}`));
  return value;
}

/**
 * A deep copy of a module: parameters and buffers get buffers of their own, child modules (and arrays of
 * them, as in ModuleList) are copied the same way, other fields (sizes, options) are shared. A class
 * may define `clone()` to copy itself; one with private (#) members must, since its private state
 * cannot be copied from outside.
 */
export function cloneModule<T extends Module>(module: T, path: string): T {
  if (!(module instanceof Module)) fail("cloneModule", `expected a Module, got ${describeValue(module)}`);
  const own = (module as { clone?: unknown }).clone;
  if (typeof own === "function") return own.call(module) as T;
  const privateClass = classWithPrivateMembers(module);
  if (privateClass) {
    fail(
      "modulesToSave",
      `cannot copy "${path}": its class ${privateClass} has private (#) members, which a copy made field by field ` +
        `would lack; give ${privateClass} a clone() method, or save a module without private state`,
    );
  }
  const copy = Object.create(Object.getPrototypeOf(module)) as T;
  const ownBuffers = module.namedBuffers().filter(([name]) => !name.includes("."));
  const persistent = new Set(
    module
      .namedBuffers({ persistentOnly: true })
      .filter(([name]) => !name.includes("."))
      .map(([name]) => name),
  );
  const buffers = new Set(ownBuffers.map(([name]) => name));
  for (const [key, value] of Object.entries(module)) {
    if (buffers.has(key)) continue;
    Reflect.set(copy, key, copyValue(value, `${path}.${key}`));
  }
  for (const [name, buffer] of ownBuffers) {
    // registerBuffer is protected in TypeScript only; the copy must record its buffers as the original did
    const register = Reflect.get(copy, "registerBuffer") as (n: string, t: Tensor, o: { persistent: boolean }) => void;
    register.call(
      copy,
      name,
      noGrad(() => buffer.clone()),
      { persistent: persistent.has(name) },
    );
  }
  return copy;
}

export class ModulesToSaveWrapper extends Module {
  /** The module as the base model had it; frozen, used while adapters are disabled. */
  original_module: Module;
  /** One trainable copy per adapter, saved with it. */
  modules_to_save = new AdapterDict();
  activeAdapter: string | null = null;
  disabled = false;

  constructor(
    original: Module,
    /** The module path, for error messages. */
    readonly path: string,
  ) {
    super();
    if (typeof (original as { forward?: unknown }).forward !== "function") {
      fail("modulesToSave", `"${path}" (${original.constructor.name}) has no forward method to call`);
    }
    this.original_module = original;
  }

  /** Adds an adapter's trainable copy of the original (made here unless given). */
  addAdapter(name: string, copy: Module = cloneModule(this.original_module, this.path)): void {
    if (this.modules_to_save.has(name)) fail("modulesToSave", `"${this.path}" already has a copy for adapter "${name}"`);
    this.modules_to_save.set(name, copy);
  }

  /** The module the forward runs: the active adapter's copy, or the original. */
  get activeModule(): Module {
    const name = this.activeAdapter;
    if (this.disabled || name === null) return this.original_module;
    return this.modules_to_save.get(name) ?? this.original_module;
  }

  forward(...args: unknown[]): unknown {
    const module = this.activeModule;
    return (Reflect.get(module, "forward") as AnyForward).apply(module, args);
  }
}

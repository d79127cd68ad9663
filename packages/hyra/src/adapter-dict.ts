/**
 * @file Containers keyed by name, as PEFT's ModuleDict, ParameterDict and BufferDict: `AdapterDict` holds
 * one module per adapter name (so `q.lora_A.default.weight` is a path), `AdapterParameters` one parameter
 * per adapter name (VeRA's `vera_lambda_b.default`), `BufferDict` one frozen tensor per adapter name
 * (VeRA's shared `vera_A.default`), and `ParameterDict` one parameter per projection (HyRA's `P.q`).
 * Entries are plain fields, so Module's walk, state dicts and functional calls see them like any other.
 */

import { fail, kindOf, Tensor } from "@tsgrad/core";
import { Module, Parameter } from "@tsgrad/nn";

/**
 * Refuses adapter names that could not be a path segment or a folder name: `..`, `/` and `\` would
 * escape the folder an adapter is saved in, and a `.` would split the dotted key it appears in.
 */
/** The longest adapter name accepted. */
export const MAX_ADAPTER_NAME = 128;

export function checkAdapterName(name: unknown, where: string): string {
  if (typeof name !== "string" || name === "") fail(where, `an adapter name must be a non-empty string, got ${JSON.stringify(name)}`);
  // a folder name (saveAdapter writes dir/<name>): file systems refuse names past 255 bytes, so refuse first, by name
  if (name.length > MAX_ADAPTER_NAME) {
    fail(where, `an adapter name has at most ${MAX_ADAPTER_NAME} characters, got ${name.length} (${JSON.stringify(name.slice(0, 24))}...)`);
  }
  if (name.includes("..") || name.includes("/") || name.includes("\\")) {
    fail(where, `adapter name ${JSON.stringify(name)} would escape the adapter folder ("..", "/" and "\\" are refused)`);
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(name)) {
    fail(where, `adapter name ${JSON.stringify(name)} must use only letters, digits, "_" and "-" (a "." would split the parameter paths)`);
  }
  if (name in PROBE) fail(where, `adapter name ${JSON.stringify(name)} is reserved (it is a field of every module)`);
  return name;
}

/** An own field's value, or undefined (never one inherited from the prototype). */
function own(module: Module, name: string): unknown {
  return Object.hasOwn(module, name) ? Reflect.get(module, name) : undefined;
}

/**
 * What the tuner knows of every per-adapter container: which adapters it holds and how one is removed,
 * so that deleting or unloading an adapter clears a method's state without knowing the method.
 */
export abstract class PerAdapter extends Module {
  abstract names(): string[];

  has(name: string): boolean {
    return this.names().includes(name);
  }

  abstract delete(name: string): void;
}

/** One module per adapter name, each a child at `<this path>.<name>`. */
export class AdapterDict<T extends Module = Module> extends PerAdapter {
  get(name: string): T | undefined {
    const value = own(this, name);
    return value instanceof Module ? (value as T) : undefined;
  }

  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, module: T): void {
    checkAdapterName(name, "AdapterDict");
    // a subclass's own fields (HyraLayer's counter) are not adapters to overwrite
    if (name in this && !this.has(name)) fail("AdapterDict", `adapter name ${JSON.stringify(name)} is a field of ${this.constructor.name}`);
    this.addModule(name, module);
  }

  delete(name: string): void {
    if (this.has(name)) this.deleteModule(name);
  }

  names(): string[] {
    return this.namedChildren().map(([name]) => name);
  }
}

/** One parameter per adapter name (PEFT's ParameterDict as VeRA uses it), each at `<this path>.<name>`. */
export class AdapterParameters extends PerAdapter {
  get(name: string): Parameter | undefined {
    const value = own(this, name);
    return value instanceof Parameter ? value : undefined;
  }

  set(name: string, parameter: Parameter): void {
    checkAdapterName(name, "AdapterParameters");
    if (name in this && !this.get(name))
      fail("AdapterParameters", `adapter name ${JSON.stringify(name)} is a field of ${this.constructor.name}`);
    this.registerParameter(name, parameter);
  }

  delete(name: string): void {
    if (this.get(name)) Reflect.deleteProperty(this, name);
  }

  names(): string[] {
    return this.namedParameters()
      .filter(([key]) => !key.includes("."))
      .map(([key]) => key);
  }
}

/**
 * One frozen tensor per adapter name (PEFT's BufferDict: VeRA's shared projections), each a buffer at
 * `<this path>.<name>`, saved but never trained. Several names may hold the same tensor.
 */
export class BufferDict extends PerAdapter {
  readonly #names = new Set<string>();

  get(name: string): Tensor | undefined {
    if (!this.#names.has(name)) return undefined;
    const value = own(this, name);
    return value instanceof Tensor ? value : undefined;
  }

  set(name: string, tensor: Tensor): void {
    checkAdapterName(name, "BufferDict");
    if (!(tensor instanceof Tensor)) fail("BufferDict", `"${name}" must be a Tensor, got ${kindOf(tensor)}`);
    if (name in this && !this.#names.has(name))
      fail("BufferDict", `adapter name ${JSON.stringify(name)} is a field of ${this.constructor.name}`);
    this.registerBuffer(name, tensor);
    this.#names.add(name);
  }

  delete(name: string): void {
    if (this.#names.delete(name)) this.deleteBuffer(name);
  }

  names(): string[] {
    return [...this.#names];
  }
}

/** One parameter per name (a projection: `P.q`, `P.v`), each at `<this path>.<name>`. */
export class ParameterDict extends Module {
  constructor(entries: Iterable<[string, Parameter]> = []) {
    super();
    for (const [name, p] of entries) {
      if (name in this) fail("ParameterDict", `"${name}" is a field of every module and cannot name a parameter`);
      this.registerParameter(name, p);
    }
  }

  /** The tensor at `name`: the parameter, or what a functional call put in its place. */
  get(name: string): Tensor {
    const p = own(this, name);
    if (!(p instanceof Tensor)) fail("ParameterDict", `no parameter "${name}" (has ${this.keys().join(", ")})`);
    return p;
  }

  keys(): string[] {
    return Object.entries(this)
      .filter(([, v]) => v instanceof Tensor)
      .map(([name]) => name);
  }
}

/** A bare module: names that are fields of every module cannot be adapter names. */
const PROBE = new AdapterDict();

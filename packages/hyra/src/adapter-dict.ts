/**
 * @file Containers keyed by name, as PEFT's ModuleDict and ParameterDict: `AdapterDict` holds one module
 * per adapter name (so `q.lora_A.default.weight` is a path), `ParameterDict` one parameter per projection.
 * Entries are plain fields, so Module's walk, state dicts and functional calls see them like any other.
 */

import { fail, Tensor } from "@tsgrad/core";
import { Module, type Parameter } from "@tsgrad/nn";

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

/** One module per adapter name, each a child at `<this path>.<name>`. */
export class AdapterDict<T extends Module = Module> extends Module {
  get(name: string): T | undefined {
    const value = Object.hasOwn(this, name) ? (this as unknown as Record<string, unknown>)[name] : undefined;
    return value instanceof Module ? (value as T) : undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, module: T): void {
    checkAdapterName(name, "AdapterDict");
    // a subclass's own fields (HyraLayer's counter) are not adapters to overwrite
    if (name in this && !this.has(name)) fail("AdapterDict", `adapter name ${JSON.stringify(name)} is a field of ${this.constructor.name}`);
    (this as unknown as Record<string, T>)[name] = module;
  }

  delete(name: string): void {
    delete (this as unknown as Record<string, T>)[name];
  }

  names(): string[] {
    return this.namedChildren().map(([name]) => name);
  }
}

/** One parameter per name (a projection: `P.q`, `P.v`), each at `<this path>.<name>`. */
export class ParameterDict extends Module {
  constructor(entries: Iterable<[string, Parameter]> = []) {
    super();
    for (const [name, p] of entries) {
      if (name in this) fail("ParameterDict", `"${name}" is a field of every module and cannot name a parameter`);
      (this as unknown as Record<string, Parameter>)[name] = p;
    }
  }

  /** The tensor at `name`: the parameter, or what a functional call put in its place. */
  get(name: string): Tensor {
    const p = Object.hasOwn(this, name) ? (this as unknown as Record<string, unknown>)[name] : undefined;
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

/**
 * @file Which modules an adapter targets (PEFT's check_target_module_exists: an exact path, a `.name`
 * suffix, or a pattern on the whole path; excludeModules; layersToTransform), and the head structure of
 * the attention module around a projection, which MH-LoRA and HyRA need.
 */

import { describeValue, fail } from "@tsgrad/core";
import { Linear, Module } from "@tsgrad/nn";
import type { ModuleSpec, PeftConfig } from "./config.ts";
import { ModulePattern } from "./pattern.ts";

/**
 * True when `path` is named by `spec`: for a list, a name equal to the path or to its last parts
 * (`attn.q` and `q` both name `blocks.0.attn.q`, `q` does not name `blocks.0.attn.qq`); for a pattern,
 * a match of the whole path (Python's re.fullmatch, as PEFT), in linear time (pattern.ts).
 */
export function matchesName(path: string, spec: ModuleSpec): boolean {
  if (typeof path !== "string") fail("matchesName", `the path must be a string, got ${describeValue(path)}`);
  if (!(spec instanceof ModulePattern || spec instanceof RegExp || (Array.isArray(spec) && spec.every((n) => typeof n === "string")))) {
    fail("matchesName", `the names must be a list of module names, a RegExp or a ModulePattern, got ${describeValue(spec)}`);
  }
  if (spec instanceof ModulePattern) return spec.matches(path);
  if (spec instanceof RegExp) return new ModulePattern(spec.source, "matchesName", "the pattern").matches(path);
  return spec.some((name) => path === name || path.endsWith(`.${name}`));
}

/**
 * The layer index of a module path: the first numeric part (`blocks.3.attn.q` -> 3), or with a layers
 * pattern the first numeric part right after a part equal to the pattern. Null when there is none.
 * NOTE: PEFT's regex takes the last numeric part and needs a part before the layer list
 * (`model.layers.3...`); the first one is the outer layer list, and a top-level `blocks.3` works.
 */
export function layerIndexOf(path: string, layersPattern: readonly string[] | string | null): number | null {
  if (typeof path !== "string") fail("layerIndexOf", `the path must be a string, got ${describeValue(path)}`);
  const okPattern =
    layersPattern === null ||
    layersPattern === undefined ||
    typeof layersPattern === "string" ||
    (Array.isArray(layersPattern) && layersPattern.every((n) => typeof n === "string"));
  if (!okPattern) fail("layerIndexOf", `layersPattern must be a name, a list of names or null, got ${describeValue(layersPattern)}`);
  const parts = path.split(".");
  const patterns = layersPattern === null ? null : typeof layersPattern === "string" ? [layersPattern] : layersPattern;
  for (let i = 0; i < parts.length; i++) {
    if (!/^(0|[1-9][0-9]*)$/.test(parts[i])) continue;
    if (patterns === null || (i > 0 && patterns.includes(parts[i - 1]))) return Number(parts[i]);
  }
  return null;
}

/** Whether the config adapts the module at `path`: named by targetModules, not excluded, in a chosen layer. */
export function isTargeted(path: string, config: PeftConfig): boolean {
  if (config === null || typeof config !== "object")
    fail("isTargeted", `the config must be a resolved config, got ${describeValue(config)}`);
  if (!matchesName(path, config.targetModules)) return false;
  if (config.excludeModules !== null && matchesName(path, config.excludeModules)) return false;
  if (config.layersToTransform === null) return true;
  const index = layerIndexOf(path, config.layersPattern);
  if (index === null) return false;
  const wanted = config.layersToTransform;
  return typeof wanted === "number" ? index === wanted : wanted.includes(index);
}

/**
 * Every module below `root` with its dotted path, depth first, without entering the modules for which
 * `opaque` is true (adapter wrappers, whose insides are not the model's modules).
 */
export function modulesOf(root: Module, opaque: (m: Module) => boolean): [string, Module][] {
  const out: [string, Module][] = [];
  const seen = new Set<Module>([root]);
  const walk = (module: Module, prefix: string) => {
    for (const [name, child] of module.namedChildren()) {
      if (seen.has(child)) continue;
      seen.add(child);
      const path = prefix ? `${prefix}.${name}` : name;
      out.push([path, child]);
      if (!opaque(child)) walk(child, path);
    }
  };
  walk(root, "");
  return out;
}

/**
 * An attention module as MH-LoRA and HyRA see it, from its own declaration: its head count, the children
 * whose outputs are split into consecutive blocks of d_h features, one per head (q, k, v), and optionally
 * those whose inputs are split so (o). nn's MultiHeadAttention declares them; any module can.
 */
export interface AttentionLike {
  heads: number;
  headProjections: readonly string[];
  headInputProjections?: readonly string[];
}

export interface HeadSplit {
  /** The path of the attention module (the projection's parent). */
  attentionPath: string;
  attention: Module;
  /** The projection's name in its attention module ("q"). */
  projection: string;
  /** Which features of the projection the heads split: its outputs (q, k, v: rows of W) or its inputs (o: columns). */
  axis: "output" | "input";
  heads: number;
  headSize: number;
}

function parentPath(path: string): string {
  const cut = path.lastIndexOf(".");
  return cut < 0 ? "" : path.slice(0, cut);
}

function attentionShape(module: Module): AttentionLike | null {
  // both must be declared: a model that merely records its head count (a `heads` field) is not attention
  const heads: unknown = Reflect.get(module, "heads");
  const outputs: unknown = Reflect.get(module, "headProjections");
  const inputs: unknown = Reflect.get(module, "headInputProjections");
  if (heads === undefined || !Array.isArray(outputs)) return null;
  return { heads: heads as number, headProjections: outputs, headInputProjections: Array.isArray(inputs) ? inputs : [] };
}

/**
 * The head split of the projection at `path` (a Linear inside an attention module), or a clear error
 * naming the module and the numbers when the split is undefined.
 */
export function headSplitOf(model: Module, path: string, layer: Linear, method: string): HeadSplit {
  if (!(model instanceof Module) || typeof path !== "string" || !(layer instanceof Linear)) {
    fail("headSplitOf", "expects (model: Module, path: string, layer: Linear, method)");
  }
  const attentionPath = parentPath(path);
  const attention = model.getSubmodule(attentionPath);
  const projection = path.slice(attentionPath ? attentionPath.length + 1 : 0);
  const where = `getPeftModel (${method})`;
  const shape = attentionShape(attention);
  const parentName = attentionPath ? `"${attentionPath}"` : "the root module";
  if (!shape) {
    fail(
      where,
      `${method} needs the head structure of an attention projection, but "${path}" is a Linear whose parent ${parentName} ` +
        `(${attention.constructor.name}) is not an attention module (a MultiHeadAttention, or a module declaring heads and headProjections)`,
    );
  }
  const inputs = shape.headInputProjections ?? [];
  const axis = shape.headProjections.includes(projection) ? "output" : inputs.includes(projection) ? "input" : null;
  if (axis === null) {
    const split = `the outputs of ${shape.headProjections.join(", ") || "no projection"}${inputs.length ? ` and the inputs of ${inputs.join(", ")}` : ""}`;
    fail(
      where,
      `"${path}" is not split by heads: ${attention.constructor.name} ${parentName} splits ${split} into its ${shape.heads} heads, ` +
        `so ${method} cannot give "${projection}" per-head adapters`,
    );
  }
  const { heads } = shape;
  const features = axis === "output" ? layer.outFeatures : layer.inFeatures;
  if (!Number.isInteger(heads) || heads <= 0 || features % heads !== 0) {
    fail(
      where,
      `${parentName} declares ${heads} heads, which do not divide the ${features} ${axis} features of "${path}", so the head size d_h is undefined`,
    );
  }
  return { attentionPath, attention, projection, axis, heads, headSize: features / heads };
}

/** The Linear layers below `root`, for error messages that say what could have been targeted. */
export function linearPaths(modules: readonly [string, Module][]): string[] {
  return modules.filter(([, m]) => m instanceof Linear).map(([p]) => p);
}

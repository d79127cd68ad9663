/**
 * @file The adapter configuration: the fields every PEFT method has (target and exclude patterns, layer
 * filtering, modulesToSave, bias) and their defaults, the validation that names the bad field and value,
 * and the mapping to and from the snake_case `adapter_config.json` that PEFT reads. A method's own fields
 * (the LoRA family's r and alpha, HyRA's options, VeRA's projections) live in its tuner folder
 * (tuners/<method>/), which adds its config type to MethodConfigs.
 */

import { closestName, describeValue, fail, showValue } from "@tsgrad/core";
import { checkFileRecord } from "@tsgrad/nn";
import { ModulePattern } from "./pattern.ts";
import { type Tuner, tunerOf, tuners } from "./tuners/tuner.ts";

export type Bias = "none" | "all" | "lora_only";
/**
 * A list of names (each an exact module path or a last part of one, as `q` for `blocks.0.attn.q`), or a
 * pattern on the whole path: a RegExp written in code (its source is compiled with RE2, see pattern.ts),
 * or a ModulePattern.
 */
export type ModuleSpec = readonly string[] | RegExp | ModulePattern;
/** What a resolved config holds: names, or a pattern compiled with RE2. */
export type ResolvedModuleSpec = readonly string[] | ModulePattern;

/** The fields of every method's config. */
export interface CommonConfig {
  targetModules: ResolvedModuleSpec;
  excludeModules: ResolvedModuleSpec | null;
  /** Adapt only the layers with these indices (the first numeric part of a module path, see targets.ts). */
  layersToTransform: readonly number[] | number | null;
  /** The name of the layer list whose index layersToTransform reads (`blocks` for `blocks.3.attn.q`). */
  layersPattern: readonly string[] | string | null;
  /** Modules trained in full and saved with the adapter (a classifier head), matched as targetModules' names. */
  modulesToSave: readonly string[] | null;
  /** Base biases trained with the adapter: none, all, or those of the adapted layers ("lora_only"). */
  bias: Bias;
}

/**
 * Each method's resolved config by its name, filled in by the method's folder (`declare module` in
 * tuners/<method>/tuner.ts), so that a method's config type lives beside the method.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each tuner folder
export interface MethodConfigs {}

/** The registered methods' names: "lora", "mh-lora", "hyra", "vera". */
export type Method = keyof MethodConfigs;

/** A fully resolved configuration: every field present and checked. */
export type PeftConfig = MethodConfigs[Method];

/** Fields given as patterns may be RegExps in what a user writes. */
type Patterns = { targetModules?: ModuleSpec; excludeModules?: ModuleSpec | null };
type InputOf<C> = Partial<Omit<C, "method" | keyof Patterns>> & Patterns;

/** What getPeftModel accepts: the method and any fields that differ from the defaults. */
export type PeftConfigInput = { [M in Method]: { method: M } & InputOf<MethodConfigs[M]> }[Method];

const COMMON_DEFAULTS: CommonConfig = {
  targetModules: ["q", "v"],
  excludeModules: null,
  layersToTransform: null,
  layersPattern: null,
  modulesToSave: null,
  bias: "none",
};

const BIASES: readonly Bias[] = ["none", "all", "lora_only"];

const WHERE = "PeftConfig";

function bad(field: string, value: unknown, expected: string): never {
  return fail(WHERE, `${field} must be ${expected}, got ${showValue(value)}`);
}

function checkModuleSpec(field: string, value: unknown, nullable: boolean): ResolvedModuleSpec | null {
  if (value === null && nullable) return null;
  if (value instanceof ModulePattern) return value;
  if (value instanceof RegExp) {
    // PEFT stores a regex as a plain string matched with re.fullmatch: flags have nowhere to go
    if (value.flags !== "") bad(field, value, "a RegExp without flags (PEFT saves the pattern alone, so /i or /g would be lost)");
    // compiled with RE2 here, so that what is saved can be loaded (a file's pattern never reaches RegExp)
    return new ModulePattern(value.source, WHERE, field);
  }
  if (typeof value === "string") {
    return bad(
      field,
      value,
      "a list of module names or a RegExp (PEFT's regex string is written as a RegExp here; a single name as [name])",
    );
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string" && v !== "")) {
    return bad(field, value, `a non-empty list of non-empty module names or a RegExp${nullable ? ", or null" : ""}`);
  }
  return Object.freeze([...value]);
}

function checkLayers(value: unknown): readonly number[] | number | null {
  if (value === null) return null;
  const isIndex = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (isIndex(value)) return value as number;
  if (Array.isArray(value) && value.length > 0 && value.every(isIndex)) return Object.freeze([...value]);
  return bad("layersToTransform", value, "a layer index, a non-empty list of layer indices (integers >= 0), or null");
}

function checkNames(field: string, value: unknown): readonly string[] | string | null {
  if (value === null) return null;
  if (typeof value === "string" && value !== "") return value;
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string" && v !== "")) return Object.freeze([...value]);
  return bad(field, value, "a name, a non-empty list of names, or null");
}

/** A field that must be one of `options` (method tuners check their own fields with it too). */
export function oneOf<T>(field: string, value: unknown, options: readonly T[]): T {
  if (!options.includes(value as T)) bad(field, value, `one of ${options.map((o) => showValue(o)).join(", ")}`);
  return value as T;
}

export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") bad(field, value, "true or false");
  return value as boolean;
}

/**
 * Fills in the defaults and checks every field, so that nothing downstream sees a bad value. Unknown
 * fields are refused by name (a misspelt option must not silently fall back to its default).
 */
export function resolveConfig(input: PeftConfigInput): PeftConfig {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    fail(WHERE, `expected an object such as { method: "lora", r: 8 }, got ${showValue(input)}`);
  }
  const method = (input as { method?: unknown }).method;
  const tuner =
    tunerOf(method) ??
    bad(
      "method",
      method,
      `one of ${tuners()
        .map((t) => showValue(t.method))
        .join(", ")}`,
    );
  const own = tuner.fields.defaults;
  const known = new Set<string>(["method", ...Object.keys(own), ...Object.keys(COMMON_DEFAULTS)]);
  for (const [key, value] of Object.entries(input)) {
    // an optional field left undefined is a field not given
    if (known.has(key) || value === undefined) continue;
    const owner = tuners().find((t) => Object.hasOwn(t.fields.defaults, key));
    const closest = owner ? null : closestName(key, [...known]);
    const hint = owner ? ` (a ${owner.label} option; the method is "${tuner.method}")` : closest ? ` (did you mean ${closest}?)` : "";
    fail(WHERE, `unknown field "${key}"${hint}; the fields of a ${tuner.method} config are ${[...known].join(", ")}`);
  }
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const merged = { ...COMMON_DEFAULTS, ...own, ...given } as Record<string, unknown>;

  const targetModules = checkModuleSpec("targetModules", merged.targetModules, false) as ResolvedModuleSpec;
  const excludeModules = checkModuleSpec("excludeModules", merged.excludeModules, true);
  const layersToTransform = checkLayers(merged.layersToTransform);
  const layersPattern = checkNames("layersPattern", merged.layersPattern);
  // as PEFT's LoraConfig: a regex already says which layers it wants
  if (targetModules instanceof ModulePattern && layersToTransform !== null) {
    fail(WHERE, `layersToTransform cannot be used when targetModules is a RegExp (${targetModules}); put the layer indices in the RegExp`);
  }
  if (targetModules instanceof ModulePattern && layersPattern !== null) {
    fail(WHERE, `layersPattern cannot be used when targetModules is a RegExp (${targetModules})`);
  }
  if (layersPattern !== null && layersToTransform === null) {
    fail(
      WHERE,
      `layersPattern (${showValue(layersPattern)}) only says where layersToTransform reads the layer index; give layersToTransform too`,
    );
  }
  const modulesToSave = merged.modulesToSave === null ? null : checkModuleSpec("modulesToSave", merged.modulesToSave, false);
  if (modulesToSave instanceof ModulePattern) bad("modulesToSave", modulesToSave, "a list of module names, or null");
  const common: CommonConfig = {
    targetModules,
    excludeModules,
    layersToTransform,
    layersPattern,
    modulesToSave: modulesToSave as readonly string[] | null,
    bias: oneOf("bias", merged.bias, BIASES),
  };
  const fields = Object.fromEntries(Object.keys(own).map((key) => [key, merged[key]]));
  // the tuner's own resolve made its fields: together with the common ones they are its config
  return Object.freeze({ method: tuner.method, ...common, ...tuner.fields.resolve(fields, bad) }) as PeftConfig;
}

// ---- adapter_config.json --------------------------------------------------------------------------

/** camelCase (ours) -> snake_case (PEFT's names); a method adds its own fields' names (tuner.fields.diskNames). */
const DISK_NAMES: Record<string, string> = {
  targetModules: "target_modules",
  excludeModules: "exclude_modules",
  layersToTransform: "layers_to_transform",
  layersPattern: "layers_pattern",
  modulesToSave: "modules_to_save",
  bias: "bias",
};

function diskNamesOf(tuner: Tuner): Record<string, string> {
  return { ...DISK_NAMES, ...tuner.fields.diskNames };
}

/** Fields about where an adapter came from, not how it computes: read and ignored, whatever their value. */
const INFORMATIONAL = new Set([
  "auto_mapping",
  "base_model_name_or_path",
  "revision",
  "task_type",
  "inference_mode",
  "peft_version",
  "megatron_core",
]);

/** Fields whose null is a value of ours (not PEFT's "use the default"). */
const NULLABLE = new Set(["excludeModules", "layersToTransform", "layersPattern", "modulesToSave"]);

/** The JSON object written as adapter_config.json (keys sorted, as PEFT's json.dumps(sort_keys=True)). */
export function configToJson(config: PeftConfig): Record<string, unknown> {
  const tuner = config !== null && typeof config === "object" ? tunerOf(config.method) : undefined;
  if (!tuner) fail("configToJson", `expected a resolved config (resolveConfig's result), got ${showValue(config)}`);
  const out: Record<string, unknown> = { peft_type: tuner.peftType, ...tuner.fields.jsonExtras };
  for (const [camel, snake] of Object.entries(diskNamesOf(tuner))) {
    if (!(camel in config)) continue;
    const value: unknown = Reflect.get(config, camel);
    // exclude_modules is newer than some PEFT releases, which refuse unknown keys: write it only when used
    if (camel === "excludeModules" && value === null) continue;
    out[snake] = value instanceof ModulePattern ? value.source : Array.isArray(value) ? [...value] : value;
    if (camel === "bias" && value === "lora_only" && tuner.fields.onlyBias) out[snake] = tuner.fields.onlyBias;
  }
  return sortedKeys(out);
}

/** An object with its keys in code-point order, as PEFT's json.dumps(sort_keys=True) writes them. */
export function sortedKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The field of our adapter_config.json that records the weights file saved with it (save.ts). */
export const WEIGHTS_RECORD = "tsgrad_weights";

export interface ParsedConfig {
  config: PeftConfig;
  /** The weights file this config was saved with (absent in PEFT's own files). */
  weights?: { bytes: number; sha256: string };
  /** Keys of the file that were not used: informational ones (base_model_name_or_path, task_type, ...) and features left off. */
  ignoredFields: string[];
}

/** Reads an adapter_config.json object (ours, or PEFT's for LoRA), refusing PEFT features we do not implement. */
export function configFromJson(json: unknown, file = "adapter_config.json"): ParsedConfig {
  const where = `loadAdapter ${file}`;
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail(where, `expected a JSON object, got ${showValue(json)}`);
  const raw = json as Record<string, unknown>;
  const peftType = raw.peft_type;
  const tuner = tuners().find((t) => t.peftType === peftType);
  if (!tuner)
    fail(
      where,
      `peft_type must be one of ${tuners()
        .map((t) => t.peftType)
        .join(", ")}, got ${showValue(peftType)}`,
    );
  const unsupported = tuner.fields.unsupportedIfSet ?? {};
  for (const [field, expected] of Object.entries(unsupported)) {
    if (Object.hasOwn(raw, field) && JSON.stringify(raw[field]) !== JSON.stringify(expected)) {
      fail(
        where,
        `${field} = ${JSON.stringify(raw[field])} is a PEFT feature that @tsgrad/hyra does not implement (only ${JSON.stringify(expected)} is supported)`,
      );
    }
  }
  tuner.fields.checkFile?.(raw, where);
  const settingOf = tuner.fields.settingOf ?? {};
  const byDisk = new Map(Object.entries(diskNamesOf(tuner)).map(([camel, snake]) => [snake, camel]));
  const nullable = new Set([...NULLABLE, ...tuner.fields.nullable]);
  const input: Record<string, unknown> = { method: tuner.method };
  const ignoredFields: string[] = [];
  let weights: ParsedConfig["weights"];
  // own keys only, and Object.hasOwn everywhere: "constructor" or "__proto__" is a field like any other
  for (const [key, value] of Object.entries(raw)) {
    if (key === "peft_type" || Object.hasOwn(unsupported, key)) continue;
    if (key === WEIGHTS_RECORD) {
      weights = weightsRecord(value, where);
      continue;
    }
    const camel = byDisk.get(key);
    // another method's field (hyra_mixing in a LoRA file) is unknown to this one
    if (!camel) {
      // a field we do not know may be a newer PEFT feature: harmless only while it is off
      const switchedOff = Object.hasOwn(settingOf, key) && !raw[settingOf[key]];
      const off = switchedOff || value === null || value === false || JSON.stringify(value) === "{}" || JSON.stringify(value) === "[]";
      if (!off && !INFORMATIONAL.has(key)) {
        fail(where, `unknown field ${key} = ${shortJson(value)}: it may change the computation, and @tsgrad/hyra does not implement it`);
      }
      ignoredFields.push(key);
      continue;
    }
    if (value === null && !nullable.has(camel)) {
      // PEFT writes null for "use the default" (target_modules: null means its per-architecture default)
      if (camel === "targetModules")
        fail(where, "target_modules is null: PEFT then uses a per-architecture default, which tsgrad models do not have");
      continue;
    }
    const pattern = typeof value === "string" && (camel === "targetModules" || camel === "excludeModules");
    const onlyBias = camel === "bias" && value !== "lora_only" && value === tuner.fields.onlyBias;
    input[camel] = pattern ? new ModulePattern(value, where, key) : onlyBias ? "lora_only" : value;
  }
  try {
    return { config: resolveConfig(input as PeftConfigInput), ignoredFields, ...(weights ? { weights } : {}) };
  } catch (error) {
    return fail(where, (error as Error).message);
  }
}

function weightsRecord(value: unknown, where: string): { bytes: number; sha256: string } {
  return checkFileRecord(value, where, WEIGHTS_RECORD);
}

/** A value from a file as JSON when that is short, else as describeValue names it: a message never holds a whole file. */
function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= 60 ? json : describeValue(value);
}

/**
 * @file The Optimizer base: parameter groups with per-group hyper-parameters, per-parameter state,
 * zeroGrad, a no-grad tidy step, and state dicts laid out as PyTorch's (state by parameter index in
 * group order), so that training resumes exactly.
 */

import { backendsApart, closestName, fail, isFloat, noGrad, showValue, type Tensor, Tensor as TensorClass, tidy } from "@tsgrad/core";
import { checkNumber } from "./checks.ts";

/** Hyper-parameters every optimiser has; each optimiser adds its own. */
export interface BaseOptions {
  lr: number;
  weightDecay: number;
}

/** Hyper-parameter values: numbers, flags, or pairs (Adam's betas). */
export type OptionValue = number | boolean | readonly [number, number];

/** A group as the optimiser holds it: every hyper-parameter filled in from the defaults. */
export type ParamGroup<H> = H & { params: Tensor[] };

/** A group as the caller gives it: hyper-parameters left out take the optimiser's defaults. */
export type ParamGroupSpec<H> = Partial<H> & { params: Iterable<Tensor> };

/** Either a list of parameters (one group) or a list of groups. */
export type ParamsInput<H> = Iterable<Tensor> | Iterable<ParamGroupSpec<H>>;

/** Per-parameter state: tensors (moments, buffers) and host numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

/**
 * PyTorch's layout: `state[i]` belongs to the i-th parameter counting through the groups in order, and
 * each group lists its parameters by those indices.
 */
export interface OptimizerStateDict<H = Record<string, OptionValue>> {
  state: Record<number, ParamState>;
  paramGroups: (H & { params: number[] })[];
}

function isGroupSpec(value: unknown): value is ParamGroupSpec<unknown> {
  return typeof value === "object" && value !== null && !(value instanceof TensorClass) && "params" in value;
}

export abstract class Optimizer<H extends BaseOptions> {
  readonly paramGroups: ParamGroup<H>[] = [];
  /** Per-parameter state, made on a parameter's first update; its tensors are kept out of tidy scopes. */
  readonly state = new Map<Tensor, ParamState>();
  readonly defaults: Readonly<H>;

  protected constructor(
    /** Names the optimiser in error messages. */
    readonly name: string,
    params: ParamsInput<H>,
    defaults: H,
    options: Partial<H>,
  ) {
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      fail(name, `options must be an object such as { lr: 0.01 }, got ${showValue(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!Object.hasOwn(defaults, key)) {
        const closest = closestName(key, Object.keys(defaults));
        fail(
          name,
          `unknown option "${key}"${closest ? ` (did you mean ${closest}?)` : ""}; expected one of ${Object.keys(defaults).join(", ")}`,
        );
      }
    }
    const merged = { ...defaults, ...options };
    this.checkOptions(merged, "");
    this.defaults = Object.freeze(merged);
    if (params === null || typeof params !== "object" || !(Symbol.iterator in params)) {
      fail(name, `params must be a list of tensors or of parameter groups, got ${showValue(params)}`);
    }
    const items = [...(params as Iterable<unknown>)];
    if (items.length === 0) fail(name, "got an empty parameter list");
    if (items.every((x) => x instanceof TensorClass)) {
      this.addParamGroup({ params: items as Tensor[] } as unknown as ParamGroupSpec<H>);
    } else if (items.every(isGroupSpec)) {
      for (const group of items) this.addParamGroup(group as ParamGroupSpec<H>);
    } else {
      const bad = items.findIndex((x) => !(x instanceof TensorClass) && !isGroupSpec(x));
      fail(
        name,
        bad >= 0
          ? `params[${bad}] is ${showValue(items[bad])}; expected a Tensor or a group { params, ...options }`
          : "params mixes tensors and parameter groups; give either a list of tensors or a list of groups",
      );
    }
    if (this.paramGroups.every((g) => g.params.length === 0)) fail(name, "got an empty parameter list");
  }

  /**
   * Throws a clear error for a bad hyper-parameter. `where` is "" for the defaults and "group N " for a
   * group, so the message says which one was wrong.
   */
  protected abstract checkOptions(options: H, where: string): void;

  /**
   * Updates one parameter in place (with assign), given its gradient, its group's hyper-parameters and
   * its state (empty on the first update: fill it with kept tensors). Runs under noGrad and tidy.
   */
  protected abstract update(param: Tensor, grad: Tensor, group: ParamGroup<H>, state: ParamState): void;

  /**
   * Checks one parameter's loaded state (its keys and their kinds) for loadStateDict; `where` names the
   * entry. Shapes and backends of its tensors are checked by the base class.
   */
  protected abstract checkState(state: ParamState, group: H, where: string): void;

  /** Adds a group (a new block of parameters with its own hyper-parameters), as PyTorch's add_param_group. */
  addParamGroup(spec: ParamGroupSpec<H>): void {
    const index = this.paramGroups.length;
    if (!isGroupSpec(spec)) {
      fail(this.name, `a parameter group must be an object { params, ...options }, got ${showValue(spec)}`);
    }
    const known = new Set(["params", ...Object.keys(this.defaults)]);
    for (const key of Object.keys(spec)) {
      if (!known.has(key)) {
        fail(this.name, `group ${index} has an unknown option "${key}"; expected one of ${[...known].join(", ")}`);
      }
    }
    const rawParams = spec.params as unknown;
    if (rawParams === null || typeof rawParams !== "object" || !(Symbol.iterator in rawParams)) {
      fail(this.name, `group ${index}: params must be a list of tensors, got ${showValue(rawParams)}`);
    }
    const params = [...(rawParams as Iterable<unknown>)];
    const seen = new Map(this.paramGroups.flatMap((g, k) => g.params.map((p) => [p, k] as const)));
    params.forEach((p, i) => {
      const at = `group ${index}, parameter ${i}`;
      if (!(p instanceof TensorClass)) fail(this.name, `${at} is ${showValue(p)}; expected a Tensor`);
      if (p.isDisposed) fail(this.name, `${at} (${p.describe()}) was disposed`);
      if (!isFloat(p.dtype)) fail(this.name, `${at} is ${p.dtype}; only float32 and float64 tensors can be optimised`);
      if (!p.isLeaf) fail(this.name, `${at} is not a leaf tensor (it was computed by an op); optimise leaves only`);
      if (seen.has(p)) fail(this.name, `${at} (${p.describe()}) is already in group ${seen.get(p)}; a parameter may appear once`);
      seen.set(p, index);
    });
    const group = { ...this.defaults, ...spec, params: params as Tensor[] } as ParamGroup<H>;
    this.checkOptions(group, `group ${index} `);
    this.paramGroups.push(group);
  }

  /** Disposes and clears every parameter's `.grad` (PyTorch's zero_grad with set_to_none). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.zeroGrad();
  }

  /**
   * One update of every parameter that has a `.grad`; the others (and their state) are left alone.
   * Hyper-parameters are read from the groups now, so a scheduler may change them between steps.
   * Nothing is read back: per-step scalars (bias corrections) are computed on the host.
   */
  step(): void {
    for (const [g, group] of this.paramGroups.entries()) {
      this.checkOptions(group, `group ${g} `);
      for (const [i, p] of group.params.entries()) {
        const grad = p.grad;
        if (!grad) continue;
        const at = `group ${g}, parameter ${i}`;
        if (p.isDisposed) fail(this.name, `${at} (${p.describe()}) was disposed`);
        if (grad.isDisposed) fail(this.name, `the gradient of ${at} was disposed but is still set as .grad`);
        if (grad.shape.length !== p.shape.length || grad.shape.some((d, k) => d !== p.shape[k])) {
          fail(this.name, `the gradient of ${at} has shape [${grad.shape}], expected the parameter's [${p.shape}]`);
        }
        if (grad.dtype !== p.dtype) {
          fail(this.name, `the gradient of ${at} is ${grad.dtype}, expected the parameter's ${p.dtype}`);
        }
        if (grad.backend !== p.backend) {
          const [gradOn, paramOn] = backendsApart(grad.backend, p.backend);
          fail(this.name, `the gradient of ${at} lives on ${gradOn}, the parameter on ${paramOn}`);
        }
      }
    }
    // tidy frees every temporary of the update; the state tensors survive because they are kept
    tidy(() =>
      noGrad(() => {
        for (const group of this.paramGroups) {
          for (const p of group.params) {
            if (!p.grad) continue;
            const state = this.state.get(p) ?? {};
            this.state.set(p, state);
            this.update(p, p.grad, group, state);
          }
        }
      }),
    );
  }

  /**
   * A snapshot of the state (tensors cloned, so later steps do not change it) and of the groups'
   * hyper-parameters. The clones are not kept: dispose them with `dispose(dict)`, or return the dict
   * from a tidy scope to keep it.
   */
  stateDict(): OptimizerStateDict<H> {
    const paramGroups: (H & { params: number[] })[] = [];
    let index = 0;
    // tidy frees clone()'s scalar temporaries and hands the clones (reachable from the result) on
    const state = tidy(() =>
      noGrad(() => {
        const state: Record<number, ParamState> = {};
        for (const group of this.paramGroups) {
          const indices: number[] = [];
          for (const p of group.params) {
            const s = this.state.get(p);
            if (s) state[index] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === "number" ? v : v.clone()]));
            indices.push(index++);
          }
          const { params: _, ...options } = group;
          paramGroups.push({ ...copyOptions(options), params: indices } as unknown as H & { params: number[] });
        }
        return state;
      }),
    );
    return { state, paramGroups };
  }

  /**
   * Restores a `stateDict()`: the groups' hyper-parameters and every parameter's state (copied, so the
   * dict stays the caller's). The groups must list as many parameters as this optimiser's, and state
   * tensors must have their parameter's shape; floating state is cast to the parameter's dtype, as
   * PyTorch does. Everything is checked before anything changes.
   */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    const where = `${this.name}.loadStateDict`;
    if (
      typeof dict !== "object" ||
      dict === null ||
      !Array.isArray(dict.paramGroups) ||
      typeof dict.state !== "object" ||
      dict.state === null
    ) {
      fail(where, `expected { state, paramGroups } as made by stateDict(), got ${showValue(dict)}`);
    }
    if (dict.paramGroups.length !== this.paramGroups.length) {
      fail(where, `the dict has ${dict.paramGroups.length} parameter groups, this optimiser ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    const newOptions: H[] = [];
    dict.paramGroups.forEach((saved, g) => {
      const own = this.paramGroups[g];
      if (!Array.isArray(saved?.params) || saved.params.length !== own.params.length) {
        fail(where, `group ${g} of the dict has ${saved?.params?.length ?? "no"} parameters, this optimiser's ${own.params.length}`);
      }
      for (const [i, index] of saved.params.entries()) {
        if (!Number.isInteger(index) || index < 0 || byIndex.has(index)) {
          fail(where, `group ${g} of the dict lists parameter index ${showValue(index)}; expected distinct non-negative integers`);
        }
        byIndex.set(index, own.params[i]);
      }
      const { params: _, ...options } = saved;
      const merged = { ...this.defaults, ...copyOptions(options) } as unknown as H;
      for (const key of Object.keys(options)) {
        if (!(key in this.defaults)) fail(where, `group ${g} of the dict has an unknown option "${key}"`);
      }
      this.checkOptions(merged, `group ${g} `);
      newOptions.push(merged);
    });
    for (const [key, s] of Object.entries(dict.state)) {
      const p = byIndex.get(Number(key));
      if (!p) fail(where, `the dict has state for parameter ${key}, which no group lists`);
      if (typeof s !== "object" || s === null) fail(where, `the state of parameter ${key} is ${showValue(s)}; expected an object`);
      const g = this.paramGroups.findIndex((group) => group.params.includes(p));
      this.checkState(s, newOptions[g], `state ${key}`);
      for (const [name, v] of Object.entries(s)) {
        if (typeof v === "number") continue;
        if (!(v instanceof TensorClass)) fail(where, `state ${key}.${name} is ${showValue(v)}; expected a Tensor or a number`);
        if (v.isDisposed) fail(where, `state ${key}.${name} (${v.describe()}) was disposed`);
        if (v.shape.length !== p.shape.length || v.shape.some((d, k) => d !== p.shape[k])) {
          fail(where, `state ${key}.${name} has shape [${v.shape}], expected its parameter's [${p.shape}]`);
        }
        if (v.backend !== p.backend) {
          const [stateOn, paramOn] = backendsApart(v.backend, p.backend);
          fail(where, `state ${key}.${name} lives on ${stateOn} but its parameter on ${paramOn}; move it with await t.to()`);
        }
      }
    }
    // checked: now replace
    for (const [g, group] of this.paramGroups.entries()) Object.assign(group, newOptions[g], { params: group.params });
    this.disposeState();
    tidy(() =>
      noGrad(() => {
        for (const [key, s] of Object.entries(dict.state)) {
          const p = byIndex.get(Number(key)) as Tensor;
          const copy: ParamState = {};
          for (const [name, v] of Object.entries(s)) {
            // adding a weak zero makes a fresh buffer in the parameter's dtype
            copy[name] =
              typeof v === "number"
                ? v
                : v
                    .cast(isFloat(v.dtype) ? p.dtype : v.dtype)
                    .add(0)
                    .keep();
          }
          this.state.set(p, copy);
        }
      }),
    );
  }

  /** Frees the state tensors (the optimiser starts afresh on its next step). */
  disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (typeof v !== "number") v.dispose();
    this.state.clear();
  }
}

/** Copies option values so a dict and an optimiser never share a (betas) array. */
function copyOptions<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v])) as T;
}

/**
 * nanoGPT's grouping: tensors with two or more dimensions (matmul weights, embeddings) decay; biases
 * and norm gains (fewer dimensions) do not, since shrinking them toward zero only hurts. Frozen
 * parameters are left out, as they never get a gradient.
 */
export function decayGroups(
  namedParameters: Iterable<readonly [string, Tensor]>,
  weightDecay: number,
): [{ params: Tensor[]; weightDecay: number }, { params: Tensor[]; weightDecay: number }] {
  checkNumber("decayGroups", "weightDecay", weightDecay, 0);
  if (namedParameters === null || typeof namedParameters !== "object" || !(Symbol.iterator in namedParameters)) {
    fail("decayGroups", `expected [name, tensor] pairs (module.namedParameters()), got ${showValue(namedParameters)}`);
  }
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const entry of namedParameters) {
    if (!Array.isArray(entry) || entry.length !== 2 || !(entry[1] instanceof TensorClass)) {
      fail("decayGroups", `expected [name, tensor] pairs (module.namedParameters()), got ${showValue(entry)}`);
    }
    const [, p] = entry;
    if (!p.requiresGrad) continue;
    (p.rank >= 2 ? decay : noDecay).push(p);
  }
  return [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ];
}

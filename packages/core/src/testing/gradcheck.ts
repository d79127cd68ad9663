/**
 * @file Numerical gradient checks in float64: `gradcheck` (every element, central differences),
 * `gradcheckDirectional` (a few random directions, for layers with many inputs) and `gradgradcheck`
 * (second derivatives through a backward pass recorded with createGraph).
 *
 * A function with a non-scalar output is checked through L(x) = Σ w·f(x) for a fixed random w, which
 * exercises every output element's gradient at the cost of one backward pass. All reads are
 * asynchronous, so the checks also run in strict-async mode.
 */

import { grad } from "../autograd.ts";
import { isFloat, type TypedArray } from "../dtype.ts";
import { tensor } from "../factories.ts";
import { cast } from "../ops/cast.ts";
import { mul } from "../ops/elementwise.ts";
import { sum } from "../ops/reduce.ts";
import { Generator } from "../random.ts";
import { stridesOf } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { GRADCHECK } from "./tolerance.ts";

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random output weights and directions. */
  seed?: number;
}

type Fn = (...inputs: Tensor[]) => Tensor;

/** Float inputs become float64 leaves that require grad; others (indices, masks) pass through. */
function prepare(inputs: readonly Tensor[]): Tensor[] {
  return inputs.map((x) => (isFloat(x.dtype) ? cast(x, "float64").detach().requiresGrad_() : x));
}

/** L(x) = Σ w·f(x), with w drawn once per check, so every output element matters. */
function scalarize(fn: Fn, seed: number): Fn {
  let weights: Tensor | null = null;
  return (...xs) => {
    const out = fn(...xs);
    if (!(out instanceof Tensor) || !isFloat(out.dtype)) throw new Error("gradcheck: fn must return a float tensor");
    if (out.size === 1) return sum(cast(out, "float64"));
    weights ??= tensor(new Generator(seed).uniform(out.size, 0.5, 1.5), out.shape, { dtype: "float64", backend: out.backend });
    return sum(mul(cast(out, "float64"), weights));
  };
}

async function scalarValue(t: Tensor): Promise<number> {
  return (await t.data())[0];
}

/** The index of a flat position in a shape, for error messages. */
function unravel(flat: number, shape: readonly number[]): number[] {
  return stridesOf(shape).map((s, i) => Math.floor(flat / s) % shape[i]);
}

/** Replaces one float input by a copy with `values`. */
function withValues(inputs: readonly Tensor[], which: number, values: TypedArray): Tensor[] {
  return inputs.map((x, i) => (i === which ? tensor(values, x.shape, { dtype: "float64", backend: x.backend }) : x));
}

function tolerance(options: GradcheckOptions) {
  return { eps: options.eps ?? GRADCHECK.eps, atol: options.atol ?? GRADCHECK.atol, rtol: options.rtol ?? GRADCHECK.rtol };
}

/**
 * Checks the analytic gradient of every float input against float64 central differences, element by
 * element. Throws naming the worst element (input, index, analytic and numeric values).
 */
export async function gradcheck(fn: Fn, inputs: readonly Tensor[], options: GradcheckOptions = {}): Promise<void> {
  const { eps, atol, rtol } = tolerance(options);
  const xs = prepare(inputs);
  const loss = scalarize(fn, options.seed ?? 7);
  await compareGradients(loss, xs, eps, atol, rtol, "gradcheck");
}

async function compareGradients(loss: Fn, xs: Tensor[], eps: number, atol: number, rtol: number, what: string): Promise<void> {
  const floats = xs.map((_, i) => i).filter((i) => isFloat(xs[i].dtype));
  if (floats.length === 0) throw new Error(`${what}: no float input to check`);
  const analytic = grad(
    loss(...xs),
    floats.map((i) => xs[i]),
    { allowUnused: true },
  );
  let worst: { excess: number; message: string } | null = null;
  for (const [k, i] of floats.entries()) {
    const base = (await xs[i].data()) as Float64Array;
    const a = analytic[k] ? await (analytic[k] as Tensor).data() : new Float64Array(base.length);
    for (let j = 0; j < base.length; j++) {
      const plus = base.slice();
      plus[j] += eps;
      const minus = base.slice();
      minus[j] -= eps;
      const numeric =
        ((await scalarValue(loss(...withValues(xs, i, plus)))) - (await scalarValue(loss(...withValues(xs, i, minus))))) / (2 * eps);
      const diff = Math.abs(a[j] - numeric);
      const excess = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff - (atol + rtol * Math.abs(numeric));
      if (excess > 0 && (!worst || excess > worst.excess)) {
        worst = {
          excess,
          message:
            `${what}: input ${i} [${xs[i].shape}] at index [${unravel(j, xs[i].shape)}]: ` +
            `analytic ${a[j]}, numeric ${numeric} (|diff| ${diff}, atol ${atol}, rtol ${rtol})`,
        };
      }
    }
  }
  if (worst) throw new Error(worst.message);
}

/**
 * Checks ⟨∇L, v⟩ against (L(x + εv) - L(x - εv)) / 2ε for a few random directions v over all float
 * inputs at once: a few forward passes instead of two per element.
 */
export async function gradcheckDirectional(
  fn: Fn,
  inputs: readonly Tensor[],
  options: GradcheckOptions & { directions?: number } = {},
): Promise<void> {
  const { eps, atol, rtol } = tolerance(options);
  const seed = options.seed ?? 7;
  const xs = prepare(inputs);
  const loss = scalarize(fn, seed);
  const floats = xs.map((_, i) => i).filter((i) => isFloat(xs[i].dtype));
  const analytic = grad(
    loss(...xs),
    floats.map((i) => xs[i]),
    { allowUnused: true },
  );
  const rng = new Generator(seed + 1);
  const close = (a: number, numeric: number) => Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric);
  for (let d = 0; d < (options.directions ?? 3); d++) {
    const directions = floats.map((i) => rng.normal(xs[i].size));
    let projected = 0;
    // each input's share of ⟨∇L, v⟩, to say which input is wrong when the check fails
    const shares: number[] = [];
    const plus = [...xs];
    const minus = [...xs];
    for (const [k, i] of floats.entries()) {
      const base = (await xs[i].data()) as Float64Array;
      const g = analytic[k] ? await (analytic[k] as Tensor).data() : new Float64Array(base.length);
      const v = directions[k];
      let share = 0;
      for (let j = 0; j < base.length; j++) share += g[j] * v[j];
      shares.push(share);
      projected += share;
      plus[i] = tensor(
        base.map((b, j) => b + eps * v[j]),
        xs[i].shape,
        { dtype: "float64", backend: xs[i].backend },
      );
      minus[i] = tensor(
        base.map((b, j) => b - eps * v[j]),
        xs[i].shape,
        { dtype: "float64", backend: xs[i].backend },
      );
    }
    const numeric = ((await scalarValue(loss(...plus))) - (await scalarValue(loss(...minus)))) / (2 * eps);
    const diff = Math.abs(projected - numeric);
    if (!close(projected, numeric)) {
      // only on failure: perturb one input at a time along its part of v to find the culprits
      const culprits: string[] = [];
      for (const [k, i] of floats.entries()) {
        const onlyPlus = xs.map((x, j) => (j === i ? plus[i] : x));
        const onlyMinus = xs.map((x, j) => (j === i ? minus[i] : x));
        const own = ((await scalarValue(loss(...onlyPlus))) - (await scalarValue(loss(...onlyMinus)))) / (2 * eps);
        if (!close(shares[k], own)) culprits.push(`input ${i} [${xs[i].shape}] (analytic ${shares[k]}, numeric ${own})`);
      }
      throw new Error(
        `gradcheckDirectional: direction ${d}: analytic ${projected}, numeric ${numeric} (|diff| ${diff}, atol ${atol}, rtol ${rtol}); ` +
          (culprits.length > 0 ? `wrong along ${culprits.join(", ")}` : "no single input is wrong on its own"),
      );
    }
  }
}

/**
 * Checks second derivatives: G(x) = Σᵢ ⟨∇ᵢL(x), vᵢ⟩ for fixed random vᵢ is differentiated through the
 * recorded backward pass (createGraph) and compared with central differences of G.
 */
export async function gradgradcheck(fn: Fn, inputs: readonly Tensor[], options: GradcheckOptions = {}): Promise<void> {
  const { eps, atol, rtol } = tolerance(options);
  const seed = options.seed ?? 7;
  const xs = prepare(inputs);
  const loss = scalarize(fn, seed);
  const floats = xs.map((_, i) => i).filter((i) => isFloat(xs[i].dtype));
  const rng = new Generator(seed + 2);
  const vs = floats.map((i) => tensor(rng.normal(xs[i].size), xs[i].shape, { dtype: "float64", backend: xs[i].backend }));
  const secondLoss: Fn = (...args) => {
    const leaves = args.map((x) => (isFloat(x.dtype) && !x.requiresGrad ? x.detach().requiresGrad_() : x));
    const gs = grad(
      loss(...leaves),
      floats.map((i) => leaves[i]),
      { createGraph: true, allowUnused: true },
    );
    let total: Tensor | null = null;
    gs.forEach((g, k) => {
      if (!g) return;
      const term = sum(mul(g, vs[k]));
      total = total ? total.add(term) : term;
    });
    // a zero term keeps G connected to the inputs when the first derivative is constant (linear fn)
    const zero = sum(mul(leaves[floats[0]], 0));
    return total ? (total as Tensor).add(zero) : zero;
  };
  await compareGradients(secondLoss, xs, eps, atol, rtol, "gradgradcheck");
}

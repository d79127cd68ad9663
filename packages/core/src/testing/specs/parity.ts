/**
 * @file Backend parity: every spec of the op table, run on a gpujs backend and on the reference backend
 * with the same float32 inputs, must agree within the tolerance table, forward values and gradients alike.
 *
 * The reference rounds once per op; gpu.js accumulates reductions and dot products in float32 (in float64
 * on cpu mode). For reductions and matmul the bound is scaled by the magnitudes summed: the spec's
 * function is evaluated once more on the reference backend in float64 on |inputs| (and, for gradients,
 * with |upstream gradient|), which gives Σ|x| for sums and Σ|a||b| for products exactly; for composites
 * it is the same magnitude computed through the same ops. The scale is never below |expected|.
 */

import fc from "fast-check";
import { type Backend, type DType, Generator, isFloat, ReferenceBackend, type Tensor, tensor, useBackend } from "../../index.ts";
import { assertArrayClose } from "../assert-close.ts";
import { checkProperty, type PropertyOptions } from "../property.ts";
import { type OpClass, tolerance } from "../tolerance.ts";

import type { OpSpec } from "./index.ts";
import type { InputData } from "./spec.ts";

export const reference = new ReferenceBackend();

function build(backend: Backend, data: InputData, dtypeOfFloats: DType, abs = false): Tensor[] {
  useBackend(backend);
  return data.map((d) => {
    const dtype = d.dtype ?? dtypeOfFloats;
    const values = abs && isFloat(dtype) ? d.values.map(Math.abs) : d.values;
    return tensor(values, d.shape, { dtype, backend });
  });
}

interface Outcome {
  out: Float64Array | Int32Array | Uint8Array | Float32Array;
  dtype: DType;
  grads: (Float32Array | Float64Array | null)[];
}

/** Runs spec.fn on `backend` and, for differentiable specs, backpropagates `upstream`. */
async function run(spec: OpSpec, backend: Backend, data: InputData, floats: DType, seed: number, abs = false): Promise<Outcome> {
  const inputs = build(backend, data, floats, abs);
  const differentiable = !spec.nondifferentiable && spec.inputs !== undefined;
  if (differentiable) for (const t of inputs) if (isFloat(t.dtype)) t.requiresGrad_();
  const out = spec.fn(...inputs);
  const values = (await out.data()) as Outcome["out"];
  const grads: Outcome["grads"] = inputs.map(() => null);
  if (differentiable && out.requiresGrad) {
    const g = new Generator(seed).normal(out.size).map((v) => (abs ? Math.abs(v) : v));
    const upstream = tensor(Array.from(g), out.shape, { dtype: out.dtype, backend });
    out.backward(upstream);
    for (const [i, t] of inputs.entries()) {
      if (t.grad) grads[i] = (await t.grad.data()) as Float32Array | Float64Array;
    }
    upstream.dispose();
  }
  const dtype = out.dtype;
  for (const t of inputs) {
    t.grad?.dispose();
    t.dispose();
  }
  out.dispose();
  return { out: values, dtype, grads };
}

function scaleOf(expected: ArrayLike<number>, magnitude: ArrayLike<number> | null): Float64Array {
  const scale = new Float64Array(expected.length);
  for (let i = 0; i < scale.length; i++) {
    scale[i] = Math.max(Math.abs(expected[i]), magnitude ? Math.abs(magnitude[i]) : 0);
  }
  return scale;
}

/** Runs per property (numRuns(backend) unless overridden), and a seed and path to replay. */
export type ParityOptions = Omit<PropertyOptions, "backend">;

/** One parity property for one spec on `backend` (the gpujs backend under test). */
export async function checkSpecParity(spec: OpSpec, backend: Backend, options: ParityOptions = {}): Promise<void> {
  const inputs = spec.inputs ?? spec.parityInputs;
  if (!inputs) throw new Error(`spec ${spec.name} has neither inputs nor parityInputs`);
  const opClass: OpClass = spec.opClass ?? "elementwise";
  const summed = opClass === "reduction" || opClass === "matmul";
  // gradients of broadcast operands are summed by the engine, so they are reductions whatever the op
  const gradClass: OpClass = summed ? opClass : "reduction";
  await checkProperty(
    `${spec.name} parity on ${backend.name}`,
    fc.tuple(inputs, fc.integer({ min: 0, max: 2 ** 30 })),
    async ([data, seed]) => {
      const actual = await run(spec, backend, data, "float32", seed);
      const expected = await run(spec, reference, data, "float32", seed);
      const magnitude = await run(spec, reference, data, "float64", seed, true);
      const tol = tolerance(backend.name, expected.dtype, opClass);
      assertArrayClose(actual.out, expected.out, tol, {
        what: `${spec.name} values`,
        scale: scaleOf(expected.out, summed ? magnitude.out : null),
      });
      for (const [i, g] of expected.grads.entries()) {
        const a = actual.grads[i];
        if (!g && !a) continue;
        if (!g || !a) throw new Error(`${spec.name}: input ${i} got a gradient on one backend only`);
        assertArrayClose(a, g, tolerance(backend.name, "float32", gradClass), {
          what: `${spec.name} gradient of input ${i}`,
          scale: scaleOf(g, magnitude.grads[i]),
        });
      }
    },
    { ...options, backend: backend.name },
  );
  useBackend(backend);
}

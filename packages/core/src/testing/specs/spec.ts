/**
 * @file The op spec table: one entry per primitive and composite, driving the generic tests in
 * ops.test.ts (hand-computed examples, a float64 gradcheck property, gradgradcheck, error cases) and the
 * coverage test that refuses an op without them (tinygrad's helper_test_op and PEFT's TEST_CASES, as a table).
 */

import type fc from "fast-check";
import fcRuntime from "fast-check";
import { broadcastShapes, type DType, type NestedArray, type NestedData, sizeOf, type Tensor } from "../../index.ts";
import { broadcastStrides } from "../../shape.ts";
import { broadcastDataArb, broadcastShapesArb, type ShapeOptions, shapeArb, tensorDataArb, type ValueOptions } from "../arbitraries.ts";
import type { OpClass } from "../tolerance.ts";

export interface Example {
  /** What the example shows, when it is not obvious from the values. */
  note?: string;
  /** The function under test, when it differs from the spec's (other attrs, say). */
  fn?: (...xs: Tensor[]) => Tensor;
  /** Inputs as nested arrays (or [values, dtype] for int32/bool/float64 inputs). */
  args: (NestedData | [NestedData, DType])[];
  /** The expected output, hand-computed. */
  out: NestedArray;
  /** The expected output shape, when `out` alone does not show it (rank 0, zero-size). */
  shape?: number[];
  /** Expected gradients for an upstream gradient of ones (null: input gets none), hand-computed. */
  grads?: (NestedArray | null)[];
}

export interface ErrorCase {
  call: () => unknown;
  /** The message must match: name the op, what was received and what was expected. */
  message: RegExp;
}

export type InputData = { shape: number[]; values: number[]; dtype?: DType }[];

export interface OpSpec {
  name: string;
  kind: "primitive" | "composite";
  fn: (...xs: Tensor[]) => Tensor;
  examples: Example[];
  errors: ErrorCase[];
  /** Inputs for the gradcheck property; omitted only for ops without a gradient. */
  inputs?: fc.Arbitrary<InputData>;
  /** Not differentiable: examples and errors only. */
  nondifferentiable?: true;
  gradgrad?: boolean;
  /** Use the directional gradcheck (few forward passes) instead of the element-by-element one. */
  directional?: boolean;
  /**
   * How rounding accumulates in the op (testing/tolerance.ts): elementwise (the default), transcendental,
   * reduction or matmul. Backend parity tests pick their tolerance by it and, for reductions and matmul,
   * scale it by the magnitudes summed.
   */
  opClass?: OpClass;
  /** Inputs for backend parity tests of ops without a gradient (those have no `inputs`). */
  parityInputs?: fc.Arbitrary<InputData>;
}

// minDim 0: zero-size tensors are part of every property unless a spec narrows it
const SMALL: ShapeOptions = { maxRank: 3, minDim: 0, maxDim: 4, maxSize: 24 };

/** n float inputs whose shapes broadcast together. */
export function broadcastInputs(n: number, values: ValueOptions = {}, shape: ShapeOptions = SMALL): fc.Arbitrary<InputData> {
  return broadcastDataArb(n, { ...SMALL, ...shape }, values);
}

/** Whether two broadcast operands differ by at least `margin` everywhere (gradchecks of max/min need no ties). */
export function apart(margin = 0.05) {
  return ([a, b]: InputData): boolean => {
    const shape = broadcastShapes("apart", a.shape, b.shape);
    const read = (d: InputData[number]) => {
      const strides = broadcastStrides(d.shape, shape);
      return (flat: number) => {
        let offset = 0;
        let rest = flat;
        for (let i = shape.length - 1; i >= 0; i--) {
          offset += (rest % shape[i]) * strides[i];
          rest = Math.floor(rest / shape[i]);
        }
        return d.values[offset];
      };
    };
    const [ra, rb] = [read(a), read(b)];
    for (let i = 0; i < sizeOf(shape); i++) if (Math.abs(ra(i) - rb(i)) < margin) return false;
    return true;
  };
}

/** One float input. */
export function oneInput(values: ValueOptions = {}, shape: ShapeOptions = SMALL): fc.Arbitrary<InputData> {
  return tensorDataArb({ ...SMALL, ...shape }, values).map((d) => [d]);
}

/**
 * n inputs whose shapes broadcast together, with values drawn from a few numbers: comparisons, logical
 * ops and arg-reductions need ties and zeros, which random doubles almost never produce.
 */
export function discreteInputs(n: number, values: readonly number[], shape: ShapeOptions = SMALL): fc.Arbitrary<InputData> {
  const options = { ...SMALL, ...shape };
  // one operand keeps the shape options exactly (broadcasting would turn some of its axes into 1)
  const shapes = n === 1 ? shapeArb(options).map((s) => [s]) : broadcastShapesArb(n, options);
  return shapes.chain((shapes) =>
    fcRuntime.tuple(
      ...shapes.map((s) =>
        fcRuntime
          .array(fcRuntime.constantFrom(...values), { minLength: sizeOf(s), maxLength: sizeOf(s) })
          .map((v) => ({ shape: s, values: v })),
      ),
    ),
  );
}

/**
 * @file The checks of one op spec, runnable anywhere (the test suite and the browser page both call them):
 * hand-computed examples (values and gradients), a float64 gradcheck property over random shapes and
 * values, gradgradcheck where flagged, and the error cases. Each throws with a message naming the spec.
 */

import { isFloat, type NestedData, sum, type Tensor, tensor } from "../../index.ts";
import { assertClose } from "../assert-close.ts";
import { gradcheck, gradcheckDirectional, gradgradcheck } from "../gradcheck.ts";
import { checkProperty, type PropertyOptions } from "../property.ts";
import { tolerance } from "../tolerance.ts";
import type { Example, InputData, OpSpec } from "./spec.ts";

function exampleInputs(example: Example): Tensor[] {
  return example.args.map((arg) => {
    if (Array.isArray(arg) && arg.length === 2 && typeof arg[1] === "string") {
      return tensor(arg[0] as NestedData, undefined, arg[1]);
    }
    return tensor(arg as NestedData, undefined, "float64");
  });
}

/** The spec's inputs as float64 tensors (int32 and bool where the data says so). */
export function dataInputs(data: InputData): Tensor[] {
  return data.map((d) => tensor(d.values, d.shape, d.dtype ?? "float64"));
}

function check(condition: unknown, message: string): void {
  if (!condition) throw new Error(message);
}

/** Every hand-computed example: its values and, where given, its gradients for an upstream of ones. */
export async function checkSpecExamples(spec: OpSpec): Promise<void> {
  const tol = tolerance("reference", "float64");
  for (const [k, example] of spec.examples.entries()) {
    const what = `${spec.name} example ${k}${example.note ? ` (${example.note})` : ""}`;
    const fn = example.fn ?? spec.fn;
    const inputs = exampleInputs(example).map((t) => (isFloat(t.dtype) && example.grads ? t.requiresGrad_() : t));
    const out = fn(...inputs);
    await assertClose(out, example.out, tol, { what, shape: example.shape });
    if (!example.grads) continue;
    sum(out).backward();
    for (const [i, expected] of example.grads.entries()) {
      const g = inputs[i].grad;
      if (expected === null) {
        check(g === null || inputs[i].dtype === "int32" || inputs[i].dtype === "bool", `${what}: input ${i} should get no gradient`);
      } else {
        check(g, `${what}: input ${i} got no gradient`);
        await assertClose(g as Tensor, expected, tol, { what: `${what} grad ${i}`, shape: inputs[i].shape });
      }
    }
  }
}

/** The float64 gradcheck property; nothing for ops without a gradient. */
export async function checkSpecGradients(spec: OpSpec, options: PropertyOptions = {}): Promise<void> {
  const inputs = spec.inputs;
  if (!inputs) return;
  const check = spec.directional ? gradcheckDirectional : gradcheck;
  await checkProperty(`${spec.name} gradcheck`, inputs, async (data) => check(spec.fn, dataInputs(data)), options);
}

/** The float64 gradgradcheck property, for the specs that ask for it. */
export async function checkSpecSecondGradients(spec: OpSpec, options: PropertyOptions = {}): Promise<void> {
  const inputs = spec.inputs;
  if (!inputs || !spec.gradgrad) return;
  // second derivatives cost a backward pass per evaluation: fewer runs
  const numRuns = Math.min(25, options.numRuns ?? 25);
  await checkProperty(`${spec.name} gradgradcheck`, inputs, async (data) => gradgradcheck(spec.fn, dataInputs(data)), {
    ...options,
    numRuns,
  });
}

/** Every error case: the call throws, and the message names the op, what it got and what it expected. */
export function checkSpecErrors(spec: OpSpec): void {
  for (const { call, message } of spec.errors) {
    let thrown: unknown = null;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    check(thrown !== null, `${spec.name}: expected an error matching ${message}, but the call returned`);
    const text = thrown instanceof Error ? thrown.message : String(thrown);
    check(message.test(text), `${spec.name}: expected an error matching ${message}, got "${text}"`);
  }
}

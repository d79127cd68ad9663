/**
 * @file The generic op tests, one set per entry of the spec table: hand-computed examples (values and
 * gradients), a float64 gradcheck property over random shapes and values, gradgradcheck where flagged,
 * and the error cases.
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import { isFloat, type NestedData, sum, type Tensor, tensor } from "../src/index.ts";
import { assertClose, checkProperty, gradcheck, gradcheckDirectional, gradgradcheck, tolerance } from "../src/testing/index.ts";
import { ALL_SPECS } from "./specs/index.ts";
import type { Example, InputData } from "./specs/spec.ts";

function exampleInputs(example: Example): Tensor[] {
  return example.args.map((arg) => {
    if (Array.isArray(arg) && arg.length === 2 && typeof arg[1] === "string") {
      return tensor(arg[0] as NestedData, undefined, arg[1]);
    }
    return tensor(arg as NestedData, undefined, "float64");
  });
}

function dataInputs(data: InputData): Tensor[] {
  return data.map((d) => tensor(d.values, d.shape, d.dtype ?? "float64"));
}

for (const spec of ALL_SPECS) {
  const s = suite(spec.name);

  s("examples", async () => {
    for (const [k, example] of spec.examples.entries()) {
      const what = `${spec.name} example ${k}${example.note ? ` (${example.note})` : ""}`;
      const fn = example.fn ?? spec.fn;
      const inputs = exampleInputs(example).map((t) => (isFloat(t.dtype) && example.grads ? t.requiresGrad_() : t));
      const out = fn(...inputs);
      const tol = tolerance("reference", "float64");
      await assertClose(out, example.out, tol, { what, shape: example.shape });
      if (example.grads) {
        sum(out).backward();
        example.grads.forEach((expected, i) => {
          const g = inputs[i].grad;
          if (expected === null) {
            assert.ok(
              g === null || inputs[i].dtype === "int32" || inputs[i].dtype === "bool",
              `${what}: input ${i} should get no gradient`,
            );
          } else {
            assert.ok(g, `${what}: input ${i} got no gradient`);
          }
        });
        for (const [i, expected] of example.grads.entries()) {
          if (expected !== null)
            await assertClose(inputs[i].grad as Tensor, expected, tol, { what: `${what} grad ${i}`, shape: inputs[i].shape });
        }
      }
    }
  });

  if (spec.inputs) {
    const inputs = spec.inputs;
    s("gradcheck property (float64)", async () => {
      await checkProperty(`${spec.name} gradcheck`, inputs, async (data) => {
        const check = spec.directional ? gradcheckDirectional : gradcheck;
        await check(spec.fn, dataInputs(data));
      });
    });
    if (spec.gradgrad) {
      s("gradgradcheck property (float64)", async () => {
        // second derivatives cost a backward pass per evaluation: fewer runs
        await checkProperty(`${spec.name} gradgradcheck`, inputs, async (data) => gradgradcheck(spec.fn, dataInputs(data)), {
          numRuns: 25,
        });
      });
    }
  }

  s("errors name the op, what it got and what it expected", () => {
    for (const { call, message } of spec.errors) {
      assert.throws(call, (e: Error) => message.test(e.message), `expected an error matching ${message}`);
    }
  });

  s.run();
}

/**
 * @file Parameters as function inputs (torch.func.functional_call), for gradient checks and functional use: gradcheck differentiates a function of
 * tensors, and perturbs fresh copies of those tensors on every evaluation, but a layer reads its weights
 * from its own fields. `functionalCall` (torch.func.functional_call) runs a forward with chosen fields
 * temporarily pointing at given tensors, so the weights can be passed in like any other input:
 *
 *     const { names, values } = parametersOf(layer);
 *     await gradcheckDirectional((x, ...ps) => functionalCall(layer, names, ps, () => layer.forward(x)), [x, ...values]);
 */

import { checkFunction, checkTensorList, describeValue, fail, fmtShape, type Tensor } from "@tsgrad/core";
import { Module } from "./module.ts";

/** A module's parameters by dotted path, in namedParameters order. */
export function parametersOf(module: Module): { names: string[]; values: Tensor[] } {
  if (!(module instanceof Module)) fail("parametersOf", `expected a Module, got ${describeValue(module)}`);
  const named = module.namedParameters();
  return { names: named.map(([n]) => n), values: named.map(([, p]) => p) };
}

/** Runs fn with the parameter at each dotted path in `names` replaced by the matching tensor, then restores them. */
export function functionalCall<T>(module: Module, names: readonly string[], tensors: readonly Tensor[], fn: () => T): T {
  if (!(module instanceof Module)) fail("functionalCall", `expected a Module, got ${describeValue(module)}`);
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) fail("functionalCall", "names must be an array of dotted paths");
  checkTensorList("functionalCall", tensors, "the tensors");
  checkFunction("functionalCall", fn, "fn");
  if (names.length !== tensors.length) fail("functionalCall", `${names.length} names but ${tensors.length} tensors`);
  const saved: [Record<string, unknown>, string, unknown][] = [];
  try {
    names.forEach((path, i) => {
      const cut = path.lastIndexOf(".");
      const owner = module.getSubmodule(cut < 0 ? "" : path.slice(0, cut)) as unknown as Record<string, unknown>;
      const field = path.slice(cut + 1);
      const old = owner[field] as Tensor | undefined;
      if (!old || old.shape.join() !== tensors[i].shape.join()) {
        fail("functionalCall", `${path} is ${old ? fmtShape(old.shape) : "missing"}, got a tensor of shape ${fmtShape(tensors[i].shape)}`);
      }
      saved.push([owner, field, old]);
      owner[field] = tensors[i];
    });
    return fn();
  } finally {
    for (const [owner, field, old] of saved.reverse()) owner[field] = old;
  }
}

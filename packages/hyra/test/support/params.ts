/** @file Test support: writing parameters by dotted path, and running a forward with chosen tensors in their place. */

import { fail, fmtShape, noGrad, type Tensor, tensor } from "@tsgrad/core";
import type { Module } from "@tsgrad/nn";

/** Overwrites parameters by dotted path (outside any graph, as an optimiser would). */
export function setParameters(module: Module, values: Record<string, number[] | number[][] | number[][][]>): void {
  const params = new Map(module.namedParameters());
  noGrad(() => {
    for (const [name, value] of Object.entries(values)) {
      const p = params.get(name);
      if (!p) throw new Error(`no parameter ${name} (has ${[...params.keys()].join(", ")})`);
      p.assign(tensor(value, undefined, p.dtype));
    }
  });
}

/**
 * Runs fn with the field at each dotted path in `names` pointing at the matching tensor, then restores
 * the fields (torch.func.functional_call; the same idea as @tsgrad/nn's test helper): gradcheck
 * perturbs copies of its inputs, and this puts those copies where the layer reads its weights.
 */
export function functionalCall<T>(module: Module, names: readonly string[], tensors: readonly Tensor[], fn: () => T): T {
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

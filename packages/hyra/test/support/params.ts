/** @file Test support: writing parameters by dotted path. */

import { noGrad, tensor } from "@tsgrad/core";
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

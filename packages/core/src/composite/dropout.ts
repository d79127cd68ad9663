/** @file Dropout with a mask drawn on the host from a seeded generator. */

import { checkOptions, checkTensor } from "../args.ts";
import { fail } from "../errors.ts";
import { tensor } from "../factories.ts";
import { div, mul } from "../ops/elementwise.ts";
import { defaultGenerator, Generator } from "../random.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Zeroes each element with probability p and scales the rest by 1/(1-p) while training; the identity
 * otherwise. The mask comes from `generator` (the global seeded one by default), so runs repeat exactly.
 */
export function dropout(x: Tensor, p: number, options: { training?: boolean; generator?: Generator } = {}): Tensor {
  checkTensor("dropout", x, "the input");
  checkOptions("dropout", options, ["training", "generator"]);
  const { training = true, generator = defaultGenerator() } = options;
  if (!(p >= 0 && p <= 1)) fail("dropout", `p must be in [0, 1], got ${p}`);
  if (!(generator instanceof Generator)) fail("dropout", "options.generator must be a Generator");
  if (!training || p === 0) return x;
  if (p === 1) return mul(x, 0);
  const u = generator.uniform(x.size);
  const keep = new Uint8Array(x.size);
  for (let i = 0; i < keep.length; i++) keep[i] = u[i] >= p ? 1 : 0;
  const mask = tensor(keep, x.shape, { dtype: "bool", backend: x.backend });
  return div(mul(x, mask), 1 - p);
}

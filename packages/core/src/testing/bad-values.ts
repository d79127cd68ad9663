/**
 * @file The pool of bad (and a few good) arguments the bad-call fuzzers of every package draw from:
 * wrong kinds, NaN, negative, fractional and huge sizes, odd shapes and options, tensors of each dtype,
 * and a disposed one. Each entry makes a fresh value per call, so one call cannot spoil the next.
 */

import { randn, tensor } from "../factories.ts";

export interface FuzzArg {
  label: string;
  make: () => unknown;
}

/** A value used as is. */
export const plainArg = (label: string, value: unknown): FuzzArg => ({ label, make: () => value });
/** A value made fresh for each call (tensors, modules). */
export const madeArg = (label: string, make: () => unknown): FuzzArg => ({ label, make });

/** The shared pool; a package adds arguments of its own kinds (modules, configs) with `extra`. */
export function badArgs(extra: readonly FuzzArg[] = []): FuzzArg[] {
  return [
    ...[0, 1, 2, 3, -1, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e10, 1e5].map((v) =>
      plainArg(String(v), v),
    ),
    ...["", "x", "float32", "int32", "bool", "mean", "none"].map((v) => plainArg(JSON.stringify(v), v)),
    plainArg("null", null),
    plainArg("undefined", undefined),
    plainArg("true", true),
    plainArg("{}", {}),
    plainArg("[]", []),
    plainArg("[2]", [2]),
    plainArg("[1,-1]", [1, -1]),
    plainArg("[1e5,1e5]", [1e5, 1e5]),
    plainArg("[NaN]", [Number.NaN]),
    plainArg('["a"]', ["a"]),
    plainArg("[[1,2],[3]]", [[1, 2], [3]]),
    plainArg("[1.5]", [1.5]),
    plainArg("{dtype:'x'}", { dtype: "x" }),
    plainArg("{backend:'nope'}", { backend: "nope" }),
    plainArg("{keepdims:'yes'}", { keepdims: "yes" }),
    plainArg("{reduction:'max'}", { reduction: "max" }),
    madeArg("float32[2,3]", () => randn([2, 3])),
    madeArg("float32[3]", () => randn([3])),
    madeArg("float32[]", () => randn([])),
    madeArg("float32[0]", () => randn([0])),
    madeArg("float32[2,4,4]", () => randn([2, 4, 4])),
    madeArg("float64[2,2]", () => randn([2, 2], { dtype: "float64" })),
    madeArg("int32[2]", () => tensor([0, 5], undefined, "int32")),
    madeArg("bool[2]", () => tensor([true, false])),
    madeArg("requiresGrad float32[2,3]", () => randn([2, 3], { requiresGrad: true })),
    madeArg("disposed float32[2]", () => {
      const t = randn([2]);
      t.dispose();
      return t;
    }),
    ...extra,
  ];
}

/** The message of a call that escaped as something other than a TsgradError: the call, the error, where. */
export function escapedCall(call: string, error: unknown): Error {
  const e = error as Error;
  return new Error(`${call} threw ${e?.name}: ${e?.message}\n${e?.stack?.split("\n").slice(1, 4).join("\n")}`);
}

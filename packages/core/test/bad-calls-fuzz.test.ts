/**
 * @file Fuzz: every public function of @tsgrad/core and every Tensor method, called with arguments drawn
 * from a pool of bad values (wrong types, NaN, negative and fractional sizes, huge shapes, disposed
 * tensors, mismatched dtypes), must return or throw a TsgradError naming the op. A TypeError or
 * RangeError from inside is a bug: the message would name no op and say nothing about what was expected.
 * 500 calls in CI; TSGRAD_FC_PROFILE=thorough makes 5,000.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as core from "../src/index.ts";
import { checkProperty, fuzzSize } from "../src/testing/index.ts";

const { Tensor, TsgradError, tensor, randn, setBackend, tidy } = core;

/** Functions that change global state or take over the process: not called with random arguments. */
const SKIP = new Set(["setBackend", "closeBackends", "registerBackend", "getBackend", "manualSeed", "backendNames"]);

const isClass = (f: unknown) => typeof f === "function" && /^class\b/.test(Function.prototype.toString.call(f));
const FUNCTIONS = Object.entries(core)
  .filter(([name, f]) => typeof f === "function" && !isClass(f) && !SKIP.has(name))
  .map(([name]) => name)
  .sort();
const METHODS = Object.getOwnPropertyNames(Tensor.prototype)
  .filter((name) => name !== "constructor" && typeof Object.getOwnPropertyDescriptor(Tensor.prototype, name)?.value === "function")
  .sort();

/** A bad (or good) argument: described for the failure message, made fresh for each call. */
interface Arg {
  label: string;
  make: () => unknown;
}

const plain = (label: string, value: unknown): Arg => ({ label, make: () => value });
const made = (label: string, make: () => unknown): Arg => ({ label, make });

const POOL: Arg[] = [
  ...[0, 1, 2, 3, -1, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e10, 1e5].map((v) => plain(String(v), v)),
  ...["", "x", "float32", "int32", "bool", "mean", "none"].map((v) => plain(JSON.stringify(v), v)),
  plain("null", null),
  plain("undefined", undefined),
  plain("true", true),
  plain("{}", {}),
  plain("[]", []),
  plain("[2]", [2]),
  plain("[1,-1]", [1, -1]),
  plain("[1e5,1e5]", [1e5, 1e5]),
  plain("[NaN]", [Number.NaN]),
  plain('["a"]', ["a"]),
  plain("[[1,2],[3]]", [[1, 2], [3]]),
  plain("[1.5]", [1.5]),
  plain("{dtype:'x'}", { dtype: "x" }),
  plain("{backend:'nope'}", { backend: "nope" }),
  plain("{keepdims:'yes'}", { keepdims: "yes" }),
  plain("{reduction:'max'}", { reduction: "max" }),
  made("float32[2,3]", () => randn([2, 3])),
  made("float32[3]", () => randn([3])),
  made("float32[]", () => randn([])),
  made("float32[0]", () => randn([0])),
  made("float64[2,2]", () => randn([2, 2], { dtype: "float64" })),
  made("int32[2]", () => tensor([0, 5], undefined, "int32")),
  made("bool[2]", () => tensor([true, false])),
  made("requiresGrad float32[2,3]", () => randn([2, 3], { requiresGrad: true })),
  made("disposed float32[2]", () => {
    const t = randn([2]);
    t.dispose();
    return t;
  }),
];

const argsArb = fc.array(fc.nat(POOL.length - 1), { maxLength: 4 });
const callArb = fc.oneof(
  fc.record({ kind: fc.constant("function" as const), name: fc.constantFrom(...FUNCTIONS), args: argsArb }),
  fc.record({ kind: fc.constant("method" as const), name: fc.constantFrom(...METHODS), self: fc.nat(POOL.length - 1), args: argsArb }),
);

type Call = fc.Arbitrary<typeof callArb extends fc.Arbitrary<infer T> ? T : never> extends fc.Arbitrary<infer U> ? U : never;

function describe(call: Call): string {
  const args = call.args.map((i) => POOL[i].label).join(", ");
  return call.kind === "function" ? `${call.name}(${args})` : `(${POOL[call.self].label}).${call.name}(${args})`;
}

/** What a call may do: return, or throw a TsgradError. Anything else fails, naming the call. */
async function survive(call: Call): Promise<void> {
  const args = call.args.map((i) => POOL[i].make());
  let failure: unknown = null;
  try {
    const result = tidy(() => {
      if (call.kind === "function") return (core as unknown as Record<string, (...a: unknown[]) => unknown>)[call.name](...args);
      const self = POOL[call.self].make() as Record<string, (...a: unknown[]) => unknown>;
      // a method on something that is not a tensor is not a call a user can make
      if (!(self instanceof Tensor)) return undefined;
      return self[call.name](...args);
    });
    if (result instanceof Promise) await result;
  } catch (error) {
    failure = error;
  }
  if (failure !== null && !(failure instanceof TsgradError)) {
    const e = failure as Error;
    throw new Error(`${describe(call)} threw ${e?.name}: ${e?.message}\n${e?.stack?.split("\n").slice(1, 4).join("\n")}`);
  }
}

test("every public function and Tensor method, called with bad arguments, returns or throws a TsgradError", async () => {
  await setBackend("reference");
  assert.ok(FUNCTIONS.length > 100 && METHODS.length > 50, `${FUNCTIONS.length} functions, ${METHODS.length} methods`);
  await checkProperty("bad calls", callArb, survive, { numRuns: fuzzSize(500, 5000) });
});

test.run();

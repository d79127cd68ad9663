/**
 * @file Fuzz: every public function of @tsgrad/core and every Tensor method, called with arguments drawn
 * from a pool of bad values (wrong types, NaN, negative and fractional sizes, huge shapes, disposed
 * tensors, mismatched dtypes), must return or throw a TsgradError naming the op. A TypeError or
 * RangeError from inside is a bug: the message would name no op and say nothing about what was expected.
 * On the reference, wasm and gpujs:cpu backends: 300 calls each in CI; TSGRAD_FC_PROFILE=thorough makes 3,000.
 */

import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as core from "../src/index.ts";
import { badArgs, checkProperty, escapedCall, fuzzSize } from "../src/testing/index.ts";

const { Tensor, TsgradError, setBackend, tidy } = core;

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

const POOL = badArgs();

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
  let failure: unknown = null;
  try {
    // made inside: an argument this backend cannot hold (float64 on gpujs) is refused by name too
    const args = call.args.map((i) => POOL[i].make());
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
  if (failure !== null && !(failure instanceof TsgradError)) throw escapedCall(describe(call), failure);
}

for (const [name, options] of [
  ["reference", {}],
  ["wasm", { threads: 2, minParallelWork: 0 }],
  ["gpujs:cpu", {}],
] as const) {
  test(`every public function and Tensor method, called with bad arguments on ${name}, returns or throws a TsgradError`, async () => {
    const backend = await setBackend(name, options);
    assert.ok(FUNCTIONS.length > 100 && METHODS.length > 50, `${FUNCTIONS.length} functions, ${METHODS.length} methods`);
    await checkProperty(
      `bad calls on ${name}`,
      callArb,
      async (call) => {
        core.useBackend(backend);
        await survive(call);
      },
      { numRuns: fuzzSize(300, 3000) },
    );
  });
}

test.run();

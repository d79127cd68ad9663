/**
 * @file Fuzz: every layer, loss and optimiser of @tsgrad/nn constructed with arguments from a pool of bad
 * values (and its forward or step called with more of them), and every function, must return or throw a
 * TsgradError naming the class or function (an async one: reject with it). The file functions (save,
 * load, ...) are @tsgrad/nn/node's, left to the file tests, which give them real folders. 300 calls in
 * CI; TSGRAD_FC_PROFILE=thorough makes 3,000.
 */

import * as core from "@tsgrad/core";
import { badArgs, checkProperty, escapedCall, fuzzSize, madeArg, plainArg } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as nn from "../src/index.ts";

const { Tensor, TsgradError, setBackend, tidy } = core;

const isClass = (f: unknown) => typeof f === "function" && /^class\b/.test(Function.prototype.toString.call(f));
// Module and Optimizer are abstract; an error class is no call
const SKIP = new Set(["Module", "SafetensorsError", "Optimizer"]);
const entries = Object.entries(nn).filter(([n, f]) => typeof f === "function" && !SKIP.has(n));
const classes = entries.filter(([, f]) => isClass(f)).map(([n]) => n);
const fns = entries.filter(([, f]) => !isClass(f)).map(([n]) => n);
const POOL = badArgs([
  plainArg("{lr:-1}", { lr: -1 }),
  plainArg("{lr:NaN}", { lr: Number.NaN }),
  plainArg("{eps:-1}", { eps: -1 }),
  plainArg("{bias:'yes'}", { bias: "yes" }),
  plainArg("{hidden:1.5}", { hidden: 1.5 }),
  plainArg('"gelu"', "gelu"),
  madeArg("Linear(4,4)", () => new nn.Linear(4, 4)),
  madeArg("[Parameter]", () => [new nn.Parameter(core.randn([2]))]),
  madeArg("params()", () => new nn.Linear(2, 2).parameters()),
]);
const argsArb = fc.array(fc.nat(POOL.length - 1), { maxLength: 4 });
const callArb = fc.oneof(
  fc.record({ kind: fc.constant("new"), name: fc.constantFrom(...classes), args: argsArb, fwd: fc.option(argsArb) }),
  fc.record({ kind: fc.constant("fn"), name: fc.constantFrom(...fns), args: argsArb, fwd: fc.constant(null) }),
);
type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

function describe(call: Call): string {
  const args = (list: number[]) => list.map((i) => POOL[i].label).join(", ");
  return `${call.kind === "new" ? "new " : ""}${call.name}(${args(call.args)})${call.fwd ? `.forward(${args(call.fwd)})` : ""}`;
}

async function survive(call: Call): Promise<void> {
  try {
    const args = call.args.map((i) => POOL[i].make());
    let pending: unknown = null;
    const result = tidy(() => {
      const target = (nn as unknown as Record<string, new (...a: unknown[]) => unknown>)[call.name];
      const made = call.kind === "new" ? new target(...args) : (target as unknown as (...a: unknown[]) => unknown)(...args);
      // an async function (serializeTensors) reports through its promise
      if (made instanceof Promise) pending = made;
      const obj = made as { forward?: (...a: unknown[]) => unknown; step?: () => unknown } | null;
      if (call.fwd && obj && typeof obj.forward === "function") return obj.forward(...call.fwd.map((i) => POOL[i].make()));
      if (call.fwd && obj && typeof obj.step === "function") return obj.step();
      return made instanceof Tensor ? made : undefined;
    });
    if (result instanceof Promise) await result;
    if (pending instanceof Promise) await pending;
  } catch (error) {
    if (!(error instanceof TsgradError)) throw escapedCall(describe(call), error);
  }
}

test("every nn class and function, called with bad arguments, returns or throws a TsgradError", async () => {
  const reference = await setBackend("reference");
  assert.ok(classes.length > 15 && fns.length > 20, `${classes.length} classes, ${fns.length} functions`);
  await checkProperty(
    "nn bad calls",
    callArb,
    async (call) => {
      core.useBackend(reference);
      await survive(call);
    },
    { numRuns: fuzzSize(300, 3000) },
  );
});

test.run();

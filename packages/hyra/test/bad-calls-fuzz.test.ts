/**
 * @file Fuzz: hyra's functions and PeftModel's methods called with arguments from a pool of bad values must
 * return or throw a TsgradError naming the function. Methods that write files (saveAdapter, exportAsLora)
 * are left to the file tests, which give them real folders; loadAdapter here only reads folders that do
 * not exist. 200 calls in CI; TSGRAD_FC_PROFILE=thorough makes 2,000.
 */

import * as core from "@tsgrad/core";
import { badArgs, checkProperty, escapedCall, fuzzSize, madeArg, plainArg } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as hyra from "../src/node.ts";
import { tinyEncoder } from "./support/models.ts";

const { TsgradError, setBackend } = core;

const METHODS = [
  "forward",
  "trainableParameters",
  "getNbTrainableParameters",
  "addAdapter",
  "setAdapter",
  "deleteAdapter",
  "disableAdapters",
  "merge",
  "unmerge",
  "mergeAndUnload",
  "unload",
  "loadAdapter",
  "adapterStateDict",
  "setAdapterStateDict",
];
const FNS = [
  "getPeftModel",
  "loadAdapter",
  "resolveConfig",
  "configFromJson",
  "configToJson",
  "checkAdapterName",
  "matchesName",
  "layerIndexOf",
  "isTargeted",
  "headSplitOf",
  "adapterParameterCount",
  "cloneModule",
  "scalingOf",
];
// the shared pool, plus hyra's kinds: configs, names, folders that do not exist, models and state dicts
const POOL = badArgs([
  ...["default", "lora", "q", "../x", "/nonexistent"].map((v) => plainArg(JSON.stringify(v), v)),
  plainArg("['q']", ["q"]),
  plainArg("{method:'lora'}", { method: "lora" }),
  plainArg("{method:'hyra',r:2}", { method: "hyra", r: 2 }),
  plainArg("{method:'x'}", { method: "x" }),
  plainArg("{method:'lora',targetModules:/q/}", { method: "lora", targetModules: /q/ }),
  plainArg("{peft_type:'LORA',target_modules:'['}", { peft_type: "LORA", target_modules: "[" }),
  plainArg("{adapterNames:'x'}", { adapterNames: "x" }),
  plainArg("{safe:'x'}", { safe: "x" }),
  madeArg("float32[2,3,16]", () => core.randn([2, 3, 16])),
  madeArg("tinyEncoder", () => tinyEncoder()),
  madeArg("Map", () => new Map([["a", core.randn([2])]])),
  madeArg("fn", () => () => 1),
]);
const argsArb = fc.array(fc.nat(POOL.length - 1), { maxLength: 4 });
const callArb = fc.oneof(
  fc.record({ kind: fc.constant("fn"), name: fc.constantFrom(...FNS), args: argsArb }),
  fc.record({ kind: fc.constant("method"), name: fc.constantFrom(...METHODS), args: argsArb }),
);
type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

async function survive(call: Call): Promise<void> {
  try {
    const args = call.args.map((i) => POOL[i].make());
    if (call.kind === "fn") await (hyra as unknown as Record<string, (...a: unknown[]) => unknown>)[call.name](...args);
    else {
      const peft = hyra.getPeftModel(tinyEncoder(), { method: "hyra", r: 2 }) as unknown as Record<string, (...a: unknown[]) => unknown>;
      await peft[call.name](...args);
    }
  } catch (error) {
    if (!(error instanceof TsgradError)) {
      const described = `${call.kind === "method" ? "peft." : ""}${call.name}(${call.args.map((i) => POOL[i].label).join(", ")})`;
      throw escapedCall(described, error);
    }
  }
}

test("hyra's functions and PeftModel's methods, called with bad arguments, return or throw a TsgradError", async () => {
  const reference = await setBackend("reference");
  assert.ok(FNS.every((name) => typeof (hyra as Record<string, unknown>)[name] === "function"));
  await checkProperty(
    "hyra bad calls",
    callArb,
    async (call) => {
      core.useBackend(reference);
      await survive(call);
    },
    { numRuns: fuzzSize(200, 2000) },
  );
});

test.run();

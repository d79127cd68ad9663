/**
 * @file Fuzz: hyra's functions and PeftModel's methods called with arguments from a pool of bad values must
 * return or throw a TsgradError naming the function. Methods that write files (saveAdapter, exportAsLora)
 * are left to the file tests, which give them real folders; loadAdapter here only reads folders that do
 * not exist. 200 calls in CI; TSGRAD_FC_PROFILE=thorough makes 2,000.
 */

import * as core from "@tsgrad/core";
import { checkProperty, fuzzSize } from "@tsgrad/core/testing";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as hyra from "../src/index.ts";
import { tinyEncoder } from "./support/models.ts";

const { TsgradError, randn, setBackend } = core;

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
const plain = (label: string, value: unknown) => ({ label, make: () => value });
const made = (label: string, make: () => unknown) => ({ label, make });
const POOL = [
  ...[0, 1, 2, -1, 1.5, NaN, 1e10].map((v) => plain(String(v), v)),
  ...["", "x", "default", "lora", "q", "../x", "/nonexistent"].map((v) => plain(JSON.stringify(v), v)),
  plain("null", null),
  plain("undefined", undefined),
  plain("true", true),
  plain("{}", {}),
  plain("[]", []),
  plain("['q']", ["q"]),
  plain("{method:'lora'}", { method: "lora" }),
  plain("{method:'hyra',r:2}", { method: "hyra", r: 2 }),
  plain("{method:'x'}", { method: "x" }),
  plain("{method:'lora',targetModules:/q/}", { method: "lora", targetModules: /q/ }),
  plain("{peft_type:'LORA',target_modules:'['}", { peft_type: "LORA", target_modules: "[" }),
  plain("{adapterNames:'x'}", { adapterNames: "x" }),
  plain("{safe:'x'}", { safe: "x" }),
  made("float32[2,3,16]", () => randn([2, 3, 16])),
  made("tinyEncoder", () => tinyEncoder()),
  made("Map", () => new Map([["a", randn([2])]])),
  made("fn", () => () => 1),
  made("disposed", () => {
    const t = randn([2]);
    t.dispose();
    return t;
  }),
];
const argsArb = fc.array(fc.nat(POOL.length - 1), { maxLength: 4 });
const callArb = fc.oneof(
  fc.record({ kind: fc.constant("fn"), name: fc.constantFrom(...FNS), args: argsArb }),
  fc.record({ kind: fc.constant("method"), name: fc.constantFrom(...METHODS), args: argsArb }),
);
type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

async function survive(call: Call): Promise<void> {
  const args = call.args.map((i) => POOL[i].make());
  try {
    if (call.kind === "fn") await (hyra as unknown as Record<string, (...a: unknown[]) => unknown>)[call.name](...args);
    else {
      const peft = hyra.getPeftModel(tinyEncoder(), { method: "hyra", r: 2 }) as unknown as Record<string, (...a: unknown[]) => unknown>;
      await peft[call.name](...args);
    }
  } catch (error) {
    if (!(error instanceof TsgradError)) {
      const e = error as Error;
      const described = `${call.kind === "method" ? "peft." : ""}${call.name}(${call.args.map((i) => POOL[i].label).join(", ")})`;
      throw new Error(`${described} threw ${e?.name}: ${e?.message}\n${e?.stack?.split("\n").slice(1, 4).join("\n")}`);
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

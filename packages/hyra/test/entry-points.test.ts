/**
 * @file @tsgrad/hyra loads without a file system (a browser's bundle): its PeftModel trains there, and the
 * folder methods say to import @tsgrad/hyra/node instead of failing inside Node's fs. This file imports
 * only the main entry, so nothing has installed the folder reader and writer.
 */

import { randn } from "@tsgrad/core";
import { Linear, Module } from "@tsgrad/nn";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { getPeftModel, loadAdapter } from "../src/index.ts";

class Block extends Module {
  q = new Linear(8, 8);
  v = new Linear(8, 8);
  forward(x: ReturnType<typeof randn>) {
    return this.q.forward(x).add(this.v.forward(x));
  }
}

const test = suite("the main entry point without files");

test("a PeftModel trains, and its folder methods name @tsgrad/hyra/node", async () => {
  const peft = getPeftModel(new Block(), { method: "lora", r: 2, targetModules: ["q", "v"] });
  const loss = peft
    .forward(randn([3, 8]))
    .square()
    .mean();
  loss.backward();
  assert.ok(peft.trainableParameters().every((p) => p.grad !== null));
  for (const call of [() => peft.saveAdapter("out"), () => peft.exportAsLora("out"), () => loadAdapter(new Block(), "out")]) {
    try {
      await call();
      assert.unreachable("expected a rejection");
    } catch (error) {
      assert.match((error as Error).message, /adapter folders are files: import "@tsgrad\/hyra\/node"/);
    }
  }
});

test.run();

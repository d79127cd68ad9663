/**
 * @file addModule, deleteModule and registerParameter: children and parameters attached after
 * construction (PyTorch's register_module, delattr and register_parameter) are found by every walk
 * (names, parameters, state dicts) exactly as declared fields are, and the names that would lose a
 * value or split a dotted path are refused by name.
 */

import { tensor } from "@tsgrad/core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Linear, Module, ModuleList, Parameter, Sequential } from "../src/index.ts";

class Holder extends Module {
  size = 3;
  fc = new Linear(2, 2);

  add(name: string, p: Parameter): void {
    this.registerParameter(name, p);
  }
}

test("an added child is walked, counted and saved as a declared field is; deleting it removes it everywhere", () => {
  const holder = new Holder();
  const extra = new Linear(2, 1, { bias: false });
  holder.addModule("extra", extra);
  assert.equal(
    holder.namedModules().map(([p]) => p),
    ["", "fc", "extra"],
  );
  assert.is(holder.getSubmodule("extra"), extra);
  assert.ok(holder.stateDict().has("extra.weight"));
  // Linear(2, 2) has 4 + 2, Linear(2, 1) without bias 2
  assert.is(holder.numParameters(), 8);
  holder.deleteModule("extra");
  assert.equal(
    holder.namedModules().map(([p]) => p),
    ["", "fc"],
  );
  assert.is(holder.numParameters(), 6);
  assert.not.ok("extra" in holder);
});

test("addModule replaces a child of the same name, as register_module does", () => {
  const holder = new Holder();
  const other = new Linear(2, 2);
  holder.addModule("fc", other);
  assert.is(holder.fc, other);
});

test("a registered parameter is a parameter of the module and of its parents", () => {
  const holder = new Holder();
  const p = new Parameter(tensor([1, 2, 3], undefined, "float32"));
  holder.add("scale", p);
  const outer = new Sequential(holder as unknown as Linear);
  assert.ok(outer.namedParameters().some(([name, q]) => name === "0.scale" && q === p));
});

test("names that would lose a value, split a path or are not children are refused by name", () => {
  const holder = new Holder();
  assert.throws(
    () => holder.addModule("size", new Linear(1, 1)),
    /addModule: "size" is already a field of Holder \(number\), not a child module/,
  );
  assert.throws(() => holder.addModule("a.b", new Linear(1, 1)), /addModule: a name must be a non-empty string without "\.", got "a\.b"/);
  assert.throws(() => holder.addModule("", new Linear(1, 1)), /addModule: a name must be a non-empty string/);
  assert.throws(() => holder.addModule("x", {} as never), /addModule: child "x" must be a Module, got/);
  assert.throws(() => holder.addModule("me", holder), /addModule: a module cannot be its own child "me"/);
  assert.throws(() => holder.addModule("training", new Linear(1, 1)), /"training" is already a field of Holder/);
  assert.throws(() => holder.deleteModule("size"), /deleteModule: Holder has no child module "size" \(the root module has "fc"\)/);
  assert.throws(() => holder.deleteModule("missing"), /deleteModule: Holder has no child module "missing"/);
  assert.throws(
    () => holder.add("fc", new Parameter(tensor([1], undefined, "float32"))),
    /registerParameter: "fc" is already a field of Holder/,
  );
  assert.throws(() => holder.add("p", tensor([1]) as never), /registerParameter: "p" must be a Parameter, got/);
  assert.equal(holder.size, 3, "nothing was overwritten");
});

test("a deleted buffer leaves the buffers and the state dict; deleting one that is not there is refused", () => {
  class Buffered extends Module {
    constructor() {
      super();
      this.registerBuffer("mask", tensor([1, 0], undefined, "float32"));
    }
    drop(name: string): void {
      this.deleteBuffer(name);
    }
  }
  const m = new Buffered();
  assert.ok(m.stateDict().has("mask"));
  m.drop("mask");
  assert.equal(m.namedBuffers(), []);
  assert.not.ok(m.stateDict().has("mask"));
  assert.throws(() => m.drop("mask"), /deleteBuffer: Buffered has no buffer "mask"/);
});

test("a ModuleList's children are its items: addModule and deleteModule say to use push", () => {
  const list = new ModuleList([new Linear(1, 1)]);
  assert.throws(
    () => list.addModule("x", new Linear(1, 1)),
    /addModule: ModuleList's children are its items, named by index; push\(\) adds one/,
  );
  assert.throws(() => list.deleteModule("0"), /deleteModule: ModuleList's children are its items/);
  assert.is(list.length, 1);
});

test.run();

/**
 * @file A command's option table is the one statement of its options: the --help lists every option with
 * the default the parser applies, in lines a 100-column terminal shows whole, and the parser refuses what
 * the table does not name.
 */

import { TsgradError } from "@tsgrad/core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COMMON_OPTIONS, defineCommand, helpText, type Option, parseOptions } from "../src/command.ts";
import { COMMANDS } from "../src/commands/index.ts";

const sample = defineCommand({
  name: "sample",
  usage: "sample [options]",
  summary: "a command for the test",
  options: {
    steps: { value: "N", help: "training steps", default: "120" },
    lr: { value: "X", help: "the learning rate", defaultNote: "default per method" },
    text: { value: "TEXT", help: "a text", multiple: true },
    yes: { help: "go on" },
  },
  run: async () => {},
});

test("the help is made from the table: each option once, its default stated, the common options after", () => {
  const help = helpText(sample);
  assert.match(help, /^tsgrad sample \[options\]\n/);
  assert.match(help, /\n {2}--steps N {11}training steps \(default 120\)\n/);
  assert.match(help, /\n {2}--lr X {14}the learning rate \(default per method\)\n/);
  assert.match(help, /\n {2}--text TEXT {9}a text; repeatable\n/);
  assert.match(help, /\n {2}--yes {15}go on\n/);
  assert.match(help, /\n {2}--seed N {12}the seed \(default 1\)\n/);
  assert.match(help, /\n {2}-h, --help {10}this help$/);
});

test("the parser applies the table's defaults and nothing else", () => {
  assert.equal({ ...parseOptions(sample, []) }, { steps: "120", seed: "1" });
  assert.equal(
    { ...parseOptions(sample, ["--steps", "5", "--text", "a", "--text", "b", "--yes", "--lr", "0.1"]) },
    {
      steps: "5",
      text: ["a", "b"],
      yes: true,
      lr: "0.1",
      seed: "1",
    },
  );
});

test("an option the table does not name, a positional, or a flag given a value is refused, saying how to fix it", () => {
  for (const [argv, message] of [
    [["--step", "5"], /^tsgrad: Unknown option '--step' \(did you mean --steps\?\); tsgrad sample --help lists its options$/],
    [["extra"], /^tsgrad: Unexpected argument 'extra'.*: options start with -- \(through npm, put a -- before the command/],
    [["yes"], /Unexpected argument 'yes'.*: did you mean --yes\?/],
    [["--yes=1"], /^tsgrad: Option '--yes' does not take an argument; tsgrad sample --help lists its options$/],
  ] as const) {
    try {
      parseOptions(sample, argv);
      assert.unreachable(`${argv.join(" ")} was accepted`);
    } catch (error) {
      assert.instance(error, TsgradError);
      assert.match((error as Error).message, message);
    }
  }
});

test("every command's help names each of its options, states each default its table has, and fits in 100 columns", () => {
  assert.equal(
    COMMANDS.map((c) => c.name),
    ["compare", "study", "theory", "finetune", "evaluate", "predict", "pretrain", "generate"],
  );
  for (const command of COMMANDS) {
    const help = helpText(command);
    const unwrapped = help.replace(/\n {22}/g, " ");
    for (const [name, option] of Object.entries<Option>({ ...command.options, ...COMMON_OPTIONS })) {
      assert.match(help, new RegExp(`--${name}\\b`), `${command.name} --${name}`);
      if (option.default !== undefined) assert.ok(unwrapped.includes(`default ${option.default})`), `${command.name} --${name}'s default`);
    }
    for (const line of help.split("\n")) assert.ok(line.length <= 100, `${command.name}: ${line}`);
  }
});

test.run();

/**
 * @file The `tsgrad` command: pretrain the backbone, fine-tune one method on one task, evaluate or predict
 * with a saved run, compare methods, run the low-data study and the theory's curve, generate text. Each
 * command is one file of commands/ with its option table; `npm run tsgrad -- <command> --help` prints it.
 */

import { closeBackends, fail, TsgradError } from "@tsgrad/core";
import { type Command, helpText, parseOptions } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3;
  return `tsgrad: fine-tune a small pretrained transformer with LoRA or HyRA and compare them.

  npm run tsgrad -- <command> [options]

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

npm run tsgrad -- <command> --help   lists a command's options`;
}

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(mainHelp());
    return;
  }
  const command: Command | undefined = COMMANDS.find((c) => c.name === name);
  if (command === undefined) fail("tsgrad", `unknown command ${JSON.stringify(name)}; run npm run tsgrad -- --help`);
  const values = parseOptions(command, rest);
  if (values.help) {
    console.log(helpText(command));
    return;
  }
  await command.run(values, rest);
}

try {
  await main(process.argv.slice(2));
  await closeBackends();
} catch (error) {
  // a bad argument or file is the user's to fix: its message, without a stack
  if (error instanceof TsgradError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    console.error((error as Error).message);
    process.exit(2);
  }
  throw error;
}

/**
 * @file What a command of `tsgrad` is: its option table, from which both its parser (node:util's
 * parseArgs, which refuses unknown options) and its `--help` are made, so that each default is stated
 * once, and its `run`.
 */

import { parseArgs } from "node:util";
import { closestName, fail } from "@tsgrad/core";

export interface Option {
  /** What the value is called in the help ("NAME", "N"); an option without one is a flag. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly short?: string;
  readonly help: string;
  /** The value when the option is not given: the parser applies it and the help states it. */
  readonly default?: string;
  /** How the help states a default that run() works out (the preset's, per method): no value is applied. */
  readonly defaultNote?: string;
}

export type Options = Readonly<Record<string, Option>>;

type ValueOf<T extends Option> = T extends { readonly value: string }
  ? T extends { readonly multiple: true }
    ? string[] | undefined
    : T extends { readonly default: string }
      ? string
      : string | undefined
  : boolean | undefined;

export type Values<O extends Options> = { -readonly [K in keyof O]: ValueOf<O[K]> };

/** The options every command takes. */
export const COMMON_OPTIONS = {
  backend: { value: "NAME", help: "wasm (the default), reference, gpujs:webgpu, auto" },
  threads: { value: "N", help: "the wasm backend's threads (1 or 2)" },
  seed: { value: "N", help: "the seed", default: "1" },
  help: { short: "h", help: "this help" },
} as const satisfies Options;

export interface Command<O extends Options = Options> {
  readonly name: string;
  /** The first line of its help, after "tsgrad ". */
  readonly usage: string;
  /** One line in `tsgrad --help`. */
  readonly summary: string;
  /** What it does, in a paragraph of its help (optional; wrapped to the help's width). */
  readonly about?: string;
  readonly options: O;
  /** Runs with the parsed values; `argv` is what followed the command's name (for the records a run keeps). */
  run(values: Values<O & typeof COMMON_OPTIONS>, argv: readonly string[]): Promise<void>;
}

/** A command, with its options' types kept for its run. */
export function defineCommand<const O extends Options>(command: Command<O>): Command<O> {
  return command;
}

const OPTION_COLUMN = 22;
/** Help lines wrap here: a terminal of 100 columns shows each whole. */
const HELP_WIDTH = 100;

/** `text` in lines of at most `width` characters, broken at spaces (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

function optionLine(name: string, option: Option): string {
  const flag = `${option.short ? `-${option.short}, ` : ""}--${name}${option.value ? ` ${option.value}` : ""}`;
  const stated = option.default !== undefined ? `default ${option.default}` : option.defaultNote;
  const text = `${option.help}${stated ? ` (${stated})` : ""}${option.multiple ? "; repeatable" : ""}`;
  const [first, ...rest] = wrap(text, HELP_WIDTH - OPTION_COLUMN);
  return [`  ${flag.padEnd(OPTION_COLUMN - 3)} ${first}`, ...rest.map((l) => `${" ".repeat(OPTION_COLUMN)}${l}`)].join("\n");
}

/** The command's --help: its usage, what it does, then one line per option of its table and the common ones. */
export function helpText(command: Command): string {
  const lines = [`tsgrad ${command.usage}`, ""];
  // the paragraph as one text, wrapped to the help's width wherever its source broke its lines
  if (command.about) lines.push(...wrap(command.about.replace(/\s*\n\s*/g, " "), HELP_WIDTH), "");
  for (const [name, option] of Object.entries({ ...command.options, ...COMMON_OPTIONS })) lines.push(optionLine(name, option));
  return lines.join("\n");
}

/** Parses `argv` by the command's table and the common options; unknown options and positionals are refused. */
export function parseOptions<O extends Options>(command: Command<O>, argv: readonly string[]): Values<O & typeof COMMON_OPTIONS> {
  const table = Object.fromEntries(
    Object.entries({ ...command.options, ...COMMON_OPTIONS }).map(([name, o]: [string, Option]) => [
      name,
      {
        type: o.value === undefined ? ("boolean" as const) : ("string" as const),
        ...(o.multiple ? { multiple: true } : {}),
        ...(o.short ? { short: o.short } : {}),
        ...(o.default !== undefined ? { default: o.default } : {}),
      },
    ]),
  );
  try {
    const { values } = parseArgs({ args: [...argv], options: table, allowPositionals: false, strict: true });
    return values as Values<O & typeof COMMON_OPTIONS>;
  } catch (error) {
    return fail("tsgrad", howToFix(command, Object.keys(table), error as Error & { code?: string }));
  }
}

/** parseArgs's refusal, with what to type instead: the closest option, or the `--` that npm needs. */
function howToFix(command: Command, names: readonly string[], error: Error & { code?: string }): string {
  const help = `tsgrad ${command.name} --help lists its options`;
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const flag = /'(-{1,2}[^'=]*)/.exec(error.message)?.[1] ?? "";
    const closest = closestName(flag.replace(/^-+/, ""), names);
    return `${error.message}${closest ? ` (did you mean --${closest}?)` : ""}; ${help}`;
  }
  if (error.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const word = /'([^']*)'/.exec(error.message)?.[1] ?? "";
    const closest = closestName(word, names);
    const fix = closest
      ? `did you mean --${closest}?`
      : "options start with -- (through npm, put a -- before the command: npm run tsgrad -- <command> --option value)";
    return `${error.message}: ${fix}; ${help}`;
  }
  return `${error.message}; ${help}`;
}

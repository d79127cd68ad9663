/**
 * @file Module-path patterns (target_modules, exclude_modules as a regex). A pattern may come from a
 * file anyone wrote, and JavaScript's RegExp can take exponential time ("((.+)+)+z" blocks the event
 * loop for minutes), so every pattern is compiled with RE2JS, the JavaScript port of RE2, which matches
 * in time linear in the path (and runs in a browser). The syntax is RE2's (as Python's re, without
 * backreferences and lookaround); a pattern matches the whole path, as PEFT's re.fullmatch.
 */

import { fail } from "@tsgrad/core";
import { RE2JS } from "re2js";

function compile(source: unknown, where: string, field: string): RE2JS {
  if (typeof source !== "string") fail(where, `${field} must be a pattern string, got ${typeof source}`);
  try {
    return RE2JS.compile(source);
  } catch (error) {
    return fail(
      where,
      `${field} ${JSON.stringify(source)} is not a pattern tsgrad accepts (RE2 syntax: no backreferences or lookaround): ${(error as Error).message}`,
    );
  }
}

export class ModulePattern {
  readonly #re: RE2JS;

  /** `where` and `field` name the config or file the pattern came from, for the error on a bad one. */
  constructor(
    readonly source: string,
    where: string,
    field: string,
  ) {
    this.#re = compile(source, where, field);
  }

  /** Whether the pattern matches all of `path`. */
  matches(path: string): boolean {
    return this.#re.matches(path);
  }

  toString(): string {
    return `/${this.source}/`;
  }
}

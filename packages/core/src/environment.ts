/**
 * @file Environment variables, read only where there is a process (Node, Deno, Bun): a browser has none,
 * and a module that touched `process` at load would not load there.
 */

type ProcessLike = { process?: { env?: Record<string, string | undefined> } };

/** The variable's value, or undefined where it is unset or there is no environment. */
export function environmentVariable(name: string): string | undefined {
  return (globalThis as ProcessLike).process?.env?.[name];
}

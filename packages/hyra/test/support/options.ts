/** @file Test support: every combination of a table of option values, so a new option is one entry in its test's table. */

/** The values each option takes. */
export type OptionTable<T> = { [K in keyof T]: readonly T[K][] };

/** Every combination of the table's values (the Cartesian product), in table order. */
export function combinations<T extends object>(table: OptionTable<T>): T[] {
  let out: Partial<T>[] = [{}];
  for (const key of Object.keys(table) as (keyof T)[]) {
    out = out.flatMap((partial) => table[key].map((value) => ({ ...partial, [key]: value })));
  }
  return out as T[];
}

/** A combination as a short label for messages: `activation=tanh mixing=rank ...`. */
export function label(options: object): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

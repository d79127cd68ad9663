/** @file The one error class of tsgrad: every message starts with the op or file that refused the input. */

export class TsgradError extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
    this.name = "TsgradError";
  }
}

/** Throws a TsgradError naming `where` (an op, a function or a file). */
export function fail(where: string, message: string): never {
  throw new TsgradError(where, message);
}

/** Formats a shape the way every error message prints it: `[2,3]`. */
export function fmtShape(shape: readonly number[]): string {
  // a message about a bad shape must not fail itself on what it reports
  return Array.isArray(shape) ? `[${shape.join(",")}]` : String(shape);
}

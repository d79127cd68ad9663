/** @file Runs a README's code sample as written, so the docs cannot drift from the code. */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The first ```ts block after `heading` in a Markdown file; throws when there is none. */
export function readmeSample(markdownPath: string, heading: string): string {
  const text = readFileSync(markdownPath, "utf8");
  const sample = text.split(heading)[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!sample) throw new Error(`${markdownPath} has no ts sample under "${heading}"`);
  return sample;
}

/**
 * Writes the first ```ts block after `heading` in a Markdown file into a temporary folder inside
 * `packageRoot` (so that imports of the package's own name resolve to it), runs it with tsx and returns
 * its standard output. Throws when the block is missing or the sample fails.
 */
export function runReadmeSample(markdownPath: string, heading: string, packageRoot: string): string {
  const sample = readmeSample(markdownPath, heading);
  const dir = mkdtempSync(join(packageRoot, ".readme-"));
  try {
    const file = join(dir, "sample.ts");
    writeFileSync(file, sample);
    return execFileSync(process.execPath, ["--import", "tsx", file], { cwd: packageRoot, encoding: "utf8" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** @file Scratch folders for tests that write files: one temporary root per test file, a fresh folder per test. */

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ScratchDirs {
  /** The temporary root, under the system's temporary folder. */
  readonly root: string;
  /** A new empty folder under the root, so leftover temporary files of one test are easy to see. */
  fresh(): string;
  /** Removes the root and everything in it. */
  remove(): void;
}

export function scratchDirs(prefix: string): ScratchDirs {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let count = 0;
  return {
    root,
    fresh() {
      const dir = join(root, String(count++));
      mkdirSync(dir);
      return dir;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

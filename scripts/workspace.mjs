// The workspace's package folders, read from pnpm-workspace.yaml, for run.mjs and the architecture
// tests: one list, the one pnpm itself reads. Plain JavaScript with no dependency, because run.mjs uses
// it before anything is installed.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The folders (relative to `root`, with forward slashes) of pnpm-workspace.yaml's `packages:` entries, in
 * its order: an entry `dir/*` is every folder of dir, sorted; only folders with a package.json count.
 * @param {string} root the repository's root
 * @returns {string[]}
 */
export function workspacePackages(root) {
  const yaml = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const list = /^packages:\n((?:[ \t]+-[^\n]*\n?)+)/m.exec(yaml);
  if (!list) throw new Error("pnpm-workspace.yaml: no packages: list");
  const dirs = [];
  for (const line of list[1].split("\n")) {
    const entry = /^\s+-\s*["']?([^"'\s]+)["']?\s*$/.exec(line)?.[1];
    if (entry === undefined) continue;
    if (entry.endsWith("/*")) {
      const parent = entry.slice(0, -2);
      if (existsSync(join(root, parent))) for (const name of readdirSync(join(root, parent)).sort()) dirs.push(`${parent}/${name}`);
    } else dirs.push(entry);
  }
  return dirs.filter((d) => existsSync(join(root, d, "package.json")));
}

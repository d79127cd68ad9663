/**
 * @file The repository's sources as the architecture tests read them: every .ts (or .mjs) file of the
 * folders asked for, with comments blanked out, and the imports each file makes (by specifier and, for relative
 * ones, by the file reached).
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));

export interface Source {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

/** The files a walk collects: TypeScript, and the plain-JavaScript scripts (.mjs) where asked for. */
export type Extensions = readonly (".ts" | ".mjs")[];

export function walk(dir: string, found: string[], extensions: Extensions = [".ts"]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of names.sort()) {
    if (name === "node_modules" || name === "dist") continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, found, extensions);
    else if (extensions.some((e) => name.endsWith(e))) found.push(full);
  }
  return found;
}

/** Every .ts file (and .mjs, if asked) under the folders `dirs` (relative to the root), node_modules and dist aside, in a stable order. */
export function loadSources(dirs: readonly string[], extensions: Extensions = [".ts"]): Source[] {
  return dirs
    .flatMap((d) => walk(join(ROOT, d), [], extensions))
    .map((full) => ({ path: relative(ROOT, full).split("\\").join("/"), text: readFileSync(full, "utf8") }));
}

/** The folders of a kind in the workspace layout (`packages/*`), relative to the root. */
export function foldersOf(parent: string): string[] {
  try {
    return readdirSync(join(ROOT, parent))
      .sort()
      .map((name) => `${parent}/${name}`);
  } catch {
    return [];
  }
}

/** The text with comments blanked out, line structure kept (documentation may mention anything). */
export function code(text: string): string[] {
  const noBlocks = text.replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, " "));
  return noBlocks.split("\n").map((line) => line.replace(/(^|\s)\/\/.*$/, "$1"));
}

/** The file a relative specifier reaches, relative to the root with forward slashes; null for a package name. */
function targetOf(source: Source, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  return relative(ROOT, resolve(ROOT, dirname(source.path), specifier))
    .split("\\")
    .join("/");
}

export interface Import {
  line: number;
  specifier: string;
  /** The imported file, relative to the root, for relative specifiers. */
  target: string | null;
}

export function importsOf(source: Source): Import[] {
  const found: Import[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;
  code(source.text).forEach((text, i) => {
    for (const m of text.matchAll(pattern)) {
      const specifier = m[1];
      found.push({ line: i + 1, specifier, target: targetOf(source, specifier) });
    }
  });
  return found;
}

export interface StaticImport {
  line: number;
  /** The imported file, relative to the root, for relative specifiers. */
  target: string | null;
  /** `import type` / `export type`: erased, so it orders nothing at load time. */
  typeOnly: boolean;
  specifier: string;
}

/**
 * Static imports and re-exports, statement by statement (a specifier list may span lines). Statements
 * start a line (Biome's layout), so an "import" inside a string or a message is not taken for one.
 */
export function staticImportsOf(source: Source): StaticImport[] {
  const text = code(source.text).join("\n");
  const pattern = /^(?:import|export)\s+(type\s+)?(?:[^;"'()]*?\bfrom\s*)?["']([^"']+)["']/gm;
  return [...text.matchAll(pattern)].map((m) => ({
    line: text.slice(0, m.index).split("\n").length,
    specifier: m[2],
    target: targetOf(source, m[2]),
    typeOnly: m[1] !== undefined,
  }));
}

/** Whether position `at` of a line lies outside any string literal opened on that line. */
function outsideStrings(line: string, at: number): boolean {
  let quote: string | null = null;
  for (let i = 0; i < at; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
  }
  return quote === null;
}

/** `import("...")` calls with a literal specifier, outside strings (a fixture's text is not an import). */
export function dynamicImportsOf(source: Source): Import[] {
  const found: Import[] = [];
  code(source.text).forEach((text, i) => {
    for (const m of text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']/g)) {
      if (!outsideStrings(text, m.index)) continue;
      const specifier = m[1];
      found.push({ line: i + 1, specifier, target: targetOf(source, specifier) });
    }
  });
  return found;
}

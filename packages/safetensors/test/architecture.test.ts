/**
 * @file The reason this package exists, checked on its source text: @tsgrad/safetensors is usable without
 * nn, so nothing under packages/safetensors/ imports nn, hyra, models or benchmarks (by package name or by
 * a relative path out of the package). The rule is also run on fixtures that break it, so a rule that can
 * no longer fail is noticed.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const PACKAGE = "packages/safetensors/";

/** What the package may never reach: the packages built on top of it. */
const ABOVE = ["@tsgrad/nn", "@tsgrad/hyra", "@tsgrad/models", "@tsgrad/benchmarks"];
const ABOVE_DIRS = ["packages/nn/", "packages/hyra/", "packages/models/", "benchmarks/"];

interface Source {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

function walk(dir: string, found: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules") continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, found);
    else if (name.endsWith(".ts")) found.push(full);
  }
  return found;
}

/** The text with comments blanked out, line structure kept (documentation may mention anything). */
function code(text: string): string[] {
  const noBlocks = text.replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, " "));
  return noBlocks.split("\n").map((line) => line.replace(/(^|\s)\/\/.*$/, "$1"));
}

function importsAbove(sources: readonly Source[]): string[] {
  const out: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;
  for (const s of sources) {
    if (!s.path.startsWith(PACKAGE)) continue;
    code(s.text).forEach((text, i) => {
      for (const m of text.matchAll(pattern)) {
        const specifier = m[1];
        const target = specifier.startsWith(".")
          ? relative(ROOT, resolve(ROOT, dirname(s.path), specifier))
              .split("\\")
              .join("/")
          : null;
        const named = ABOVE.some((p) => specifier === p || specifier.startsWith(`${p}/`));
        if (named || (target !== null && ABOVE_DIRS.some((d) => `${target}/`.startsWith(d)))) {
          out.push(`${s.path}:${i + 1}: imports "${specifier}" (@tsgrad/safetensors is usable without nn, hyra, models, benchmarks)`);
        }
      }
    });
  }
  return out;
}

const repo = suite("@tsgrad/safetensors stands on core alone");

const sources: Source[] = walk(join(ROOT, PACKAGE), [])
  .map((full) => ({ path: relative(ROOT, full).split("\\").join("/"), text: readFileSync(full, "utf8") }))
  // this file holds the violations of its own fixtures, as strings
  .filter((s) => s.path !== `${PACKAGE}test/architecture.test.ts`);

repo("the walk finds the sources and the tests", () => {
  const paths = new Set(sources.map((s) => s.path));
  for (const expected of [`${PACKAGE}src/index.ts`, `${PACKAGE}src/json.ts`, `${PACKAGE}test/fixtures/save-loop.ts`]) {
    assert.ok(paths.has(expected), `${expected} not found`);
  }
});

repo("nothing in the package imports nn, hyra, models or benchmarks", () => {
  assert.equal(importsAbove(sources), []);
});

repo("its package.json depends on no package above it", () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, PACKAGE, "package.json"), "utf8")) as Record<string, unknown>;
  const named = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"].flatMap((field) =>
    Object.keys((manifest[field] as Record<string, string> | undefined) ?? {}),
  );
  assert.equal(
    named.filter((name) => ABOVE.includes(name)),
    [],
  );
});

const fixtures = suite("the rule catches a violation");

fixtures("package names, subpaths and relative paths out of the package, with file:line; comments and core pass", () => {
  const found = importsAbove([
    {
      path: "packages/safetensors/src/a.ts",
      text: '// import { Module } from "@tsgrad/nn" in a comment is fine\nimport { Module } from "@tsgrad/nn";\nimport { tensor } from "@tsgrad/core";\n',
    },
    { path: "packages/safetensors/src/b.ts", text: 'const h = await import("@tsgrad/hyra/src/save.ts");\n' },
    { path: "packages/safetensors/test/c.test.ts", text: 'import { Linear } from "../../nn/src/layers/linear.ts";\nimport "./d.ts";\n' },
    { path: "packages/safetensors/src/e.ts", text: 'export { x } from "../../../benchmarks/src/cli.ts";\n' },
    { path: "packages/nn/src/f.ts", text: 'import { Module } from "@tsgrad/nn";\n' },
    { path: "packages/safetensors/src/g.ts", text: 'import { y } from "@tsgrad/nnx";\n' },
  ]);
  assert.equal(found, [
    'packages/safetensors/src/a.ts:2: imports "@tsgrad/nn" (@tsgrad/safetensors is usable without nn, hyra, models, benchmarks)',
    'packages/safetensors/src/b.ts:1: imports "@tsgrad/hyra/src/save.ts" (@tsgrad/safetensors is usable without nn, hyra, models, benchmarks)',
    'packages/safetensors/test/c.test.ts:1: imports "../../nn/src/layers/linear.ts" (@tsgrad/safetensors is usable without nn, hyra, models, benchmarks)',
    'packages/safetensors/src/e.ts:1: imports "../../../benchmarks/src/cli.ts" (@tsgrad/safetensors is usable without nn, hyra, models, benchmarks)',
  ]);
});

repo.run();
fixtures.run();

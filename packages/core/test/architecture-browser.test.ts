/**
 * @file What a browser loads from the entry points of the packages that ship (every export but the
 * "/node" ones): no Node module, no `process` global, no top-level await (which also stops CommonJS
 * require()). The rule is also run on fixtures that break it.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { code, foldersOf, loadSources, ROOT, type Source, staticImportsOf } from "./architecture/sources.ts";

const NODE_BUILTINS = /^(?:node:|(?:fs|path|os|crypto|child_process|worker_threads|url|util|stream|http|https|net|zlib)(?:\/|$))/;

/** Where `@tsgrad/<pkg>[/sub]` or core's `#spawn-worker` lead for a bundler targeting browsers. */
function browserTarget(specifier: string, from: string, manifests: ReadonlyMap<string, PackageManifest>): string | null {
  const named = /^@tsgrad\/([^/]+)(\/.*)?$/.exec(specifier);
  if (named) {
    const target = manifests.get(named[1])?.exports[`.${named[2] ?? ""}`];
    return target ? `packages/${named[1]}/${target.replace(/^\.\//, "")}` : null;
  }
  const own = /^packages\/([^/]+)\//.exec(from)?.[1];
  const mapped = own ? manifests.get(own)?.imports?.[specifier] : undefined;
  if (mapped) return `packages/${own}/${(mapped.browser ?? mapped.default).replace(/^\.\//, "")}`;
  return null;
}

interface PackageManifest {
  exports: Record<string, string>;
  imports?: Record<string, { browser?: string; default: string }>;
}

/**
 * Everything a browser bundle of the packages' entry points (every export but "./node" and
 * "./testing/node") loads at start, checked for what a browser lacks: a Node built-in module, the
 * `process` global, a top-level await (which also stops CommonJS require()). Dynamic imports are left
 * out: they load only when asked for (gpu.js, Dawn).
 */
function browserUnsafe(sources: readonly Source[], manifests: ReadonlyMap<string, PackageManifest>): string[] {
  const byPath = new Map(sources.map((s) => [s.path, s]));
  const seen = new Set<string>();
  const queue: string[] = [];
  for (const [pkg, manifest] of manifests) {
    for (const [key, target] of Object.entries(manifest.exports)) {
      if (!key.endsWith("/node")) queue.push(`packages/${pkg}/${target.replace(/^\.\//, "")}`);
    }
  }
  const out: string[] = [];
  while (queue.length > 0) {
    const path = queue.shift() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const source = byPath.get(path);
    if (!source) {
      out.push(`${path}: not found`);
      continue;
    }
    for (const imp of staticImportsOf(source)) {
      if (imp.typeOnly) continue;
      if (NODE_BUILTINS.test(imp.specifier)) out.push(`${path}:${imp.line}: imports "${imp.specifier}", which a browser lacks`);
      else if (imp.target !== null) queue.push(imp.target);
      else {
        const target = browserTarget(imp.specifier, path, manifests);
        if (target) queue.push(target);
      }
    }
    const lines = code(source.text);
    lines.forEach((l, i) => {
      if (/(?<![.\w])process\s*\./.test(l)) out.push(`${path}:${i + 1}: uses the process global at load or in a call a browser makes`);
      // a statement at the top level (column 0) that awaits outside any async function on its line
      if (/^\S/.test(l) && /\bawait\b/.test(l) && !/\basync\b.*\bawait\b/.test(l)) out.push(`${path}:${i + 1}: awaits at the top level`);
    });
  }
  return out;
}

/** The manifests of the packages that ship (a publishConfig says how), by folder name under packages/. */
function loadManifests(): Map<string, PackageManifest> {
  return new Map(
    foldersOf("packages")
      .map((dir) => [dir.slice("packages/".length), JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8"))] as const)
      .filter(([, manifest]) => manifest.publishConfig !== undefined)
      .map(([name, manifest]) => [name, manifest as PackageManifest]),
  );
}

const repo = suite("the packages' entry points load in a browser");

repo("what a browser loads from the packages' entry points uses no Node module, no process global and no top-level await", () => {
  const manifests = loadManifests();
  assert.ok(manifests.has("core") && manifests.has("hyra"), [...manifests.keys()].join(", "));
  assert.equal(browserUnsafe(loadSources([...manifests.keys()].map((p) => `packages/${p}/src`)), manifests), []);
});

repo.run();

const fixtures = suite("the browser rule catches a violation");

fixtures("a Node module, the process global or a top-level await reached from an entry point, through the seam too", () => {
  const manifests = new Map<string, PackageManifest>([
    [
      "core",
      {
        exports: { ".": "./src/index.ts", "./node": "./src/node.ts" },
        imports: { "#seam": { browser: "./src/seam-browser.ts", default: "./src/seam-node.ts" } },
      },
    ],
  ]);
  const found = browserUnsafe(
    [
      { path: "packages/core/src/index.ts", text: 'import "./a.ts";\nimport { s } from "#seam";\nawait s();\n' },
      { path: "packages/core/src/a.ts", text: 'import type { X } from "node:fs";\nexport const env = () => process.env.X;\n' },
      { path: "packages/core/src/seam-browser.ts", text: 'import { join } from "node:path";\n' },
      { path: "packages/core/src/seam-node.ts", text: 'import { Worker } from "node:worker_threads";\n' },
      { path: "packages/core/src/node.ts", text: 'import { readFile } from "node:fs/promises";\n' },
    ],
    manifests,
  );
  assert.equal(found, [
    "packages/core/src/index.ts:3: awaits at the top level",
    "packages/core/src/a.ts:2: uses the process global at load or in a call a browser makes",
    'packages/core/src/seam-browser.ts:1: imports "node:path", which a browser lacks',
  ]);
});

fixtures.run();

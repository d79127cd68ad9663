/**
 * @file Layering rules, checked on the source text: core imports no other package of the repository, and
 * nn nothing of hyra, models or benchmarks; core's own modules import each other without a cycle; no package but core touches a tensor's DataBuffer or Storage;
 * only the gpu.js backend imports gpu.js and webgpu; ops never reach into a backend; backends never see
 * tensors, autograd or memory scopes; library code never reads tensors back synchronously (the WebGPU
 * backend cannot). Each rule is also run on small fixtures that break it, so a rule that can no longer
 * fail is noticed. What a browser loads is architecture-browser.test.ts's; the workspace's packages and
 * their imports of each other are architecture-workspace.test.ts's.
 */

import { suite } from "uvu";
import * as assert from "uvu/assert";
import { code, foldersOf, type Import, importsOf, loadSources, type Source, staticImportsOf } from "./architecture/sources.ts";

// ---- the rules ------------------------------------------------------------------------------------

/** The repository package an import reaches (`core` for "@tsgrad/core/testing" or "../../core/src/x.ts"), if any. */
function packageOf(imp: Import): string | null {
  const named = /^@tsgrad\/([^/]+)/.exec(imp.specifier);
  if (named) return named[1];
  if (imp.target === null) return null;
  if (imp.target === "benchmarks" || imp.target.startsWith("benchmarks/")) return "benchmarks";
  return /^packages\/([^/]+)\//.exec(imp.target)?.[1] ?? null;
}

/** What each package may not import: what is built on top of it. */
const LAYERS: readonly { from: string; forbids: (pkg: string) => boolean; why: string }[] = [
  { from: "core", forbids: (pkg) => pkg !== "core", why: "core is the bottom layer: it imports no other package" },
  { from: "nn", forbids: (pkg) => ["hyra", "models", "benchmarks"].includes(pkg), why: "nn is below hyra, models and benchmarks" },
];

function importsAcrossLayers(sources: readonly Source[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    for (const layer of LAYERS) {
      if (!s.path.startsWith(`packages/${layer.from}/`)) continue;
      for (const imp of importsOf(s)) {
        const pkg = packageOf(imp);
        if (pkg !== null && layer.forbids(pkg)) out.push(`${s.path}:${imp.line}: imports "${imp.specifier}" (${layer.why})`);
      }
    }
  }
  return out;
}

/**
 * Groups of core modules that import each other in a circle (type-only imports aside), each as its sorted
 * paths. Without one, core reads bottom-up: errors and dtype, shape, memory, tensor, the ops, autograd,
 * then tensor-methods.ts, which gives tensors their op methods.
 */
function coreImportCycles(sources: readonly Source[]): string[][] {
  const core = sources.filter((s) => s.path.startsWith("packages/core/src/"));
  const paths = new Set(core.map((s) => s.path));
  const edges = new Map(
    core.map((s) => [
      s.path,
      staticImportsOf(s).flatMap((imp) => (!imp.typeOnly && imp.target && paths.has(imp.target) ? [imp.target] : [])),
    ]),
  );
  // Tarjan's strongly connected components
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group = stack.splice(stack.indexOf(v));
    if (group.length > 1 || edges.get(v)?.includes(v)) cycles.push(group.sort());
  };
  for (const path of [...paths].sort()) if (!index.has(path)) visit(path);
  return cycles;
}

/**
 * What belongs to core's memory management: a tensor's DataBuffer (refcount, version, host copy) and the
 * backend's Storage inside it. Other packages use the Tensor's own surface instead.
 */
const CORE_INTERNALS: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\bDataBuffer\b/, what: "DataBuffer" },
  { pattern: /\bStorage\b/, what: "Storage" },
  { pattern: /\.buffer\(/, what: ".buffer()" },
  { pattern: /\.operand\(/, what: ".operand()" },
  { pattern: /\.storage\b/, what: ".storage" },
  { pattern: /\bhostCopy\b/, what: "hostCopy" },
];

function coreInternalsOutsideCore(sources: readonly Source[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    if (s.path.startsWith("packages/core/")) continue;
    code(s.text).forEach((text, i) => {
      for (const { pattern, what } of CORE_INTERNALS) {
        if (pattern.test(text)) {
          out.push(`${s.path}:${i + 1}: touches ${what} (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))`);
        }
      }
    });
  }
  return out;
}

const GPUJS_DIR = "packages/core/src/backend/gpujs/";

function gpuImports(sources: readonly Source[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    if (s.path.startsWith(GPUJS_DIR)) continue;
    for (const imp of importsOf(s)) {
      if (/^(gpu\.js|webgpu)(\/|$)/.test(imp.specifier)) {
        out.push(`${s.path}:${imp.line}: imports "${imp.specifier}" (only ${GPUJS_DIR} may)`);
      }
    }
  }
  return out;
}

function opsReachingIntoBackends(sources: readonly Source[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    if (!/^packages\/core\/src\/(ops|composite)\//.test(s.path)) continue;
    for (const imp of importsOf(s)) {
      if (imp.target?.startsWith("packages/core/src/backend/reference") || imp.specifier.includes("backend/reference")) {
        out.push(`${s.path}:${imp.line}: imports "${imp.specifier}" (ops go through the Backend interface)`);
      }
    }
  }
  return out;
}

const TENSOR_SIDE = [
  "packages/core/src/tensor.ts",
  "packages/core/src/autograd.ts",
  "packages/core/src/memory.ts",
  "packages/core/src/index.ts",
];

function backendsSeeingTensors(sources: readonly Source[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    if (!s.path.startsWith("packages/core/src/backend/")) continue;
    for (const imp of importsOf(s)) {
      if ((imp.target && TENSOR_SIDE.includes(imp.target)) || imp.specifier === "@tsgrad/core") {
        out.push(`${s.path}:${imp.line}: imports "${imp.specifier}" (backends see only storage)`);
      }
    }
  }
  return out;
}

interface Allowed {
  path: string;
  /** The line's code must match this, and every allowance must still be used. */
  line: RegExp;
  reason: string;
}

/** Synchronous readback that library code may do, each with its reason. */
const SYNC_READBACK_ALLOWED: readonly Allowed[] = [
  {
    path: "packages/core/src/tensor.ts",
    line: /^\s*return nest\(this\.dataSync\(\), this\.shape\);$/,
    reason: "toArray() is defined on top of dataSync()",
  },
  {
    path: "packages/core/src/tensor.ts",
    line: /^\s*return this\.dataSync\(\)\[0\];$/,
    reason: "item() is defined on top of dataSync()",
  },
  {
    path: "packages/core/src/tensor.ts",
    line: /this\.backend\.canReadSync \? JSON\.stringify\(this\.toArray\(\)\)/,
    reason: "toString() shows values only where the backend can read synchronously",
  },
  {
    path: "packages/core/src/ops/indexing.ts",
    line: /^\s*if \(index\.backend\.canReadSync\) return index\.dataSync\(\);$/,
    reason: "host-side index validation, guarded by canReadSync (asynchronous backends get a clear error instead)",
  },
  {
    path: "packages/core/src/backend/gpujs/gpujs-backend.ts",
    line: /^\s*s\.handle\.toArray\(\)\.then\(resolve, reject\);$/,
    reason: "gpu.js's WebGPUBufferResult.toArray() is its asynchronous readback (it returns a Promise)",
  },
  {
    path: "packages/core/src/backend/gpujs/probes.ts",
    line: /^\s*result = await \(result as \{ toArray\(\): Promise<unknown> \}\)\.toArray\(\);$/,
    reason: "the same asynchronous WebGPU readback, in the trap probes",
  },
];

function syncReadbacks(sources: readonly Source[], allowed: readonly Allowed[]): { violations: string[]; unused: Allowed[] } {
  const used = new Set<Allowed>();
  const violations: string[] = [];
  for (const s of sources) {
    if (!/^packages\/[^/]+\/src\//.test(s.path) || /\/src\/(testing|examples)\//.test(s.path)) continue;
    code(s.text).forEach((text, i) => {
      const m = /\.(dataSync|toArray|item)\(/.exec(text);
      if (!m) return;
      const allowance = allowed.find((a) => a.path === s.path && a.line.test(text));
      if (allowance) used.add(allowance);
      else violations.push(`${s.path}:${i + 1}: calls .${m[1]}() (use await data(), array() or itemAsync())`);
    });
  }
  return { violations, unused: allowed.filter((a) => !used.has(a)) };
}

// ---- on the repository ----------------------------------------------------------------------------

const repo = suite("the repository follows the layering rules");

// the library packages' sources, and the code that runs on top of them (the command, the experiments,
// the benchmarks, the page)
const sources = loadSources([
  ...[...foldersOf("packages"), ...foldersOf("apps"), ...foldersOf("experiments")].map((d) => `${d}/src`),
  "benchmarks",
  "web/src",
]);

repo("the walk finds the sources", () => {
  const paths = new Set(sources.map((s) => s.path));
  for (const expected of ["packages/core/src/tensor.ts", "packages/core/src/ops/indexing.ts", "packages/core/src/backend/backend.ts"]) {
    assert.ok(paths.has(expected), `${expected} not found`);
  }
  assert.not.ok(
    [...paths].some((p) => p.includes("node_modules")),
    "node_modules was walked",
  );
});

repo("core imports no other package; nn imports nothing of hyra, models or benchmarks", () => {
  assert.equal(importsAcrossLayers(sources), []);
});

repo("core's modules import each other without a cycle (type-only imports aside)", () => {
  assert.equal(coreImportCycles(sources), []);
});

repo("no package but core touches a DataBuffer or a Storage", () => {
  assert.equal(coreInternalsOutsideCore(sources), []);
});

repo("only the gpu.js backend imports gpu.js or webgpu", () => {
  assert.equal(gpuImports(sources), []);
});

repo("ops and composites never import the reference backend", () => {
  assert.equal(opsReachingIntoBackends(sources), []);
});

repo("backends never import tensor.ts, autograd.ts or memory.ts", () => {
  assert.equal(backendsSeeingTensors(sources), []);
});

repo("library code never reads back synchronously, except the documented places", () => {
  const { violations, unused } = syncReadbacks(sources, SYNC_READBACK_ALLOWED);
  assert.equal(violations, []);
  assert.equal(
    unused.map((a) => `${a.path}: ${a.line} (${a.reason})`),
    [],
    "an allowance no longer matches anything: remove it, or, if the code moved, update it",
  );
});

// ---- the rules can fail -----------------------------------------------------------------------------

const fixtures = suite("each rule catches a violation");

fixtures("an import up the layers, by package name or by relative path, type-only included", () => {
  const found = importsAcrossLayers([
    { path: "packages/core/src/ops/x.ts", text: 'import { fail } from "../errors.ts";\nimport type { Module } from "@tsgrad/nn";\n' },
    {
      path: "packages/core/src/testing/y.ts",
      text: 'import { x } from "../../../hyra/src/index.ts";\nimport { t } from "@tsgrad/core";\n',
    },
    { path: "packages/core/src/z.ts", text: 'const b = await import("../../../benchmarks/src/harness.ts");\n' },
    {
      path: "packages/nn/src/layer.ts",
      text: 'import { tensor } from "@tsgrad/core";\nimport { getPeftModel } from "@tsgrad/hyra/peft";\n',
    },
    { path: "packages/nn/src/other.ts", text: '// import "@tsgrad/hyra" in a comment is fine\nexport * from "../../models/src/gpt.ts";\n' },
    { path: "packages/hyra/src/a.ts", text: 'import { Module } from "@tsgrad/nn";\n' },
  ]);
  assert.equal(found, [
    'packages/core/src/ops/x.ts:2: imports "@tsgrad/nn" (core is the bottom layer: it imports no other package)',
    'packages/core/src/testing/y.ts:1: imports "../../../hyra/src/index.ts" (core is the bottom layer: it imports no other package)',
    'packages/core/src/z.ts:1: imports "../../../benchmarks/src/harness.ts" (core is the bottom layer: it imports no other package)',
    'packages/nn/src/layer.ts:2: imports "@tsgrad/hyra/peft" (nn is below hyra, models and benchmarks)',
    'packages/nn/src/other.ts:2: imports "../../models/src/gpt.ts" (nn is below hyra, models and benchmarks)',
  ]);
});

fixtures("an import cycle in core, but not through type-only imports, comments, or outside core", () => {
  const file = (name: string, ...imports: string[]) => ({ path: `packages/core/src/${name}`, text: imports.join("\n") });
  const found = coreImportCycles([
    file("tensor.ts", 'import { add } from "./ops/elementwise.ts";', 'import type { OpDef } from "./ops/registry.ts";'),
    file("ops/elementwise.ts", 'import {\n  apply,\n  defineOp,\n} from "./registry.ts";', 'import type { Tensor } from "../tensor.ts";'),
    file("ops/registry.ts", 'import { Tensor } from "../tensor.ts";'),
    file("memory.ts", 'import type { Tensor } from "./tensor.ts";', 'import "./memory.ts";'),
    // an import whose names are all marked `type` still loads its module (verbatimModuleSyntax keeps it)
    file("shape.ts", 'import { type DType } from "./dtype.ts";'),
    file("dtype.ts", 'export type { Shape } from "./shape.ts";'),
    file("errors.ts", '// import { checkTensor } from "./args.ts";'),
    file("args.ts", 'import { fail } from "./errors.ts";'),
    { path: "packages/nn/src/a.ts", text: 'import "./a.ts";' },
  ]);
  assert.equal(found, [
    ["packages/core/src/memory.ts"],
    ["packages/core/src/ops/elementwise.ts", "packages/core/src/ops/registry.ts", "packages/core/src/tensor.ts"],
  ]);
});

fixtures("DataBuffer and Storage outside core, but not in comments or in core", () => {
  const found = coreInternalsOutsideCore([
    {
      path: "packages/nn/src/m.ts",
      text: 'const b = t.buffer("x");\n// t.buffer("x") in a comment\nimport type { Storage } from "@tsgrad/core";\n',
    },
    { path: "packages/hyra/src/h.ts", text: 'const s = t.operand("h").storage;\nconst bytes = view.buffer.byteLength;\n' },
    { path: "benchmarks/src/b.ts", text: "let d: DataBuffer;\nif (b.hostCopy) {}\n" },
    { path: "packages/core/src/memory.ts", text: "export class DataBuffer {}\n" },
  ]);
  assert.equal(found, [
    "packages/nn/src/m.ts:1: touches .buffer() (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))",
    "packages/nn/src/m.ts:3: touches Storage (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))",
    "packages/hyra/src/h.ts:1: touches .operand() (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))",
    "packages/hyra/src/h.ts:1: touches .storage (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))",
    "benchmarks/src/b.ts:1: touches DataBuffer (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))",
    "benchmarks/src/b.ts:2: touches hostCopy (core's; use t.version(), t.sharesStorage(u) or new Tensor(source))",
  ]);
});

fixtures("gpu.js and webgpu imports outside the gpujs backend, with file:line", () => {
  const found = gpuImports([
    { path: "packages/nn/src/layer.ts", text: '// import "gpu.js" in a comment is fine\nimport { GPU } from "gpu.js";\n' },
    { path: "benchmarks/bench.ts", text: 'const w = await import("webgpu");\n' },
    { path: "packages/core/src/backend/gpujs/gpujs-backend.ts", text: 'import { GPU } from "gpu.js";\n' },
    { path: "packages/core/src/ops/x.ts", text: 'export { create } from "webgpu/lib";\n' },
  ]);
  assert.equal(found, [
    'packages/nn/src/layer.ts:2: imports "gpu.js" (only packages/core/src/backend/gpujs/ may)',
    'benchmarks/bench.ts:1: imports "webgpu" (only packages/core/src/backend/gpujs/ may)',
    'packages/core/src/ops/x.ts:1: imports "webgpu/lib" (only packages/core/src/backend/gpujs/ may)',
  ]);
});

fixtures("an op importing the reference backend", () => {
  const found = opsReachingIntoBackends([
    {
      path: "packages/core/src/ops/fast.ts",
      text: 'import type { X } from "../backend/backend.ts";\nimport { gatherOffsets } from "../backend/reference/reference-backend.ts";\n',
    },
    { path: "packages/core/src/composite/a.ts", text: 'import {\n  erf,\n} from "../backend/reference/erf.ts";\n' },
  ]);
  assert.equal(found, [
    'packages/core/src/ops/fast.ts:2: imports "../backend/reference/reference-backend.ts" (ops go through the Backend interface)',
    'packages/core/src/composite/a.ts:3: imports "../backend/reference/erf.ts" (ops go through the Backend interface)',
  ]);
});

fixtures("a backend importing the tensor side, type-only imports included", () => {
  const found = backendsSeeingTensors([
    {
      path: "packages/core/src/backend/reference/k.ts",
      text: 'import type { Tensor } from "../../tensor.ts";\nimport { fail } from "../../errors.ts";\n',
    },
    { path: "packages/core/src/backend/gpujs/g.ts", text: '\n\nimport { tidy } from "../../memory.ts";\n' },
    { path: "packages/core/src/backend/w.ts", text: 'import { backward } from "../autograd.ts";\n' },
  ]);
  assert.equal(found, [
    'packages/core/src/backend/reference/k.ts:1: imports "../../tensor.ts" (backends see only storage)',
    'packages/core/src/backend/gpujs/g.ts:3: imports "../../memory.ts" (backends see only storage)',
    'packages/core/src/backend/w.ts:1: imports "../autograd.ts" (backends see only storage)',
  ]);
});

fixtures("synchronous readback in library code, but not in testing helpers or comments", () => {
  const { violations, unused } = syncReadbacks(
    [
      { path: "packages/nn/src/linear.ts", text: "const n = x.sum().item();\n// x.dataSync() in a comment\nconst v = y.toArray();\n" },
      { path: "packages/core/src/testing/helper.ts", text: "x.dataSync();\n" },
      {
        path: "packages/core/src/ops/indexing.ts",
        text: "  if (index.backend.canReadSync) return index.dataSync();\n  return index.dataSync();\n",
      },
      { path: "packages/core/test/x.test.ts", text: "x.item();\n" },
    ],
    SYNC_READBACK_ALLOWED,
  );
  assert.equal(violations, [
    "packages/nn/src/linear.ts:1: calls .item() (use await data(), array() or itemAsync())",
    "packages/nn/src/linear.ts:3: calls .toArray() (use await data(), array() or itemAsync())",
    // the unguarded call in the allowlisted file is still caught
    "packages/core/src/ops/indexing.ts:2: calls .dataSync() (use await data(), array() or itemAsync())",
  ]);
  // the tensor.ts and gpujs allowances were not used by these fixtures
  assert.is(unused.length, 5);
});

repo.run();
fixtures.run();

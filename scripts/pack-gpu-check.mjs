#!/usr/bin/env node
// Assembles a self-contained folder (and a .tar.gz of it) that runs scripts/gpu-check.ts on a machine
// with Node 20 and no network: core's sources and test specs, a slim copy of the installed packages it
// needs (gpu.js, webgpu with only its linux-x64 Dawn binary, tsx and esbuild for linux-x64, fast-check,
// seedrandom), Debian's libvulkan1 loader as a .deb, and run.sh. Must stay under 64 MiB.
//
//     node scripts/pack-gpu-check.mjs [out-dir]      (default: dist/gpu-check)
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = process.argv[2] ?? join(root, "dist/gpu-check");
const LIMIT = 64 * 2 ** 20;
// packages gpu-check.ts loads, and their dependencies; gpu.js's own webgpu@0.2.9 and its optional
// headless-gl are never imported, and Dawn builds for other platforms are dropped
const ROOTS = ["gpu.js", "webgpu", "tsx", "fast-check", "seedrandom"];
const SKIP = new Set(["gl", "@webgpu/types", "@types/node", "debug"]);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "node_modules"), { recursive: true });

/** Copies a package (following pnpm's symlinks) and, recursively, its dependencies, flat. */
const copied = new Map();
function copyPackage(name, fromDir) {
  if (SKIP.has(name) || copied.has(name)) return;
  const require = createRequire(join(fromDir, "package.json"));
  let manifest;
  try {
    manifest = require.resolve(`${name}/package.json`);
  } catch {
    return; // an optional dependency that is not installed for this platform
  }
  const dir = realpathSync(dirname(manifest));
  const pkg = JSON.parse(readFileSync(manifest, "utf8"));
  if (name === "webgpu" && pkg.version !== "0.3.10") throw new Error(`expected webgpu 0.3.10, found ${pkg.version}`);
  copied.set(name, pkg.version);
  const target = join(out, "node_modules", name);
  cpSync(dir, target, {
    recursive: true,
    dereference: true,
    filter: (src) => {
      const rel = relative(dir, src);
      if (rel.split("/")[0] === "node_modules") return false;
      if (name === "webgpu" && rel.startsWith("dist/") && rel !== "dist/linux-x64.dawn.node") return false;
      return !/\.(md|map|ts\.map)$/.test(rel) || rel === "package.json";
    },
  });
  const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
  for (const dep of Object.keys(deps)) {
    if (name === "gpu.js" && dep === "webgpu") continue;
    if (dep.startsWith("@esbuild/") && dep !== "@esbuild/linux-x64") continue;
    copyPackage(dep, dir);
  }
}
const corePackage = join(root, "packages/core");
for (const name of ROOTS) copyPackage(name, name === "tsx" ? root : corePackage);

// the sources gpu-check.ts imports
for (const path of ["packages/core/src", "packages/core/test/gpujs", "packages/core/package.json", "scripts/gpu-check.ts"]) {
  cpSync(join(root, path), join(out, path), { recursive: true });
}
writeFileSync(join(out, "package.json"), `${JSON.stringify({ name: "tsgrad-gpu-check", private: true, type: "module" }, null, 2)}\n`);
// core's own imports (gpu.js, seedrandom, ...) resolve by walking up to the flat node_modules

// Debian's Vulkan loader, for machines that have the NVIDIA driver but not libvulkan1
const debDir = join(out, "debs");
mkdirSync(debDir);
try {
  execFileSync("apt-get", ["download", "libvulkan1"], { cwd: debDir, stdio: "inherit" });
} catch {
  console.warn("pack-gpu-check: apt-get download libvulkan1 failed; run.sh will need the machine's own libvulkan1");
}

writeFileSync(
  join(out, "run.sh"),
  `#!/usr/bin/env bash
# Runs the gpu.js WebGPU check offline: parity suite, matmul timing, one training step.
# Usage: ./run.sh [--out report.json] [--sizes 1024,2048,4096] [--runs 10]
set -euo pipefail
cd "$(dirname "$0")"
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\\.so\\.1'; then
  # no Vulkan loader installed: unpack Debian's libvulkan1 next to the script
  if [ ! -d vulkan ] && ls debs/libvulkan1_*.deb >/dev/null 2>&1; then
    mkdir -p vulkan && dpkg-deb -x debs/libvulkan1_*.deb vulkan
  fi
  export LD_LIBRARY_PATH="$PWD/vulkan/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export XDG_RUNTIME_DIR="\${XDG_RUNTIME_DIR:-$(mktemp -d)}"
exec node --import ./node_modules/tsx/dist/loader.mjs scripts/gpu-check.ts "$@"
`,
  { mode: 0o755 },
);

function du(dir) {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    total += s.isDirectory() ? du(path) : s.size;
  }
  return total;
}
const size = du(out);
const tarball = `${out}.tar.gz`;
execFileSync("tar", ["-czf", tarball, "-C", dirname(out), relative(dirname(out), out)]);
console.log(`packages: ${[...copied].map(([n, v]) => `${n}@${v}`).join(", ")}`);
console.log(`${out}: ${(size / 2 ** 20).toFixed(1)} MiB unpacked; ${tarball}: ${(statSync(tarball).size / 2 ** 20).toFixed(1)} MiB`);
if (size > LIMIT) {
  console.error(`pack-gpu-check: ${(size / 2 ** 20).toFixed(1)} MiB is over the 64 MiB limit`);
  process.exit(1);
}
if (!existsSync(join(out, "node_modules/webgpu/dist/linux-x64.dawn.node"))) process.exit(1);

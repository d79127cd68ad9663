#!/usr/bin/env node
// Builds the package in the current directory for its tarball (`pnpm pack` runs it as `prepack`): tsc's
// emit of src/ into dist/ (ESM JavaScript with declarations and source maps, .ts import extensions
// rewritten to .js), plus the hand-written .d.ts files, which tsc reads but does not copy. The workspace
// itself never needs this: its packages export their TypeScript sources.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = process.cwd();
if (!existsSync(join(dir, "tsconfig.build.json"))) {
  console.error(`build-package: ${dir} has no tsconfig.build.json`);
  process.exit(2);
}
rmSync(join(dir, "dist"), { recursive: true, force: true });
execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], { cwd: dir, stdio: "inherit" });

const walk = (d) => readdirSync(d).flatMap((name) => (statSync(join(d, name)).isDirectory() ? walk(join(d, name)) : [join(d, name)]));
for (const file of walk(join(dir, "src")).filter((f) => f.endsWith(".d.ts"))) {
  const target = join(dir, "dist", relative(join(dir, "src"), file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}

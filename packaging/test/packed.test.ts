/**
 * @file tsgrad as a user outside the workspace gets it: every package packed with `pnpm pack` (which
 * builds it and rewrites the workspace protocol), the tarballs installed with plain npm into a new
 * project, the README's "Use it in your project" sample type-checked with tsc against the shipped
 * declarations and run with plain `node`, and the same program run from a CommonJS project through
 * require().
 */

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readmeSample } from "@tsgrad/core/testing/node";
import { suite } from "uvu";
import * as assert from "uvu/assert";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PACKAGES = ["core", "safetensors", "nn", "hyra", "models"];
const scratch = mkdtempSync(join(tmpdir(), "tsgrad-packed-"));
const packs = join(scratch, "packs");

// a user's environment: none of the test runner's TSGRAD_* settings (its strict-async reference backend)
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TSGRAD_")));

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** A new project with the tarballs installed by plain npm; returns how long the install took. */
function project(name: string, manifest: Record<string, unknown>): { dir: string; seconds: number } {
  const dir = join(scratch, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, ...manifest }, null, 2));
  const tarballs = readdirSync(packs).map((f) => join(packs, f));
  const started = performance.now();
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], dir);
  return { dir, seconds: (performance.now() - started) / 1000 };
}

function tarList(tarball: string): string[] {
  return run("tar", ["-tzf", tarball], scratch).split("\n").filter(Boolean);
}

function packedManifest(tarball: string): Record<string, unknown> {
  return JSON.parse(run("tar", ["-xOzf", tarball, "package/package.json"], scratch));
}

const test = suite("the packed packages");

test.before(() => {
  mkdirSync(packs);
  for (const name of PACKAGES) run("npx", ["-y", "pnpm@12.4.2", "pack", "--pack-destination", packs], join(ROOT, "packages", name));
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test("every tarball's exports point at built files inside it, and no workspace: version is left", () => {
  const tarballs = readdirSync(packs);
  assert.equal(tarballs.length, PACKAGES.length, tarballs.join(", "));
  for (const tarball of tarballs.map((f) => join(packs, f))) {
    const files = new Set(tarList(tarball));
    const manifest = packedManifest(tarball);
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === "string") targets.push(value);
      else if (value && typeof value === "object") for (const v of Object.values(value)) collect(v);
    };
    collect(manifest.exports);
    collect(manifest.imports);
    assert.ok(targets.length > 0, `${tarball}: no exports`);
    for (const target of targets) {
      assert.match(target, /^\.\/dist\/.*\.(js|d\.ts)$/, `${tarball}: ${target} is not a built file`);
      assert.ok(files.has(`package/${target.slice(2)}`), `${tarball}: ${target} is not in the tarball`);
    }
    assert.not.match(JSON.stringify(manifest), /workspace:/, `${tarball} still says workspace:`);
  }
});

test("the README sample type-checks against the shipped declarations and runs with plain node", () => {
  const { dir, seconds } = project("esm-project", { type: "module" });
  console.log(`  npm install of the ${PACKAGES.length} tarballs: ${seconds.toFixed(1)} s`);
  // nothing asked for a GPU backend, so neither gpu.js (and its native gl build) nor Dawn was installed
  for (const absent of ["gpu.js", "gl", "webgpu"]) assert.not.ok(existsSync(join(dir, "node_modules", absent)), `${absent} was installed`);
  writeFileSync(join(dir, "sample.ts"), readmeSample(join(ROOT, "README.md"), "## Use it in your project"));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: [], skipLibCheck: false },
      files: ["sample.ts"],
    }),
  );
  run(join(ROOT, "node_modules/.bin/tsc"), ["-p", "."], dir);
  const out = run(process.execPath, ["sample.js"], dir);
  checkOutput(out);
  assert.ok(existsSync(join(dir, "my-adapter", "adapter_model.safetensors")));
  // asking for a GPU backend without its optional peers says what to install
  const gpu = 'import("@tsgrad/core").then((c) => c.setBackend("gpujs:cpu")).catch((e) => console.log(e.message));';
  assert.match(
    run(process.execPath, ["--input-type=module", "-e", gpu], dir),
    /need gpu\.js, an optional peer dependency of @tsgrad\/core: npm install gpu\.js@2\.24\.1/,
  );
});

test("the same program runs from a CommonJS project through require()", () => {
  const { dir } = project("cjs-project", { type: "commonjs" });
  cpSync(join(ROOT, "packaging/sample/sample.cjs"), join(dir, "sample.cjs"));
  checkOutput(run(process.execPath, ["sample.cjs"], dir));
});

function checkOutput(out: string): void {
  const m = /loss (\d+\.\d+) -> (\d+\.\d+); the reloaded adapter gives the same outputs: (true|false)/.exec(out);
  assert.ok(m, `unexpected output: ${out}`);
  const [before, after] = [Number(m?.[1]), Number(m?.[2])];
  assert.ok(after < before, `the loss did not fall: ${before} -> ${after}`);
  assert.is(m?.[3], "true", out);
}

test.run();

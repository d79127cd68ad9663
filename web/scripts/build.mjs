#!/usr/bin/env node
// Builds the page into web/dist with esbuild (a well-kept bundler that is already in the workspace, as
// tsx's engine): main.js (the page) and worker.js (tsgrad), ES modules for browsers, so core resolves
// its "#spawn-worker" seam to the Web Worker version; gpu.js, loaded only when WebGPU is asked for,
// becomes a chunk of its own. Then it copies index.html, the data subset and the committed backbone.
//
//   node web/scripts/build.mjs
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const web = fileURLToPath(new URL("..", import.meta.url));
const dist = join(web, "dist");
rmSync(dist, { recursive: true, force: true });
// one gpu.js: its sources, which core's WebGPU seam also imports (gpu.js's browser field would give a
// second, separately bundled copy with a WebGPU device of its own)
const oneGpujs = {
  name: "one-gpu.js",
  setup(b) {
    b.onResolve({ filter: /^gpu\.js$/ }, (args) =>
      b.resolve("gpu.js/src/index.js", { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer }),
    );
  },
};

const result = await build({
  entryPoints: { main: join(web, "src/main.ts"), worker: join(web, "src/worker.ts") },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  // Node-only modules gpu.js's sources require where they run under Node (Dawn, headless-gl, its
  // WebAssembly worker pool); a browser has WebGPU of its own and never reaches them
  external: ["webgpu", "gl", "worker_threads", "fs", "path", "os", "child_process"],
  plugins: [oneGpujs],
});
mkdirSync(join(dist, "backbone"), { recursive: true });
mkdirSync(join(dist, "data"), { recursive: true });
copyFileSync(join(web, "src/index.html"), join(dist, "index.html"));
copyFileSync(join(web, "data/spam.json"), join(dist, "data/spam.json"));
for (const file of ["config.json", "model.safetensors", "tokenizer.json"]) {
  copyFileSync(join(web, "../pretrained/gpt-text", file), join(dist, "backbone", file));
}
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(
  `built web/dist: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB of JavaScript and maps`,
);

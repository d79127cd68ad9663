#!/usr/bin/env node
// Serves web/dist on http://localhost:8080 (or --port N) with the headers that make the page
// cross-origin isolated (COOP same-origin, COEP require-corp): only then does a browser give it
// SharedArrayBuffer, which the wasm backend's second thread needs. Only files inside web/dist are served.
//
//   node web/scripts/serve.mjs [--port 8080]
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".safetensors": "application/octet-stream",
};

/** Starts the server on `port` (0: any free one); resolves to it once it listens. */
export function serve(root, port) {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cache-Control": "no-store",
    };
    let size = -1;
    try {
      if (file.startsWith(root + sep) && statSync(file).isFile()) size = statSync(file).size;
    } catch {}
    if (size < 0 || request.method !== "GET") {
      response.writeHead(404, headers).end("not found");
      return;
    }
    response.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": size });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8080" } } });
  const root = fileURLToPath(new URL("../dist", import.meta.url));
  const server = await serve(root, Number(values.port));
  console.log(`serving ${root} at http://localhost:${server.address().port}/ (cross-origin isolated); Ctrl-C stops it`);
}

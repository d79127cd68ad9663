#!/usr/bin/env node
// Serves web/dist on http://localhost:8080 (or --port N) with the headers that make the page
// cross-origin isolated (COOP same-origin, COEP require-corp): only then does a browser give it
// SharedArrayBuffer, which the wasm backend's second thread needs. Only regular files inside web/dist are
// served, never through a link; a path that does not decode is answered 400, and no request ends the server.
//
//   node web/scripts/serve.mjs [--port 8080]
import { createReadStream, lstatSync, realpathSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".safetensors": "application/octet-stream",
};

const HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cache-Control": "no-store",
};

/**
 * The regular file a request path names inside `root` (whose real path is `realRoot`), or why not:
 * 400 for a path that does not decode, 404 for anything outside the folder, missing, not a regular file,
 * or reached through a symbolic link (the folder's own files only, never what a link points to).
 */
function resolveFile(root, realRoot, url) {
  let path;
  try {
    path = decodeURIComponent(new URL(url, "http://localhost").pathname);
  } catch {
    return { status: 400, reason: "bad request: the path is not a URL path or not valid percent-encoding" };
  }
  if (path.includes("\0")) return { status: 400, reason: "bad request: the path holds a NUL" };
  const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
  if (!file.startsWith(root + sep)) return { status: 404, reason: "not found" };
  try {
    const stat = lstatSync(file);
    // realpath differs from the path when any folder on the way is a link
    if (!stat.isFile() || realpathSync(file) !== join(realRoot, relative(root, file))) return { status: 404, reason: "not found" };
    return { status: 200, file, size: stat.size };
  } catch {
    return { status: 404, reason: "not found" };
  }
}

/** Starts the server on `port` (0: any free one); resolves to it once it listens. */
export function serve(root, port) {
  const realRoot = realpathSync(root);
  const server = createServer((request, response) => {
    const found = request.method === "GET" ? resolveFile(root, realRoot, request.url ?? "/") : null;
    if (found === null || found.status !== 200) {
      response.writeHead(found?.status ?? 405, HEADERS).end(found?.reason ?? "only GET is served");
      return;
    }
    response.writeHead(200, {
      ...HEADERS,
      "Content-Type": TYPES[extname(found.file)] ?? "application/octet-stream",
      "Content-Length": found.size,
    });
    const stream = createReadStream(found.file);
    // a file that vanishes or fails mid-read ends this response, never the server
    stream.on("error", () => response.destroy());
    stream.pipe(response);
  });
  // a malformed request (bad headers, a reset connection) ends its socket, not the server
  server.on("clientError", (_error, socket) => socket.destroy());
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8080" } } });
  const root = fileURLToPath(new URL("../dist", import.meta.url));
  const server = await serve(root, Number(values.port));
  console.log(`serving ${root} at http://localhost:${server.address().port}/ (cross-origin isolated); Ctrl-C stops it`);
}

/**
 * @file The page's server: a path that does not decode is answered 400 and the server goes on serving;
 * links inside the served folder are not followed (a link to a file, a link to a folder); only regular
 * files inside the folder, and only to GET; a malformed request ends its own connection, not the server.
 */

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { serve } from "../scripts/serve.mjs";

const outside = mkdtempSync(join(tmpdir(), "tsgrad-serve-outside-"));
writeFileSync(join(outside, "secret.txt"), "secret");
const root = mkdtempSync(join(tmpdir(), "tsgrad-serve-"));
writeFileSync(join(root, "index.html"), "<p>page</p>");
mkdirSync(join(root, "data"));
writeFileSync(join(root, "data", "spam.json"), "{}");
symlinkSync(join(outside, "secret.txt"), join(root, "link.txt"));
symlinkSync(outside, join(root, "linked"));

let server: Server;
let base = "";
test.before(async () => {
  server = await serve(root, 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const get = async (path: string, init?: RequestInit) => {
  const response = await fetch(`${base}${path}`, init);
  return { status: response.status, text: await response.text(), coop: response.headers.get("cross-origin-opener-policy") };
};

test("the folder's files are served with the isolation headers", async () => {
  assert.equal(await get("/"), { status: 200, text: "<p>page</p>", coop: "same-origin" });
  assert.is((await get("/data/spam.json")).text, "{}");
});

test("a path that does not decode is a 400, and the server keeps serving", async () => {
  for (const path of ["/%", "/%E0%A4%A", "/data/%zz"]) assert.is((await get(path)).status, 400, path);
  assert.is((await get("/index.html")).status, 200);
});

test("a request target that is not a URL path is a 400 too, and the server keeps serving", async () => {
  const answer = await new Promise<string>((resolve) => {
    let data = "";
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1", () => socket.write("GET //[ HTTP/1.1\r\nHost: x\r\n\r\n"));
    socket.on("data", (chunk) => {
      data += chunk;
      socket.end();
    });
    socket.on("close", () => resolve(data));
    socket.on("error", () => resolve(data));
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.is((await get("/")).status, 200);
});

test("links inside the folder are not followed, to a file or to a folder", async () => {
  assert.equal(await get("/link.txt"), { status: 404, text: "not found", coop: "same-origin" });
  assert.is((await get("/linked/secret.txt")).status, 404);
  assert.is((await get("/%2e%2e/%2e%2e/etc/passwd")).status, 404);
  assert.is((await get("/data")).status, 404, "a folder is not a file");
});

test("only GET is served; a malformed request ends its connection, not the server", async () => {
  assert.is((await get("/index.html", { method: "POST", body: "x" })).status, 405);
  await new Promise<void>((resolve) => {
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1", () => socket.write("NOT HTTP\r\n\r\n"));
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
  });
  assert.is((await get("/")).status, 200);
});

test.run();

/**
 * @file The browser's worker seam of the wasm backend, with a stand-in for the browser's Worker: a worker
 * that cannot be made (a page whose policy forbids blob: workers) rejects with the reason and revokes
 * its blob URL, as a worker that fails after starting does.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";

const made: string[] = [];
const revoked: string[] = [];
const createObjectURL = URL.createObjectURL;
URL.createObjectURL = (blob: Blob) => {
  const url = createObjectURL(blob);
  made.push(url);
  return url;
};
URL.revokeObjectURL = (url: string) => {
  revoked.push(url);
};
let behaviour: "throw" | "error" = "throw";
(globalThis as { Worker?: unknown }).Worker = class {
  onerror: ((event: { message: string }) => void) | null = null;
  onmessage: (() => void) | null = null;
  constructor() {
    if (behaviour === "throw") throw new Error("Refused to create a worker from 'blob:' (Content Security Policy)");
    setTimeout(() => this.onerror?.({ message: "SyntaxError in the worker" }), 0);
  }
  postMessage() {}
  terminate() {}
};
// the seam reads the Worker constructor when it loads
const { spawnWorker } = await import("../src/backend/wasm/spawn-worker-browser.ts");

test("a Worker constructor that throws: rejected with its reason, the blob URL revoked", async () => {
  behaviour = "throw";
  made.length = revoked.length = 0;
  try {
    await spawnWorker("ready();", {});
    assert.unreachable("spawnWorker resolved");
  } catch (error) {
    assert.match((error as Error).message, /the wasm backend's worker failed to start: Refused to create a worker/);
  }
  assert.is(made.length, 1);
  assert.equal(revoked, made);
});

test("a worker that fails once started: rejected, the blob URL revoked", async () => {
  behaviour = "error";
  made.length = revoked.length = 0;
  try {
    await spawnWorker("ready();", {});
    assert.unreachable("spawnWorker resolved");
  } catch (error) {
    assert.match((error as Error).message, /failed to start: SyntaxError in the worker/);
  }
  assert.equal(revoked, made);
});

test.run();

/**
 * @file How the wasm backend starts its worker thread in Node (worker_threads). Code imports this seam
 * as "#spawn-worker": core's package.json maps it to this file, and to spawn-worker-browser.ts under the
 * "browser" condition that bundlers set, so that no browser bundle ever sees node:worker_threads.
 */

import { MessageChannel, Worker } from "node:worker_threads";

export interface SpawnedWorker {
  terminate(): void;
}

/** Whether threads can share memory here at all. */
export function canShareMemory(): boolean {
  return typeof SharedArrayBuffer === "function" && typeof Atomics === "object";
}

/**
 * Starts a worker running `source` with `data` as `workerData` and a `ready()` function to call once it
 * is set up; resolves when it has. The worker never keeps the process alive.
 */
export function spawnWorker(source: string, data: Record<string, unknown>): Promise<SpawnedWorker> {
  const { port1, port2 } = new MessageChannel();
  const prelude = "const { workerData } = require('node:worker_threads'); const ready = () => workerData.port.postMessage('ready');";
  const worker = new Worker(prelude + source, { eval: true, workerData: { ...data, port: port2 }, transferList: [port2] });
  worker.unref();
  return new Promise((resolve, reject) => {
    worker.once("error", (error) => {
      port1.close();
      reject(error);
    });
    port1.once("message", () => {
      port1.close();
      resolve({ terminate: () => void worker.terminate() });
    });
  });
}

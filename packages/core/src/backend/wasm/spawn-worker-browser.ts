/**
 * @file How the wasm backend starts its worker thread in a browser: a Web Worker from a Blob, running the
 * same source as in Node. The module and the shared memory reach it by postMessage (both can be cloned
 * into a worker of the same page). The thread that runs tensors must itself be a worker: a page's main
 * thread may not block in Atomics.wait.
 */

export interface SpawnedWorker {
  terminate(): void;
}

// a browser's Worker, as far as this file uses it (core compiles against Node's types, which lack it)
interface WebWorker extends SpawnedWorker {
  onerror: ((event: { message: string }) => void) | null;
  onmessage: (() => void) | null;
  postMessage(data: unknown): void;
}
const WebWorker = (globalThis as unknown as { Worker: new (url: string) => WebWorker }).Worker;

/**
 * Whether threads can share memory here: only on a cross-origin isolated page (COOP and COEP headers),
 * and only in a worker, since a page's main thread may not block in Atomics.wait (there the backend
 * runs one thread).
 */
export function canShareMemory(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; WorkerGlobalScope?: unknown };
  const inWorker = typeof g.WorkerGlobalScope === "function";
  return inWorker && g.crossOriginIsolated !== false && typeof SharedArrayBuffer === "function" && typeof Atomics === "object";
}

/** Starts a worker running `source` with `data` as `workerData`; resolves once it has called `ready()`. */
export function spawnWorker(source: string, data: Record<string, unknown>): Promise<SpawnedWorker> {
  const body = `self.onmessage = (event) => {\nself.onmessage = null;\nconst workerData = event.data;\nconst ready = () => self.postMessage("ready");\n${source}\n};`;
  const url = URL.createObjectURL(new Blob([body], { type: "text/javascript" }));
  let worker: WebWorker;
  try {
    worker = new WebWorker(url);
  } catch (error) {
    // a page whose policy forbids blob: workers throws here: the URL would otherwise stay alive
    URL.revokeObjectURL(url);
    return Promise.reject(new Error(`the wasm backend's worker failed to start: ${(error as Error).message}`));
  }
  return new Promise((resolve, reject) => {
    worker.onerror = (event) => {
      URL.revokeObjectURL(url);
      worker.terminate();
      reject(new Error(`the wasm backend's worker failed to start: ${event.message}`));
    };
    worker.onmessage = () => {
      URL.revokeObjectURL(url);
      worker.onerror = null;
      resolve({ terminate: () => worker.terminate() });
    };
    worker.postMessage(data);
  });
}

import { matmul, randn, setBackend, type WasmBackend } from "./src/index.ts";

const be = (await setBackend("wasm", { threads: 2 })) as WasmBackend;
await be.ready;
for (const n of [64, 256]) {
  const a = randn([n, n]).keep(),
    b = randn([n, n]).keep();
  for (let i = 0; i < 3000; i++) matmul(a, b).dispose();
  (globalThis as any).__mine = 0;
  (globalThis as any).__wait = 0;
  const N = 3000;
  const t = performance.now();
  for (let i = 0; i < N; i++) matmul(a, b).dispose();
  console.log(
    n,
    "total",
    (((performance.now() - t) / N) * 1000).toFixed(1),
    "µs; mine",
    (((globalThis as any).__mine / N) * 1000).toFixed(1),
    "wait",
    (((globalThis as any).__wait / N) * 1000).toFixed(1),
  );
}

import { exp, randn, setBackend, softmax, tidy, type WasmBackend } from "./src/index.ts";

for (const threads of [1, 2]) {
  const be = (await setBackend("wasm", { threads })) as WasmBackend;
  await be.ready;
  const x = randn([512, 512]).keep();
  for (const [name, f] of [
    ["softmax", () => softmax(x)],
    ["exp", () => exp(x)],
  ] as const) {
    for (let i = 0; i < 50; i++) f().dispose();
    const t0 = performance.now();
    const n = 400;
    for (let i = 0; i < n; i++) f().dispose();
    console.log(threads, name, ((performance.now() - t0) / n).toFixed(3), "ms");
  }
}

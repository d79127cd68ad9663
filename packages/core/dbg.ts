import { setBackend, tensor, tidy } from "./src/index.ts";

const be = await setBackend("wasm", { threads: 1 });
const x = tensor(new Float32Array(16).fill(0.1)).keep().requiresGrad_();
const t0 = performance.now();
for (let r = 0; r < 300; r++) {
  x.zeroGrad();
  tidy(() => {
    let h = x;
    for (let s = 0; s < 333; s++) {
      h = h.mul(0.9).add(0.01).tanh();
    }
    const y = h.sum();
    y.backward();
    return y;
  }).dispose();
}
console.log(((performance.now() - t0) / 300 / 1000) * 1000, "µs per op");

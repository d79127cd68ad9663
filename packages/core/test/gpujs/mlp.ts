/**
 * @file A small MLP trained with plain core ops (linear, tanh, crossEntropy, SGD with momentum through
 * assign), used by the training parity tests, the kernel-cache test and the WebGPU leak test.
 */

import { type Backend, crossEntropy, Generator, noGrad, type Tensor, tensor, tidy, useBackend, zerosLike } from "../../src/index.ts";

export interface Mlp {
  params: Tensor[];
  /** One forward + backward + update; returns the loss (the caller disposes it). */
  step(): Tensor;
  dispose(): void;
}

/** A 4-16-3 tanh MLP on 32 fixed random points of 3 classes, with seeded initial weights, on `backend`. */
export function makeMlp(backend: Backend, { seed = 0, lr = 0.2, hidden = 16 } = {}): Mlp {
  useBackend(backend);
  const g = new Generator(seed);
  const n = 32;
  const make = (values: ArrayLike<number>, shape: number[]) => tensor(Array.from(values), shape, { dtype: "float32", backend });
  const x = make(g.normal(n * 4), [n, 4]).keep();
  const y = tensor(Array.from(g.integers(n, 0, 3)), [n], { dtype: "int32", backend }).keep();
  const params = [
    make(
      g.normal(4 * hidden).map((v) => v * 0.5),
      [4, hidden],
    ),
    make(new Float64Array(hidden), [hidden]),
    make(
      g.normal(hidden * 3).map((v) => v * 0.25),
      [hidden, 3],
    ),
    make(new Float64Array(3), [3]),
  ].map((p) => p.requiresGrad_().keep());
  const velocity = params.map((p) => zerosLike(p).keep());
  return {
    params,
    step() {
      useBackend(backend);
      return tidy(() => {
        const [w1, b1, w2, b2] = params;
        const loss = crossEntropy(x.matmul(w1).add(b1).tanh().matmul(w2).add(b2), y);
        loss.backward();
        noGrad(() => {
          params.forEach((p, i) => {
            velocity[i].assign(velocity[i].mul(0.9).add(p.grad as Tensor));
            p.assign(p.sub(velocity[i].mul(lr)));
            p.zeroGrad();
          });
        });
        return loss;
      });
    },
    dispose() {
      for (const t of [x, y, ...params, ...velocity]) t.dispose();
    },
  };
}

/** The losses of `steps` training steps, read back after each one. */
export async function lossCurve(backend: Backend, steps: number): Promise<number[]> {
  const mlp = makeMlp(backend);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = mlp.step();
    losses.push(await loss.itemAsync());
    loss.dispose();
  }
  mlp.dispose();
  return losses;
}

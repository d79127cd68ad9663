/** @file Seeded host tensors: drawn with core's Generator, so every process and library gets the same numbers. */

import type { Generator } from "@tsgrad/core";
import type { HostTensor } from "../types.ts";

/** N(mean, std) values of a shape, as float32. */
export function randomTensor(gen: Generator, shape: number[], std = 1, mean = 0): HostTensor {
  const size = shape.reduce((n, d) => n * d, 1);
  return { shape, data: Float32Array.from(gen.normal(size, mean, std)) };
}

/** U(low, high) values of a shape, as float32. */
export function uniformTensor(gen: Generator, shape: number[], low: number, high: number): HostTensor {
  const size = shape.reduce((n, d) => n * d, 1);
  return { shape, data: Float32Array.from(gen.uniform(size, low, high)) };
}

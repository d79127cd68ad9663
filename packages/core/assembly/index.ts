// The WebAssembly kernels of tsgrad's wasm backend. Memory is imported (the JS side owns allocation);
// nothing here allocates, every argument is a byte offset or a count.

export * from "./elementwise";
export * from "./fused";
export * from "./indexing";
export * from "./gemm";
export * from "./reduce";

/** Where this module's static data (the tables of Math.exp and friends) ends: the JS side allocates above it. */
export function heapBase(): usize {
  return __heap_base;
}

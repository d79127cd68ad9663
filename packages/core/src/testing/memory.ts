/** @file What a block of code left behind in memory(): every package's leak tests compare against a baseline. */

import { type MemoryReport, memory } from "../memory.ts";

/** memory() minus a baseline taken before the code under test. */
export function memoryDelta(base: MemoryReport): MemoryReport {
  const now = memory();
  return {
    numTensors: now.numTensors - base.numTensors,
    numBuffers: now.numBuffers - base.numBuffers,
    numBytes: now.numBytes - base.numBytes,
  };
}

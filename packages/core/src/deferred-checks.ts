/**
 * @file Index checks that wait for the next readback. An index computed on a backend that reads back
 * only asynchronously (WebGPU: `gather(x, 0, argmax(y))`) cannot be checked when the op is called, so the
 * op runs (every kernel reads out-of-range indices safely, as garbage, never outside its buffers) and the
 * check is queued. The next readback on that backend (`data()`, `array()`, `itemAsync()`) reads the
 * queued indices first and throws the first out-of-range one, naming the op, before returning anything:
 * a program never sees values computed from a bad index without an error.
 */

import type { Backend } from "./backend/backend.ts";
import type { DType } from "./dtype.ts";
import { TsgradError } from "./errors.ts";
import type { DataBuffer } from "./memory.ts";
import type { Shape } from "./shape.ts";

interface PendingCheck {
  op: string;
  buffer: DataBuffer;
  shape: Shape;
  dtype: DType;
  limit: number;
  allowed: readonly number[];
}

const pending = new WeakMap<Backend, PendingCheck[]>();

/** Queues a range check of an index tensor's values (its buffer is held until the check has run). */
export function deferIndexCheck(
  op: string,
  buffer: DataBuffer,
  shape: Shape,
  dtype: DType,
  limit: number,
  allowed: readonly number[],
): void {
  buffer.retain();
  const list = pending.get(buffer.backend) ?? [];
  pending.set(buffer.backend, list);
  list.push({ op, buffer, shape, dtype, limit, allowed });
}

/** How many checks wait on a backend (for tests). */
export function pendingIndexChecks(backend: Backend): number {
  return pending.get(backend)?.length ?? 0;
}

const inFlight = new WeakMap<Backend, Promise<void>>();

/**
 * Runs the checks queued on `backend`; throws the first failure. A readback that starts while another
 * is running the checks waits for the same run (and gets the same failure), so no readback slips past.
 */
export function runDeferredChecks(backend: Backend): Promise<void> {
  const running = inFlight.get(backend);
  const list = pending.get(backend);
  if (!list || list.length === 0) return running ?? Promise.resolve();
  pending.set(backend, []);
  const run = (async () => {
    await running?.catch(() => undefined);
    await checkAll(backend, list);
  })();
  inFlight.set(backend, run);
  const clear = () => {
    if (inFlight.get(backend) === run) inFlight.delete(backend);
  };
  run.then(clear, clear);
  return run;
}

async function checkAll(backend: Backend, list: PendingCheck[]): Promise<void> {
  let failure: TsgradError | null = null;
  try {
    for (const check of list) {
      if (failure) break;
      const values = await backend.read({ storage: check.buffer.storage, shape: check.shape, dtype: check.dtype });
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if ((v < 0 || v >= check.limit) && !check.allowed.includes(v)) {
          failure = new TsgradError(
            check.op,
            `index ${v} at flat position ${i} is out of range: expected 0 <= index < ${check.limit} (the index was computed on ${backend.name}, so it was checked at this readback; results computed from it are invalid)`,
          );
          break;
        }
      }
    }
  } finally {
    // every held buffer is released, also when a read fails
    for (const check of list) check.buffer.release();
  }
  if (failure) throw failure;
}

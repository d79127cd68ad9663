/**
 * @file Memory lifetime: reference-counted buffers, `dispose`, `tidy` scopes and the `memory()` report.
 *
 * The reference backend's arrays would be collected by the garbage collector anyway, but WebGPU buffers
 * and WebAssembly memory are not, so training loops are written with `tidy` from the start:
 *
 *     for (const batch of batches) {
 *       const loss = tidy(() => { const loss = model(batch); loss.backward(); opt.step(); return loss; });
 *       console.log(await loss.itemAsync()); loss.dispose();
 *     }
 *
 * `tidy(fn)` disposes every tensor created inside fn, except those it returns and those marked with
 * `keep` (gradients stored in `.grad`, optimiser state, parameters).
 */

import { checkFunction } from "./args.ts";
import type { Backend, Storage } from "./backend/backend.ts";
import type { TypedArray } from "./dtype.ts";
import { fail, isTensor } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

/** One storage and the tensors that view it (reshape and detach share a buffer). */
export class DataBuffer {
  refs = 1;
  /** Bumped by every in-place write, so backward can refuse a graph whose inputs changed. */
  version = 0;
  /**
   * The values, when an int32 or bool tensor was made from host data: lets ops validate indices
   * without reading back from an asynchronous backend.
   */
  hostCopy: TypedArray | undefined;

  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
    readonly bytes: number,
  ) {
    live.buffers++;
    live.bytes += bytes;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0) return;
    this.backend.free(this.storage);
    this.hostCopy = undefined;
    live.buffers--;
    live.bytes -= this.bytes;
  }
}

const live = { tensors: 0, buffers: 0, bytes: 0 };

export function countTensor(delta: 1 | -1): void {
  live.tensors += delta;
}

export interface MemoryReport {
  /** Tensors created and not yet disposed. */
  numTensors: number;
  /** Distinct buffers behind them (views share one). */
  numBuffers: number;
  numBytes: number;
}

/** Live tensors and bytes, over every backend (what `tidy` and `dispose` are checked against). */
export function memory(): MemoryReport {
  return { numTensors: live.tensors, numBuffers: live.buffers, numBytes: live.bytes };
}

const scopes: Tensor[][] = [];

/** Called for every new tensor: the innermost open tidy scope will dispose it; outside any, it is on its own. */
export function trackTensor(t: Tensor): void {
  const scope = scopes.at(-1);
  if (scope) scope.push(t);
  else unowned(t);
}

/** A tensor no scope will dispose: its backend may free it when it is garbage-collected. */
function unowned(t: Tensor): void {
  if (t.isDisposed) return;
  const buffer = t.buffer("tidy");
  buffer.backend.protect?.(buffer.storage);
}

/** Every tensor reachable from a value through arrays and plain objects. */
function tensorsIn(value: unknown, found: Set<Tensor>): Set<Tensor> {
  if (isTensor(value)) found.add(value);
  else if (Array.isArray(value)) for (const v of value) tensorsIn(v, found);
  else if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) tensorsIn(v, found);
  }
  return found;
}

/**
 * Runs fn and disposes every tensor it created, except the tensors in its result (a tensor, or arrays
 * and plain objects holding tensors) and tensors marked with `keep`. Returned tensors move to the
 * enclosing scope. On an exception, everything created is disposed. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  checkFunction("tidy", fn);
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    for (const t of scopes.pop() ?? []) {
      if (!t.isKept) t.dispose();
      else unowned(t);
    }
    throw error;
  }
  const created = scopes.pop() ?? [];
  if (result instanceof Promise) {
    // the caller gets the error below instead; a later rejection must not crash the process
    result.catch(() => {});
    for (const t of created) {
      if (!t.isKept) t.dispose();
      else unowned(t);
    }
    fail("tidy", "the function returned a Promise; tidy is synchronous (await outside it, on the tensors it returns)");
  }
  // one returned tensor (backward's gradients, every op in a step) needs no set
  const single = isTensor(result) ? result : null;
  const returned = single ? null : tensorsIn(result, new Set());
  for (const t of created) {
    if (single ? t === single : (returned as Set<Tensor>).has(t)) trackTensor(t);
    else if (!t.isKept) t.dispose();
    // kept: it outlives the scope, and only dispose() frees it now
    else unowned(t);
  }
  return result;
}

/** Disposes every tensor found in value (a tensor, or arrays and plain objects of tensors). */
export function dispose(value: unknown): void {
  for (const t of tensorsIn(value, new Set())) t.dispose();
}

/**
 * @file The parity suite run by each gpujs test file (one process per mode): every spec of the op table,
 * long reductions, and a 50-step training run, against the reference backend. Also how a WebGPU file
 * starts (or skips) and ends.
 */

import { suite, type Test } from "uvu";
import { type Backend, max, sum, tensor, useBackend } from "../../src/index.ts";
import {
  ALL_SPECS,
  assertArrayClose,
  checkProperty,
  checkSpecParity,
  closeBackendsAndExit,
  longReductionShapeArb,
  numRuns,
  reference,
  startGpujs,
  tolerance,
  valuesArb,
} from "../../src/testing/node.ts";
import { lossCurve } from "./mlp.ts";

export type Mode = "webgpu" | "webasm" | "cpu";

/**
 * The backend of `mode`, or null after registering a skipped test that says why. A missing WebGPU
 * adapter fails the run under CI=true (CI installs lavapipe) and is skipped elsewhere, visibly.
 */
export async function backendOrSkip(mode: Mode, name: string): Promise<Backend | null> {
  const { backend, reason } = await startGpujs(mode);
  if (backend) return backend;
  if (mode !== "webgpu" || process.env.CI === "true") throw new Error(`gpujs:${mode} did not start: ${reason}`);
  console.log(`SKIPPED ${name}: ${reason}`);
  const skipped = suite(name);
  skipped.skip("needs a WebGPU adapter", () => {});
  skipped.run();
  return null;
}

/**
 * Closes every backend after the file's last suite (call before that suite's run()); if a Dawn device
 * still keeps the process alive a few seconds later (after uvu printed its summary), exits explicitly
 * with uvu's exit code.
 */
export function closeWhenDone(last: Test): void {
  last.after(closeBackendsAndExit);
}

/** Registers and runs the parity suites of `backend`, closing every backend after the last. */
export function paritySuites(backend: Backend): void {
  const specs = suite(`${backend.name} equals the reference backend on every op of the spec table`);
  for (const spec of ALL_SPECS) {
    specs(spec.name, async () => {
      await checkSpecParity(spec, backend);
    });
  }
  specs.run();

  const long = suite(`${backend.name}: reductions longer than gpu.js's default loop limit of 1,000`);
  long("sum and max over more than 1,000 elements per output", async () => {
    const arb = longReductionShapeArb().chain((shape) =>
      valuesArb(
        shape.reduce((a, b) => a * b, 1),
        { min: -3, max: 3 },
      ).map((values) => ({ shape, values })),
    );
    await checkProperty(
      `long reductions on ${backend.name}`,
      arb,
      async ({ shape, values }) => {
        for (const axis of [0, shape.length - 1]) {
          const results = [backend, reference].map((be) => {
            useBackend(be);
            const x = tensor(values, shape, { dtype: "float32", backend: be });
            return { s: sum(x, axis), m: max(x, axis), a: sum(x.abs(), axis), x };
          });
          const [actual, expected] = await Promise.all(
            results.map(async (r) => ({ s: await r.s.data(), m: await r.m.data(), a: await r.a.data() })),
          );
          assertArrayClose(actual.s, expected.s, tolerance(backend.name, "float32", "reduction"), { what: "sum", scale: expected.a });
          assertArrayClose(actual.m, expected.m, tolerance(backend.name, "float32", "exact"), { what: "max" });
          for (const r of results) for (const t of Object.values(r)) t.dispose();
        }
      },
      // each run reduces thousands of elements: a fifth of the usual runs keeps this under a few seconds
      { backend: backend.name, numRuns: Math.max(2, Math.ceil(numRuns(backend.name) / 5)) },
    );
  });
  long.run();

  const training = suite(`${backend.name}: a 50-step training run gives the reference backend's loss curve`);
  training("MLP 4-16-3, tanh, cross-entropy, SGD with momentum", async () => {
    const expected = await lossCurve(reference, 50);
    const actual = await lossCurve(backend, 50);
    // every step adds a reduction-sized rounding difference to the weights, and training carries it on:
    // the bound grows with the number of steps taken
    const tol = tolerance(backend.name, "float32", "reduction");
    for (let i = 0; i < expected.length; i++) {
      assertArrayClose(
        [actual[i]],
        [expected[i]],
        { atol: tol.atol * (i + 1), rtol: tol.rtol * (i + 1) },
        { what: `loss at step ${i + 1}` },
      );
    }
    if (!(expected[49] < expected[0] * 0.9)) throw new Error(`the reference loss did not fall: ${expected[0]} -> ${expected[49]}`);
  });
  closeWhenDone(training);
  training.run();
}

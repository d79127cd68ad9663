/**
 * @file The gpujs kernel sources themselves, run as plain functions (gpu.js compiles the same text on
 * every mode): every unary and binary op code of backend.ts reaches its own branch and computes what the
 * reference computes, a code without a branch is NaN rather than the identity, the backend refuses an
 * unknown op, and every whole quotient in kernels/ is the corrected pattern of kernel-this.ts.
 */

import { readdirSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BINARY_OPS, type BinaryOp, UNARY_OPS, type UnaryOp } from "../src/backend/backend.ts";
import { GpujsBackend } from "../src/backend/gpujs/gpujs-backend.ts";
import { binaryKernel, UNARY_CODES, unaryKernel } from "../src/backend/gpujs/kernels/elementwise.ts";
import { KIND, META_LENGTH, SPECIAL_VALUES } from "../src/backend/gpujs/kernels/kernel-this.ts";
import { BINARY, UNARY } from "../src/backend/reference/scalar-ops.ts";

const THREAD_0 = { thread: { x: 0, y: 0, z: 0 } };
/** Rank 0: both operands are read at offset 0. */
const SCALAR_META = new Float32Array(META_LENGTH);

const unary = (code: number, v: number) => unaryKernel.call(THREAD_0, Float32Array.of(v), SPECIAL_VALUES, code, KIND.float32, 1);
const binary = (code: number, x: number, y: number) =>
  binaryKernel.call(THREAD_0, Float32Array.of(x), Float32Array.of(y), SCALAR_META, SPECIAL_VALUES, code, KIND.float32, 1);

/** Equal, both NaN, or within the erf approximation's error (|error| < 1.5e-7). */
function agrees(got: number, expected: number): boolean {
  if (got === expected || (Number.isNaN(got) && Number.isNaN(expected))) return true;
  return Math.abs(got - expected) <= 1e-6 * Math.max(1, Math.abs(expected));
}

// chosen so that no op agrees with another op, with its input, or with NaN on all of them
const UNARY_SAMPLES = [-1.5, -0.25, 0, 0.5, 2];
const BINARY_SAMPLES = [
  [0.5, 2],
  [-1.5, 3],
  [2, 2],
  [0, -1],
  [3, 0.5],
];

const codes = suite("gpujs op codes: one branch per op of backend.ts");

codes("the unary codes are backend.ts's UNARY_OPS, then identity (the cast)", () => {
  assert.equal([...UNARY_CODES], [...UNARY_OPS, "identity"]);
});

codes("every unary code runs the reference's op in unaryKernel", () => {
  UNARY_OPS.forEach((op: UnaryOp, code) => {
    for (const v of UNARY_SAMPLES) {
      const got = unary(code, v);
      assert.ok(agrees(got, UNARY[op](v)), `${op} (code ${code}) of ${v}: got ${got}, the reference gives ${UNARY[op](v)}`);
    }
  });
  for (const v of UNARY_SAMPLES) assert.is(unary(UNARY_CODES.indexOf("identity"), v), v);
});

codes("every binary code runs the reference's op in binaryKernel", () => {
  BINARY_OPS.forEach((op: BinaryOp, code) => {
    for (const [x, y] of BINARY_SAMPLES) {
      const got = binary(code, x, y);
      assert.ok(agrees(got, BINARY[op](x, y)), `${op} (code ${code}) of ${x}, ${y}: got ${got}, the reference gives ${BINARY[op](x, y)}`);
    }
  });
});

codes("a code without a branch gives NaN, not its input", () => {
  for (const code of [-1, UNARY_CODES.length]) assert.ok(Number.isNaN(unary(code, 0.5)), `unary code ${code}`);
  for (const code of [-1, BINARY_OPS.length]) assert.ok(Number.isNaN(binary(code, 0.5, 2)), `binary code ${code}`);
});

codes("the backend refuses an op outside backend.ts's lists before any kernel runs", async () => {
  const backend = new GpujsBackend({ mode: "cpu" });
  const x = { storage: backend.upload(Float32Array.of(0.5), "float32"), shape: [1], dtype: "float32" } as const;
  assert.throws(() => backend.unary("cube" as UnaryOp, x, "float32"), /gpujs:cpu unary: unknown op "cube"; expected one of neg, exp/);
  // identity is a kernel code for casts, not an op
  assert.throws(() => backend.unary("identity" as UnaryOp, x, "float32"), /unknown op "identity"/);
  assert.throws(
    () => backend.binary("atan2" as BinaryOp, x, x, [1], "float32"),
    /gpujs:cpu binary: unknown op "atan2"; expected one of add, sub/,
  );
  backend.free(x.storage);
  await backend.close();
});

codes.run();

const quotients = suite("gpujs kernels: every whole quotient is the exact-quotient pattern of kernel-this.ts");

const KERNELS_DIR = new URL("../src/backend/gpujs/kernels/", import.meta.url);

quotients("each floor of a division is marked and followed by both corrections", () => {
  let copies = 0;
  for (const name of readdirSync(KERNELS_DIR).filter((n) => n.endsWith(".ts"))) {
    const lines = readFileSync(new URL(name, KERNELS_DIR), "utf8").split("\n");
    lines.forEach((line, i) => {
      // comments, kernel-this.ts's statement of the pattern among them, may show anything
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
      const m = /let (\w+) = Math\.floor\((\w+) \/ (\w+)\);/.exec(line);
      if (!m) {
        assert.not.match(line, /Math\.floor\([^)]*\//, `${name}:${i + 1}: a floor of a division outside the pattern`);
        return;
      }
      const [, q, r, d] = m;
      const where = `${name}:${i + 1}`;
      assert.is(lines[i - 1].trim(), "// exact quotient (kernel-this.ts)", `${where}: the marker`);
      assert.is(lines[i + 1].trim(), `if (${q} * ${d} > ${r}) ${q} = ${q} - 1;`, `${where}: the downward correction`);
      assert.is(lines[i + 2].trim(), `if ((${q} + 1) * ${d} <= ${r}) ${q} = ${q} + 1;`, `${where}: the upward correction`);
      copies++;
    });
  }
  assert.ok(copies >= 15, `found ${copies} copies of the pattern`);
});

quotients("the corrections turn a floor one too high or one too low into the true quotient", () => {
  const corrected = (start: number, r: number, d: number) => {
    let q = start;
    if (q * d > r) q = q - 1;
    if ((q + 1) * d <= r) q = q + 1;
    return q;
  };
  const cases = [
    [6, 3],
    [0, 7],
    [17, 1],
    [2 ** 24 - 1, 3],
    [2 ** 24 - 1, 2 ** 12],
    [12_345_678, 4_321],
  ];
  for (const [r, d] of cases) {
    const q = Math.floor(r / d);
    for (const start of [q - 1, q, q + 1])
      assert.is(corrected(Math.fround(start), Math.fround(r), Math.fround(d)), q, `${r} / ${d} from ${start}`);
  }
});

quotients.run();

/**
 * @file Named tensors through files: a round-trip property, the golden files, dtype conversion, files that
 * are missing, not regular or truncated, and atomic saves, down to a child process killed in the middle of one.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DType, memory, tensor, zeros } from "@tsgrad/core";
import { assertSameNumbers, checkProperty, printed, rejectsWith, scratchDirs, shapeArb } from "@tsgrad/core/testing/node";
import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  loadTensors,
  readSafetensorsFile,
  SafetensorsError,
  type SafetensorsErrorCode,
  saveTensors,
  serializeTensors,
  type WritableDType,
  writeFileAtomic,
} from "../src/node.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const scratch = scratchDirs("tsgrad-named-tensors-");
const freshDir = scratch.fresh;

const expectRejection = (promise: Promise<unknown>, code: SafetensorsErrorCode, pattern?: RegExp) =>
  rejectsWith(promise, SafetensorsError, { code, message: pattern });

function goldenNumber(text: string): number {
  if (text === "nan") return Number.NaN;
  if (text === "inf") return Number.POSITIVE_INFINITY;
  if (text === "-inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

const DTYPE_OF: Record<WritableDType, DType> = { F64: "float64", F32: "float32", I32: "int32", BOOL: "bool" };

// ---- named tensors ----------------------------------------------------------------------------------------

const named = suite("saveTensors and loadTensors");

const DTYPES: DType[] = ["float32", "float64", "int32", "bool"];

const tensorsArb = fc.uniqueArray(
  fc.tuple(
    fc.string({ unit: "binary", maxLength: 8 }).filter((n) => n !== "__metadata__"),
    fc.constantFrom(...DTYPES).chain((dtype) =>
      shapeArb({ minRank: 0, maxRank: 3, minDim: 0, maxDim: 4 }).chain((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const element =
          dtype === "float32"
            ? fc.float()
            : dtype === "float64"
              ? fc.double()
              : dtype === "int32"
                ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
                : fc.boolean().map(Number);
        return fc.array(element, { minLength: n, maxLength: n }).map((values) => ({ dtype, shape, values }));
      }),
    ),
  ),
  { selector: ([name]) => name, maxLength: 5 },
);

named("random tensors survive saveTensors and loadTensors with dtype, shape and every bit", async () => {
  const dir = freshDir();
  const path = join(dir, "t.safetensors");
  // each run writes and fsyncs a file, so fewer runs than a pure property
  await checkProperty(
    "checkpoint round trip through a file",
    tensorsArb,
    async (entries) => {
      const made = new Map(entries.map(([name, t]) => [name, tensor(t.values, t.shape, t.dtype)]));
      try {
        await saveTensors(made, path, { metadata: { note: "round trip" } });
        const loaded = await loadTensors(path);
        try {
          assert.equal([...loaded.keys()].sort(), [...made.keys()].sort());
          for (const [name, original] of made) {
            const back = loaded.get(name)!;
            assert.is(back.dtype, original.dtype, name);
            assert.equal(back.shape, original.shape, name);
            assertSameNumbers(await back.data(), await original.data(), name);
          }
        } finally {
          for (const t of loaded.values()) t.dispose();
        }
        assert.equal((await readSafetensorsFile(path)).metadata, { note: "round trip" });
      } finally {
        for (const t of made.values()) t.dispose();
      }
    },
    { numRuns: 40 },
  );
  assert.equal(readdirSync(dir), ["t.safetensors"], "no temporary file is left behind");
});

named("saveTensors and serializeTensors write the golden reference-writer.safetensors byte for byte", async () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, "reference-writer.json"), "utf8")) as {
    metadata: Record<string, string>;
    tensors: Record<string, { dtype: WritableDType; shape: number[]; values: string[] }>;
  };
  const made = new Map(
    Object.entries(expected.tensors).map(([name, t]) => [name, tensor(t.values.map(goldenNumber), t.shape, DTYPE_OF[t.dtype])]),
  );
  const path = join(freshDir(), "writer.safetensors");
  await saveTensors(made, path, { metadata: expected.metadata });
  // the same bytes in memory, as a browser would download them
  const bytes = await serializeTensors(made, { metadata: expected.metadata });
  for (const t of made.values()) t.dispose();
  const golden = [...readFileSync(join(FIXTURES, "reference-writer.safetensors"))];
  assert.equal([...readFileSync(path)], golden);
  assert.equal([...bytes], golden);
});

named("the spec's test vector loads from a file as int32 zeros", async () => {
  const header = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
  const bytes = new Uint8Array(8 + header.length + 16);
  bytes[0] = header.length;
  bytes.set(new TextEncoder().encode(header), 8);
  const path = join(freshDir(), "vector.safetensors");
  writeFileSync(path, bytes);
  const loaded = await loadTensors(path);
  const t = loaded.get("test")!;
  assert.is(t.dtype, "int32");
  assert.equal(t.shape, [2, 2]);
  assertSameNumbers(await t.data(), [0, 0, 0, 0], "test");
  t.dispose();
});

named("reference-dtypes.safetensors loads as float64; in natural dtypes, a 64-bit value int32 cannot hold is refused", async () => {
  const path = join(FIXTURES, "reference-dtypes.safetensors");
  const expected = JSON.parse(readFileSync(join(FIXTURES, "reference-dtypes.json"), "utf8")) as {
    tensors: Record<string, { values: string[] }>;
  };
  const before = memory().numTensors;
  await expectRejection(
    loadTensors(path),
    "VALUE_OUT_OF_RANGE",
    /reference-dtypes\.safetensors: tensor "u64" \(U64 \[3\]\) cannot be loaded as int32: element 2 is 9007199254740991/,
  );
  assert.is(memory().numTensors, before, "the tensors made before the refusal were disposed");
  const loaded = await loadTensors(path, { dtype: "float64" });
  for (const [name, t] of loaded) {
    assertSameNumbers(await t.data(), expected.tensors[name].values.map(goldenNumber), name);
    t.dispose();
  }
});

named("a missing file, a directory and truncated files are SafetensorsErrors naming the file", async () => {
  const dir = freshDir();
  const missing = join(dir, "missing.safetensors");
  const e = await expectRejection(loadTensors(missing), "IO", /missing\.safetensors: could not read: ENOENT/);
  assert.is((e.cause as { code?: string }).code, "ENOENT");
  await expectRejection(loadTensors(dir), "IO", /is a directory; expected a regular file/);
  const good = new Uint8Array(readFileSync(join(FIXTURES, "reference-writer.safetensors")));
  const path = join(dir, "cut.safetensors");
  for (const [length, code] of [
    [0, "FILE_TOO_SHORT"],
    [5, "FILE_TOO_SHORT"],
    [100, "HEADER_PAST_END"],
    [good.length - 1, "INCOMPLETE_BUFFER"],
  ] as const) {
    writeFileSync(path, good.subarray(0, length));
    await expectRejection(loadTensors(path), code, /cut\.safetensors/);
  }
});

// ---- atomic saves --------------------------------------------------------------------------------------------

const atomic = suite("atomic saves");

atomic("refusals come before the temporary file: disposed tensors, reserved names, bad metadata", async () => {
  const dir = freshDir();
  const path = join(dir, "x.safetensors");
  const t = tensor([1]);
  t.dispose();
  await expectRejection(saveTensors({ t }, path), "INVALID_ARGUMENT", /"t" was disposed/);
  const u = tensor([1]);
  await expectRejection(saveTensors({ __metadata__: u }, path), "INVALID_ARGUMENT", /reserved/);
  await expectRejection(saveTensors({ u }, path, { metadata: { k: 5 as unknown as string } }), "INVALID_ARGUMENT", /must be a string/);
  u.dispose();
  assert.equal(readdirSync(dir), []);
});

atomic("file-system failures are IO errors naming the file, and leave nothing behind", async () => {
  const dir = freshDir();
  const t = zeros([2]);
  const e = await expectRejection(
    saveTensors({ t }, join(dir, "no", "such", "dir.safetensors")),
    "IO",
    /dir\.safetensors: could not save: ENOENT/,
  );
  assert.is((e.cause as { code?: string }).code, "ENOENT");
  mkdirSync(join(dir, "taken"));
  await expectRejection(saveTensors({ t }, join(dir, "taken")), "IO", /taken: could not save/);
  assert.equal(readdirSync(dir), ["taken"]);
  assert.equal(readdirSync(join(dir, "taken")), []);
  t.dispose();
});

async function killMidWrite(child: ChildProcess, dir: string, fullSize: number, timeoutMs: number): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    for (const name of readdirSync(dir)) {
      if (!name.endsWith(".tmp")) continue;
      let size: number;
      try {
        size = statSync(join(dir, name)).size;
      } catch {
        continue; // renamed away between the listing and the stat
      }
      if (size > 0 && size < fullSize) {
        child.kill("SIGKILL");
        return name;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  child.kill("SIGKILL");
  return null;
}

atomic("a child killed with SIGKILL in the middle of a save leaves the previous checkpoint loadable", async () => {
  const dir = freshDir();
  const path = join(dir, "ckpt.safetensors");
  const script = join(FIXTURES, "save-loop.ts");
  let landed = false;
  // the kill must land while the temporary file is partly written; a rare miss (the save finished between
  // the check and the signal) is retried with a new child
  let attempts = 0;
  for (let attempt = 0; attempt < 5 && !landed; attempt++) {
    attempts++;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const child = spawn(process.execPath, ["--import", "tsx", script, path], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    try {
      await printed(child, "saved 0\n", 20_000);
      const fullSize = statSync(path).size;
      const temp = await killMidWrite(child, dir, fullSize, 10_000);
      await exited;
      landed = temp !== null && existsSync(join(dir, temp)) && statSync(join(dir, temp)).size < fullSize;
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  }
  assert.ok(landed, `a kill landed while the temporary file was partly written (${attempts} attempts)`);
  // the checkpoint is one whole earlier save: every value equals the iteration in its metadata
  const file = await readSafetensorsFile(path);
  const iteration = Number(file.metadata?.iteration);
  assert.ok(Number.isInteger(iteration) && iteration >= 0, `iteration ${file.metadata?.iteration}`);
  const loaded = await loadTensors(path);
  assert.equal([...loaded.keys()].sort(), ["a", "b", "c"]);
  for (const [name, t] of loaded) {
    const values = await t.data();
    assert.is(values.length, 2_000_000, name);
    assert.ok(
      values.every((v) => v === iteration),
      `${name} holds only ${iteration}`,
    );
    t.dispose();
  }
  // what the killed save left behind, the next save of the same file removes (its writer is gone)
  assert.ok(readdirSync(dir).some((name) => name.endsWith(".tmp")));
  const whole = readFileSync(path);
  await writeFileAtomic(path, async (write) => write(whole));
  assert.equal(readdirSync(dir), ["ckpt.safetensors"]);
});

atomic.after(() => {
  scratch.remove();
});

named.run();
atomic.run();

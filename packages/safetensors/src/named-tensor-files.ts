/**
 * @file Named tensors on disk (Node): a map of tensors saved as one safetensors file with an atomic write
 * (files.ts), so an interrupted save leaves the previous file whole; and files read and validated whole
 * before any tensor is made. nn's module and optimiser checkpoints are built on these.
 *
 * Tensors are read back with `await t.data()` one at a time while the file is written, so a save holds one
 * tensor's bytes at a time on the host, and works on backends that cannot read synchronously.
 */

import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { DType, Tensor } from "@tsgrad/core";
import type { Safetensors, SafetensorsTensor } from "./decode.ts";
import { SafetensorsError } from "./errors.ts";
import { openRegularFile, writeFileAtomic } from "./files.ts";
import { parseHeader, readHeaderLength } from "./header.ts";
import { planTensorFile, type SaveOptions, uploadTensors } from "./named-tensors.ts";
import type { WrittenFile } from "./written-file.ts";

/** Node's file-system errors become SafetensorsError("IO") naming the file; the library's own pass through. */
function ioError(error: unknown, file: string, doing: string): unknown {
  if (error instanceof SafetensorsError || !(error instanceof Error) || !("code" in error) || !("syscall" in error)) return error;
  return new SafetensorsError("IO", `safetensors ${file}`, `could not ${doing}: ${error.message}`, { cause: error });
}

/** A file refused by files.ts's policy (a link, a FIFO, a directory) is an IO error of the reader. */
function ioRefusal(file: string): (message: string) => never {
  return (message) => {
    throw new SafetensorsError("IO", `safetensors ${file}`, message);
  };
}

/**
 * Saves named tensors (a state dict, optimiser moments, anything) as one safetensors file, atomically.
 * Everything that can be refused is checked before the temporary file is created.
 */
export async function saveTensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  path: string,
  options: SaveOptions = {},
): Promise<WrittenFile> {
  const file = planTensorFile(tensors, options, path);
  try {
    return await writeFileAtomic(
      path,
      async (write) => {
        await write(file.header);
        for await (const part of file.data()) await write(part);
      },
      `safetensors ${path}`,
      ioRefusal(path),
    );
  } catch (error) {
    throw ioError(error, path, "save");
  }
}

async function readExactly(handle: FileHandle, position: number, length: number, file: string, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        "INCOMPLETE_BUFFER",
        `safetensors ${file}`,
        `the file ended after ${position + done} bytes while reading ${what}`,
      );
    }
    done += bytesRead;
  }
  return out;
}

/** A file as read: its tensors, and its length and SHA-256 (every byte of it, in order). */
export interface SafetensorsFile extends Safetensors, WrittenFile {}

/**
 * Reads and validates a whole safetensors file: the header first, checked against the file's size, then
 * each tensor's bytes; nothing is allocated from a size before it has been checked against the file.
 * The header's byte ranges are contiguous and cover the data exactly (parseHeader checks), so reading
 * them in offset order hashes the whole file.
 */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await openRegularFile(path, `safetensors ${path}`, ioRefusal(path));
    const { size } = await handle.stat();
    const first = await readExactly(handle, 0, Math.min(8, size), path, "the header length");
    const n = readHeaderLength(first, size, path);
    const headerBytes = await readExactly(handle, 8, n, path, "the header");
    const header = parseHeader(headerBytes, size - 8 - n, path);
    const hash = createHash("sha256").update(first).update(headerBytes);
    const read = new Map<string, SafetensorsTensor>();
    const byOffset = [...header.tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
    for (const [name, info] of byOffset) {
      const [begin, end] = info.dataOffsets;
      const data = await readExactly(handle, 8 + n + begin, end - begin, path, `tensor ${JSON.stringify(name)}`);
      hash.update(data);
      read.set(name, { ...info, data });
    }
    // the header's order, as before
    const tensors = new Map([...header.tensors.keys()].map((name) => [name, read.get(name) as SafetensorsTensor]));
    return { metadata: header.metadata, tensors, bytes: size, sha256: hash.digest("hex") };
  } catch (error) {
    throw ioError(error, path, "read");
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Loads every tensor of a file, each in its natural dtype (F16 and BF16 as float32, integers as int32) or in `dtype`. */
export async function loadTensors(path: string, options: { dtype?: DType } = {}): Promise<Map<string, Tensor>> {
  return uploadTensors(await readSafetensorsFile(path), path, options);
}

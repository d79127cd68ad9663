/**
 * @file Every file tsgrad reads or writes (safetensors files, nn's checkpoints, hyra's adapter folders) goes
 * through here, because those files may come from anyone.
 *
 * The policy (README, "Reliability"): a file tsgrad opens must be a regular file, and never a symbolic link;
 * a link is refused, not resolved, when reading and when writing (a link planted where a save goes would
 * send the bytes outside the folder). The folder a caller names may itself be reached through links: that
 * is the caller's choice, not the file's. Files read whole are capped in size, and nothing blocks on a
 * FIFO or reads from a device.
 *
 * Writes are atomic (temporary file, fsync, rename, fsync of the directory). A temporary file is named
 * `.<target>.<host>-<pid>-<12 hex>.tmp`, so a later save of the same target on the same host can find what a
 * killed save left and remove it, when the process named in it is no longer running (a pid means nothing
 * on another host sharing the folder, so those files are left alone).
 */

import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, lstat, open, readdir, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fail } from "@tsgrad/core";
import type { WrittenFile } from "./written-file.ts";

// O_NOFOLLOW: a link as the last part of the path fails with ELOOP instead of being followed;
// O_NONBLOCK: opening a FIFO returns at once (and is then refused as not a regular file) instead of waiting for a writer
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

function kindOf(s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (s.isDirectory()) return "a directory";
  if (s.isFIFO()) return "a FIFO";
  if (s.isSocket()) return "a socket";
  if (s.isCharacterDevice() || s.isBlockDevice()) return "a device";
  return "not a regular file";
}

const LINK_REFUSED = "is a symbolic link; tsgrad reads and writes only regular files and never follows a link (README, Reliability)";

/** How a refusal is thrown: a TsgradError naming `where` unless the caller has its own error class. */
export type Refuse = (message: string) => never;

/** Opens a regular file for reading, refusing links, FIFOs, devices and directories by name. */
export async function openRegularFile(path: string, where: string, refuse: Refuse = (m) => fail(where, m)): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (error) {
    if ((error as { code?: string }).code === "ELOOP") refuse(`${path} ${LINK_REFUSED}`);
    throw error;
  }
  const s = await handle.stat();
  if (!s.isFile()) {
    await handle.close().catch(() => undefined);
    refuse(`${path} is ${kindOf(s)}; expected a regular file`);
  }
  return handle;
}

/** Reads a whole regular file of at most `maxBytes` (a file that grows while read is caught too). */
export async function readCappedFile(path: string, maxBytes: number, where: string): Promise<Uint8Array> {
  const handle = await openRegularFile(path, where);
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) fail(where, `${path} has ${size} bytes; the most accepted is ${maxBytes}`);
    const out = new Uint8Array(maxBytes + 1);
    let done = 0;
    for (;;) {
      const { bytesRead } = await handle.read(out, done, out.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
      if (done > maxBytes) fail(where, `${path} has more than ${maxBytes} bytes, the most accepted`);
    }
    return out.subarray(0, done);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Refuses `path` if it is a symbolic link (a missing path is fine: it is about to be created). */
export async function refuseLink(path: string, where: string, refuse: Refuse = (m) => fail(where, m)): Promise<void> {
  const s = await lstat(path).catch((error: { code?: string }) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (s?.isSymbolicLink()) refuse(`${path} ${LINK_REFUSED}`);
}

// ---- atomic write ---------------------------------------------------------------------------------------

/** This host in a file name: letters, digits and "-" only, at most 32 characters. */
const HOST = (
  hostname()
    .replace(/[^A-Za-z0-9-]/g, "-")
    .slice(0, 32) || "host"
).toLowerCase();

/** The temporary file of a save in progress: hidden, beside the target (a rename is atomic only within one file system). */
function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${HOST}-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

/** The process id recorded in a temporary file's name, if `name` is one of `target`'s, written on this host. */
function writerOf(name: string, target: string): number | null {
  const prefix = `.${basename(target)}.${HOST}-`;
  if (!name.startsWith(prefix) || !name.endsWith(".tmp")) return null;
  const m = /^([1-9][0-9]{0,9})-[0-9a-f]{12}$/.exec(name.slice(prefix.length, -".tmp".length));
  return m ? Number(m[1]) : null;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user
    return (error as { code?: string }).code === "EPERM";
  }
}

/**
 * Removes the temporary files that killed saves of `target` left in its folder: only names of the
 * pattern above, only regular files, and only when the process recorded in the name is gone, so a save
 * in progress (in this process or another) is never touched. Returns how many were removed.
 */
export async function removeStaleTemporaries(target: string): Promise<number> {
  const path = resolve(target);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const pid = writerOf(name, path);
    if (pid === null || isRunning(pid)) continue;
    const file = join(dirname(path), name);
    const s = await lstat(file).catch(() => null);
    if (!s?.isFile()) continue;
    await rm(file, { force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** Filesystems that cannot fsync a directory say so with these; the rename itself is still atomic there. */
const UNSYNCABLE_DIRECTORY = new Set(["EINVAL", "ENOTSUP", "EISDIR", "EPERM", "EACCES", "EBADF"]);

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!(code && UNSYNCABLE_DIRECTORY.has(code))) throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Writes a file so that readers see either the old content or the new, never a mixture: `produce` writes
 * into a temporary file in the same directory, which is fsynced and renamed over `path`, and then the
 * directory is fsynced so the rename survives a power cut. On any error the temporary file is removed and
 * `path` is untouched; what a killed save leaves behind, the next save of the same path removes. A link at
 * `path` is refused (the rename would replace the link, but a reader following it would not see the save).
 */
export async function writeFileAtomic(
  path: string,
  produce: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
  where = `save ${path}`,
  refuse: Refuse = (m) => fail(where, m),
): Promise<WrittenFile> {
  const target = resolve(path);
  await refuseLink(target, where, refuse);
  await removeStaleTemporaries(target);
  const temp = temporaryPathFor(target);
  const hash = createHash("sha256");
  let position = 0;
  let handle: FileHandle | undefined;
  try {
    // keep the permissions of the file being replaced
    const mode = await stat(target).then(
      (s) => s.mode & 0o777,
      () => 0o644,
    );
    // "wx": never write into a file someone else created under the same name (nor through a link there)
    handle = await open(temp, "wx", mode);
    const file = handle;
    await produce(async (bytes) => {
      hash.update(bytes);
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position);
        done += bytesWritten;
        position += bytesWritten;
      }
    });
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(target));
  return { bytes: position, sha256: hash.digest("hex") };
}

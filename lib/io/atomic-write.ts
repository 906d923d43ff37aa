/**
 * Atomic file replacement: write a temporary file in the same directory, fsync it, rename it over
 * the target, fsync the directory. A crash, an exception or a full disk before the rename leaves the
 * old file untouched; after the rename the new file is complete and durable.
 *
 * `atomicWriteFiles` replaces several files of one directory together: every temporary file is
 * written and fsynced before the first rename, so a failure while writing (the usual case: ENOSPC,
 * EIO, a killed process) leaves every old file in place. The files are renamed in the order given;
 * put the file that commits the set (for a model: model.json, which records the size and SHA-256 of
 * the weights it belongs to) last.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink, mkdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Fault injection for tests (the "injectable binding" idea): each hook may throw to simulate a
 * failure at that point. Not for production use.
 * @internal
 */
export interface WriteFaults {
  /** Called before each chunk is written to `target`'s temporary file, with the bytes written so far. */
  beforeWrite?(target: string, bytesWritten: number): void;
  /** Called before the temporary file for `target` is renamed over it. */
  beforeRename?(target: string): void;
}

/** Bytes per write call: large writes are split so a fault can land mid-file. */
const CHUNK = 1 << 20;

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

async function writeSynced(path: string, target: string, data: Uint8Array, faults?: WriteFaults): Promise<void> {
  const fh = await open(path, "wx", 0o644);
  try {
    let done = 0;
    do {
      faults?.beforeWrite?.(target, done);
      const len = Math.min(CHUNK, data.length - done);
      const { bytesWritten } = await fh.write(data, done, len, done);
      done += bytesWritten;
    } while (done < data.length);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so a rename in it is durable (a no-op where directories cannot be opened). */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, "r");
  } catch {
    return; // Windows: directories cannot be opened for fsync.
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EPERM" && code !== "EISDIR") throw e;
  } finally {
    await fh.close();
  }
}

/**
 * Replace the files `files[i].path` (all in one directory, created if missing) with `files[i].data`.
 * On any failure before the renames every temporary file is removed and every old file is intact.
 */
export async function atomicWriteFiles(
  files: readonly { path: string; data: Uint8Array | string }[],
  faults?: WriteFaults,
): Promise<void> {
  if (files.length === 0) return;
  const dir = dirname(files[0]!.path);
  for (const f of files) {
    if (dirname(f.path) !== dir) throw new Error(`atomicWriteFiles: ${f.path} is not in ${dir}; all files must share one directory`);
  }
  await mkdir(dir, { recursive: true });
  const temps: string[] = [];
  const pending = new Set<string>();
  try {
    for (const f of files) {
      const tmp = tempName(f.path);
      temps.push(tmp);
      pending.add(tmp);
      const data = typeof f.data === "string" ? Buffer.from(f.data, "utf8") : f.data;
      await writeSynced(tmp, f.path, data, faults);
    }
    for (let i = 0; i < files.length; i++) {
      faults?.beforeRename?.(files[i]!.path);
      await rename(temps[i]!, files[i]!.path);
      pending.delete(temps[i]!);
    }
    await syncDir(dir);
  } finally {
    for (const tmp of pending) await unlink(tmp).catch(() => undefined);
  }
}

/** Replace one file atomically. */
export async function atomicWriteFile(path: string, data: Uint8Array | string, faults?: WriteFaults): Promise<void> {
  await atomicWriteFiles([{ path, data }], faults);
}

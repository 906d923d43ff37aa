/**
 * Writing files so that no reader ever sees a half-written one and no link planted at the target is
 * followed: the data goes to a new temporary file in the same directory (created exclusively, so an
 * existing file or symbolic link of that name is never opened), is fsynced, then renamed over the
 * target (which replaces a link at the target instead of writing through it), and the directory is
 * fsynced. A crash, an exception or a full disk before the rename leaves the old file untouched.
 *
 * Temporary files are named `.<target name>.<pid>.<random>.tmp`, so that stale ones (left by a
 * killed process) can be told apart from live ones: see `isStale`. Errors name the target, never
 * the temporary file.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink, mkdir, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/**
 * Fault injection for tests (the "injectable binding" idea): `at` is called before each step of a
 * write and may throw to simulate a failure (or a kill) at that point. Steps: "open", "write" (before
 * each chunk), "fsync", "close", "rename", "sync-dir", and the model-directory steps of model-dir.ts.
 * Not for production use.
 * @internal
 */
export interface WriteFaults {
  at?(step: string, target: string): void;
}

/** Bytes per write call: large writes are split so a fault can land mid-file. */
const CHUNK = 1 << 20;

/** Temporary and versioned files carry the writer's pid and a random tag: `<prefix>.<pid>.<hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}.${process.pid}.${randomBytes(6).toString("hex")}`;
}

/** The temporary file a write of `target` goes through. */
export function tempName(target: string): string {
  return join(dirname(target), uniqueName(`.${basename(target)}`) + ".tmp");
}

/** Files this process is writing right now (absolute or as given): never stale. */
const live = new Set<string>();

/** Mark `path` as being written by this process until `done` is called. */
export function markLive(path: string): () => void {
  live.add(path);
  return () => void live.delete(path);
}

/** The paths this process is writing now (a snapshot). */
export function liveSnapshot(): ReadonlySet<string> {
  return new Set(live);
}

/** Whether process `pid` exists (EPERM: it exists but belongs to someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the file `path`, named by `uniqueName` (`....<pid>.<hex>` with an optional extension), was
 * left by a writer that can no longer finish it: its process is gone, or it is this process and
 * `liveNow` (a snapshot of `liveSnapshot()` taken after the directory was listed) does not hold it.
 * Files of other live processes are never stale. Names not in that form are never stale.
 */
export function isStale(path: string, liveNow: ReadonlySet<string>): boolean {
  const m = /\.(\d+)\.[0-9a-f]{8,}(\.[a-z]+)?$/.exec(basename(path));
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return !liveNow.has(path);
  return !processAlive(pid);
}

/** An error from writing `temp`, reworded to name `target` (the file the user asked for). */
function naming(e: unknown, temp: string, target: string): unknown {
  if (e instanceof Error) {
    e.message = e.message.split(temp).join(target);
    const err = e as NodeJS.ErrnoException;
    if (err.path === temp) err.path = target;
  }
  return e;
}

async function writeChunks(fh: FileHandle, target: string, data: Uint8Array, faults?: WriteFaults, at = 0): Promise<void> {
  let done = 0;
  do {
    faults?.at?.("write", target);
    const len = Math.min(CHUNK, data.length - done);
    const { bytesWritten } = await fh.write(data, done, len, at + done);
    done += bytesWritten;
  } while (done < data.length);
}

/**
 * Create `path`, which must not exist (not even as a link), write `data` and fsync it. On failure
 * the partial file is removed. `target` is the name used in fault hooks.
 */
export async function writeNewFile(path: string, data: Uint8Array, target: string, faults?: WriteFaults): Promise<void> {
  faults?.at?.("open", target);
  const fh = await open(path, "wx", 0o644);
  try {
    await writeChunks(fh, target, data, faults);
    faults?.at?.("fsync", target);
    await fh.sync();
    faults?.at?.("close", target);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw e;
  }
  await fh.close();
}

/** fsync a directory so a rename in it is durable (a no-op where directories cannot be opened). */
export async function syncDir(dir: string): Promise<void> {
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

/** What is at `path` when it is not a directory: "missing", "other" (a file, a device...), or stat's error. */
async function notADirectory(path: string): Promise<"missing" | "other" | NodeJS.ErrnoException | null> {
  try {
    return (await stat(path)).isDirectory() ? null : "other";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : (e as NodeJS.ErrnoException);
  }
}

/**
 * Create `dir` and its missing parents, one level at a time, from the deepest directory that exists.
 * Not mkdir's `recursive` option: where a file system refuses a new directory with ENOENT under a
 * directory that exists (procfs: /proc/self/x), Node's recursive mkdir creates the parent again and
 * retries, forever. Here that ENOENT is thrown. A level that exists but is no directory throws mkdir's
 * EEXIST, or the error that statting it gave (ELOOP for a loop of links, ENOTDIR), as mkdir's.
 */
async function createLevels(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  for (let found = await notADirectory(at); found !== null; found = await notADirectory(at)) {
    if (found === "missing" && dirname(at) !== at) {
      missing.push(at);
      at = dirname(at);
    } else if (found === "missing" || found === "other") {
      await mkdir(at); // throws EEXIST: a file stands where a directory should be
    } else {
      throw Object.assign(found, { syscall: "mkdir" });
    }
  }
  for (const level of missing.reverse()) {
    try {
      await mkdir(level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const found = await notADirectory(level);
      if (found === null) continue; // created meanwhile by another writer
      throw found === "missing" || found === "other" ? e : Object.assign(found, { syscall: "mkdir" });
    }
  }
}

/**
 * Create the directory `dir` (and its parents) if missing. When something stands in the way, mkdir's
 * error is thrown with a message that names `dir` and says what to give, in place of "EEXIST: file
 * already exists, mkdir ..." (its code, syscall and path are kept for callers that read them).
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await createLevels(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const problem =
      err.code === "EEXIST" || err.code === "ENOTDIR"
        ? "is a file (or a path through a file), not a directory"
        : err.code === "ELOOP"
          ? "is a loop of symbolic links"
          : err.code === "EACCES" || err.code === "EPERM" || err.code === "EROFS"
            ? `cannot be created here (${err.code}: not writable)`
            : err.code === "ENOENT"
              ? "cannot be created here (ENOENT: its file system, such as /proc or /sys, does not take new directories)"
              : null;
    if (err instanceof Error && problem !== null) err.message = `${dir}: ${problem}: give the path of a directory to write into (it is created if missing)`;
    throw e;
  }
}

/**
 * Replace `path` with `data` atomically (its directory is created if missing). A link at `path` is
 * replaced, never followed. On failure the old file is intact and the temporary file removed.
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string, faults?: WriteFaults): Promise<void> {
  const dir = dirname(path);
  await makeDirectory(dir);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const tmp = tempName(path);
  const done = markLive(tmp);
  try {
    await writeNewFile(tmp, bytes, path, faults);
    faults?.at?.("rename", path);
    await rename(tmp, path);
    faults?.at?.("sync-dir", path);
    await syncDir(dir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw naming(e, tmp, path);
  } finally {
    done();
  }
}

/**
 * A file written piece by piece (e.g. predictions, row by row) that appears at `path` only when
 * `commit` is called, atomically as `atomicWriteFile` does; `abort` removes it. Writes are buffered.
 */
export class AtomicFileWriter {
  private fh: FileHandle | null = null;
  private readonly tmp: string;
  private readonly done: () => void;
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private constructor(readonly path: string) {
    this.tmp = tempName(path);
    this.done = markLive(this.tmp);
  }

  /** Start writing `path`: the temporary file is created now, so a bad path fails before any work. */
  static async open(path: string): Promise<AtomicFileWriter> {
    const w = new AtomicFileWriter(path);
    try {
      w.fh = await open(w.tmp, "wx", 0o644);
    } catch (e) {
      w.done();
      throw naming(e, w.tmp, path);
    }
    return w;
  }

  async write(text: string): Promise<void> {
    const b = Buffer.from(text, "utf8");
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      await writeChunks(this.fh!, this.path, data, undefined, this.pos);
    } catch (e) {
      throw naming(e, this.tmp, this.path);
    }
    this.pos += data.length;
  }

  /** Flush, fsync and rename into place. */
  async commit(): Promise<void> {
    try {
      await this.flush();
      await this.fh!.sync();
      await this.fh!.close();
      this.fh = null;
      await rename(this.tmp, this.path);
      await syncDir(dirname(this.path));
    } catch (e) {
      await this.abort();
      throw naming(e, this.tmp, this.path);
    } finally {
      this.done();
    }
  }

  /** Discard what was written; the target is untouched. */
  async abort(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    await unlink(this.tmp).catch(() => undefined);
    this.done();
  }
}

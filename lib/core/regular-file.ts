/**
 * Opening a file that blasnet reads (a CSV file, model.json and its weights, a safetensors file, an
 * export's blasnet.json): only a regular file is read. A FIFO, a device such as /dev/zero or a
 * socket never ends, so it is refused from the open file's own status (fstat), with no window in
 * which the path could be swapped between a check and the read; the open does not block, so a FIFO
 * without a writer is refused at once instead of waiting for one.
 */
import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** Opening flags: read-only and non-blocking (Windows has no O_NONBLOCK and no FIFOs). */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** What a path that is not a regular file is, for an error ("a FIFO (named pipe)"). */
export function fileKind(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** An open regular file and its size in bytes; close `handle` when done. */
export interface RegularFile {
  handle: FileHandle;
  size: number;
}

/**
 * Open `path` for reading if it is a regular file. `fail(problem)` makes the error (it names the
 * file): "was not found", "cannot be opened (EACCES)", "is a FIFO (named pipe), not a regular file".
 */
export async function openRegularFile(path: string, fail: (problem: string) => Error): Promise<RegularFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(code === "ENOENT" ? "was not found" : `cannot be opened (${code ?? (e as Error).message})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw fail(`is ${fileKind(st)}, not a regular file`);
    return { handle, size: st.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Exactly `length` bytes of `file` from `position`; fewer (the file shrank since it was opened) is
 * `fail`'s error.
 */
export async function readExactly(file: RegularFile, position: number, length: number, fail: (problem: string) => Error): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      ({ bytesRead: n } = await file.handle.read(out, done, length - done, position + done));
    } catch (e) {
      throw fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (n === 0) throw fail(`ended after ${position + done} bytes while ${file.size} were expected: it changed while it was read`);
    done += n;
  }
  return out;
}

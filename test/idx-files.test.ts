/**
 * readIdx / readIdxSync on what is not an IDX file: FIFOs and devices (/dev/zero, /dev/urandom)
 * are refused at once instead of read forever, and a huge file whose header is wrong or does not
 * match its size is refused from its first bytes, without reading its body.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeIdx, readIdx, readIdxSync } from "../lib/data/idx.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-idx-files-");
const unix = process.platform !== "win32";

/** A sparse file of `size` bytes (no disk used) starting with `head`. */
async function sparse(name: string, head: Uint8Array, size: number): Promise<string> {
  const p = join(dir, name);
  const fh = await open(p, "w");
  await fh.write(head, 0, head.length, 0);
  await fh.truncate(size);
  await fh.close();
  return p;
}

/** External memory (ArrayBuffers) grown by `fn`, in bytes. */
async function grownBy(fn: () => unknown): Promise<number> {
  const before = process.memoryUsage().arrayBuffers;
  try {
    await fn();
  } catch {
    // the error is checked separately
  }
  return process.memoryUsage().arrayBuffers - before;
}

describe.runIf(unix)("readIdx refuses what is not a regular file", () => {
  const fifo = join(dir, "fifo");
  it.each([
    ["a FIFO", fifo, /fifo: is a FIFO \(named pipe\); expected an IDX file/],
    ["/dev/zero", "/dev/zero", /\/dev\/zero: is a character device; expected an IDX file/],
    ["/dev/urandom", "/dev/urandom", /\/dev\/urandom: is a character device; expected an IDX file/],
    ["a directory", dir, /is a directory; expected an IDX file/],
  ])("%s: readIdx and readIdxSync fail at once", async (_what, path, pattern) => {
    if (path === fifo && !existsSync(fifo)) execFileSync("mkfifo", [fifo]);
    await expect(readIdx(path)).rejects.toThrow(pattern);
    expect(() => readIdxSync(path)).toThrow(pattern);
  });
});

describe("readIdx checks the header against the file size before reading the body", () => {
  const SIZE = 512 * 1024 * 1024;
  it("an unknown element type in a 512 MB file", async () => {
    const p = await sparse("bad-type.idx", new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 1]), SIZE);
    await expect(readIdx(p)).rejects.toThrow(/unknown element type code 0x42/);
    expect(() => readIdxSync(p)).toThrow(/unknown element type code 0x42/);
    expect(await grownBy(() => readIdx(p))).toBeLessThan(SIZE / 8);
    expect(await grownBy(() => readIdxSync(p))).toBeLessThan(SIZE / 8);
  });

  it("a header that does not match a 512 MB file's size", async () => {
    const header = encodeIdx({ dtype: "uint8", shape: [10, 28, 28], data: new Uint8Array(7840) }).subarray(0, 16);
    const p = await sparse("bad-size.idx", header, SIZE);
    await expect(readIdx(p)).rejects.toThrow(/dimensions do not match the file size: .* 7840 elements \(7840 bytes\) but 536870896 data bytes/);
    expect(await grownBy(() => readIdx(p))).toBeLessThan(SIZE / 8);
    expect(await grownBy(() => readIdxSync(p))).toBeLessThan(SIZE / 8);
  });

  it("a valid file still reads, plain and gzip", async () => {
    const a = { dtype: "int16" as const, shape: [2, 3], data: new Int16Array([1, -2, 3, -4, 5, -6]) };
    for (const gzip of [false, true]) {
      const p = join(dir, `ok-${gzip}.idx`);
      await writeFile(p, encodeIdx(a, { gzip }));
      expect(Array.from((await readIdx(p)).data)).toEqual([1, -2, 3, -4, 5, -6]);
      expect(readIdxSync(p).shape).toEqual([2, 3]);
    }
  });
});

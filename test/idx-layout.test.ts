import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeIdx, parseIdx, readIdx, readIdxHeaderSync, readIdxSync } from "../lib/data/idx.js";
import { loadFashionMnist } from "../lib/data/fashion-mnist.js";
import { Matrix } from "../lib/core/matrix.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-idx-layout-");
function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

describe("IDX images as (N, 1, H, W): channelAxis", () => {
  const values = Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 11) % 256);
  const images = encodeIdx({ dtype: "uint8", shape: [3, 4, 5], data: values });

  it("every reader gives the shape [N, 1, H, W] and the same elements", async () => {
    const plain = file("img.idx", images);
    const gz = file("img.idx.gz", encodeIdx({ dtype: "uint8", shape: [3, 4, 5], data: values }, { gzip: true }));
    for (const a of [readIdxSync(plain, { channelAxis: true }), await readIdx(plain, { channelAxis: true }), await readIdx(gz, { channelAxis: true }), parseIdx(images, "<b>", { channelAxis: true })]) {
      expect(a.shape).toEqual([3, 1, 4, 5]);
      expect(Array.from(a.data)).toEqual(values);
    }
    expect(readIdxHeaderSync(gz, { channelAxis: true })).toEqual({ dtype: "uint8", shape: [3, 1, 4, 5] });
    expect((await readIdx(plain)).shape).toEqual([3, 4, 5]);
    expect(readIdxSync(plain, { channelAxis: false }).shape).toEqual([3, 4, 5]);
  });

  it("a file that is not (N, H, W) is refused, naming its shape", async () => {
    const labels = file("labels.idx", encodeIdx({ dtype: "uint8", shape: [4], data: [1, 2, 3, 4] }));
    await expect(readIdx(labels, { channelAxis: true })).rejects.toThrow(
      /labels\.idx: channelAxis: expected images of shape \[count, rows, cols\] .* but the file holds shape \[4\]; leave channelAxis unset/,
    );
    expect(() => readIdxSync(labels, { channelAxis: true })).toThrow(/holds shape \[4\]/);
    // @ts-expect-error: a string where a boolean belongs
    expect(() => readIdxSync(labels, { channelAxis: "yes" })).toThrow(/Invalid channelAxis: expected true or false but received "yes"/);
  });
});

describe("readIdx streams gzip files", () => {
  it("files of many chunks, every element type, read the same as the synchronous reader", async () => {
    // Far beyond zlib's 16 KiB chunks, with sizes that split elements and the header across chunks.
    for (const [dtype, n] of [["uint8", 100_003], ["int16", 50_001], ["int32", 30_007], ["float32", 30_011], ["float64", 20_021]] as const) {
      const data = Array.from({ length: n }, (_, i) => (dtype === "float32" || dtype === "float64" ? Math.sin(i) * 1000 : (i * 7919) % 251) - 100 * Number(dtype !== "uint8"));
      const p = file(`big-${dtype}.idx.gz`, encodeIdx({ dtype, shape: [n], data }, { gzip: true }));
      const a = await readIdx(p);
      const b = readIdxSync(p);
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([n]);
      expect(a.data).toEqual(b.data);
      expect(a.data[n - 1]).toBeCloseTo(b.data[n - 1]!, 6);
    }
  });

  it("a stream that is not IDX is refused at its first bytes, before the rest is decompressed", async () => {
    // 20 MB of zeros after a bad magic number, with maxBytes 1 MB: reading it whole would end on
    // maxBytes; the stream stops at the header.
    const bytes = new Uint8Array(20_000_000);
    bytes.set([0x50, 0x4b, 0x08, 1]);
    const p = file("not-idx.gz", gzipSync(bytes, { level: 1 }));
    await expect(readIdx(p, { maxBytes: 1_000_000 })).rejects.toThrow(/not-idx\.gz: not an IDX file: bad magic number, the first two bytes are 0x50 0x4B/);
  });

  it("a header declaring more than its compressed size can hold is refused before allocating it", async () => {
    // 500 MB declared (under the 1 GiB default of maxBytes), about 40 bytes of gzip.
    const p = file("liar.idx.gz", gzipSync(Uint8Array.from([0, 0, 0x08, 1, ...u32(500_000_000), 1, 2, 3])));
    await expect(readIdx(p)).rejects.toThrow(
      /liar\.idx\.gz: the header declares uint8 \[500000000\] = 500000008 bytes, more than the \d+ bytes a gzip file of its size can hold/,
    );
    await expect(readIdx(p, { maxBytes: 1000 })).rejects.toThrow(/more than maxBytes = 1000 bytes; pass a larger \{ maxBytes \}/);
  });

  it("data past the declared size, or short of it, is reported with the sizes", async () => {
    const long = file("long.idx.gz", gzipSync(Uint8Array.from([0, 0, 0x08, 1, ...u32(2), 1, 2, 3, 4, 5])));
    await expect(readIdx(long)).rejects.toThrow(/long\.idx\.gz: dimensions do not match the file size: .* 2 elements \(2 bytes\) but 5 data bytes .* \(3 bytes too many\)/);
    const short = file("short.idx.gz", gzipSync(Uint8Array.from([0, 0, 0x0c, 1, ...u32(2), 1, 2, 3])));
    await expect(readIdx(short)).rejects.toThrow(/short\.idx\.gz: truncated data: the header declares int32 \[2\] = 2 elements \(8 bytes\) but 3 data bytes/);
    const header = file("header.idx.gz", gzipSync(Uint8Array.from([0, 0, 0x08, 3, ...u32(2)])));
    await expect(readIdx(header)).rejects.toThrow(/header\.idx\.gz: truncated header: 3 dimensions need 16 header bytes but the file has 8/);
  });
});

describe("loadFashionMnist({ layout })", () => {
  it('"nchw" gives { data, shape: [count, 1, 28, 28] } with the same pixels as "flat"', async () => {
    const d = mkdtempSync(join(tmpdir(), "blasnet-fm-layout-"));
    try {
      const img = (n: number): Uint8Array => encodeIdx({ dtype: "uint8", shape: [n, 28, 28], data: Array.from({ length: n * 784 }, (_, i) => (i * 13) % 256) }, { gzip: true });
      writeFileSync(join(d, "train-images-idx3-ubyte.gz"), img(4));
      writeFileSync(join(d, "train-labels-idx1-ubyte.gz"), encodeIdx({ dtype: "uint8", shape: [4], data: [9, 0, 3, 3] }, { gzip: true }));
      writeFileSync(join(d, "t10k-images-idx3-ubyte.gz"), img(2));
      writeFileSync(join(d, "t10k-labels-idx1-ubyte.gz"), encodeIdx({ dtype: "uint8", shape: [2], data: [4, 8] }, { gzip: true }));
      const flat = await loadFashionMnist({ dir: d });
      const nchw = await loadFashionMnist({ dir: d, layout: "nchw", testLimit: 1 });
      expect(flat.train.images).toBeInstanceOf(Matrix);
      expect(nchw.train.images.shape).toEqual([4, 1, 28, 28]);
      expect(nchw.test.images.shape).toEqual([1, 1, 28, 28]);
      expect(nchw.train.images.data).toEqual(flat.train.images.data);
      expect(nchw.train.images.data[1]).toBeCloseTo(13 / 255, 7);
      expect(Array.from(nchw.train.labels)).toEqual([9, 0, 3, 3]);
      expect((await loadFashionMnist({ dir: d, layout: "flat" })).test.images.shape).toEqual([2, 784]);
      // @ts-expect-error: not a layout
      await expect(loadFashionMnist({ dir: d, layout: "nhwc" })).rejects.toThrow(/Invalid layout: "nhwc"; expected "flat" .* or "nchw" \(shape \[count, 1, 28, 28\]\)/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

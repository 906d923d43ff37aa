import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  encodeIdx,
  IdxFormatError,
  parseIdx,
  readIdx,
  readIdxHeaderSync,
  readIdxSync,
} from "../lib/data/idx.js";
import { FASHION_MNIST_DEBIAN_DIR, loadFashionMnist, locateFashionMnist } from "../lib/data/fashion-mnist.js";
import { tempDir } from "./helpers.js";

/** IDX bytes written by hand (header fields and big-endian values spelled out), independent of encodeIdx. */
function bytesOf(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}
const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

const dir = tempDir("blasnet-idx-");
function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

// A 2x3 uint8 array, and the same values in every other element type, hand-encoded big-endian.
const UINT8_2x3 = bytesOf([0, 0, 0x08, 2], u32(2), u32(3), [0, 1, 2, 253, 254, 255]);
const INT8_4 = bytesOf([0, 0, 0x09, 1], u32(4), [0x80, 0xff, 0x00, 0x7f]); // -128, -1, 0, 127
const INT16_3 = bytesOf([0, 0, 0x0b, 1], u32(3), [0x80, 0x00, 0xff, 0xfe, 0x01, 0x02]); // -32768, -2, 258
const INT32_2 = bytesOf([0, 0, 0x0c, 1], u32(2), [0xff, 0xff, 0xff, 0xfd], [0x01, 0x02, 0x03, 0x04]); // -3, 0x01020304
const FLOAT32_2 = bytesOf([0, 0, 0x0d, 1], u32(2), [0x3f, 0xc0, 0, 0], [0xc0, 0x20, 0, 0]); // 1.5, -2.5
const FLOAT64_1x1 = bytesOf([0, 0, 0x0e, 2], u32(1), u32(1), [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]); // pi

describe("IDX reader: formats", () => {
  it("reads uint8 with its shape, plain and gzip, sync and async", async () => {
    const plain = file("u8.idx", UINT8_2x3);
    const gz = file("u8.idx.gz", gzipSync(UINT8_2x3));
    const noSuffix = file("u8-gzip-without-suffix", gzipSync(UINT8_2x3)); // detected by magic, not name
    for (const a of [readIdxSync(plain), readIdxSync(gz), await readIdx(plain), await readIdx(gz), await readIdx(noSuffix)]) {
      expect(a.dtype).toBe("uint8");
      expect(a.shape).toEqual([2, 3]);
      expect(a.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(a.data)).toEqual([0, 1, 2, 253, 254, 255]);
    }
  });

  it("reads every other element type big-endian", () => {
    const i8 = parseIdx(INT8_4);
    expect(i8.dtype).toBe("int8");
    expect(i8.data).toBeInstanceOf(Int8Array);
    expect(Array.from(i8.data)).toEqual([-128, -1, 0, 127]);

    const i16 = parseIdx(INT16_3);
    expect(i16.dtype).toBe("int16");
    expect(i16.data).toBeInstanceOf(Int16Array);
    expect(Array.from(i16.data)).toEqual([-32768, -2, 258]);

    const i32 = parseIdx(INT32_2);
    expect(i32.dtype).toBe("int32");
    expect(i32.data).toBeInstanceOf(Int32Array);
    expect(Array.from(i32.data)).toEqual([-3, 0x01020304]);

    const f32 = parseIdx(FLOAT32_2);
    expect(f32.dtype).toBe("float32");
    expect(f32.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f32.data)).toEqual([1.5, -2.5]);

    const f64 = parseIdx(gzipSync(FLOAT64_1x1));
    expect(f64.dtype).toBe("float64");
    expect(f64.shape).toEqual([1, 1]);
    expect(f64.data[0]).toBe(Math.PI);
  });

  it("reads an empty array (a zero dimension) and three dimensions", () => {
    const empty = parseIdx(bytesOf([0, 0, 0x08, 2], u32(0), u32(28)));
    expect(empty.shape).toEqual([0, 28]);
    expect(empty.data.length).toBe(0);
    const three = parseIdx(bytesOf([0, 0, 0x08, 3], u32(2), u32(1), u32(2), [9, 8, 7, 6]));
    expect(three.shape).toEqual([2, 1, 2]);
    expect(Array.from(three.data)).toEqual([9, 8, 7, 6]);
  });

  it("does not return a view that shares memory with the input", () => {
    const bytes = UINT8_2x3.slice();
    const a = parseIdx(bytes);
    bytes[12] = 99;
    expect(a.data[0]).toBe(0);
    const buf = Buffer.from(INT8_4); // Buffer#slice is a view: the reader must copy anyway
    const b = parseIdx(buf);
    buf[8] = 5;
    expect(b.data[0]).toBe(-128);
    expect(b.data.buffer.byteLength).toBe(4);
  });

  it("encodeIdx writes exactly the hand-encoded bytes, and round-trips every dtype", () => {
    expect(encodeIdx({ dtype: "uint8", shape: [2, 3], data: [0, 1, 2, 253, 254, 255] })).toEqual(UINT8_2x3);
    expect(encodeIdx({ dtype: "int16", shape: [3], data: [-32768, -2, 258] })).toEqual(INT16_3);
    expect(encodeIdx({ dtype: "float32", shape: [2], data: [1.5, -2.5] })).toEqual(FLOAT32_2);
    expect(encodeIdx({ dtype: "float64", shape: [1, 1], data: [Math.PI] })).toEqual(FLOAT64_1x1);
    const values = [-7, 0, 5, 100];
    for (const dtype of ["int8", "int16", "int32", "float32", "float64"] as const) {
      const back = parseIdx(encodeIdx({ dtype, shape: [2, 2], data: values }, { gzip: true }));
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([2, 2]);
      expect(Array.from(back.data)).toEqual(values);
    }
    expect(() => encodeIdx({ dtype: "uint8", shape: [2, 2], data: [1, 2, 3] })).toThrow(/needs 4 values but data has 3/);
    expect(() => encodeIdx({ dtype: "uint8", shape: [], data: [] })).toThrow(/1 to 255 dimensions/);
  });
});

describe("IDX reader: errors name the file and the problem", () => {
  it("bad magic number", () => {
    const p = file("bad-magic.idx", bytesOf([0x12, 0x34, 0x08, 1], u32(1), [5]));
    expect(() => readIdxSync(p)).toThrow(IdxFormatError);
    expect(() => readIdxSync(p)).toThrow(`${p}: not an IDX file: bad magic number, the first two bytes are 0x12 0x34`);
  });

  it("a PNG or text file is not an IDX file", () => {
    const p = file("text.txt", new TextEncoder().encode("hello, world"));
    expect(() => readIdxSync(p)).toThrow(/text\.txt: not an IDX file: bad magic number, the first two bytes are 0x68 0x65/);
  });

  it("unknown element type", () => {
    const p = file("bad-type.idx", bytesOf([0, 0, 0x0a, 1], u32(1), [5]));
    expect(() => readIdxSync(p)).toThrow(/bad-type\.idx: unknown element type code 0x0A/);
  });

  it("zero dimensions", () => {
    expect(() => parseIdx(bytesOf([0, 0, 0x08, 0]), "zero-dims.idx")).toThrow(/zero-dims\.idx: the header declares 0 dimensions/);
  });

  it("file shorter than the 4-byte magic", () => {
    const p = file("tiny.idx", bytesOf([0, 0]));
    expect(() => readIdxSync(p)).toThrow(/tiny\.idx: truncated: 2 bytes is too short/);
    const empty = file("empty.idx", new Uint8Array(0));
    expect(() => readIdxSync(empty)).toThrow(/empty\.idx: truncated: 0 bytes/);
  });

  it("truncated header (fewer dimension words than declared)", () => {
    const p = file("short-header.idx", bytesOf([0, 0, 0x08, 3], u32(60000), [0, 0]));
    expect(() => readIdxSync(p)).toThrow(/short-header\.idx: truncated header: 3 dimensions need 16 header bytes but the file has 10/);
  });

  it("truncated data", () => {
    const p = file("short-data.idx", UINT8_2x3.subarray(0, UINT8_2x3.length - 2));
    expect(() => readIdxSync(p)).toThrow(
      /short-data\.idx: truncated data: the header declares uint8 \[2, 3\] = 6 elements \(6 bytes\) but 4 data bytes follow the 12-byte header/,
    );
    const i32 = file("short-int32.idx", INT32_2.subarray(0, INT32_2.length - 1));
    expect(() => readIdxSync(i32)).toThrow(/short-int32\.idx: truncated data: .*int32 \[2\] = 2 elements \(8 bytes\) but 7/);
  });

  it("dimensions that do not match the file size (too many bytes)", () => {
    const p = file("long.idx", bytesOf(Array.from(UINT8_2x3), [1, 2, 3]));
    expect(() => readIdxSync(p)).toThrow(/long\.idx: dimensions do not match the file size: .* \(3 bytes too many\)/);
  });

  it("a header claiming enormous dimensions is rejected without allocating them", () => {
    // 4e9 x 4e9 x 4e9 float64: far beyond any memory; must fail on the size check, not in an allocation.
    const huge = bytesOf([0, 0, 0x0e, 3], u32(0xfffffff0), u32(0xfffffff0), u32(0xfffffff0), [1, 2, 3, 4]);
    expect(() => parseIdx(huge, "huge.idx")).toThrow(/huge\.idx: truncated data: the header declares float64/);
    // A product that would overflow 32 bits and wrap to a small number must not be taken at face value.
    const wrap = bytesOf([0, 0, 0x08, 2], u32(0x10000), u32(0x10000), [7]);
    expect(() => parseIdx(wrap, "wrap.idx")).toThrow(/wrap\.idx: truncated data: .*4294967296 elements/);
  });

  it("truncated and corrupt gzip", () => {
    const gz = gzipSync(bytesOf(Array.from(UINT8_2x3), new Array(2000).fill(0).map((_, i) => i & 255)));
    const p = file("cut.idx.gz", gz.subarray(0, gz.length - 30));
    expect(() => readIdxSync(p)).toThrow(/cut\.idx\.gz: corrupt or truncated gzip data/);
    return expect(readIdx(p)).rejects.toThrow(/cut\.idx\.gz: corrupt or truncated gzip data/);
  });

  it("gzip that decompresses beyond maxBytes", async () => {
    const bomb = gzipSync(bytesOf([0, 0, 0x08, 1], u32(1_000_000), new Array(1_000_000).fill(0)));
    const p = file("big.idx.gz", bomb);
    expect(() => readIdxSync(p, { maxBytes: 1000 })).toThrow(/big\.idx\.gz: gzip data decompresses to more than maxBytes = 1000 bytes/);
    await expect(readIdx(p, { maxBytes: 1000 })).rejects.toThrow(/more than maxBytes = 1000/);
    expect(readIdxSync(p).shape).toEqual([1_000_000]);
  });

  it("gzip whose content has dims not matching its size names the file", () => {
    const p = file("mismatch.idx.gz", gzipSync(UINT8_2x3.subarray(0, 14)));
    expect(() => readIdxSync(p)).toThrow(/mismatch\.idx\.gz: truncated data/);
  });

  it("missing file, directory, bad argument", async () => {
    const missing = join(dir, "nope.idx");
    expect(() => readIdxSync(missing)).toThrow(`${missing}: no such file`);
    await expect(readIdx(missing)).rejects.toThrow(`${missing}: no such file`);
    expect(() => readIdxSync(dir)).toThrow(/is a directory/);
    expect(() => readIdxSync("")).toThrow(/Expected a file path/);
  });
});

describe("Fashion-MNIST files", () => {
  it("a missing directory gives an error with the fix", async () => {
    const empty = mkdtempSync(join(tmpdir(), "blasnet-fm-"));
    try {
      expect(() => locateFashionMnist(empty)).toThrow(/Fashion-MNIST not found in .*: missing .*train-images-idx3-ubyte\.gz/);
      await expect(loadFashionMnist({ dir: empty })).rejects.toThrow(/sudo apt-get install dataset-fashion-mnist/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("loads a small directory of IDX files: pixels in [0, 1], labels as Int32Array, limits", async () => {
    const d = mkdtempSync(join(tmpdir(), "blasnet-fm-"));
    try {
      const img = (n: number): Uint8Array =>
        encodeIdx({ dtype: "uint8", shape: [n, 28, 28], data: Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256) }, { gzip: true });
      writeFileSync(join(d, "train-images-idx3-ubyte.gz"), img(5));
      writeFileSync(join(d, "train-labels-idx1-ubyte.gz"), encodeIdx({ dtype: "uint8", shape: [5], data: [9, 0, 3, 3, 1] }, { gzip: true }));
      writeFileSync(join(d, "t10k-images-idx3-ubyte"), img(2)); // uncompressed is accepted too
      writeFileSync(join(d, "t10k-labels-idx1-ubyte"), encodeIdx({ dtype: "uint8", shape: [2], data: [4, 8] }));
      const fm = await loadFashionMnist({ dir: d, trainLimit: 3 });
      expect(fm.train.images.shape).toEqual([3, 784]);
      expect(fm.train.images.data).toBeInstanceOf(Float32Array);
      expect(fm.train.images.get(0, 1)).toBeCloseTo(7 / 255, 7);
      expect(fm.train.images.get(0, 73)).toBeCloseTo(255 / 255, 7); // (73*7) % 256 = 255
      expect(Array.from(fm.train.labels)).toEqual([9, 0, 3]);
      expect(fm.train.labels).toBeInstanceOf(Int32Array);
      expect(fm.test.images.shape).toEqual([2, 784]);
      expect(Array.from(fm.test.labels)).toEqual([4, 8]);

      writeFileSync(join(d, "t10k-labels-idx1-ubyte"), encodeIdx({ dtype: "uint8", shape: [2], data: [4, 10] }));
      await expect(loadFashionMnist({ dir: d })).rejects.toThrow(/t10k-labels-idx1-ubyte: label 10 at index 1 is out of range/);
      writeFileSync(join(d, "t10k-labels-idx1-ubyte"), encodeIdx({ dtype: "uint8", shape: [3], data: [4, 1, 2] }));
      await expect(loadFashionMnist({ dir: d })).rejects.toThrow(/holds 3 labels but .*t10k-images-idx3-ubyte holds 2 images/);
      await expect(loadFashionMnist({ dir: d, trainLimit: 0 })).rejects.toThrow(/Invalid trainLimit: 0/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  // The Debian package dataset-fashion-mnist is installed by set-up and in CI; the headers of the
  // real files are the ground truth for the reader.
  const debian = existsSync(join(FASHION_MNIST_DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"));
  it.skipIf(!debian && !process.env["CI"])("reads the headers of the real Debian files", () => {
    const expected: Record<string, number[]> = {
      "train-images-idx3-ubyte.gz": [60000, 28, 28],
      "train-labels-idx1-ubyte.gz": [60000],
      "t10k-images-idx3-ubyte.gz": [10000, 28, 28],
      "t10k-labels-idx1-ubyte.gz": [10000],
    };
    for (const [name, shape] of Object.entries(expected)) {
      const h = readIdxHeaderSync(join(FASHION_MNIST_DEBIAN_DIR, name));
      expect(h, name).toEqual({ dtype: "uint8", shape });
    }
    const labels = readIdxSync(join(FASHION_MNIST_DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz"));
    const counts = new Array(10).fill(0);
    for (const c of labels.data) counts[c]++;
    expect(counts).toEqual(new Array(10).fill(1000)); // the test set is balanced: 1,000 per class
  });
});

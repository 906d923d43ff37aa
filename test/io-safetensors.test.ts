import { describe, expect, it } from "vitest";
import { mkdtemp, readFile, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors, ModelFileError, readSafetensors, type Tensor } from "../lib/io/safetensors.js";
import { Rng } from "../lib/core/rng.js";
import { expectModelFileError } from "./helpers.js";

const F = "weights.safetensors";

function sample(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ["layers.0.weight", { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ["layers.0.bias", { shape: [3], data: Float32Array.from([-1, 0.5, 1e-7]) }],
    ["layers.2.weight", { shape: [1, 3], data: Float32Array.from([Math.PI, -0, 7]) }],
  ]);
}

/** Build a file from a header object and a data buffer, exactly as given (for hostile cases). */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header), "utf8");
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const expectFileError = (fn: () => unknown, pattern: RegExp): void => expectModelFileError(fn, F, pattern);

describe("safetensors", () => {
  it("round-trips tensors and metadata, with the layout of the format", () => {
    const bytes = encodeSafetensors(sample(), { format: "pt" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0); // data 8-byte aligned
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8"));
    expect(header["layers.0.weight"]).toEqual({ dtype: "F32", shape: [3, 2], data_offsets: [0, 24] });
    expect(header["layers.0.bias"]).toEqual({ dtype: "F32", shape: [3], data_offsets: [24, 36] });
    expect(header["__metadata__"]).toEqual({ format: "pt" });
    // Little-endian raw float32 at the stated offset.
    expect(new DataView(bytes.buffer).getFloat32(8 + n + 4, true)).toBe(2);

    const back = decodeSafetensors(bytes, F);
    expect(back.metadata).toEqual({ format: "pt" });
    expect([...back.tensors.keys()]).toEqual(["layers.0.weight", "layers.0.bias", "layers.2.weight"]);
    for (const [name, t] of sample()) {
      expect(back.tensors.get(name)!.shape).toEqual(t.shape);
      expect(Array.from(back.tensors.get(name)!.data)).toEqual(Array.from(t.data));
    }
  });

  it("reads a file written by the reference implementation's layout (hand-built bytes)", () => {
    // {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} followed by 1.0f, 2.0f: as the Rust and
    // Python implementations lay it out.
    const data = new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
    const t = decodeSafetensors(rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, data), F);
    expect(Array.from(t.tensors.get("a")!.data)).toEqual([1, 2]);
  });

  it("accepts header padding with spaces and a zero-size tensor", () => {
    const h = { e: { dtype: "F32", shape: [0, 5], data_offsets: [0, 0] }, a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };
    const text = JSON.stringify(h) + "     ";
    const t = decodeSafetensors(rawFile(null, new Uint8Array(4), text), F);
    expect(t.tensors.get("e")!.data.length).toBe(0);
  });

  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const cases: { name: string; file: () => Uint8Array; error: RegExp }[] = [
    { name: "empty file", file: () => new Uint8Array(0), error: /truncated/ },
    { name: "truncated in the length", file: () => new Uint8Array(5), error: /truncated/ },
    {
      name: "header length beyond the file",
      file: () => {
        const b = rawFile({ a: ok }, new Uint8Array(8));
        new DataView(b.buffer).setBigUint64(0, BigInt(b.length), true);
        return b;
      },
      error: /header length \d+ goes beyond the end of the file/,
    },
    {
      name: "header length 2^64-1 (no allocation from it)",
      file: () => {
        const b = rawFile({ a: ok }, new Uint8Array(8));
        new DataView(b.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
        return b;
      },
      error: /beyond the end of the file/,
    },
    { name: "header not JSON", file: () => rawFile(null, new Uint8Array(8), "{not json at all}"), error: /not JSON/ },
    { name: "header not an object", file: () => rawFile(null, new Uint8Array(0), "[1, 2, 3]"), error: /not JSON|not a JSON object/ },
    { name: "header not UTF-8", file: () => rawFile(null, new Uint8Array(0), "{\"\xff\xfe\": 1}").map((v, i) => (i === 10 ? 0xff : v)), error: /UTF-8|JSON/ },
    { name: "truncated data", file: () => rawFile({ a: ok }, new Uint8Array(6)), error: /outside the 6-byte data buffer/ },
    {
      name: "offsets outside the data",
      file: () => rawFile({ a: { ...ok, data_offsets: [8, 16] } }, new Uint8Array(8)),
      error: /outside the 8-byte data buffer/,
    },
    {
      name: "overlapping offsets",
      file: () =>
        rawFile({ a: ok, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
      error: /overlap/,
    },
    {
      name: "offsets not covering the data (gap)",
      file: () => rawFile({ a: { ...ok, data_offsets: [4, 12] } }, new Uint8Array(12)),
      error: /belong to no tensor/,
    },
    {
      name: "offsets not covering the data (trailing bytes)",
      file: () => rawFile({ a: ok }, new Uint8Array(12)),
      error: /belong to no tensor/,
    },
    { name: "begin after end", file: () => rawFile({ a: { ...ok, data_offsets: [8, 0] } }, new Uint8Array(8)), error: /begin after end/ },
    { name: "negative offset", file: () => rawFile({ a: { ...ok, data_offsets: [-8, 0] } }, new Uint8Array(8)), error: /non-negative integers/ },
    { name: "dtype F16", file: () => rawFile({ a: { ...ok, dtype: "F16" } }, new Uint8Array(8)), error: /dtype "F16"; only F32/ },
    { name: "dtype F64", file: () => rawFile({ a: { ...ok, dtype: "F64", shape: [1] } }, new Uint8Array(8)), error: /only F32/ },
    {
      name: "shape not matching the byte size",
      file: () => rawFile({ a: { ...ok, shape: [3] } }, new Uint8Array(8)),
      error: /needs 12 bytes but data_offsets span 8/,
    },
    {
      name: "huge shape (no allocation from it)",
      file: () => rawFile({ a: { ...ok, shape: [2 ** 40, 2 ** 12] } }, new Uint8Array(8)),
      error: /needs .* bytes but data_offsets span 8/,
    },
    { name: "fractional shape", file: () => rawFile({ a: { ...ok, shape: [1.5] } }, new Uint8Array(8)), error: /shape/ },
    { name: "metadata not strings", file: () => rawFile({ __metadata__: { a: 1 }, a: ok }, new Uint8Array(8)), error: /__metadata__\.a/ },
    { name: "entry not an object", file: () => rawFile({ a: 5 }, new Uint8Array(0)), error: /entry is not an object/ },
  ];
  for (const c of cases) {
    it(`rejects: ${c.name}`, () => expectFileError(() => decodeSafetensors(c.file(), F), c.error));
  }

  it("readSafetensors names the path, including for a missing file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blasnet-st-"));
    try {
      const p = join(dir, "m.safetensors");
      await writeFile(p, encodeSafetensors(sample()));
      expect((await readSafetensors(p)).tensors.size).toBe(3);
      await writeFile(p, (await readFile(p)).subarray(0, 40));
      await expect(readSafetensors(p)).rejects.toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
      await expect(readSafetensors(join(dir, "nope.safetensors"))).rejects.toThrow(/nope\.safetensors: the safetensors file was not found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fuzz: 2,000 seeded mutations of a valid file either load consistently or throw ModelFileError", () => {
    const valid = encodeSafetensors(sample(), { note: "fuzz" });
    const n = Number(new DataView(valid.buffer).getBigUint64(0, true));
    const rng = new Rng(1234);
    let loaded = 0;
    let rejected = 0;
    const headerEdits: [string, string][] = [
      ['"F32"', '"F16"'], ['"F32"', '"I32"'], ["[3,2]", "[2,3]"], ["[3,2]", "[6]"], ["[3,2]", "[4,2]"],
      ["[0,24]", "[0,28]"], ["[24,36]", "[20,36]"], ["[24,36]", "[24,99999999999]"], ["data_offsets", "data_offset"],
      ["shape", "shap"], ["{", "["], ["}", ""], [":", ","], ["layers.0.bias", "layers.0.weight"], ["[3]", "[-3]"],
      ["[3]", "[1e300]"], ['"fuzz"', "7"], ["[1,3]", "[1,3.5]"],
    ];
    for (let iter = 0; iter < 2000; iter++) {
      let b: Uint8Array = valid.slice();
      const kind = rng.int(5);
      if (kind === 0) {
        // Flip 1-4 random bytes anywhere.
        for (let k = 0, c = 1 + rng.int(4); k < c; k++) b[rng.int(b.length)] ^= 1 + rng.int(255);
      } else if (kind === 1) {
        b = b.subarray(0, rng.int(b.length));
      } else if (kind === 2) {
        // Flip a byte in the length or the header.
        b[rng.int(8 + n)] ^= 1 << rng.int(8);
      } else if (kind === 3) {
        // A textual header edit (length re-stated so it is the edit, not the length, that is tested).
        const [from, to] = headerEdits[rng.int(headerEdits.length)]!;
        const text = Buffer.from(b.subarray(8, 8 + n)).toString("utf8").replace(from, to);
        b = rawFile(null, b.subarray(8 + n), text);
      } else {
        // Append or remove data bytes.
        b = rng.int(2) === 0 ? Buffer.concat([b, new Uint8Array(1 + rng.int(16))]) : b.subarray(0, b.length - 1 - rng.int(8));
      }
      try {
        const t = decodeSafetensors(b, F);
        for (const [, tensor] of t.tensors) {
          expect(tensor.data.length).toBe(tensor.shape.reduce((a, c) => a * c, 1));
        }
        loaded++;
      } catch (e) {
        if (!(e instanceof ModelFileError)) throw e;
        expect(e.message.startsWith(`${F}: `)).toBe(true);
        rejected++;
      }
    }
    expect(loaded + rejected).toBe(2000);
    // Both outcomes occur: byte flips in the data leave a valid file; most others do not.
    expect(loaded).toBeGreaterThan(50);
    expect(rejected).toBeGreaterThan(500);
  });
});

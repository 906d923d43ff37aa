/**
 * readSafetensors and importTorch on what is not a model file: a FIFO, a device (/dev/zero,
 * /dev/urandom), a directory, a symlink loop are refused at once instead of read forever (the same
 * inputs readIdx and loadModel already refuse), and a huge sparse file whose header is wrong is
 * refused from its first bytes, without reading its body.
 */
import { execFileSync } from "node:child_process";
import { mkdir, open, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { encodeSafetensors, readSafetensors } from "../lib/io/safetensors.js";
import { exportTorch } from "../lib/io/torch-export.js";
import { importTorch } from "../lib/io/torch-import.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-io-file-kinds-");
const unix = process.platform !== "win32";
const SIZE = 512 * 1024 * 1024;

/** A sparse file of `size` bytes (no disk used) starting with `head`. */
async function sparse(path: string, head: Uint8Array, size: number): Promise<string> {
  const fh = await open(path, "w");
  await fh.write(head, 0, head.length, 0);
  await fh.truncate(size);
  await fh.close();
  return path;
}

/** External memory (ArrayBuffers) grown by `fn`, in bytes. */
async function grownBy(fn: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage().arrayBuffers;
  await fn().catch(() => undefined);
  return process.memoryUsage().arrayBuffers - before;
}

/** An 8-byte little-endian header length followed by `json`. */
function head(json: string, length = json.length): Uint8Array {
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(Buffer.from(json), 8);
  return out;
}

describe.runIf(unix)("readSafetensors and importTorch refuse what is not a regular file", () => {
  const fifo = join(dir, "fifo");
  const loop = join(dir, "loop-a");
  const cases: Array<[string, string, RegExp]> = [
    ["a FIFO", fifo, /fifo: the safetensors file is a FIFO \(named pipe\), not a regular file$/],
    ["/dev/zero", "/dev/zero", /^\/dev\/zero: the safetensors file is a character device, not a regular file$/],
    ["/dev/urandom", "/dev/urandom", /^\/dev\/urandom: the safetensors file is a character device, not a regular file$/],
    ["a directory", dir, /: the safetensors file is a directory, not a regular file$/],
    ["a symlink loop", loop, /loop-a: the safetensors file cannot be opened \(ELOOP\)$/],
  ];
  beforeAll(async () => {
    execFileSync("mkfifo", [fifo]);
    await symlink(join(dir, "loop-b"), loop);
    await symlink(loop, join(dir, "loop-b"));
  });
  it.each(cases)("%s: readSafetensors fails at once", async (_what, path, pattern) => {
    await expect(readSafetensors(path)).rejects.toThrow(pattern);
  }, 10_000);

  it("importTorch: blasnet.json or model.safetensors as a FIFO or /dev/zero fails at once, naming the file", async () => {
    for (const [name, target] of [["blasnet.json", "fifo"], ["blasnet.json", "/dev/zero"], ["model.safetensors", "fifo"], ["model.safetensors", "/dev/zero"]] as const) {
      const d = join(dir, `torch-${name}-${target.replace(/\W/g, "")}`);
      const model = new Sequential([dense(2)], { inputSize: 3, seed: 1 });
      model.compile({ loss: "mse", optimizer: "sgd" });
      await exportTorch(model, d);
      await rm(join(d, name));
      if (target === "fifo") execFileSync("mkfifo", [join(d, name)]);
      else await symlink(target, join(d, name));
      const kind = target === "fifo" ? "a FIFO \\(named pipe\\)" : "a character device";
      const what = name === "blasnet.json" ? "blasnet.json" : "the safetensors file";
      await expect(importTorch(d)).rejects.toThrow(new RegExp(`${name.replace(".", "\\.")}: ${what} is ${kind}, not a regular file$`));
    }
  }, 20_000);
});

describe("readSafetensors checks the header against the file size before reading the data", () => {
  it("a 512 MB file of zeros (header length 0) is refused from its first 8 bytes", async () => {
    const p = await sparse(join(dir, "zeros.safetensors"), new Uint8Array(0), SIZE);
    await expect(readSafetensors(p)).rejects.toThrow(/zeros\.safetensors: safetensors header is 0 bytes; expected a JSON object/);
    expect(await grownBy(() => readSafetensors(p))).toBeLessThan(SIZE / 8);
  });

  it("a 512 MB file whose header lies about its tensors is refused before the data is read", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["overlap", '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', /tensor "b": data_offsets \[4, 12\] overlap another tensor/],
      ["outside", '{"a":{"dtype":"F32","shape":[1e15],"data_offsets":[0,4e15]}}', /tensor "a": data_offsets \[0, 4000000000000000\] lie outside the \d+-byte data buffer/],
      ["dtype", '{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', /tensor "a" has dtype "F16"; only F32/],
      ["shape overflow", `{"a":{"dtype":"F32","shape":[${2 ** 40},${2 ** 40},${2 ** 40}],"data_offsets":[0,4]}}`, /tensor "a": shape \[1099511627776, 1099511627776, 1099511627776\] needs \d+ bytes but data_offsets span 4/],
      ["gap", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', /data bytes \[4, \d+\) belong to no tensor/],
      ["huge header", "{", /safetensors header length 200000000 exceeds the 100000000-byte limit/],
    ];
    for (const [name, json, pattern] of cases) {
      const p = await sparse(join(dir, `${name.replace(" ", "-")}.safetensors`), head(json, name === "huge header" ? 200_000_000 : json.length), SIZE);
      await expect(readSafetensors(p), name).rejects.toThrow(pattern);
      expect(await grownBy(() => readSafetensors(p)), name).toBeLessThan(SIZE / 8);
    }
  });

  it("a valid file still reads, and one cut short is refused", async () => {
    const bytes = encodeSafetensors([["w", { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }]]);
    const p = join(dir, "ok.safetensors");
    await writeFile(p, bytes);
    expect(Array.from((await readSafetensors(p)).tensors.get("w")!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    await mkdir(join(dir, "cut"), { recursive: true });
    await writeFile(join(dir, "cut", "m.safetensors"), bytes.subarray(0, bytes.length - 4));
    await expect(readSafetensors(join(dir, "cut", "m.safetensors"))).rejects.toThrow(/lie outside the 20-byte data buffer \(file truncated\?\)/);
  });
});

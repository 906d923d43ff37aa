/**
 * import-torch without PyTorch: an export read straight back predicts as the model did, and a
 * state_dict that does not fit the architecture (a key missing or extra, a shape or dtype that
 * differs, non-finite values) is an error naming the file and the tensor.
 */
import { describe, expect, it } from "vitest";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { batchNorm, conv2d, dense, dropout, flatten, maxPool2d, residual, softmax } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { loadModelWithManifest, saveModel } from "../lib/io/model-file.js";
import { decodeSafetensors, encodeSafetensors, ModelFileError, type Tensor } from "../lib/io/safetensors.js";
import { exportTorch } from "../lib/io/torch-export.js";
import { importTorch } from "../lib/io/torch-import.js";
import { runExportTorch } from "../lib/cli/export-torch.js";
import { runImportTorch } from "../lib/cli/import-torch.js";
import { tempDir } from "./helpers.js";

const root = tempDir("blasnet-torch-import-");
const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

function classifier(): Sequential {
  const m = new Sequential([dense(5, { activation: "relu" }), dropout(0.1), dense(3), softmax()], { inputSize: 4, seed: 4 });
  m.compile({ loss: "crossEntropy", optimizer: "adam" });
  m.setNormalization({ inputMean: [1, 2, 3, 4], inputStd: [1, 1, 2, 2] });
  return m;
}

/** An export in `name` whose model.safetensors is `edit` applied to the exported tensors. */
async function tampered(name: string, edit: (t: Map<string, Tensor>) => void): Promise<string> {
  const dir = join(root, name);
  await exportTorch(classifier(), dir);
  const file = join(dir, "model.safetensors");
  const tensors = decodeSafetensors(await readFile(file), file).tensors;
  edit(tensors);
  await writeFile(file, encodeSafetensors(tensors));
  return dir;
}

/** safetensors bytes with one more tensor: an int64 scalar, as PyTorch saves num_batches_tracked. */
function withInt64(bytes: Uint8Array, name: string, value: bigint): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const data = bytes.subarray(8 + n);
  header[name] = { dtype: "I64", shape: [], data_offsets: [data.length, data.length + 8] };
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length + 8);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  view.setBigInt64(8 + text.length + data.length, value, true);
  return out;
}

async function importError(dir: string): Promise<Error> {
  try {
    await importTorch(dir);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`importTorch(${dir}) did not throw`);
}

describe("import-torch", () => {
  it("an export read straight back (CLI export-torch -> import-torch) predicts as the model did, with its columns", async () => {
    const m = classifier();
    const x = Matrix.randomNormal(10, 4, new Rng(1));
    await m.fit(x, Int32Array.from({ length: 10 }, (_, i) => i % 3), { epochs: 2, verbose: 0 });
    const data = { featureNames: ["a", "b", "c", "d"], targetNames: ["k"], classNames: ["x", "y", "z"] };
    await saveModel(m, join(root, "saved"), { data });
    await runExportTorch(join(root, "saved"), join(root, "exported"), sink());
    await runImportTorch(join(root, "exported"), join(root, "back"), sink());
    const { model, manifest } = await loadModelWithManifest(join(root, "back"));
    expect(manifest.data).toEqual(data);
    expect(model.predict(x).data).toEqual(m.predict(x).data);
    expect(model.normalization?.inputStd).toEqual(Float32Array.from([1, 1, 2, 2]));
    expect(model.loss?.name).toBe("crossEntropy");
  });

  it("a convolutional model (conv weights (out, in, kh, kw), batch norm's running statistics, a residual block) read back predicts as it did", async () => {
    const m = new Sequential(
      [conv2d(3, 3, { padding: 1, activation: "relu" }), batchNorm(), residual([conv2d(3, 3, { padding: "same" }), batchNorm()]), maxPool2d(2), flatten(), dense(2)],
      { inputShape: [1, 6, 6], seed: 3, backend: "js" },
    );
    m.compile({ loss: "crossEntropy", optimizer: "adam" });
    const x = { data: Matrix.randomNormal(12, 36, new Rng(2)).data, shape: [12, 1, 6, 6] };
    await m.fit(x, Int32Array.from({ length: 12 }, (_, i) => i % 2), { epochs: 2, batchSize: 4, verbose: 0 });
    const dir = join(root, "cnn");
    await exportTorch(m, dir);
    const file = join(dir, "model.safetensors");
    const names = [...decodeSafetensors(await readFile(file), file).tensors.keys()];
    expect(names).toContain("layers.2.body.1.running_var");
    const back = await importTorch(dir, { backend: "js" });
    expect(Array.from(back.params)).toEqual(Array.from(m.params));
    expect(back.predict(x).data).toEqual(m.predict(x).data);
    // A state_dict saved by PyTorch itself carries batch norm's num_batches_tracked (int64): ignored.
    await writeFile(file, withInt64(await readFile(file), "layers.1.num_batches_tracked", 6n));
    expect(decodeSafetensors(await readFile(file), file, { skip: () => true }).tensors.size).toBe(0);
    expect((await importTorch(dir, { backend: "js" })).predict(x).data).toEqual(m.predict(x).data);
    // Any other int64 tensor is still refused.
    await writeFile(file, withInt64(await readFile(file), "layers.1.counter", 1n));
    expect((await importError(dir)).message).toMatch(/tensor "layers\.1\.counter" has dtype "I64"; only F32/);
  });

  it("a missing tensor is an error naming it and its shape", async () => {
    const dir = await tampered("missing", (t) => t.delete("layers.2.bias"));
    const e = await importError(dir);
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/model\.safetensors: missing tensor "layers\.2\.bias" \(float32, shape \[3\]\) that the architecture in .*blasnet\.json needs/);
  });

  it("an extra tensor is an error naming it; DistributedDataParallel's module. prefix gets its own hint", async () => {
    const extra = await importError(await tampered("extra", (t) => t.set("layers.1.weight", { shape: [1], data: new Float32Array(1) })));
    expect(extra.message).toMatch(/unexpected tensor "layers\.1\.weight": the architecture .* has no place for it; the module has input_mean, input_std, layers\.0\.weight, /);
    const ddp = await importError(
      await tampered("ddp", (t) => {
        for (const [k, v] of [...t]) {
          t.delete(k);
          t.set(`module.${k}`, v);
        }
      }),
    );
    expect(ddp.message).toMatch(/missing tensor "input_mean"/);
    const prefixed = await importError(await tampered("ddp-extra", (t) => t.set("module.layers.0.weight", t.get("layers.0.weight")!)));
    expect(prefixed.message).toMatch(/unexpected tensor "module\.layers\.0\.weight".*DistributedDataParallel wrapper; save the state_dict of the wrapped module/);
  });

  it("a tensor of another shape, another dtype or with non-finite values is an error naming it", async () => {
    const shape = await importError(await tampered("shape", (t) => t.set("layers.0.weight", { shape: [4, 5], data: new Float32Array(20) })));
    expect(shape.message).toMatch(/tensor "layers\.0\.weight" has shape \[4, 5\] but the architecture in .* needs \[5, 4\]/);
    const nan = await importError(await tampered("nan", (t) => (t.get("layers.2.weight")!.data[4] = NaN)));
    expect(nan.message).toMatch(/tensor "layers\.2\.weight" holds NaN at index 4; expected finite values/);
    const std = await importError(await tampered("std", (t) => (t.get("input_std")!.data[1] = 0)));
    expect(std.message).toMatch(/tensor "input_std" holds 0 at index 1; expected finite values > 0/);

    // float64 weights, as a module left in double precision saves them.
    const dir = join(root, "f64");
    await exportTorch(classifier(), dir);
    const header = { "layers.0.weight": { dtype: "F64", shape: [5, 4], data_offsets: [0, 160] } };
    const json = Buffer.from(JSON.stringify(header).padEnd(96, " "));
    const bytes = Buffer.concat([Buffer.alloc(8), json, Buffer.alloc(160)]);
    bytes.writeBigUInt64LE(BigInt(json.length), 0);
    await writeFile(join(dir, "model.safetensors"), bytes);
    const f64 = await importError(dir);
    expect(f64.message).toMatch(/model\.safetensors: tensor "layers\.0\.weight" has dtype "F64"; only F32 .*: convert the module with \.float\(\) before saving/);
  });

  it("a directory without blasnet.json says what import-torch reads", async () => {
    const dir = join(root, "no-manifest");
    await exportTorch(classifier(), dir);
    await rm(join(dir, "blasnet.json"));
    expect((await importError(dir)).message).toMatch(/blasnet\.json: not found: a directory for import-torch holds blasnet\.json and model\.safetensors/);
  });
});

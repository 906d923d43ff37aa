/**
 * Sizes of saved models: what `save` writes `loadModel` reads (a standardized model with 10^6
 * features saves a small model.json; a model.json that would be too large to load is refused by
 * save, before anything is written), and a weights file whose size does not match model.json is
 * refused from its size, without being read.
 */
import { open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel, loadModelWithManifest, saveModel } from "../lib/io/model-file.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { tempDir } from "./helpers.js";

const root = tempDir("blasnet-model-sizes-");

function wide(features: number): Sequential {
  const m = new Sequential([dense(1)], { inputSize: features, seed: 1, backend: "js" });
  m.compile({ loss: "mse", optimizer: "sgd" });
  // Values with long decimal forms, as real statistics have (in JSON each takes ~20 characters).
  const mean = new Float32Array(features).map((_, i) => i / 3);
  const std = mean.map((v) => 1 + v);
  m.setNormalization({ inputMean: mean, inputStd: std, targetMean: [3], targetStd: [2] });
  return m;
}

/** Bitwise equality of two arrays (toEqual is slow on a million elements). */
function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe("what save writes, loadModel reads", () => {
  it("a standardized model with 1,000,000 features and their names saves and loads", async () => {
    const n = 1_000_000;
    const m = wide(n);
    const dir = join(root, "million");
    const featureNames = Array.from({ length: n }, (_, i) => `sensor_reading_${i}`);
    await saveModel(m, dir, { data: { featureNames, targetNames: ["y"] } });
    expect((await stat(join(dir, "model.json"))).size).toBeLessThan(64 * 1024 * 1024);
    const { model, manifest } = await loadModelWithManifest(dir, { backend: "js" });
    expect(manifest.data!.featureNames![n - 1]).toBe(`sensor_reading_${n - 1}`);
    expect(same(model.normalization!.inputMean, m.normalization!.inputMean)).toBe(true);
    expect(same(model.normalization!.inputStd, m.normalization!.inputStd)).toBe(true);
    expect(same(model.params, m.params)).toBe(true);
  }, 60_000);

  it("save refuses a model.json that loadModel would refuse, before writing anything", async () => {
    const dir = join(root, "too-many-names");
    const m = wide(100_000);
    await m.save(dir);
    const before = await readFile(join(dir, "model.json"));
    const featureNames = Array.from({ length: 100_000 }, (_, i) => `${"long column name ".repeat(40)}${i}`);
    await expect(saveModel(m, dir, { data: { featureNames } })).rejects.toThrow(
      /saveModel: model\.json would be \d+ bytes, more than the 67108864-byte limit loadModel accepts; .*featureNames: 100000/,
    );
    expect((await readFile(join(dir, "model.json"))).equals(before)).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("sizes are checked before bodies are read", () => {
  it("a 512 MB weights file that model.json does not expect is refused without reading it", async () => {
    const dir = join(root, "sparse");
    await wide(10).save(dir);
    const manifest = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    const fh = await open(join(dir, manifest.weights.file), "r+");
    await fh.truncate(512 * 1024 * 1024); // sparse: no disk used
    await fh.close();
    const before = process.memoryUsage().arrayBuffers;
    await expect(loadModel(dir)).rejects.toThrow(new RegExp(`is 536870912 bytes but .*model\\.json expects ${manifest.weights.bytes}`));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

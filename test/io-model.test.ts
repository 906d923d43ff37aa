import { beforeAll, describe, expect, it } from "vitest";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { Sequential } from "../lib/nn/sequential.js";
import { dense, dropout, relu } from "../lib/nn/layers.js";
import { adam, cosineDecay } from "../lib/optim/index.js";
import { loadModel, loadModelWithManifest, modelFromFiles, saveModel, MODEL_FORMAT_VERSION } from "../lib/io/model-file.js";
import { checkpoint, loadCheckpoint } from "../lib/io/checkpoint.js";
import { decodeSafetensors, encodeSafetensors, ModelFileError } from "../lib/io/safetensors.js";
import { expectModelFileError, nativeOrSkip, tempDir } from "./helpers.js";

const native = nativeOrSkip();
const root = tempDir("blasnet-model-");

function data(rows: number, seed: number): { x: Matrix; y: Matrix } {
  const rng = new Rng(seed);
  const x = Matrix.randomNormal(rows, 3, rng, 5, 2);
  const y = Matrix.zeros(rows, 1);
  for (let i = 0; i < rows; i++) y.data[i] = 10 + 3 * Math.sin(x.get(i, 0)) + x.get(i, 1) * x.get(i, 2) * 0.2;
  return { x, y };
}

function makeModel(seed = 1): Sequential {
  const m = new Sequential([dense(8, { activation: "tanh" }), dropout(0.1), dense(6), relu(), dense(1)], { inputSize: 3, seed, backend: "js" });
  m.compile({ loss: "mse", optimizer: adam({ lr: cosineDecay({ initial: 0.01, decaySteps: 200 }) }) });
  m.setNormalization({ inputMean: [5, 5, 5], inputStd: [2, 2, 2], targetMean: [10], targetStd: [2] });
  return m;
}

async function trainedModel(): Promise<Sequential> {
  const m = makeModel();
  const { x, y } = data(64, 3);
  await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
  return m;
}

describe("save / load", () => {
  it("model.save(dir) writes what loadModel restores, predicting identically", async () => {
    const m = await trainedModel();
    const dir = join(root, "method-save");
    await m.save(dir);
    const back = await loadModel(dir, { backend: "js" });
    const { x } = data(20, 9);
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
  });

  it("round-trips a trained model: files, manifest, identical predictions", async () => {
    const m = await trainedModel();
    const dir = join(root, "roundtrip");
    await saveModel(m, dir, { data: { featureNames: ["a", "b", "c"], targetNames: ["y"] } });
    const names = (await readdir(dir)).sort();
    expect(names.filter((n) => !n.startsWith("."))).toEqual(["model.json", "model.safetensors"]);
    const manifest = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    // model.json names the weights file; model.safetensors holds the same bytes (a link to it).
    expect(names).toEqual([manifest.weights.file, "model.json", "model.safetensors"]);
    expect((await readFile(join(dir, manifest.weights.file))).equals(await readFile(join(dir, "model.safetensors")))).toBe(true);
    expect(manifest.format).toBe("blasnet-model");
    expect(manifest.formatVersion).toBe(MODEL_FORMAT_VERSION);
    expect(manifest.blasnetVersion).toBe(JSON.parse(await readFile("package.json", "utf8")).version);
    expect(manifest.model.compile.loss).toEqual({ name: "mse" });
    expect(manifest.model.compile.optimizer.name).toBe("adam");
    // Standardization is stored as tensors (model.json stays small for any number of features).
    expect(manifest.model.normalization).toBeUndefined();
    expect(manifest.normalizationTensors).toEqual(["inputMean", "inputStd", "targetMean", "targetStd"]);
    expect(manifest.trainingState).toBeUndefined();
    const st = decodeSafetensors(await readFile(join(dir, "model.safetensors")), "w");
    expect([...st.tensors.keys()].sort()).toEqual([
      "layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight", "layers.4.bias", "layers.4.weight",
      "normalization.inputMean", "normalization.inputStd", "normalization.targetMean", "normalization.targetStd",
    ]);
    expect(Array.from(st.tensors.get("normalization.targetStd")!.data)).toEqual([2]);
    expect(st.tensors.get("layers.0.weight")!.shape).toEqual([8, 3]); // (out, in)

    const { model: back, manifest: man } = await loadModelWithManifest(dir, { backend: "js" });
    expect(man.data).toEqual({ featureNames: ["a", "b", "c"], targetNames: ["y"] });
    const { x } = data(20, 9);
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    expect(Array.from(back.params)).toEqual(Array.from(m.params));
    expect(back.config()).toEqual(m.config());
  });

  it("saves optimizer state only when asked, and restores it", async () => {
    const m = await trainedModel();
    const dir = join(root, "withopt");
    await saveModel(m, dir, { includeOptimizer: true });
    const st = decodeSafetensors(await readFile(join(dir, "model.safetensors")), "w");
    expect(st.tensors.has("optimizer.exp_avg.layers.0.weight")).toBe(true);
    expect(st.tensors.has("optimizer.exp_avg_sq.layers.4.bias")).toBe(true);
    const back = await loadModel(dir, { backend: "js" });
    const a = m.getTrainingState();
    const b = back.getTrainingState();
    expect(b.step).toBe(a.step);
    expect(b.epoch).toBe(2);
    expect(Array.from(b.optimizerState)).toEqual(Array.from(a.optimizerState));
    expect(Array.from(b.rngState)).toEqual(Array.from(a.rngState));
  });

  it("a failure mid-save (full disk while writing, or before the switch) leaves the old model intact, and no temporary files", async () => {
    const dir = join(root, "atomic");
    const old = makeModel(5);
    await saveModel(old, dir);
    const before = await readFile(join(dir, "model.json"));
    const next = await trainedModel();
    const enospc = (): never => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    };
    // Fail on the first write of the manifest (after the weights were fully written).
    await expect(saveModel(next, dir, { faults: { at: (step, target) => (step === "write" && target.endsWith("model.json") ? enospc() : undefined) } })).rejects.toThrow(/ENOSPC/);
    // Fail while writing the weights.
    await expect(saveModel(next, dir, { faults: { at: (step) => (step === "write" ? enospc() : undefined) } })).rejects.toThrow(/ENOSPC/);
    // Fail just before the switch.
    await expect(saveModel(next, dir, { faults: { at: (step) => (step === "rename" ? enospc() : undefined) } })).rejects.toThrow(/ENOSPC/);
    expect((await readFile(join(dir, "model.json"))).equals(before)).toBe(true);
    const names = (await readdir(dir)).sort();
    expect(names.filter((n) => !n.startsWith("."))).toEqual(["model.json", "model.safetensors"]);
    expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(names.filter((n) => n.startsWith("."))).toHaveLength(1); // the old model's weights only
    const loaded = await loadModel(dir, { backend: "js" });
    expect(Array.from(loaded.params)).toEqual(Array.from(old.params));
  });
});

describe("checkpoints", () => {
  it("4 epochs straight == 2 epochs + checkpoint + load + 2 more (TS backend, Adam, schedule, dropout)", async () => {
    const { x, y } = data(50, 11);
    const fitOptions = { batchSize: 8, verbose: 0 as const, validationSplit: 0.2 };
    const straight = makeModel(7);
    await straight.fit(x, y, { ...fitOptions, epochs: 4 });

    const first = makeModel(7);
    const dir = join(root, "ckpt", "epoch-{epoch}");
    const cb = checkpoint({ dir, every: 2 });
    await first.fit(x, y, { ...fitOptions, epochs: 2, callbacks: [cb] });
    expect(cb.saved).toEqual([join(root, "ckpt", "epoch-2")]);

    const resumed = await loadCheckpoint(join(root, "ckpt", "epoch-2"), { backend: "js" });
    expect(resumed.epoch).toBe(2);
    await resumed.fit(x, y, { ...fitOptions, epochs: 4, initialEpoch: resumed.epoch });
    expect(resumed.step).toBe(straight.step);
    expect(Array.from(resumed.params)).toEqual(Array.from(straight.params));
    expect(Array.from(resumed.getTrainingState().optimizerState)).toEqual(Array.from(straight.getTrainingState().optimizerState));
    // Without the optimizer state the run differs: the test can tell.
    const plain = makeModel(7);
    await plain.fit(x, y, { ...fitOptions, epochs: 2 });
    await saveModel(plain, join(root, "plain"));
    const noState = await loadModel(join(root, "plain"), { backend: "js" });
    await noState.fit(x, y, { ...fitOptions, epochs: 4, initialEpoch: 2 });
    expect(Array.from(noState.params)).not.toEqual(Array.from(straight.params));
    await expect(loadCheckpoint(join(root, "plain"))).rejects.toThrow(/not a checkpoint/);
  });

  it.skipIf(!native)("resume is exact on the native fused plan too", async () => {
    const { x, y } = data(60, 12);
    const mk = (): Sequential => {
      const m = new Sequential([dense(16, { activation: "tanh" }), dropout(0.2), dense(8), relu(), dense(1)], { inputSize: 3, seed: 9, backend: native! });
      m.compile({ loss: "mse", optimizer: adam({ lr: 0.01 }) });
      return m;
    };
    const straight = mk();
    await straight.fit(x, y, { epochs: 4, batchSize: 8, verbose: 0 });
    const first = mk();
    const dir = join(root, "ckpt-native");
    await first.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [checkpoint({ dir })] });
    const resumed = await loadCheckpoint(dir, { backend: native! });
    await resumed.fit(x, y, { epochs: 4, initialEpoch: resumed.epoch, batchSize: 8, verbose: 0 });
    expect(Array.from(resumed.params)).toEqual(Array.from(straight.params));
  });

  it("every K epochs, replacing one directory, plus a save at the end", async () => {
    const { x, y } = data(20, 1);
    const m = makeModel(2);
    const saves: number[] = [];
    const cb = checkpoint({ dir: join(root, "latest"), every: 2, onSave: (_d, e) => saves.push(e) });
    await m.fit(x, y, { epochs: 5, batchSize: 10, verbose: 0, callbacks: [cb] });
    expect(saves).toEqual([2, 4, 5]);
    expect((await loadCheckpoint(join(root, "latest"), { backend: "js" })).epoch).toBe(5);
  });
});

describe("hostile model files", () => {
  let json: string;
  let weights: Uint8Array;
  beforeAll(async () => {
    const m = await trainedModel();
    const dir = join(root, "hostile");
    await saveModel(m, dir, { includeOptimizer: true });
    json = await readFile(join(dir, "model.json"), "utf8");
    weights = new Uint8Array(await readFile(join(dir, "model.safetensors")));
  });
  const J = "dir/model.json";
  const W = "dir/model.safetensors";
  const load = (j: string, w: Uint8Array, verifyChecksum = false) => modelFromFiles(j, w, J, W, { backend: "js", verifyChecksum });
  const edit = (f: (m: any) => void): string => {
    const m = JSON.parse(json);
    f(m);
    return JSON.stringify(m);
  };
  const expectError = expectModelFileError;
  /** Re-encode the weights with a change to the tensors. */
  const reweigh = (f: (t: Map<string, { shape: number[]; data: Float32Array }>) => void): Uint8Array => {
    const t = decodeSafetensors(weights, W).tensors;
    f(t);
    return encodeSafetensors(t);
  };

  it("the unmodified files load (with checksum verification)", () => {
    expect(load(json, weights, true).model.inputSize).toBe(3);
  });
  it("manifest not JSON", () => expectError(() => load("{ nope", weights), J, /not valid JSON/));
  it("newer format version", () =>
    expectError(() => load(edit((m) => (m.formatVersion = MODEL_FORMAT_VERSION + 1)), weights), J, new RegExp(`newer blasnet .*format version ${MODEL_FORMAT_VERSION + 1}.*upgrade blasnet`)));
  it("not a blasnet manifest", () => expectError(() => load(edit((m) => (m.format = "keras")), weights), J, /not a blasnet model manifest/));
  it("unknown layer type", () =>
    expectError(() => load(edit((m) => (m.model.layers[1] = { type: "conv3d", filters: 3 })), weights), J, /Unknown layer type at index 1: the string "conv3d"/));
  it("shapes not matching the architecture", () =>
    expectError(() => load(edit((m) => (m.model.layers[2].units = 5)), weights), W, /tensor "layers.2.weight" has shape \[6, 8\] but the architecture .* needs \[5, 8\]/));
  it("input size not matching", () =>
    expectError(() => load(edit((m) => (m.model.inputSize = 4)), weights), W, /"normalization.inputMean" has shape \[3\] .* needs \[4\]/));
  it("normalization tensors not matching the outputs", () =>
    expectError(() => load(json, reweigh((t) => t.set("normalization.targetStd", { shape: [2], data: new Float32Array([1, 1]) }))), J, /invalid model config: normalization.targetStd has 2 values; expected 1/));
  it("normalization listed both in the config and as tensors", () =>
    expectError(() => load(edit((m) => (m.model.normalization = { inputMean: [0, 0, 0], inputStd: [1, 1, 1] })), weights), J, /both present/));
  it("architecture far larger than the weights file (no allocation from it)", () =>
    expectError(() => load(edit((m) => (m.model.layers[0].units = 2 ** 20)), weights), W, /holds at most \d+ float32 values/));
  it("an architecture no layer can have (named in model.json before anything is allocated)", () =>
    expectError(() => load(edit((m) => (m.model.layers[0].units = 2 ** 40)), weights), J, /model\.layers\[0\].*dense\(1099511627776\) after 3 inputs would have 4,398,046,511,104 parameters/));
  it("missing tensor", () =>
    expectError(() => load(json, reweigh((t) => t.delete("layers.4.bias"))), W, /missing tensor "layers.4.bias"/));
  it("unexpected tensor", () =>
    expectError(() => load(json, reweigh((t) => t.set("layers.9.weight", { shape: [1], data: new Float32Array(1) }))), W, /unexpected tensor "layers.9.weight"/));
  it("non-finite weights", () =>
    expectError(() => load(json, reweigh((t) => (t.get("layers.0.weight")!.data[3] = NaN))), W, /NaN; weights must be finite/));
  it("weights from another save (checksum)", () =>
    expectError(() => load(json, reweigh((t) => (t.get("layers.0.weight")!.data[3] = 1)), true), W, /different saves|SHA-256/));
  it("training state for another optimizer", () =>
    expectError(() => load(edit((m) => (m.trainingState.optimizerSlots = ["momentum_buffer"])), weights), J, /optimizerSlots/));
  it("bad rng state", () => expectError(() => load(edit((m) => (m.trainingState.rngState = [0, 0, 0, 0])), weights), J, /rngState|trainingState/));
  it("class names not matching the outputs", () =>
    expectError(() => load(edit((m) => (m.data = { classNames: ["a", "b"] })), weights), J, /classNames" lists 2 classes but the model has 1 output/));
  it("residual blocks nested deeper than 64 are refused with the depth named, not a stack overflow", () => {
    // Written as text: JSON.stringify itself overflows the stack on 100,000 levels.
    const nest = (depth: number) => {
      const relu = JSON.stringify(JSON.parse(json).model.layers[3]); // relu keeps the width, so any nesting is a valid model
      const nested = '{"type":"residual","layers":['.repeat(depth) + relu + "]}".repeat(depth);
      return edit((m) => (m.model.layers[3] = "NESTED")).replace('"NESTED"', nested);
    };
    expect(load(nest(64), weights).model.inputSize).toBe(3);
    expectError(() => load(nest(65), weights), J, /model\.layers\[3\].*nested 65 residual blocks deep.*at most 64/);
    expectError(() => load(nest(100_000), weights), J, /model\.layers\[3\].*nested 65 residual blocks deep.*at most 64/);
  });
  it("missing files name the file", async () => {
    await expect(loadModel(join(root, "nowhere"))).rejects.toThrow(/nowhere\/model\.json: model\.json not found/);
    const dir = join(root, "halfway");
    await saveModel(makeModel(), dir);
    await writeFile(join(dir, "model.safetensors"), new Uint8Array(3));
    // model.safetensors is a link to the weights file model.json names: the error names that file.
    await expect(loadModel(dir)).rejects.toThrow(/halfway\/\.model\.\d+\.[0-9a-f]{12}\.safetensors: is 3 bytes but/);
  });

  it("fuzz: 2,000 seeded mutations of model.json and model.safetensors load validly or throw ModelFileError", () => {
    const rng = new Rng(99);
    const n = Number(new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true));
    const edits: [RegExp, string][] = [
      [/"units": \d+/, '"units": 7'], [/"units": \d+/, '"units": 0'], [/"units": \d+/, '"units": 1e12'], [/"dense"/, '"dens"'],
      [/"inputSize": 3/, '"inputSize": -1'], [/"inputSize": 3/, '"inputSize": "3"'], [/"formatVersion": 2/, '"formatVersion": 99'],
      [/"tanh"/, '"swish"'], [/"rate": [\d.]+/, '"rate": 2'], [/"step": \d+/, '"step": -4'], [/"epoch": \d+/, '"epoch": 1.5'],
      [/"layers": \[/, '"layers": {'], [/"useBias": true/, '"useBias": false'], [/"exp_avg"/, '"exp_avgx"'], [/,/, ""], [/"name": "adam"/, '"name": "sgd"'],
      [/"inputMean"/, '"inputMeans"'], [/"targetStd"/, '"targetstd"'], [/"normalizationTensors"/, '"normalization"'],
    ];
    let ok = 0;
    let rejected = 0;
    for (let iter = 0; iter < 2000; iter++) {
      let j = json;
      let w = weights.slice();
      const kind = rng.int(4);
      if (kind === 0) {
        const [re, to] = edits[rng.int(edits.length)]!;
        j = j.replace(re, to);
      } else if (kind === 1) {
        const chars = [...j];
        chars[rng.int(chars.length)] = String.fromCharCode(32 + rng.int(95));
        j = chars.join("");
      } else if (kind === 2) {
        for (let k = 0, c = 1 + rng.int(3); k < c; k++) w[rng.int(Math.min(w.length, 8 + n))] ^= 1 << rng.int(8);
      } else {
        const r = rng.int(3);
        if (r === 0) w = w.subarray(0, rng.int(w.length));
        else if (r === 1) w[8 + n + rng.int(w.length - 8 - n)] ^= 0xff; // data bytes: may stay valid or become NaN
        else w = new Uint8Array(Buffer.concat([w, new Uint8Array(4)]));
      }
      try {
        const { model } = load(j, w);
        // A model that loads is consistent: every dense layer's views have its shape, weights finite.
        for (const lw of model.getWeights()) {
          expect(lw.weight.data.length).toBe(lw.weight.rows * lw.weight.cols);
          expect(lw.weight.data.every(Number.isFinite)).toBe(true);
        }
        ok++;
      } catch (e) {
        if (!(e instanceof ModelFileError)) throw new Error(`mutation ${iter} (kind ${kind}) threw a non-ModelFileError: ${(e as Error).stack}`);
        rejected++;
      }
    }
    expect(ok + rejected).toBe(2000);
    expect(ok).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(500);
  });
});

/**
 * Every public function that takes an options object rejects a key it does not know with a
 * TypeError naming the key and listing the expected ones, instead of silently using its defaults.
 * The unknown keys are the spellings users bring from other libraries (TensorFlow.js, Keras,
 * PyTorch, pandas) or near-misses of ours.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Matrix } from "../lib/core/matrix.js";
import { checkOptionKeys, checkOptions } from "../lib/core/options.js";
import { csvBatches, fitStream, streamStats } from "../lib/data/batches.js";
import { parseCsv, readCsv } from "../lib/data/csv.js";
import { loadFashionMnist } from "../lib/data/fashion-mnist.js";
import { encodeIdx, parseIdx, readIdx, readIdxHeaderSync, readIdxSync } from "../lib/data/idx.js";
import { lectureCurve, sampleCurve } from "../lib/data/synthetic.js";
import { checkpoint, loadCheckpoint } from "../lib/io/checkpoint.js";
import { loadModel, loadModelWithManifest, saveModel } from "../lib/io/model-file.js";
import { buildOnnxModel, decodeOnnxModel, exportOnnx } from "../lib/io/onnx.js";
import { huber } from "../lib/losses/index.js";
import { Dense, dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam, adamw, optimizerFromConfig, rmsprop, sgd } from "../lib/optim/index.js";
import { cosineDecay, exponentialDecay, linearWarmup, scheduleFromConfig, stepDecay } from "../lib/optim/schedules.js";
import { earlyStopping } from "../lib/train/callbacks.js";
import { tempDir, thrown } from "./helpers.js";

/** Options with a key the types do not allow (what a JavaScript caller can pass). */
const loose = (o: unknown): any => o;

function message(what: string, key: string, expected: readonly string[]): string {
  return `Unknown ${what} option ${JSON.stringify(key)}; expected one of ${expected.join(", ")}`;
}

function expectUnknown(fn: () => unknown, what: string, key: string, expected: readonly string[]): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(TypeError);
  expect(error.message).toBe(message(what, key, expected));
}

async function expectUnknownAsync(fn: () => Promise<unknown>, what: string, key: string, expected: readonly string[]): Promise<void> {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TypeError);
  expect((error as Error).message).toBe(message(what, key, expected));
}

const root = tempDir("blasnet-options-");
const modelDir = join(root, "model");
const checkpointDir = join(root, "ckpt");
const csvPath = join(root, "data.csv");
const idxPath = join(root, "labels.idx");

function model(): Sequential {
  const m = new Sequential([dense(4, { activation: "relu" }), dense(2)], { inputSize: 3, seed: 1, backend: "js" });
  m.compile({ loss: "crossEntropy", optimizer: adam() });
  return m;
}

const x = Matrix.fromArray([
  [0, 1, 2],
  [1, 0, 1],
]);

beforeAll(async () => {
  await saveModel(model(), modelDir);
  await saveModel(model(), checkpointDir, { includeOptimizer: true });
  await writeFile(csvPath, "a,b,y\n1,2,3\n4,5,6\n");
  await writeFile(idxPath, encodeIdx({ dtype: "uint8", shape: [3], data: [1, 2, 3] }));
});

describe("checkOptionKeys / checkOptions", () => {
  it("name the unknown key and list the known ones; internal keys pass without being listed", () => {
    expectUnknown(() => checkOptionKeys({ batch_size: 32 }, ["batchSize", "epochs"], "fit"), "fit", "batch_size", ["batchSize", "epochs"]);
    expect(() => checkOptionKeys({ faults: {} }, ["data"], "saveModel", ["faults"])).not.toThrow();
    expect(() => checkOptions(null, ["lr"], "sgd")).toThrow(new TypeError("Invalid options for sgd: expected an object { lr } but received null"));
    expect(() => checkOptions([0.1], ["lr"], "sgd")).toThrow(/Invalid options for sgd: expected an object \{ lr \} but received an array/);
  });
});

describe("optimizers, schedules and losses reject unknown options", () => {
  it("sgd, adam, adamw, rmsprop", () => {
    const sgdKeys = ["lr", "momentum", "dampening", "nesterov", "weightDecay"];
    const adamKeys = ["lr", "betas", "eps", "weightDecay"];
    expectUnknown(() => sgd(loose({ learningRate: 0.1 })), "sgd", "learningRate", sgdKeys);
    expectUnknown(() => sgd(loose({ lr: 0.1, momentum: 0.9, weight_decay: 1e-4 })), "sgd", "weight_decay", sgdKeys);
    expectUnknown(() => adam(loose({ learning_rate: 1e-3 })), "adam", "learning_rate", adamKeys);
    expectUnknown(() => adam(loose({ lr: 1e-3, epsilon: 1e-7 })), "adam", "epsilon", adamKeys);
    expectUnknown(() => adamw(loose({ lr: 1e-3, beta1: 0.8 })), "adamw", "beta1", adamKeys);
    expectUnknown(() => rmsprop(loose({ lr: 1e-3, rho: 0.9 })), "rmsprop", "rho", ["lr", "alpha", "eps", "weightDecay", "momentum"]);
  });

  it("optimizer configs (compile's { name, ... } form) too, and a config without lr takes the default", () => {
    const m = model();
    expectUnknown(() => m.compile({ loss: "mse", optimizer: loose({ name: "adam", learningRate: 0.01 }) }), "adam", "learningRate", ["lr", "betas", "eps", "weightDecay"]);
    expect(optimizerFromConfig(loose({ name: "adam" })).lr).toBe(1e-3);
    const a = adamw({ lr: cosineDecay({ initial: 0.01, decaySteps: 10 }), betas: [0.8, 0.9] });
    expect(optimizerFromConfig(a.config()).config()).toEqual(a.config());
  });

  it("stepDecay, exponentialDecay, cosineDecay, linearWarmup, and schedule configs", () => {
    expectUnknown(() => stepDecay(loose({ initial: 0.1, stepSize: 10, decayRate: 0.5 })), "stepDecay", "decayRate", ["initial", "stepSize", "gamma", "per"]);
    expectUnknown(() => stepDecay(loose({ initial: 0.1, step_size: 10 })), "stepDecay", "step_size", ["initial", "stepSize", "gamma", "per"]);
    expectUnknown(
      () => exponentialDecay(loose({ initial: 0.1, decayRate: 0.9, decaySteps: 100, stairCase: true })),
      "exponentialDecay",
      "stairCase",
      ["initial", "decayRate", "decaySteps", "staircase"],
    );
    expectUnknown(() => cosineDecay(loose({ initial: 1e-3, decaySteps: 1000, warmupSteps: 100 })), "cosineDecay", "warmupSteps", ["initial", "decaySteps", "alpha"]);
    expectUnknown(() => linearWarmup(0.1, loose({ warmupSteps: 10, start_factor: 0.1 })), "linearWarmup", "start_factor", ["warmupSteps", "startFactor"]);
    expectUnknown(
      () => scheduleFromConfig(loose({ kind: "cosineDecay", initial: 1e-3, decaySteps: 1000, alpha: 0, warmupSteps: 100 })),
      "cosineDecay",
      "warmupSteps",
      ["initial", "decaySteps", "alpha"],
    );
    const s = linearWarmup(stepDecay({ initial: 0.1, stepSize: 2 }), { warmupSteps: 3, startFactor: 0.5 });
    expect(scheduleFromConfig(s.config!()).config!()).toEqual(s.config!());
  });

  it("huber, and loss configs", () => {
    expectUnknown(() => huber(loose({ delta: 1, reduction: "sum" })), "huber", "reduction", ["delta"]);
    const m = model();
    expectUnknown(() => m.compile({ loss: loose({ name: "huber", delta: 2, reduction: "sum" }), optimizer: "sgd" }), "huber loss config", "reduction", ["name", "delta"]);
    expectUnknown(() => m.compile({ loss: loose({ name: "crossEntropy", from_logits: true }), optimizer: "sgd" }), "crossEntropy loss config", "from_logits", ["name"]);
    m.compile({ loss: { name: "crossEntropy" }, optimizer: "sgd" });
    expect(m.loss!.name).toBe("crossEntropy");
  });
});

describe("layers, Sequential and its methods reject unknown options", () => {
  it("dense and the Dense class", () => {
    const keys = ["activation", "init", "useBias", "trainable"];
    expectUnknown(() => dense(8, loose({ kernelInitializer: "zeros" })), "dense", "kernelInitializer", keys);
    expectUnknown(() => new Dense(8, loose({ activation: "relu", use_bias: false })), "dense", "use_bias", keys);
  });

  it("the Sequential constructor, summary, fromConfig, predictClasses(Async)", async () => {
    expectUnknown(() => new Sequential([dense(1)], loose({ input_shape: [3] })), "Sequential", "input_shape", ["inputSize", "inputShape", "seed", "backend"]);
    const m = model();
    expectUnknown(() => m.summary(loose({ print: false, lineLength: 80 })), "summary", "lineLength", ["print"]);
    expectUnknown(() => Sequential.fromConfig(m.config(), loose({ compile: false })), "fromConfig", "compile", ["backend"]);
    expectUnknown(() => m.predictClasses(x, loose({ batch_size: 8 })), "predictClasses", "batch_size", ["batchSize"]);
    await expectUnknownAsync(() => m.predictClassesAsync(x, loose({ batch_size: 8 })), "predictClassesAsync", "batch_size", ["batchSize"]);
  });

  it("predict, evaluate and fit say that options must be an object", async () => {
    const m = model();
    expect(() => m.predict(x, loose(null))).toThrow(/Invalid options for predict: expected an object \{ batchSize \} but received null/);
    await expect(m.evaluate(x, [0, 1], loose(null))).rejects.toThrow(/Invalid options for evaluate: expected an object/);
    await expect(m.fit(x, [0, 1], loose([]))).rejects.toThrow(/Invalid options for fit: expected an object \{ epochs, .* but received an array/);
  });
});

describe("callbacks and files reject unknown options", () => {
  it("earlyStopping and checkpoint", () => {
    expectUnknown(
      () => earlyStopping(loose({ patience: 3, restore_best_weights: true })),
      "earlyStopping",
      "restore_best_weights",
      ["monitor", "patience", "minDelta", "mode", "restoreBestWeights"],
    );
    expectUnknown(() => checkpoint(loose({ dir: "ckpt", saveBestOnly: true })), "checkpoint", "saveBestOnly", ["dir", "every", "atEnd", "data", "onSave"]);
  });

  it("saveModel, model.save, loadModel, loadModelWithManifest, loadCheckpoint", async () => {
    const m = model();
    const out = join(root, "saved");
    await expectUnknownAsync(() => saveModel(m, out, loose({ include_optimizer: true })), "saveModel", "include_optimizer", ["includeOptimizer", "data"]);
    await expectUnknownAsync(() => m.save(out, loose({ includeOptimizerState: true })), "saveModel", "includeOptimizerState", ["includeOptimizer", "data"]);
    const loadKeys = ["backend", "trainingState", "verifyChecksum"];
    await expectUnknownAsync(() => loadModel(modelDir, loose({ compile: false })), "loadModel", "compile", loadKeys);
    await expectUnknownAsync(() => loadModelWithManifest(modelDir, loose({ verify: false })), "loadModelWithManifest", "verify", loadKeys);
    // A checkpoint is always loaded with its training state: trainingState is not an option here.
    await expectUnknownAsync(() => loadCheckpoint(checkpointDir, loose({ trainingState: false })), "loadCheckpoint", "trainingState", ["backend", "verifyChecksum"]);
    expect((await loadCheckpoint(checkpointDir, { backend: "js" })).optimizer!.name).toBe("adam");
  });

  it("exportOnnx and buildOnnxModel; exportOnnx's metadata still reaches the graph", async () => {
    const m = model();
    const path = join(root, "model.onnx");
    await expectUnknownAsync(
      () => exportOnnx(m, path, loose({ opsetVersion: 13 })),
      "exportOnnx",
      "opsetVersion",
      ["opset", "inputName", "outputName", "producerVersion", "metadata"],
    );
    expectUnknown(() => buildOnnxModel(m, loose({ opset_version: 13 })), "ONNX export", "opset_version", ["opset", "inputName", "outputName", "producerVersion", "metadata"]);
    await exportOnnx(m, path, { opset: 17, metadata: { note: "kept" } });
    expect(decodeOnnxModel(await readFile(path)).metadataProps?.find((p) => p.key === "note")?.value).toBe("kept");
  });
});

describe("data loaders reject unknown options", () => {
  it("readCsv and parseCsv", async () => {
    const keys = ["target", "features", "ignore", "categorical", "classNames", "requireTarget", "delimiter", "header", "skipLines", "missing"];
    await expectUnknownAsync(() => readCsv(csvPath, loose({ target: "y", sep: ";" })), "readCsv", "sep", keys);
    await expectUnknownAsync(() => parseCsv("a,y\n1,2\n", "inline.csv", loose({ label: "y" })), "parseCsv", "label", keys);
  });

  it("csvBatches, fitStream, streamStats", async () => {
    await expectUnknownAsync(
      () => csvBatches(csvPath, loose({ target: "y", batch_size: 4 })).next(),
      "csvBatches",
      "batch_size",
      ["target", "features", "ignore", "classNames", "batchSize", "delimiter"],
    );
    const batches = [{ x: Matrix.fromArray([[1, 2, 3]]), y: [1] }];
    await expectUnknownAsync(
      () => fitStream(model(), batches, loose({ epochs: 1, callbacks: [] })),
      "fitStream",
      "callbacks",
      ["epochs", "initialEpoch", "verbose", "stepsPerEpoch", "onEpochEnd", "progressStream"],
    );
    await expectUnknownAsync(() => streamStats(batches, loose({ target: true })), "streamStats", "target", ["targets"]);
  });

  it("readIdx, readIdxSync, readIdxHeaderSync, parseIdx, encodeIdx", async () => {
    await expectUnknownAsync(() => readIdx(idxPath, loose({ maxSize: 1e6 })), "readIdx", "maxSize", ["maxBytes", "channelAxis"]);
    expectUnknown(() => readIdxSync(idxPath, loose({ maxSize: 1e6 })), "readIdxSync", "maxSize", ["maxBytes", "channelAxis"]);
    expectUnknown(() => readIdxHeaderSync(idxPath, loose({ maxSize: 1e6 })), "readIdxHeaderSync", "maxSize", ["maxBytes", "channelAxis"]);
    const bytes = encodeIdx({ dtype: "uint8", shape: [2], data: [1, 2] });
    expectUnknown(() => parseIdx(bytes, "<test>", loose({ max_bytes: 10 })), "parseIdx", "max_bytes", ["maxBytes", "channelAxis"]);
    expectUnknown(() => encodeIdx({ dtype: "uint8", shape: [2], data: [1, 2] }, loose({ compress: true })), "encodeIdx", "compress", ["gzip"]);
  });

  it("loadFashionMnist", async () => {
    await expectUnknownAsync(() => loadFashionMnist(loose({ path: root })), "loadFashionMnist", "path", ["dir", "trainLimit", "testLimit", "layout"]);
  });

  it("sampleCurve, and lectureCurve, which always uses the lecture's domain", () => {
    expectUnknown(() => sampleCurve((v) => v, loose({ count: 10 })), "sampleCurve", "count", ["n", "seed", "noise", "domain", "sorted"]);
    expectUnknown(() => lectureCurve(loose({ n: 10, domain: [0, 1] })), "lectureCurve", "domain", ["n", "seed", "noise", "sorted"]);
  });
});

/**
 * ONNX export checked by an independent runtime: onnxruntime-node (its bundled CPU binary) runs the
 * exported file and must reproduce model.predict on the same raw inputs within 1e-5.
 */
import { describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { Sequential } from "../lib/nn/sequential.js";
import {
  Activation,
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  gelu,
  globalAvgPool2d,
  layerNorm,
  leakyRelu,
  maxPool2d,
  relu,
  residual,
  softmax,
  tanh,
} from "../lib/nn/layers.js";
import { ACTIVATION_NAMES } from "../lib/ops/activations.js";
import { adam } from "../lib/optim/index.js";
import { decodeOnnxModel, exportOnnx } from "../lib/io/onnx.js";
import { maxAbsDiff, nativeOrSkip, tempDir } from "./helpers.js";

const native = nativeOrSkip();

const root = tempDir("blasnet-onnx-");

async function runOnnx(path: string, x: Matrix): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(path);
  try {
    expect(session.inputNames).toEqual(["input"]);
    expect(session.outputNames).toEqual(["output"]);
    const out = await session.run({ input: new ort.Tensor("float32", x.data.slice(), [x.rows, x.cols]) });
    const t = out["output"]!;
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await session.release();
  }
}

function graphNodes(p: ReturnType<typeof decodeOnnxModel>) {
  return p.graph?.node ?? [];
}

function inputs(rows: number, cols: number, seed: number): Matrix {
  // Raw, unstandardized features: offsets and scales differ per column.
  const m = Matrix.randomNormal(rows, cols, new Rng(seed));
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.data[i * cols + j] = 3 * j + (1 + j) * m.data[i * cols + j]!;
  return m;
}

describe("ONNX export (onnxruntime-node)", () => {
  it("a convolutional network with every image layer: Conv, MaxPool, AveragePool, BatchNormalization, LayerNormalization, Add, GlobalAveragePool + Flatten", async () => {
    const model = new Sequential(
      [
        conv2d(4, [4, 2], { padding: "same", activation: "relu" }),
        batchNorm(),
        residual([conv2d(4, 3, { padding: 2, dilation: 2 }), batchNorm(), tanh(), residual([conv2d(4, 1)])]),
        maxPool2d(3, { stride: 2, padding: 1 }),
        conv2d(6, 2, { stride: [1, 2], useBias: false, activation: "gelu" }),
        avgPool2d(2, { stride: 1, padding: 1 }),
        layerNorm({ dims: 3 }),
        dropout(0.2),
        maxPool2d(2, { dilation: 2, stride: 1 }),
        globalAvgPool2d(),
        dense(5),
        batchNorm(),
        layerNorm(),
        relu(),
        dense(3),
      ],
      { inputShape: [2, 9, 11], seed: 6, backend: "js" },
    );
    model.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.01 }) });
    const rng = new Rng(4);
    const n = 24;
    const data = new Float32Array(n * 2 * 9 * 11).map(() => rng.normal() + 0.5);
    model.setNormalization({ inputMean: Array.from({ length: 198 }, (_, j) => (j % 7) * 0.1), inputStd: Array.from({ length: 198 }, (_, j) => 1 + (j % 5) * 0.1) });
    // Trained, so that batch norm's running statistics are not their initial 0 and 1.
    await model.fit({ data, shape: [n, 2, 9, 11] }, Int32Array.from({ length: n }, (_, i) => i % 3), { epochs: 3, batchSize: 8, verbose: 0 });
    const path = join(root, "cnn.onnx");
    await exportOnnx(model, path);
    const ops = new Set(graphNodes(decodeOnnxModel(await readFile(path))).map((n) => n.opType));
    for (const op of ["Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "BatchNormalization", "LayerNormalization", "Add"]) expect(ops, op).toContain(op);
    const session = await ort.InferenceSession.create(path);
    try {
      const out = await session.run({ input: new ort.Tensor("float32", data.slice(), [n, 2, 9, 11]) });
      expect(out["output"]!.dims).toEqual([n, 3]);
      expect(maxAbsDiff(out["output"]!.data as Float32Array, model.predict({ data, shape: [n, 2, 9, 11] }).data)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
    await expect(exportOnnx(model, join(root, "cnn-13.onnx"), { opset: 13 })).rejects.toThrow(/layerNorm \(layerNorm_6\) is ONNX's LayerNormalization, which needs opset 17 or later/);
  });

  it("an image classifier: (batch, 2, 3, 3) input with per-pixel standardization, Flatten, every registered activation", async () => {
    const acts = ACTIVATION_NAMES.map((a) => new Activation(a, a === "leakyRelu" ? 0.05 : 0));
    const model = new Sequential([flatten(), ...acts.flatMap((a) => [dense(6), a]), dense(3), softmax()], { inputShape: [2, 3, 3], seed: 5, backend: "js" });
    model.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.01 }) });
    const rng = new Rng(9);
    const data = new Float32Array(20 * 18).map(() => rng.normal() * 2 + 1);
    model.setNormalization({ inputMean: Array.from({ length: 18 }, (_, j) => j * 0.1), inputStd: Array.from({ length: 18 }, (_, j) => 1 + j * 0.05) });
    await model.fit({ data, shape: [20, 2, 3, 3] }, Int32Array.from({ length: 20 }, (_, i) => i % 3), { epochs: 2, batchSize: 5, verbose: 0 });
    const path = join(root, "image.onnx");
    await exportOnnx(model, path);
    const ops = graphNodes(decodeOnnxModel(await readFile(path))).map((n) => n.opType);
    expect(ops.slice(0, 3)).toEqual(["Sub", "Div", "Flatten"]);
    expect(ops.filter((o) => o === "Softmax")).toHaveLength(1); // the model's own, applied once
    const session = await ort.InferenceSession.create(path);
    try {
      const out = await session.run({ input: new ort.Tensor("float32", data.slice(), [20, 2, 3, 3]) });
      expect(out["output"]!.dims).toEqual([20, 3]);
      expect(maxAbsDiff(out["output"]!.data as Float32Array, model.predict({ data, shape: [20, 2, 3, 3] }).data)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });

  it("a regressor with input standardization and target de-standardization, every activation", async () => {
    const model = new Sequential(
      [dense(16, { activation: "tanh" }), dense(12, { activation: "relu" }), dense(10), leakyRelu(0.05), dropout(0.2), dense(8, { activation: "sigmoid" }), dense(6), gelu(), dense(2)],
      { inputSize: 4, seed: 3, backend: "js" },
    );
    model.compile({ loss: "mse", optimizer: adam({ lr: 0.01 }) });
    const x = inputs(64, 4, 1);
    const y = Matrix.zeros(64, 2);
    for (let i = 0; i < 64; i++) {
      y.data[2 * i] = 5 + Math.sin(x.get(i, 0)) * 2;
      y.data[2 * i + 1] = -3 + x.get(i, 1) * 0.5;
    }
    model.setNormalization({ inputMean: [0, 3, 6, 9], inputStd: [1, 2, 3, 4], targetMean: [5, -3], targetStd: [2, 1.5] });
    await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });

    const path = join(root, "regressor.onnx");
    for (const opset of [17, 20]) {
      await exportOnnx(model, path, { opset });
      const proto = decodeOnnxModel(await readFile(path));
      const ops = graphNodes(proto).map((n) => n.opType);
      expect(ops.slice(0, 3)).toEqual(["Sub", "Div", "Gemm"]);
      expect(ops.slice(-2)).toEqual(["Mul", "Add"]);
      expect(ops).toContain("LeakyRelu");
      expect(ops.includes("Gelu")).toBe(opset >= 20);
      expect(String(graphNodes(proto).find((n) => n.opType === "Gemm")!.attribute?.find((a) => a.name === "transB")?.i)).toBe("1");

      const xt = inputs(37, 4, 2); // a batch size the model never saw: the batch dimension is dynamic
      const got = await runOnnx(path, xt);
      const want = model.predict(xt);
      expect(got.dims).toEqual([37, 2]);
      expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-5);
      if (native) {
        // The same weights predicting on the native backend (its own exp/tanh) agree too.
        const twin = Sequential.fromConfig(model.config(), { backend: native });
        twin.setWeights(model.getWeights());
        expect(maxAbsDiff(got.data, twin.predict(xt).data)).toBeLessThan(1e-5);
      }
    }
  });

  it("a crossEntropy classifier: the graph ends in softmax, as predict's probabilities", async () => {
    const model = new Sequential([dense(10, { activation: "relu" }), dense(3)], { inputSize: 4, seed: 5, backend: "js" });
    model.compile({ loss: "crossEntropy", optimizer: "adam" });
    const x = inputs(60, 4, 3);
    const labels = Int32Array.from({ length: 60 }, (_, i) => (x.get(i, 0) > 0.5 ? 2 : x.get(i, 1) > 3 ? 1 : 0));
    model.setNormalization({ inputMean: [0, 3, 6, 9], inputStd: [1, 2, 3, 4] });
    await model.fit(x, labels, { epochs: 3, batchSize: 20, verbose: 0 });

    const path = join(root, "classifier.onnx");
    await exportOnnx(model, path, { metadata: { classNames: JSON.stringify(["a", "b", "c"]) } });
    const proto = decodeOnnxModel(await readFile(path));
    expect(graphNodes(proto).map((n) => n.opType)).toEqual(["Sub", "Div", "Gemm", "Relu", "Gemm", "Softmax"]);
    expect((proto.metadataProps ?? []).find((p) => p.key === "classNames")!.value).toBe('["a","b","c"]');
    const xt = inputs(25, 4, 4);
    const got = await runOnnx(path, xt);
    const want = model.predict(xt);
    expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-5);
    // Rows are probabilities.
    for (let i = 0; i < 25; i++) expect(got.data[3 * i]! + got.data[3 * i + 1]! + got.data[3 * i + 2]!).toBeCloseTo(1, 5);
  });

  it("a trailing softmax layer is exported once; binaryCrossEntropy ends in sigmoid", async () => {
    const ce = new Sequential([dense(5, { activation: "tanh" }), dense(3), softmax()], { inputSize: 2, seed: 1, backend: "js" });
    ce.compile({ loss: "crossEntropy", optimizer: "sgd" });
    await exportOnnx(ce, join(root, "ce.onnx"));
    const ceOps = graphNodes(decodeOnnxModel(await readFile(join(root, "ce.onnx")))).map((n) => n.opType);
    expect(ceOps.filter((o) => o === "Softmax")).toHaveLength(1);
    const x = inputs(9, 2, 5);
    expect(maxAbsDiff((await runOnnx(join(root, "ce.onnx"), x)).data, ce.predict(x).data)).toBeLessThan(1e-5);

    const bce = new Sequential([dense(4, { activation: "gelu", useBias: false }), dense(2)], { inputSize: 2, seed: 2, backend: "js" });
    bce.compile({ loss: "binaryCrossEntropy", optimizer: "sgd" });
    await exportOnnx(bce, join(root, "bce.onnx"));
    const bceNodes = graphNodes(decodeOnnxModel(await readFile(join(root, "bce.onnx"))));
    expect(bceNodes.at(-1)!.opType).toBe("Sigmoid");
    expect(bceNodes[0]!.input).toHaveLength(2); // no bias: Gemm(A, B) without C
    expect(maxAbsDiff((await runOnnx(join(root, "bce.onnx"), x)).data, bce.predict(x).data)).toBeLessThan(1e-5);
  });
});

import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { dense, dropout, gelu, leakyRelu, linear, relu, softmax, tanh } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam, sgd } from "../lib/optim/index.js";
import { cosineDecay } from "../lib/optim/schedules.js";
import { tsBackend } from "./helpers.js";

describe("layers and Sequential construction", () => {
  it("counts parameters: the lecture's 1 -> 3 sigmoid -> 1 has 10", () => {
    const model = new Sequential([dense(3, { activation: "sigmoid" }), dense(1)], { inputSize: 1, seed: 0 });
    expect(model.parameterCount()).toBe(3 * 1 + 3 + 1 * 3 + 1);
    expect(model.outputSize).toBe(1);
    const big = new Sequential([dense(256, { activation: "relu" }), dense(128, { activation: "relu" }), dense(10)], { inputSize: 784 });
    expect(big.parameterCount()).toBe(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    const noBias = new Sequential([dense(4, { useBias: false }), relu(), dense(2, { useBias: false })], { inputSize: 3 });
    expect(noBias.parameterCount()).toBe(12 + 8);
  });

  it("summary lists each layer's output shape and parameters, and the total", () => {
    const model = new Sequential([dense(3, { activation: "sigmoid" }), dropout(0.5), dense(1)], { inputSize: 1 });
    const text = model.summary({ print: false });
    const lines = text.split("\n");
    expect(lines.some((l) => /dense_0\s+dense \(sigmoid\)\s+\(batch, 3\)\s+6$/.test(l))).toBe(true);
    expect(lines.some((l) => /dropout_1\s+dropout \(rate=0.5\)\s+\(batch, 3\)\s+0$/.test(l))).toBe(true);
    expect(lines.some((l) => /dense_2\s+dense\s+\(batch, 1\)\s+4$/.test(l))).toBe(true);
    expect(text).toContain("Total params: 10");
  });

  it("lays parameters out flat: each dense weight (out, in) then bias, with views into model.params", () => {
    const model = new Sequential([dense(3), tanh(), dense(2)], { inputSize: 4, seed: 3 });
    const w = model.getWeights();
    expect(w.map((e) => [e.layer, e.name, e.weight.rows, e.weight.cols, e.bias?.length])).toEqual([
      [0, "dense_0", 3, 4, 3],
      [2, "dense_2", 2, 3, 2],
    ]);
    expect(Array.from(model.params.subarray(0, 12))).toEqual(Array.from(w[0]!.weight.data));
    expect(Array.from(model.params.subarray(12, 15))).toEqual([0, 0, 0]);
    expect(Array.from(model.params.subarray(15, 21))).toEqual(Array.from(w[1]!.weight.data));
    // getWeights returns copies.
    w[0]!.weight.data[0] = 123;
    expect(model.params[0]).not.toBe(123);
  });

  it("initializes with the documented default: He uniform before relu-family, Glorot uniform otherwise", () => {
    const fanIn = 400;
    const fanOut = 300;
    const maxAbs = (m: Sequential): number => m.getWeights()[0]!.weight.data.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const glorot = Math.sqrt(6 / (fanIn + fanOut));
    const he = Math.sqrt(6 / fanIn);
    for (const [layers, limit] of [
      [[dense(fanOut, { activation: "sigmoid" })], glorot],
      [[dense(fanOut)], glorot],
      [[dense(fanOut, { activation: "relu" })], he],
      [[dense(fanOut), relu()], he],
      [[dense(fanOut), leakyRelu()], he],
      [[dense(fanOut), gelu()], he],
      [[dense(fanOut), softmax()], glorot],
    ] as const) {
      const m = new Sequential([...layers], { inputSize: fanIn, seed: 1 });
      const a = maxAbs(m);
      // 120,000 uniform draws reach within 0.5% of the limit and never exceed it.
      expect(a).toBeLessThanOrEqual(limit);
      expect(a).toBeGreaterThan(0.995 * limit);
    }
  });

  it("normal initializers have the stated standard deviation; zeros are zeros; biases start at zero", () => {
    const std = (init: "glorotNormal" | "heNormal"): number => {
      const m = new Sequential([dense(200, { init })], { inputSize: 300, seed: 5 });
      const d = m.getWeights()[0]!.weight.data;
      let s = 0;
      for (const v of d) s += v * v;
      return Math.sqrt(s / d.length);
    };
    expect(std("glorotNormal") / Math.sqrt(2 / 500)).toBeCloseTo(1, 1);
    expect(std("heNormal") / Math.sqrt(2 / 300)).toBeCloseTo(1, 1);
    const z = new Sequential([dense(5, { init: "zeros" })], { inputSize: 2 });
    expect(z.params.every((v) => v === 0)).toBe(true);
    const m = new Sequential([dense(5)], { inputSize: 2 });
    expect(Array.from(m.getWeights()[0]!.bias!)).toEqual([0, 0, 0, 0, 0]);
  });

  it("is seeded: the same seed gives the same weights, another seed different ones", () => {
    const make = (seed: number): Float32Array => new Sequential([dense(4, { activation: "tanh" }), dense(2)], { inputSize: 3, seed }).params;
    expect(Array.from(make(7))).toEqual(Array.from(make(7)));
    expect(Array.from(make(7))).not.toEqual(Array.from(make(8)));
    // Adding dropout does not change the initial weights (its masks use a separate stream).
    const withDropout = new Sequential([dense(4, { activation: "tanh" }), dropout(0.2), dense(2)], { inputSize: 3, seed: 7 });
    expect(Array.from(withDropout.params)).toEqual(Array.from(make(7)));
  });

  it("compiles a dense layer with an activation into dense + activation, and leaves linear out", () => {
    const model = new Sequential([dense(3, { activation: "sigmoid" }), dense(2), linear(), leakyRelu(0.2), dropout(0.1), dense(1)], { inputSize: 1 });
    const spec = model.buildSpec(10);
    expect(spec.layers.map((l) => l.kind + (l.kind === "activation" ? `:${l.activation}:${l.alpha}` : ""))).toEqual([
      "dense",
      "activation:sigmoid:0",
      "dense",
      "activation:leakyRelu:0.2",
      "dropout",
      "dense",
    ]);
    expect(spec.paramCount).toBe(model.parameterCount());
    expect(spec.inFeatures).toBe(1);
    expect(spec.outFeatures).toBe(1);
  });

  it("fuses a final softmax into crossEntropy and a final sigmoid into binaryCrossEntropy", () => {
    const ce = new Sequential([dense(4, { activation: "relu" }), dense(3), softmax()], { inputSize: 2 });
    ce.compile({ loss: "crossEntropy", optimizer: "sgd" });
    expect(ce.buildSpec(8).layers.map((l) => l.kind)).toEqual(["dense", "activation", "dense"]);
    expect(ce.buildSpec(8).loss).toEqual({ kind: "crossEntropy" });
    expect(ce.buildSpec(8, true).loss).toEqual({ kind: "crossEntropyDense" });
    const ce2 = new Sequential([dense(3, { activation: "softmax" })], { inputSize: 2 });
    ce2.compile({ loss: "crossEntropy", optimizer: "sgd" });
    expect(ce2.buildSpec(8).layers.map((l) => l.kind)).toEqual(["dense"]);
    const bce = new Sequential([dense(1, { activation: "sigmoid" })], { inputSize: 2 });
    bce.compile({ loss: "binaryCrossEntropy", optimizer: "sgd" });
    expect(bce.buildSpec(8).layers.map((l) => l.kind)).toEqual(["dense"]);
    // A softmax after the last dense layer that is not last would be applied twice: rejected.
    const twice = new Sequential([dense(3, { activation: "softmax" }), dropout(0.1)], { inputSize: 2 });
    expect(() => twice.compile({ loss: "crossEntropy", optimizer: "sgd" })).toThrow(
      /crossEntropy applies softmax to the model's outputs itself, but a softmax after the last dense layer is followed by other layers/,
    );
    const twiceBce = new Sequential([dense(1, { activation: "sigmoid" }), dropout(0.1)], { inputSize: 2 });
    expect(() => twiceBce.compile({ loss: "binaryCrossEntropy", optimizer: "sgd" })).toThrow(/binaryCrossEntropy applies sigmoid/);
    // With mse the softmax stays.
    const reg = new Sequential([dense(3), softmax()], { inputSize: 2 });
    reg.compile({ loss: "mse", optimizer: "sgd" });
    expect(reg.buildSpec(8).layers.map((l) => l.kind)).toEqual(["dense", "softmax"]);
  });

  it("rejects bad layer and model arguments with messages that say what was expected", () => {
    expect(() => dense(0)).toThrow(/Invalid units for dense: expected a positive integer but received the number 0/);
    expect(() => dense(2.5)).toThrow(/units/);
    expect(() => dense(3, { activation: "swish" as never })).toThrow(/Invalid activation for dense.*"relu".*swish/);
    expect(() => dense(3, { init: "xavier" as never })).toThrow(/Invalid initializer for dense.*"glorotUniform"/);
    expect(() => dropout(1)).toThrow(/Invalid dropout rate: the number 1; expected a number in \[0, 1\)/);
    expect(() => dropout(-0.1)).toThrow(/dropout rate/);
    expect(() => leakyRelu(-1)).toThrow(/Invalid leakyRelu alpha: -1/);
    expect(() => new Sequential([], { inputSize: 1 })).toThrow(/non-empty array of layers/);
    expect(() => new Sequential([relu()], { inputSize: 1 })).toThrow(/at least one layer with parameters, such as a dense layer/);
    expect(() => new Sequential([dense(1)], { inputSize: 0 })).toThrow(/Invalid inputSize: the number 0; expected a positive integer/);
    expect(() => new Sequential([dense(1)], {} as never)).toThrow(/inputSize/);
    expect(() => new Sequential([{} as never], { inputSize: 1 })).toThrow(/Layer 0 is an object \(Object\); expected a layer/);
    expect(() => new Sequential([dense(1)], { inputSize: 1, backend: "gpu" as never })).toThrow(/Invalid backend/);
    const shared = dense(2);
    new Sequential([shared], { inputSize: 1 });
    expect(() => new Sequential([shared], { inputSize: 1 })).toThrow(/already belongs to another model/);
  });
});

describe("weights, config and training state", () => {
  it("setWeights checks every shape before writing anything", () => {
    const model = new Sequential([dense(2), dense(1)], { inputSize: 3, seed: 1 });
    const before = model.params.slice();
    const w = model.getWeights();
    expect(() => model.setWeights([w[0]!])).toThrow(/expects 2 entries/);
    expect(() => model.setWeights([w[0]!, { weight: Matrix.zeros(2, 1), bias: w[1]!.bias }])).toThrow(
      /setWeights\[1\].weight \(dense_1\) is 2x1; expected 1x2/,
    );
    expect(() => model.setWeights([w[0]!, { weight: w[1]!.weight, bias: new Float32Array(3) }])).toThrow(/bias \(dense_1\)/);
    const nan = w[1]!.weight.clone();
    nan.data[0] = NaN;
    expect(() => model.setWeights([w[0]!, { weight: nan, bias: w[1]!.bias }])).toThrow(/must be finite/);
    expect(Array.from(model.params)).toEqual(Array.from(before));
    const ones = w.map((e) => ({ weight: Matrix.full(e.weight.rows, e.weight.cols, 1), bias: new Float32Array(e.bias!.length).fill(2) }));
    model.setWeights(ones);
    expect(Array.from(model.params)).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 2]);
  });

  it("config() is JSON and fromConfig rebuilds the same architecture, compile settings and normalization", () => {
    const model = new Sequential([dense(4, { activation: "relu", init: "heNormal" }), dropout(0.25), leakyRelu(0.1), dense(3, { useBias: false }), softmax()], {
      inputSize: 2,
      seed: 9,
      backend: tsBackend,
    });
    model.compile({ loss: "crossEntropy", optimizer: adam({ lr: cosineDecay({ initial: 0.01, decaySteps: 100 }), betas: [0.8, 0.99] }), clipNorm: 2 });
    model.setNormalization({ inputMean: [1, 2], inputStd: [3, 4] });
    const json = JSON.parse(JSON.stringify(model.config()));
    expect(json.layers).toEqual([
      { type: "dense", units: 4, activation: "relu", init: "heNormal", useBias: true },
      { type: "dropout", rate: 0.25 },
      { type: "activation", activation: "leakyRelu", alpha: 0.1 },
      { type: "dense", units: 3, activation: null, init: null, useBias: false },
      { type: "softmax" },
    ]);
    const copy = Sequential.fromConfig(json, { backend: tsBackend });
    expect(copy.config()).toEqual(model.config());
    // Same seed: same initial weights.
    expect(Array.from(copy.params)).toEqual(Array.from(model.params));
    expect(copy.optimizer!.lrAt(50, 0)).toBeCloseTo(0.005, 7);
    expect(() => Sequential.fromConfig({ ...json, version: 99 })).toThrow(/newer than this blasnet supports/);
    expect(() => Sequential.fromConfig({ ...json, layers: [{ type: "conv3d" }] })).toThrow(/Unknown layer type at index 0/);
    expect(() => Sequential.fromConfig({ ...json, format: "keras" })).toThrow(/Not a blasnet model config/);
  });

  it("getTrainingState / setTrainingState round-trip and validate", () => {
    const model = new Sequential([dense(2), dense(1)], { inputSize: 1 });
    expect(() => model.setTrainingState(model.getTrainingState())).toThrow(/Compile the model/);
    model.compile({ loss: "mse", optimizer: "adam" });
    const s = model.getTrainingState();
    expect(s.optimizerState.length).toBe(2 * model.parameterCount());
    s.optimizerState.fill(0.5);
    model.setTrainingState({ ...s, step: 7, epoch: 3 });
    expect(model.step).toBe(7);
    expect(model.epoch).toBe(3);
    expect(model.getTrainingState().optimizerState.every((v) => v === 0.5)).toBe(true);
    expect(() => model.setTrainingState({ ...s, optimizerState: new Float32Array(3) })).toThrow(/optimizerState: expected a Float32Array of 14 values \(adam over 7 parameters\)/);
    expect(() => model.setTrainingState({ ...s, rngState: new Uint32Array(4) })).toThrow(/rngState/);
    // Plain SGD keeps no state.
    model.compile({ loss: "mse", optimizer: sgd() });
    expect(model.getTrainingState().optimizerState.length).toBe(0);
    expect(model.step).toBe(0);
  });

  it("setNormalization validates lengths and standard deviations", () => {
    const model = new Sequential([dense(2)], { inputSize: 3 });
    expect(() => model.setNormalization({ inputMean: [0, 0], inputStd: [1, 1, 1] })).toThrow(/inputMean has 2 values; expected 3/);
    expect(() => model.setNormalization({ inputMean: [0, 0, 0], inputStd: [1, 0, 1] })).toThrow(/inputStd\[1\] is 0; expected a finite number > 0/);
    expect(() => model.setNormalization({ inputMean: [0, 0, 0], inputStd: [1, 1, 1], targetMean: [0, 0] })).toThrow(/both targetMean and targetStd/);
    model.setNormalization({ inputMean: [0, 1, 2], inputStd: [1, 1, 1], targetMean: [5, 6], targetStd: [2, 3] });
    expect(model.normalization!.targetStd).toEqual(new Float32Array([2, 3]));
    model.setNormalization(null);
    expect(model.normalization).toBeNull();
  });
});

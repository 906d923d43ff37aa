/**
 * The layers of convolutional networks as a user meets them: the factories and their PyTorch-style
 * validation, output shapes and summary() (trainable and non-trainable counts), batch norm's
 * running statistics (PyTorch's momentum rule; never touched by the optimizer; used by predict),
 * frozen plan ranges, dropout on images, getWeights/setWeights, save/load with PyTorch names, and
 * training on the native backend (the per-kernel path while the fused plan refuses these steps).
 * The Fashion-MNIST CNN is the example's own (examples/fashion-mnist-cnn.ts `fashionMnistCnn`), not a copy.
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import type { PlanSpec } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import { readSafetensors } from "../lib/io/safetensors.js";
import {
  adam,
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  globalAvgPool2d,
  layerNorm,
  loadModel,
  maxPool2d,
  relu,
  residual,
  Sequential,
  sgd,
} from "../lib/index.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { fashionMnistCnn } from "../examples/fashion-mnist-cnn.js";
import { maxAbsDiff, nativeOrSkip, tempDir, thrown, tsBackend } from "./helpers.js";

const native = nativeOrSkip();
const root = tempDir("blasnet-conv-layers-");

/** A small image model with every new layer kind. */
function everyKind(backend: "js" | "native" = "js", seed = 1): Sequential {
  return new Sequential(
    [
      conv2d(4, 3, { padding: "same", activation: "relu" }),
      batchNorm(),
      residual([conv2d(4, 3, { padding: 1 }), batchNorm(), relu(), conv2d(4, 3, { padding: 1 })]),
      maxPool2d(2),
      avgPool2d(2, { stride: 1 }),
      layerNorm({ dims: 3 }),
      dropout(0.1),
      globalAvgPool2d(),
      dense(3),
    ],
    { inputShape: [1, 8, 8], seed, backend },
  );
}

function images(n: number, seed: number): { x: { data: Float32Array; shape: number[] }; labels: Int32Array } {
  const rng = new Rng(seed);
  const data = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < 64; j++) data[i * 64 + j] = rng.normal() + (labels[i] === 0 && j % 8 < 3 ? 1 : labels[i] === 1 && j % 8 > 5 ? 1 : 0);
  }
  return { x: { data, shape: [n, 1, 8, 8] }, labels };
}

describe("convolution layers: factories, validation, shapes", () => {
  it("the Fashion-MNIST CNN: output shapes, parameter counts and summary", () => {
    const m = fashionMnistCnn({ seed: 0 });
    expect(m.layers.map((l) => l.outShape)).toEqual([[32, 28, 28], [32, 14, 14], [64, 14, 14], [64, 7, 7], [3136], [128], [10]]);
    expect(m.parameterCount()).toBe(32 * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 128 + 128 + 128 * 10 + 10);
    const text = m.summary({ print: false });
    expect(text).toMatch(/conv2d_0\s+conv2d 3x3 \(relu\)\s+\(batch, 32, 28, 28\)\s+320\n/);
    expect(text).toMatch(/maxPool2d_1\s+maxPool2d 2x2\s+\(batch, 32, 14, 14\)\s+0\n/);
    expect(text).toMatch(/conv2d_2\s+conv2d 3x3 \(relu\)\s+\(batch, 64, 14, 14\)\s+18,496\n/);
    expect(text).toContain("Total params: 421,642\nTrainable params: 421,642\nNon-trainable params: 0");
  });

  it("summary shows a residual block's body and batch norm's running statistics as non-trainable", () => {
    const text = everyKind().summary({ print: false });
    expect(text).toMatch(/residual_2\s+residual \(4 layers\)\s+\(batch, 4, 8, 8\)\s+312\n\s+residual_2\.conv2d_0\s+conv2d 3x3\s+\(batch, 4, 8, 8\)\s+148\n/);
    expect(text).toMatch(/batchNorm_1\s+batchNorm\s+\(batch, 4, 8, 8\)\s+16\n/);
    expect(text).toMatch(/globalAvgPool2d_7\s+globalAvgPool2d\s+\(batch, 4\)\s+0\n/);
    expect(text).toContain("Total params: 455\nTrainable params: 439\nNon-trainable params: 16");
  });

  it("conv2d: padding, stride and dilation as PyTorch computes the output size", () => {
    const out = (l: ReturnType<typeof conv2d>, shape: number[]) => new Sequential([l], { inputShape: shape }).outputShape;
    expect(out(conv2d(2, 3), [1, 7, 9])).toEqual([2, 5, 7]);
    expect(out(conv2d(2, 3, { stride: 2, padding: 1 }), [1, 7, 8])).toEqual([2, 4, 4]);
    expect(out(conv2d(2, [4, 2], { padding: "same" }), [3, 5, 6])).toEqual([2, 5, 6]);
    expect(out(conv2d(2, 3, { dilation: 2, padding: "same" }), [1, 9, 9])).toEqual([2, 9, 9]);
    expect(out(conv2d(2, [3, 1], { dilation: [2, 1], stride: [1, 3] }), [1, 9, 10])).toEqual([2, 5, 4]);
    expect(out(conv2d(2, 2, { padding: 3 }), [1, 2, 2])).toEqual([2, 7, 7]);
  });

  it("validation messages say what was wrong (PyTorch's rules and words)", () => {
    expect(thrown(() => conv2d(0, 3)).message).toBe("Invalid outChannels for conv2d: expected a positive integer but received the number 0");
    expect(thrown(() => conv2d(4, 3, { padding: "full" as never })).message).toMatch(/^Invalid padding string "full" for conv2d, should be one of "valid", "same"/);
    expect(thrown(() => conv2d(4, 3, { padding: "same", stride: 2 })).message).toMatch(/^padding "same" is not supported for strided convolutions/);
    expect(thrown(() => conv2d(4, [3, 0] as never)).message).toMatch(/^Invalid kernelSize for conv2d: expected an integer >= 1 or a pair \[height, width\]/);
    expect(thrown(() => conv2d(4, 3, { strides: 2 } as never)).message).toMatch(/^Unknown conv2d option "strides"; expected one of stride, padding, dilation/);
    expect(thrown(() => maxPool2d(3, { padding: 2 })).message).toBe("maxPool2d: pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1");
    expect(thrown(() => avgPool2d(2, { padding: 2 })).message).toBe("avgPool2d: pad should be at most half of kernel size, but got pad=2 and kernel_size=2");
    expect(thrown(() => avgPool2d(2, { dilation: 2 } as never)).message).toMatch(/Unknown avgPool2d option "dilation"/);
    expect(thrown(() => batchNorm({ momentum: 2 })).message).toMatch(/Invalid momentum for batchNorm: the number 2; expected a number in \[0, 1\]/);
    expect(thrown(() => layerNorm({ dims: 0 })).message).toMatch(/Invalid dims for layerNorm/);
    expect(thrown(() => residual([])).message).toMatch(/residual needs a non-empty array of layers/);
    const e = thrown(() => new Sequential([conv2d(4, 3)], { inputSize: 784 }));
    expect(e.message).toBe("Layer 0 (conv2d_0): conv2d takes inputs of shape (batch, channels, height, width) but receives (batch, 784): give the model an image inputShape such as [1, 28, 28]");
    expect(thrown(() => new Sequential([conv2d(4, 5)], { inputShape: [1, 3, 3] })).message).toMatch(
      /^Layer 0 \(conv2d_0\): conv2d\(4, \[5, 5\]\): calculated padded input size per channel: \(3 x 3\)\. Kernel size: \(5 x 5\)\. Kernel size can't be greater than actual input size/,
    );
    const r = thrown(() => new Sequential([residual([conv2d(8, 3, { padding: 1 })]), flatten(), dense(1)], { inputShape: [3, 5, 5] }));
    expect(r).toBeInstanceOf(RangeError);
    expect(r.message).toMatch(/residual: its layers map \(batch, 3, 5, 5\) to \(batch, 8, 5, 5\), but y = x \+ f\(x\) needs f to keep the shape/);
    expect(thrown(() => new Sequential([layerNorm({ dims: 2 }), dense(1)], { inputSize: 4 })).message).toMatch(/normalizes the last 2 dimensions of each sample, but the input \(batch, 4\) has 1/);
    const used = conv2d(2, 1);
    new Sequential([residual([used]), flatten(), dense(1)], { inputShape: [2, 2, 2] });
    expect(thrown(() => residual([used])).message).toMatch(/already belongs to a model or block/);
  });

  it("config() round-trips every kind (fromConfig gives the same architecture and, with the seed, the same weights)", () => {
    const a = everyKind();
    const b = Sequential.fromConfig(JSON.parse(JSON.stringify(a.config())));
    expect(b.config()).toEqual(a.config());
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
  });
});

describe("batch norm and frozen ranges", () => {
  it("one training step moves the running statistics by PyTorch's rule; the optimizer never touches them; predict uses them", async () => {
    const m = new Sequential([dense(3), batchNorm({ momentum: 0.25 }), dense(1)], { inputSize: 2, seed: 2, backend: "js" });
    m.compile({ loss: "mse", optimizer: adam({ lr: 0.1, weightDecay: 0.5 }) });
    const bn = m.layers[1]!;
    const [gamma, beta, mean, variance] = bn.params;
    const x = [[1, 2], [0.5, -1], [-2, 0.3], [0.1, 0.1]];
    const y = [[1], [0], [2], [-1]];
    // The batch's statistics of the dense layer's outputs (before the step).
    const w = m.getWeights()[0]!;
    const z = x.map((r) => [0, 1, 2].map((j) => w.weight.get(j, 0) * r[0]! + w.weight.get(j, 1) * r[1]!));
    const mu = [0, 1, 2].map((j) => z.reduce((s, r) => s + r[j]!, 0) / 4);
    const v = [0, 1, 2].map((j) => z.reduce((s, r) => s + (r[j]! - mu[j]!) ** 2, 0) / 4);
    await m.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    for (let j = 0; j < 3; j++) {
      expect(mean!.value[j]).toBeCloseTo(0.25 * mu[j]!, 5);
      expect(variance!.value[j]).toBeCloseTo(0.75 + 0.25 * v[j]! * (4 / 3), 5);
    }
    expect(Array.from(gamma!.value).some((g) => g !== 1)).toBe(true);
    expect(Array.from(beta!.value).some((b) => b !== 0)).toBe(true);
    // predict normalizes with the running statistics.
    const after = m.getWeights();
    const p = m.predict([[1, 2]]).data[0]!;
    const z0 = [0, 1, 2].map((j) => after[0]!.weight.get(j, 0) * 1 + after[0]!.weight.get(j, 1) * 2 + after[0]!.bias![j]!);
    const h = z0.map((zj, j) => (gamma!.value[j]! * (zj - mean!.value[j]!)) / Math.sqrt(variance!.value[j]! + 1e-5) + beta!.value[j]!);
    const want = h.reduce((s, hj, j) => s + hj * after[2]!.weight.get(0, j), after[2]!.bias![0]!);
    expect(p).toBeCloseTo(want, 5);
  });

  it("frozen ranges: zero gradient (outside clipNorm), values and optimizer state kept, under weight decay and momentum", () => {
    const m = new Sequential([dense(3), dense(2)], { inputSize: 2, seed: 4, backend: "js" });
    m.compile({ loss: "mse", optimizer: sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.1 }), clipNorm: 1e-3 });
    const spec: PlanSpec = { ...m.buildSpec(4, true), frozen: [[0, 4], [9, 12]] };
    const P = spec.paramCount;
    const state = new Float32Array(P).fill(0.5);
    const params = m.params.slice();
    const exec = new PlanExecutor(tsBackend, spec, { params, grads: new Float32Array(P), state, rngState: m.rngState.slice() });
    const x = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const y = Float32Array.of(1, 0, 0, 1, 1, 1, 0, 0);
    const before = params.slice();
    const losses = new Float32Array(2);
    exec.runStepsSync({ x, y, rows: 4, order: Int32Array.of(0, 1, 2, 3, 3, 2, 1, 0), start: 0, steps: 2, batchSize: 4, lr: Float32Array.of(0.1, 0.1), firstStep: 1, training: true, losses });
    const frozen = (i: number) => i < 4 || (i >= 9 && i < 12);
    for (let i = 0; i < P; i++) {
      if (frozen(i)) {
        expect(params[i], `param ${i}`).toBe(before[i]);
        expect(state[i], `state ${i}`).toBe(0.5);
      } else {
        expect(params[i], `param ${i}`).not.toBe(before[i]);
      }
    }
    const g = new Float32Array(P);
    const e2 = new PlanExecutor(tsBackend, spec, { params, grads: g, state, rngState: m.rngState.slice() });
    e2.lossAndGradients(x, y, 4);
    for (let i = 0; i < P; i++) if (frozen(i)) expect(g[i]).toBe(0);
    expect(() => new PlanExecutor(tsBackend, { ...spec, frozen: [[4, 2]] }, { params, grads: g, state, rngState: m.rngState.slice() })).toThrow(
      /Plan frozen\[0\] = \[4,2\]: expected ascending, non-overlapping ranges/,
    );
  });
});

describe("plan specs with image steps are checked when the plan is made", () => {
  it("a window whose output size does not follow from its input, unpaired residual steps, a body that changes the width", () => {
    const m = new Sequential([conv2d(2, 3, { padding: 1 }), residual([conv2d(2, 1)]), flatten(), dense(1)], { inputShape: [1, 5, 5], seed: 1, backend: "js" });
    const spec = m.buildSpec(4, true);
    const buffers = { params: m.params, grads: m.grads, state: new Float32Array(0), rngState: m.rngState };
    const make = (layers: PlanSpec["layers"]) => () => new PlanExecutor(tsBackend, { ...spec, layers }, buffers);
    const conv = spec.layers[0] as Extract<PlanSpec["layers"][number], { kind: "conv2d" }>;
    expect(make([{ ...conv, window: { ...conv.window, outH: 7 } }, ...spec.layers.slice(1)])).toThrow(
      /^Plan layer 0 \(conv2d\): window\.outH is 7; an input of 5 with kernel 3, stride 1, dilation 1 and padding 1 before gives 4 to 6$/,
    );
    expect(make([{ ...conv, window: { ...conv.window, padTop: -1 } }, ...spec.layers.slice(1)])).toThrow(/window\.padTop is the number -1; expected an integer in \[0, 2\^30\]/);
    expect(make(spec.layers.filter((l) => l.kind !== "residualStart"))).toThrow(/Plan layer 2 \(residualEnd\) has no matching residualStart/);
    expect(make(spec.layers.filter((l) => l.kind !== "residualEnd"))).toThrow(/Plan layer 1 \(residualStart\) has no matching residualEnd/);
    const [first, start, inner, end, last] = spec.layers;
    const narrow = { ...(inner as typeof conv), outChannels: 1 };
    const d = last as Extract<PlanSpec["layers"][number], { kind: "dense" }>;
    expect(make([first!, start!, narrow, end!, { ...d, inFeatures: 25 }])).toThrow(/Plan layer 3 \(residualEnd\) receives 25 values per sample but its residualStart \(layer 1\) passed on 50/);
  });
});

describe("dropout on any shape, weights in and out", () => {
  it("dropout on images zeroes about `rate` of the values while training and is the identity in predict", async () => {
    const m = new Sequential([conv2d(2, 1), dropout(0.5), flatten(), dense(1)], { inputShape: [1, 10, 10], seed: 3, backend: "js" });
    m.compile({ loss: "mse", optimizer: sgd({ lr: 0 }) });
    const spec = m.buildSpec(8, true);
    const exec = new PlanExecutor(tsBackend, spec, { params: m.params, grads: m.grads, state: new Float32Array(0), rngState: m.rngState });
    const x = Float32Array.from({ length: 800 }, (_, i) => 1 + (i % 7));
    exec.lossAndGradients(x, new Float32Array(8), 8, true);
    const out = (exec as unknown as { outputs: Float32Array[] }).outputs[1]!;
    const zeros = out.filter((v) => v === 0).length / out.length;
    expect(zeros).toBeGreaterThan(0.4);
    expect(zeros).toBeLessThan(0.6);
    const a = m.predict({ data: x.subarray(0, 100), shape: [1, 1, 10, 10] }).data[0];
    expect(m.predict({ data: x.subarray(0, 100), shape: [1, 1, 10, 10] }).data[0]).toBe(a);
  });

  it("getWeights/setWeights: conv weights (out, in·kh·kw), a residual block's layers, batch norm's running statistics as buffers", () => {
    const m = everyKind();
    const w = m.getWeights();
    expect(w.map((e) => [e.layer, e.name, e.weight.rows, e.weight.cols, e.bias?.length, Object.keys(e.buffers ?? {})])).toEqual([
      [0, "conv2d_0", 4, 9, 4, []],
      [1, "batchNorm_1", 4, 1, 4, ["running_mean", "running_var"]],
      [2, "residual_2.conv2d_0", 4, 36, 4, []],
      [2, "residual_2.batchNorm_1", 4, 1, 4, ["running_mean", "running_var"]],
      [2, "residual_2.conv2d_3", 4, 36, 4, []],
      [5, "layerNorm_5", 4, 9, 36, []],
      [8, "dense_8", 3, 4, 3, []],
    ]);
    const other = everyKind("js", 9);
    w[3]!.buffers!["running_var"] = Float32Array.of(2, 3, 4, 5);
    other.setWeights(w);
    const innerBn = (other.layers[2]! as unknown as { body: { params: { name: string; value: Float32Array }[] }[] }).body[1]!;
    expect(Array.from(innerBn.params.find((p) => p.name === "running_var")!.value)).toEqual([2, 3, 4, 5]);
    w[3]!.buffers!["running_var"] = Float32Array.of(1, 1, 1, 1);
    other.setWeights(w);
    expect(Array.from(other.params)).toEqual(Array.from(m.params));
    expect(thrown(() => other.setWeights(w.map((e, i) => (i === 0 ? { ...e, buffers: { running_mean: new Float32Array(4) } } : e)))).message).toMatch(
      /setWeights\[0\]\.buffers\.running_mean: layer conv2d_0 has no buffers/,
    );
  });
});

describe("save / load", () => {
  it("a trained model with every kind saves under PyTorch's names and loads predicting identically, running statistics included", async () => {
    const { x, labels } = images(48, 5);
    const m = everyKind();
    m.compile({ loss: "crossEntropy", optimizer: "adam" });
    await m.fit(x, labels, { epochs: 2, batchSize: 16, verbose: 0 });
    const dir = join(root, "every-kind");
    await m.save(dir, { includeOptimizer: true });
    const st = await readSafetensors(join(dir, "model.safetensors"));
    const names = [...st.tensors.keys()].filter((k) => !k.startsWith("optimizer."));
    expect(names).toEqual([
      "layers.0.weight",
      "layers.0.bias",
      "layers.1.weight",
      "layers.1.bias",
      "layers.1.running_mean",
      "layers.1.running_var",
      "layers.2.body.0.weight",
      "layers.2.body.0.bias",
      "layers.2.body.1.weight",
      "layers.2.body.1.bias",
      "layers.2.body.1.running_mean",
      "layers.2.body.1.running_var",
      "layers.2.body.3.weight",
      "layers.2.body.3.bias",
      "layers.5.weight",
      "layers.5.bias",
      "layers.8.weight",
      "layers.8.bias",
    ]);
    expect(st.tensors.get("layers.2.body.0.weight")!.shape).toEqual([4, 4, 3, 3]);
    expect(st.tensors.get("layers.5.weight")!.shape).toEqual([4, 3, 3]);
    expect(Array.from(st.tensors.get("layers.1.running_var")!.data)).not.toEqual([1, 1, 1, 1]);
    const back = await loadModel(dir, { backend: "js" });
    expect(Array.from(back.params)).toEqual(Array.from(m.params));
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    expect(back.getTrainingState().optimizerState).toEqual(m.getTrainingState().optimizerState);
  });
});

describe.skipIf(!native)("native backend", () => {
  it("a model with every kind trains on the native backend (per-kernel path while the fused plan refuses its steps) as on TypeScript", async () => {
    const { x, labels } = images(64, 6);
    const run = async (backend: "js" | "native") => {
      const m = everyKind(backend);
      m.compile({ loss: "crossEntropy", optimizer: sgd({ lr: 0.05, momentum: 0.9 }) });
      const h = await m.fit(x, labels, { epochs: 3, batchSize: 16, verbose: 0 });
      return { m, h };
    };
    const ts = await run("js");
    const nat = await run("native");
    expect(maxAbsDiff(ts.m.params, nat.m.params)).toBeLessThan(1e-4);
    expect(ts.h.loss[2]!).toBeLessThan(ts.h.loss[0]!);
    expect(maxAbsDiff(ts.m.predict(x).data, nat.m.predict(x).data)).toBeLessThan(1e-4);
  });
});

/**
 * PyTorch export checked by PyTorch itself: model.py's load() run by Python on the same raw inputs
 * must return what model.predict returns (within 1e-5, relative to the output's size above 1), for
 * every layer kind and activation the model can have; model.py's numpy safetensors reader and writer
 * (what runs without the safetensors package) agree with blasnet's. One Python process runs every case.
 * Without PyTorch the PyTorch cases are skipped with the reason (never under CI=true).
 */
import { describe, expect, it } from "vitest";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ACTIVATION_NAMES, type ActivationName as ElementwiseActivation } from "../lib/ops/activations.js";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
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
  linear,
  maxPool2d,
  relu,
  residual,
  sigmoid,
  softmax,
  tanh,
  LAYERS,
  type Layer,
} from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam, cosineDecay, linearWarmup, sgd } from "../lib/optim/index.js";
import { exportTorch } from "../lib/io/torch-export.js";
import { readSafetensors } from "../lib/io/safetensors.js";
import { TORCH_LAYERS, torchActivation, torchLayer } from "../lib/io/torch-layers.js";
import { tempDir, thrown } from "./helpers.js";
import { run, torchPython, torchSkipReason } from "./torch-python.js";

const root = tempDir("blasnet-torch-export-");
const activations = [...ACTIVATION_NAMES];

/** Raw, unstandardized features: offsets and scales differ per column. */
function inputs(rows: number, cols: number, seed: number): Matrix {
  const m = Matrix.randomNormal(rows, cols, new Rng(seed));
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.data[i * cols + j] = 3 * j + (1 + j) * m.data[i * cols + j]!;
  return m;
}

interface Case {
  name: string;
  model: Sequential;
  x: Matrix;
}

/** Models covering every layer kind, every activation (as a dense layer's and as a layer), softmax and dropout. */
async function cases(): Promise<Case[]> {
  const out: Case[] = [];

  // Regression, standardized inputs and targets; a dense layer with each activation, an activation layer of each.
  const layers: Layer[] = [dense(12, { activation: "tanh" })];
  for (const a of activations) layers.push(dense(8, { activation: a }), new Activation(a, a === "leakyRelu" ? 0.05 : 0));
  layers.push(dropout(0.25), dense(6, { activation: "softmax" }), dense(5, { useBias: false }), leakyRelu(), gelu(), relu(), tanh(), sigmoid(), linear(), dense(2));
  const reg = new Sequential(layers, { inputSize: 4, seed: 3 });
  reg.compile({ loss: "mse", optimizer: adam({ lr: linearWarmup(cosineDecay({ initial: 0.01, decaySteps: 50 }), { warmupSteps: 4 }) }), clipNorm: 5 });
  reg.setNormalization({ inputMean: [0, 3, 6, 9], inputStd: [1, 2, 3, 4], targetMean: [5, -3], targetStd: [2, 1.5] });
  const xr = inputs(64, 4, 1);
  const yr = Matrix.zeros(64, 2);
  for (let i = 0; i < 64; i++) {
    yr.data[2 * i] = 5 + 2 * Math.sin(xr.get(i, 0));
    yr.data[2 * i + 1] = -3 + 0.5 * xr.get(i, 1);
  }
  await reg.fit(xr, yr, { epochs: 3, batchSize: 16, verbose: 0 });
  out.push({ name: "regression", model: reg, x: xr });

  // Classifier: softmax fused into crossEntropy as dense(..., { activation: "softmax" }), dropout before it.
  const cls = new Sequential([dense(10, { activation: "relu" }), dropout(0.3), dense(3, { activation: "softmax" })], { inputSize: 4, seed: 5 });
  cls.compile({ loss: "crossEntropy", optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
  cls.setNormalization({ inputMean: [0, 3, 6, 9], inputStd: [1, 2, 3, 4] });
  const xc = inputs(48, 4, 2);
  const yc = Int32Array.from({ length: 48 }, (_, i) => (xc.get(i, 0) > 0.5 ? 2 : xc.get(i, 1) > 3 ? 1 : 0));
  await cls.fit(xc, yc, { epochs: 5, batchSize: 8, verbose: 0 });
  out.push({ name: "classifier", model: cls, x: xc });

  // A softmax layer inside the network and one at the end (fused), no standardization.
  const sm = new Sequential([dense(6), softmax(), dense(4), softmax()], { inputSize: 4, seed: 7 });
  sm.compile({ loss: "crossEntropy", optimizer: "adam" });
  out.push({ name: "softmax-layers", model: sm, x: inputs(16, 4, 3) });

  // Multi-label binaryCrossEntropy: the final sigmoid layer is fused into the loss.
  const bce = new Sequential([dense(6, { activation: "gelu" }), dense(3), sigmoid()], { inputSize: 4, seed: 9 });
  bce.compile({ loss: "binaryCrossEntropy", optimizer: "rmsprop", clipValue: 1 });
  out.push({ name: "multi-label", model: bce, x: inputs(16, 4, 4) });

  // A convolutional classifier with every image layer, per-pixel standardization, trained so that
  // batch norm's running statistics moved; its inputs are given to PyTorch as flat rows.
  const cnn = new Sequential(
    [
      conv2d(4, [4, 2], { padding: "same", activation: "relu" }),
      batchNorm({ momentum: 0.2 }),
      residual([conv2d(4, 3, { padding: 2, dilation: 2 }), batchNorm(), tanh(), residual([conv2d(4, 1, { activation: "gelu" })])]),
      maxPool2d(3, { stride: 2, padding: 1 }),
      conv2d(6, 2, { stride: [1, 2], useBias: false }),
      avgPool2d(2, { stride: 1, padding: 1 }),
      layerNorm({ dims: 2, eps: 1e-3 }),
      dropout(0.2),
      maxPool2d(2, { dilation: 2, stride: 1 }),
      flatten(),
      dense(5),
      batchNorm(),
      layerNorm(),
      relu(),
      dense(3),
    ],
    { inputShape: [2, 9, 11], seed: 11 },
  );
  cnn.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.01 }) });
  cnn.setNormalization({ inputMean: Array.from({ length: 198 }, (_, j) => (j % 7) * 0.1), inputStd: Array.from({ length: 198 }, (_, j) => 1 + (j % 5) * 0.1) });
  const xi = inputs(24, 198, 6);
  await cnn.fit({ data: xi.data, shape: [24, 2, 9, 11] }, Int32Array.from({ length: 24 }, (_, i) => i % 3), { epochs: 3, batchSize: 8, verbose: 0 });
  out.push({ name: "cnn", model: cnn, x: xi });

  // Global average pooling into a dense layer (AdaptiveAvgPool2d(1) + Flatten).
  const gap = new Sequential([conv2d(3, 3, { activation: "tanh" }), globalAvgPool2d(), dense(2)], { inputShape: [1, 5, 5], seed: 12 });
  gap.compile({ loss: "mse", optimizer: "sgd" });
  out.push({ name: "global-average", model: gap, x: inputs(6, 25, 7) });
  return out;
}

/** The one Python run: for each case directory, load() applied to its inputs, and build()'s state_dict shapes. */
const SCRIPT = `
import importlib, json, sys
import torch
# Hide the safetensors package, if installed: model.py's numpy reader and writer run, as they do on
# Debian's PyTorch 1.13, which has no safetensors package.
sys.modules["safetensors"] = None
results = {}
for d in json.load(open(sys.argv[1])):
    sys.path.insert(0, d)
    sys.modules.pop("model", None)
    model = importlib.import_module("model")
    sys.path.pop(0)
    net = model.load()
    x = torch.tensor(json.load(open(d + "/x.json")), dtype=torch.float32)
    with torch.no_grad():
        y = net(x)
    fresh = model.build()
    model.save_safetensors(net.state_dict(), d + "/resaved.safetensors")
    results[d] = {
        "y": y.flatten().tolist(),
        "shape": list(y.shape),
        "training": net.training,
        # Batch norm's num_batches_tracked is PyTorch's own counter; blasnet neither keeps nor exports it.
        "keys": {k: list(v.shape) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")},
        "fresh_keys": {k: list(v.shape) for k, v in fresh.state_dict().items() if not k.endswith("num_batches_tracked")},
    }
print(json.dumps(results))
`;

describe.skipIf(!torchPython)(`PyTorch export, run by PyTorch${torchPython ? "" : ` (skipped: ${torchSkipReason})`}`, () => {
  it("load()(x) equals model.predict(x) for every layer kind and activation (regression with standardization, classifiers)", async () => {
    const list = await cases();
    const dirs: string[] = [];
    for (const c of list) {
      const dir = join(root, c.name);
      await exportTorch(c.model, dir);
      await writeFile(join(dir, "x.json"), JSON.stringify(Array.from({ length: c.x.rows }, (_, i) => Array.from(c.x.row(i)))));
      dirs.push(dir);
    }
    await writeFile(join(root, "cases.json"), JSON.stringify(dirs));
    await writeFile(join(root, "check.py"), SCRIPT);
    const r = await run([torchPython!.python, join(root, "check.py"), join(root, "cases.json")], root);
    expect(r.code, r.stderr).toBe(0);
    const exported = await Promise.all(dirs.map((d) => readSafetensors(join(d, "model.safetensors"))));
    // What model.py's writer saved is what blasnet wrote, value for value.
    for (const [k, d] of dirs.entries()) {
      const resaved = await readSafetensors(join(d, "resaved.safetensors"));
      expect([...resaved.tensors.keys()], d).toEqual([...exported[k]!.tensors.keys()]);
      for (const [name, t] of exported[k]!.tensors) expect(resaved.tensors.get(name), `${d} ${name}`).toEqual(t);
    }
    const results = JSON.parse(r.stdout) as Record<string, { y: number[]; shape: number[]; training: boolean; keys: Record<string, number[]>; fresh_keys: Record<string, number[]> }>;
    list.forEach((c, k) => {
      const got = results[dirs[k]!]!;
      const want = c.model.predict({ data: c.x.data, shape: [c.x.rows, ...c.model.inputShape] });
      expect(got.shape, c.name).toEqual([want.rows, want.cols]);
      expect(got.training, c.name).toBe(false);
      // The state_dict is exactly the exported tensors, and build() makes the same module.
      expect(got.fresh_keys, c.name).toEqual(got.keys);
      expect(Object.keys(got.keys).sort(), c.name).toEqual([...exported[k]!.tensors.keys()].sort());
      let worst = 0;
      for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.y[i]! - want.data[i]!) / Math.max(1, Math.abs(want.data[i]!)));
      expect(worst, c.name).toBeLessThan(1e-5);
    });
    expect(Object.keys(results[dirs[0]!]!.keys)).toEqual(expect.arrayContaining(["layers.0.weight", "layers.0.bias", "input_mean", "input_std", "target_mean", "target_std"]));
  }, 120_000);
});

describe("PyTorch export: the layer table", () => {
  it("has a PyTorch module for every activation blasnet has, and a row for every layer type", () => {
    for (const a of [...activations, "softmax"]) expect(torchActivation(a, 0.1, "a layer"), a).toMatch(/^nn\.[A-Z]\w*\(.*\)$/);
    expect(Object.keys(TORCH_LAYERS).sort()).toEqual(Object.keys(LAYERS).sort());
  });

  it("an activation without a PyTorch mapping is an error naming the layer and the activation, never a guess", () => {
    const at = { index: 2, inFeatures: 3, outFeatures: 3, fusedOutput: false, next: undefined, layer: new Activation("relu") };
    const e = thrown(() => torchLayer({ type: "activation", activation: "swish" as ElementwiseActivation }, at));
    expect(e.message).toMatch(/layer 2 \(activation\) uses activation "swish", which has no PyTorch equivalent/);
    const d = thrown(() => torchLayer({ type: "dense", units: 3, activation: "mish" as ElementwiseActivation, init: null, useBias: true }, at));
    expect(d.message).toMatch(/layer 2 \(dense\) uses activation "mish"/);
    expect(thrown(() => torchLayer({ type: "conv3d" } as never, at)).message).toMatch(/layer 2 has type "conv3d", which has no PyTorch equivalent/);
  });

  it("writes model.py, model.safetensors, train_ddp.py, blasnet.json and README.md; an uncompiled model is an error", async () => {
    const m = new Sequential([dense(3, { activation: "relu" }), dense(1)], { inputSize: 2 });
    await expect(exportTorch(m, join(root, "uncompiled"))).rejects.toThrow(/exportTorch needs a compiled model .*call model.compile/);
    m.compile({ loss: "huber", optimizer: sgd({ lr: 0.05, nesterov: true, momentum: 0.5 }) });
    await expect(exportTorch(m, join(root, "files"), { columns: ["a"] } as never)).rejects.toThrow(/Unknown exportTorch option "columns"/);
    await exportTorch(m, join(root, "files"), { data: { featureNames: ["a", "b"], targetNames: ["y"] } });
    expect((await readdir(join(root, "files"))).sort()).toEqual(["README.md", "blasnet.json", "model.py", "model.safetensors", "train_ddp.py"]);
    const train = await readFile(join(root, "files", "train_ddp.py"), "utf8");
    expect(train).toContain("nn.HuberLoss(delta=1.0)");
    expect(train).toContain("torch.optim.SGD(parameters, lr=lr, momentum=0.5, dampening=0.0, nesterov=True, weight_decay=0.0)");
    expect(await readFile(join(root, "files", "model.py"), "utf8")).toContain('FEATURES = ["a", "b"]');
  });
});

/**
 * Freezing layers (Keras' `trainable`, PyTorch's requires_grad_(False)): a frozen layer's weights
 * stay bit-identical through fit, on the TypeScript backend, the native per-kernel path and the
 * native fused plan, under Adam with weight decay and SGD with momentum (which would move them even
 * with a zero gradient), while the rest trains; their optimizer state stays zero; unfreezing between
 * fits trains them again; summary() counts follow; the flag survives save and load, and files
 * without it load as trainable.
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { readFile, writeFile } from "node:fs/promises";
import { Rng } from "../lib/core/rng.js";
import { Matrix } from "../lib/core/matrix.js";
import { adam, batchNorm, conv2d, dense, flatten, layerNorm, loadModel, relu, residual, Sequential, sgd } from "../lib/index.js";
import type { TrainingPath } from "../lib/nn/sequential.js";
import { exportTorch } from "../lib/io/torch-export.js";
import { nativeOrSkip, tempDir, thrown } from "./helpers.js";
import { run, torchPython, torchSkipReason } from "./torch-python.js";

const native = nativeOrSkip();
const root = tempDir("blasnet-trainable-");

function data(rows: number, inF: number, outF: number, seed: number): { x: Matrix; y: Matrix } {
  const x = Matrix.randomNormal(rows, inF, new Rng(seed));
  const y = Matrix.randomNormal(rows, outF, new Rng(seed + 1));
  return { x, y };
}

const paths: Array<{ name: string; backend: "js" | "native"; path: TrainingPath }> = [
  { name: "TypeScript backend", backend: "js", path: "fused" },
  ...(native
    ? [
        { name: "native per-kernel path", backend: "native" as const, path: "kernels" as const },
        { name: "native fused plan", backend: "native" as const, path: "fused" as const },
      ]
    : []),
];

const optimizers = [
  { name: "adam + weightDecay", make: () => adam({ lr: 0.01, weightDecay: 0.1 }) },
  { name: "sgd + momentum + weightDecay", make: () => sgd({ lr: 0.05, momentum: 0.9, weightDecay: 0.1 }) },
];

describe("trainable: false keeps a layer's weights and optimizer state while the rest trains", () => {
  for (const p of paths) {
    for (const o of optimizers) {
      it(`${p.name}, ${o.name}; unfreezing trains them at the next fit`, async () => {
        const frozen = dense(6, { activation: "tanh", trainable: false });
        const model = new Sequential([frozen, dense(5, { activation: "relu" }), dense(2)], { inputSize: 3, seed: 4, backend: p.backend });
        model.compile({ loss: "mse", optimizer: o.make(), trainingPath: p.path });
        const { x, y } = data(40, 3, 2, 7);
        const before = model.getWeights();
        await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
        const after = model.getWeights();
        expect(after[0]!.weight.data).toEqual(before[0]!.weight.data);
        expect(after[0]!.bias).toEqual(before[0]!.bias);
        expect(after[1]!.weight.data).not.toEqual(before[1]!.weight.data);
        expect(after[2]!.weight.data).not.toEqual(before[2]!.weight.data);

        // Optimizer state: zero over the frozen layer's parameters (each slot of P values), not elsewhere.
        const P = model.parameterCount();
        const n = frozen.params.reduce((s, q) => s + q.value.length, 0);
        const state = model.getTrainingState().optimizerState;
        expect(state.length).toBeGreaterThan(0);
        for (let s = 0; s * P < state.length; s++) {
          expect(state.subarray(s * P, s * P + n).every((v) => v === 0)).toBe(true);
          expect(state.subarray(s * P + n, (s + 1) * P).some((v) => v !== 0)).toBe(true);
        }

        frozen.trainable = true;
        await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
        expect(model.getWeights()[0]!.weight.data).not.toEqual(before[0]!.weight.data);
      });
    }
  }

  it("freezes on every path alike: the trainable layers end with the same weights on each path", async () => {
    if (!native) return;
    const runs = [];
    for (const p of paths) {
      const model = new Sequential([dense(6, { activation: "tanh" }), dense(5, { activation: "relu" }), dense(2)], { inputSize: 3, seed: 4, backend: p.backend });
      model.layers[1]!.trainable = false;
      model.compile({ loss: "mse", optimizer: adam({ lr: 0.01, weightDecay: 0.1 }), trainingPath: p.path });
      const { x, y } = data(40, 3, 2, 7);
      await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
      runs.push(model.getWeights());
    }
    for (const r of runs.slice(1)) {
      for (let i = 0; i < 3; i++) {
        const a = runs[0]![i]!.weight.data;
        const b = r[i]!.weight.data;
        for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(1e-4);
      }
    }
  });

  it("a frozen residual block freezes its body (a convolutional model; batch norm's weight and bias too)", async () => {
    const block = residual([conv2d(2, 3, { padding: 1 }), batchNorm(), relu(), conv2d(2, 3, { padding: 1 })]);
    const model = new Sequential([conv2d(2, 3, { padding: 1 }), block, flatten(), dense(2)], { inputShape: [1, 4, 4], seed: 2, backend: "js" });
    block.trainable = false;
    expect(block.body.every((l) => !l.trainable)).toBe(true);
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.05, momentum: 0.9 }) });
    const x = { data: Matrix.randomNormal(12, 16, new Rng(3)).data, shape: [12, 1, 4, 4] };
    const y = Matrix.randomNormal(12, 2, new Rng(4));
    const before = model.getWeights();
    await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
    const after = model.getWeights();
    // getWeights: conv, the body's conv, batch norm, conv, then dense.
    expect(after[1]!.weight.data).toEqual(before[1]!.weight.data);
    expect(after[2]!.weight.data).toEqual(before[2]!.weight.data);
    expect(after[2]!.bias).toEqual(before[2]!.bias);
    expect(after[3]!.weight.data).toEqual(before[3]!.weight.data);
    expect(after[0]!.weight.data).not.toEqual(before[0]!.weight.data);
    expect(after[4]!.weight.data).not.toEqual(before[4]!.weight.data);
  });
});

describe("trainable in summary, config, save and load", () => {
  it("summary() counts a frozen layer's parameters as non-trainable, and follows changes", () => {
    const model = new Sequential([dense(4, { trainable: false }), residual([layerNorm(), dense(4)]), dense(1)], { inputSize: 3, seed: 0 });
    // dense(4): 16; residual: layerNorm 8 + dense 20; dense(1): 5.
    expect(model.summary({ print: false })).toMatch(/Total params: 49\nTrainable params: 33\nNon-trainable params: 16$/);
    model.layers[1]!.trainable = false;
    expect(model.summary({ print: false })).toMatch(/Trainable params: 5\nNon-trainable params: 44$/);
    model.layers[0]!.trainable = true;
    model.layers[1]!.trainable = true;
    expect(model.summary({ print: false })).toMatch(/Trainable params: 49\nNon-trainable params: 0$/);
  });

  it("rejects a trainable that is not a boolean, naming it", () => {
    expect(thrown(() => dense(4, { trainable: "no" as never })).message).toBe('Invalid trainable for dense: expected true or false but received the string "no"');
    const l = dense(2);
    expect(() => {
      l.trainable = 0 as never;
    }).toThrow(/Invalid trainable for dense: expected true or false but received/);
  });

  it("is saved in the config (only when false) and restored by loadModel; files without it load as trainable", async () => {
    const model = new Sequential([dense(4, { activation: "relu" }), residual([dense(4), relu()]), dense(1)], { inputSize: 3, seed: 0 });
    model.layers[0]!.trainable = false;
    (model.layers[1] as ReturnType<typeof residual>).body[0]!.trainable = false;
    model.compile({ loss: "mse", optimizer: "adam" });
    const config = model.config();
    expect(config.layers[0]).toMatchObject({ type: "dense", trainable: false });
    expect(config.layers[1]).not.toHaveProperty("trainable");
    expect((config.layers[1] as { layers: object[] }).layers[0]).toMatchObject({ type: "dense", trainable: false });
    expect(config.layers[2]).not.toHaveProperty("trainable");

    const dir = join(root, "frozen");
    await model.save(dir);
    const back = await loadModel(dir);
    expect(back.layers.map((l) => l.trainable)).toEqual([false, true, true]);
    expect((back.layers[1] as ReturnType<typeof residual>).body.map((l) => l.trainable)).toEqual([false, true]);
    expect(back.summary({ print: false })).toBe(model.summary({ print: false }));

    // A file written before the flag existed: no trainable keys anywhere.
    const file = join(dir, "model.json");
    const strip = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(strip) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== "trainable").map(([k, e]) => [k, strip(e)])) : v;
    const text = JSON.stringify(strip(JSON.parse(await readFile(file, "utf8"))), null, 2);
    expect(text).not.toMatch(/trainable/);
    await writeFile(file, text);
    const old = await loadModel(dir);
    expect(old.layers.every((l) => l.trainable)).toBe(true);
  });
});

describe("trainable in the PyTorch export", () => {
  it.skipIf(!torchPython)(`model.py freezes the frozen layers with requires_grad_(False) ${torchPython ? "" : `(skipped: ${torchSkipReason})`}`, async () => {
    const model = new Sequential([dense(4, { activation: "relu", trainable: false }), residual([dense(4), relu(), dense(4)]), dense(1)], { inputSize: 3, seed: 0 });
    (model.layers[1] as ReturnType<typeof residual>).body[2]!.trainable = false;
    model.compile({ loss: "mse", optimizer: "adam" });
    const dir = join(root, "torch");
    await exportTorch(model, dir);
    const script = [
      "import json, sys",
      `sys.path.insert(0, ${JSON.stringify(dir)})`,
      "import model",
      "for net in (model.load(), model.build()):",
      "    print(json.dumps([n for n, p in net.named_parameters() if not p.requires_grad]))",
    ].join("\n");
    const r = await run([torchPython!.python, "-c", script], dir);
    expect(r.code, r.stderr).toBe(0);
    const frozen = ["layers.0.weight", "layers.0.bias", "layers.1.body.2.weight", "layers.1.body.2.bias"];
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([frozen, frozen]);
  }, 60_000);
});

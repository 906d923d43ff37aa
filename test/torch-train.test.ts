/**
 * The round trip with real PyTorch training:
 *
 * - export-torch, then train_ddp.py under `torchrun --nproc_per_node 2` (two processes, Gloo, on the
 *   loopback interface only), then import-torch: blasnet's evaluate reports the loss PyTorch printed,
 *   below the loss before training;
 * - a blasnet-trained classifier, exported, trained one more epoch of plain SGD by train_ddp.py (one
 *   process, rows in file order) and by blasnet (shuffle off, same batch size): the same weights;
 * - binaryCrossEntropy on a text column with dropout, a schedule and clipping: the labels read as
 *   0/1, and the printed losses are blasnet's.
 *
 * Without PyTorch these are skipped with the reason (never under CI=true).
 */
import { describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { readCsv, standardization } from "../lib/data/csv.js";
import { Rng } from "../lib/core/rng.js";
import { Matrix } from "../lib/core/matrix.js";
import { batchNorm, conv2d, dense, dropout, flatten, maxPool2d, relu, residual } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam, sgd } from "../lib/optim/index.js";
import { cosineDecay, linearWarmup } from "../lib/optim/schedules.js";
import { loadModel, saveModel } from "../lib/io/model-file.js";
import { exportTorch } from "../lib/io/torch-export.js";
import { importTorch } from "../lib/io/torch-import.js";
import { runExportTorch } from "../lib/cli/export-torch.js";
import { runImportTorch } from "../lib/cli/import-torch.js";
import { maxAbsDiff, tempDir } from "./helpers.js";
import { run, torchPython, torchrun, torchSkipReason } from "./torch-python.js";

const root = tempDir("blasnet-torch-train-");
const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

/** A number printed by train_ddp.py after `label`. */
function printed(stdout: string, label: string): number {
  const m = new RegExp(`${label} (\\S+)`).exec(stdout);
  if (!m) throw new Error(`train_ddp.py did not print "${label}":\n${stdout}`);
  return Number(m[1]);
}

function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-12, Math.abs(b));
}

describe.skipIf(!torchPython)(`PyTorch training round trip${torchPython ? "" : ` (skipped: ${torchSkipReason})`}`, () => {
  it("train_ddp.py under torchrun --nproc_per_node 2 (Gloo), then import-torch: evaluate reports the loss PyTorch printed, below the loss before", async () => {
    // Regression with a nonlinear target on raw, unstandardized columns.
    const rng = new Rng(11);
    const lines = ["x1,x2,x3,y"];
    for (let i = 0; i < 240; i++) {
      const [a, b, c] = [rng.uniformRange(-2, 2), 10 + 5 * rng.normal(), rng.uniformRange(0, 100)];
      lines.push(`${a.toFixed(5)},${b.toFixed(5)},${c.toFixed(5)},${(20 + 3 * Math.sin(2 * a) + 0.4 * b - 0.02 * c + 0.1 * rng.normal()).toFixed(5)}`);
    }
    const csv = join(root, "regression.csv");
    await writeFile(csv, lines.join("\n") + "\n");
    const data = await readCsv(csv, { target: ["y"] });

    const model = new Sequential([dense(16, { activation: "relu" }), dense(8, { activation: "tanh" }), dense(1)], { inputSize: 3, seed: 1 });
    model.compile({ loss: "mse", optimizer: adam({ lr: 0.01 }) });
    model.setNormalization(standardization({ x: data.x, y: data.y }));
    await model.fit(data.x, data.y!, { epochs: 1, batchSize: 32, verbose: 0 });
    const modelDir = join(root, "reg-model");
    await saveModel(model, modelDir, { data: { featureNames: data.featureNames, targetNames: data.targetNames } });

    const torchDir = join(root, "reg-torch");
    await runExportTorch(modelDir, torchDir, sink());
    const r = await torchrun(torchPython!, 2, ["train_ddp.py", "--data", csv, "--epochs", "6", "--batch", "16", "--out", join(root, "reg-trained")], torchDir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^2 process\(es\), 240 rows/m);
    const before = printed(r.stdout, "loss before training");
    const after = printed(r.stdout, "final loss");

    await runImportTorch(join(root, "reg-trained"), join(root, "reg-imported"), sink());
    const imported = await loadModel(join(root, "reg-imported"));
    const evalAfter = (await imported.evaluate(data.x, data.y!)).loss;
    const evalBefore = (await model.evaluate(data.x, data.y!)).loss;
    expect(relDiff(evalBefore, before)).toBeLessThan(1e-5);
    expect(relDiff(evalAfter, after)).toBeLessThan(1e-5);
    expect(evalAfter).toBeLessThan(0.8 * evalBefore);
  }, 120_000);

  it("one more epoch of plain SGD in PyTorch (train_ddp.py) and in blasnet, same batch order, gives the same weights", async () => {
    // A classifier with text labels on raw columns.
    const rng = new Rng(5);
    const lines = ["a,b,label"];
    for (let i = 0; i < 150; i++) {
      const [a, b] = [50 + 20 * rng.normal(), rng.uniformRange(-1, 1)];
      const s = (a - 50) / 20 + b + 0.3 * rng.normal();
      lines.push(`${a.toFixed(4)},${b.toFixed(4)},${s < -0.5 ? "low" : s < 0.5 ? "mid" : "high"}`);
    }
    const csv = join(root, "classes.csv");
    await writeFile(csv, lines.join("\n") + "\n");
    const data = await readCsv(csv, { target: ["label"] });
    expect(data.classNames).toEqual(["high", "low", "mid"]);

    const model = new Sequential([dense(12, { activation: "tanh" }), dense(8, { activation: "relu" }), dense(3)], { inputSize: 2, seed: 2 });
    model.compile({ loss: "crossEntropy", optimizer: sgd({ lr: 0.2 }) });
    model.setNormalization(standardization({ x: data.x, classNames: data.classNames }));
    await model.fit(data.x, data.labels!, { epochs: 3, batchSize: 16, verbose: 0 });
    const exported = model.getWeights();
    const torchDir = join(root, "cls-torch");
    await exportTorch(model, torchDir, { data: { featureNames: data.featureNames, targetNames: data.targetNames, classNames: data.classNames! } });

    // One process, no torchrun: train_ddp.py runs as a plain script then.
    const r = await run([torchPython!.python, "train_ddp.py", "--data", csv, "--epochs", "1", "--batch", "16", "--no-shuffle", "--out", join(root, "cls-trained")], torchDir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await model.fit(data.x, data.labels!, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const torch = (await importTorch(join(root, "cls-trained"))).getWeights();
    const blasnet = model.getWeights();

    let moved = 0;
    let worst = 0;
    blasnet.forEach((w, i) => {
      moved = Math.max(moved, maxAbsDiff(w.weight.data, exported[i]!.weight.data));
      worst = Math.max(worst, maxAbsDiff(w.weight.data, torch[i]!.weight.data), maxAbsDiff(w.bias!, torch[i]!.bias!));
    });
    // The epoch moved the weights by far more than the two frameworks differ (measured: moved 0.14,
    // differ by at most 6e-8, float32 rounding).
    expect(moved).toBeGreaterThan(1e-2);
    expect(worst).toBeLessThan(1e-6);
    expect(relDiff(printed(r.stdout, "final loss"), (await model.evaluate(data.x, data.labels!)).loss)).toBeLessThan(1e-5);
  }, 60_000);

  it("a convolutional model with batch norm and a residual block: one epoch of SGD in PyTorch (train_ddp.py) and in blasnet gives the same weights and running statistics", async () => {
    // 1 x 4 x 4 images as 16 CSV columns, three classes.
    const rng = new Rng(8);
    const lines = [[...Array.from({ length: 16 }, (_, j) => `p${j}`), "label"].join(",")];
    for (let i = 0; i < 48; i++) {
      const c = i % 3;
      lines.push([...Array.from({ length: 16 }, (_, j) => (rng.normal() + (j % 4 === c ? 1 : 0)).toFixed(4)), `k${c}`].join(","));
    }
    const csv = join(root, "images.csv");
    await writeFile(csv, lines.join("\n") + "\n");
    const data = await readCsv(csv, { target: ["label"] });
    const x = { data: data.x.data, shape: [48, 1, 4, 4] };
    const model = new Sequential(
      [conv2d(3, 3, { padding: 1 }), batchNorm(), relu(), residual([conv2d(3, 3, { padding: "same" }), batchNorm()]), maxPool2d(2), flatten(), dense(3)],
      { inputShape: [1, 4, 4], seed: 2 },
    );
    model.compile({ loss: "crossEntropy", optimizer: sgd({ lr: 0.1 }) });
    await model.fit(x, data.labels!, { epochs: 2, batchSize: 12, verbose: 0 });
    const torchDir = join(root, "cnn-torch");
    await exportTorch(model, torchDir, { data: { featureNames: data.featureNames, targetNames: data.targetNames, classNames: data.classNames! } });
    const exported = model.params.slice();

    const r = await run([torchPython!.python, "train_ddp.py", "--data", csv, "--epochs", "1", "--batch", "12", "--no-shuffle", "--out", join(root, "cnn-trained")], torchDir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await model.fit(x, data.labels!, { epochs: 1, batchSize: 12, shuffle: false, verbose: 0 });
    const torch = await importTorch(join(root, "cnn-trained"));
    // The epoch moved the weights and the running statistics by far more than the two differ.
    expect(maxAbsDiff(model.params, exported)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(model.params, torch.params)).toBeLessThan(1e-5);
    expect(relDiff(printed(r.stdout, "final loss"), (await model.evaluate(x, data.labels!)).loss)).toBeLessThan(1e-5);
  }, 60_000);

  it("binaryCrossEntropy on a two-class text column, with dropout, a warm-up + cosine schedule and clipping: train_ddp.py's final loss is what blasnet evaluates", async () => {
    const rng = new Rng(8);
    const lines = ["a,b,label"];
    for (let i = 0; i < 120; i++) {
      const [a, b] = [rng.normal(), 5 + 2 * rng.normal()];
      lines.push(`${a.toFixed(4)},${b.toFixed(4)},${a + (b - 5) / 2 + 0.3 * rng.normal() > 0 ? "yes" : "no"}`);
    }
    const csv = join(root, "binary.csv");
    await writeFile(csv, lines.join("\n") + "\n");
    const data = await readCsv(csv, { target: ["label"] });
    expect(data.classNames).toEqual(["no", "yes"]);
    const y = new Matrix(Float32Array.from(data.labels!), data.labels!.length, 1);

    const model = new Sequential([dense(8, { activation: "relu" }), dropout(0.2), dense(1)], { inputSize: 2, seed: 3 });
    model.compile({ loss: "binaryCrossEntropy", optimizer: sgd({ lr: linearWarmup(cosineDecay({ initial: 0.5, decaySteps: 40 }), { warmupSteps: 3 }) }), clipNorm: 1 });
    model.setNormalization(standardization({ x: data.x, classNames: data.classNames }));
    const torchDir = join(root, "bin-torch");
    await exportTorch(model, torchDir, { data: { featureNames: data.featureNames, targetNames: data.targetNames, classNames: data.classNames! } });
    const r = await run([torchPython!.python, "train_ddp.py", "--data", csv, "--epochs", "4", "--batch", "16", "--out", join(root, "bin-trained")], torchDir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const before = (await model.evaluate(data.x, y)).loss;
    const after = (await (await importTorch(join(root, "bin-trained"))).evaluate(data.x, y)).loss;
    expect(relDiff(printed(r.stdout, "loss before training"), before)).toBeLessThan(1e-5);
    expect(relDiff(printed(r.stdout, "final loss"), after)).toBeLessThan(1e-5);
    expect(after).toBeLessThan(before);
  }, 60_000);
});

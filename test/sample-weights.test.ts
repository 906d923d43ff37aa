/**
 * fit(x, y, { sampleWeight, classWeight }) and evaluate(x, y, { sampleWeight }) with Keras'
 * semantics: a batch's loss is sum_i w_i loss_i / batchRows. Checked: the weighted loss kernels'
 * gradients against central differences and their values against per-row sums, on the TypeScript
 * and native kernels; a weight-0 row is the row dropped and an integer weight the row repeated
 * (both scaled by the batch's rows); classWeight is its sampleWeight; the three training paths
 * agree; validationSplit keeps the rows' weights; every bad weight is an error saying what arrived.
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../lib/backend/backend.js";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { dense, Sequential, sgd, adam } from "../lib/index.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import type { TrainingPath } from "../lib/nn/sequential.js";
import { nativeOrSkip, randomF32, tsBackend } from "./helpers.js";

const native = nativeOrSkip();
const backends: Array<[string, Backend]> = [["TypeScript", tsBackend], ...(native ? ([["native", native]] as Array<[string, Backend]>) : [])];

type LossCase = {
  name: string;
  /** Loss of pred (rows, cols) with grad written when given. */
  run: (k: Backend, grad: Float32Array | null, pred: Float32Array, rows: number, w: Float32Array | null) => number;
};

const rows = 5;
const cols = 3;
const rng = new Rng(11);
const target = randomF32(rng, rows * cols);
const probs = Float32Array.from(target, (v) => (v + 1) / 2);
const labels = Int32Array.of(0, 2, 1, 1, 0);
const dist = new Float32Array(rows * cols);
for (let r = 0; r < rows; r++) {
  let s = 0;
  for (let j = 0; j < cols; j++) s += (dist[r * cols + j] = probs[r * cols + j]! + 0.1);
  for (let j = 0; j < cols; j++) dist[r * cols + j] = dist[r * cols + j]! / s;
}
const tRows = (t: Float32Array, n: number) => t.subarray(0, n * cols);

const losses: LossCase[] = [
  ...(["mse", "mae", "huber"] as const).map((kind) => ({
    name: kind,
    run: (k: Backend, g: Float32Array | null, p: Float32Array, n: number, w: Float32Array | null) => k.regressionLoss(kind, g, p, tRows(target, n), n * cols, 0.3, w),
  })),
  { name: "crossEntropy", run: (k, g, p, n, w) => k.softmaxCrossEntropy(g, p, labels.subarray(0, n), n, cols, w) },
  { name: "crossEntropyDense", run: (k, g, p, n, w) => k.softmaxCrossEntropyDense(g, p, tRows(dist, n), n, cols, w) },
  { name: "bce", run: (k, g, p, n, w) => k.bceWithLogits(g, p, tRows(probs, n), n * cols, w) },
];

describe("weighted loss kernels", () => {
  const w = Float32Array.of(0.5, 0, 2, 1, 3.25);
  for (const [bname, k] of backends) {
    for (const c of losses) {
      it(`${c.name} (${bname}): the gradient by central differences, the value as sum_r w_r loss_r / rows`, () => {
        const pred = randomF32(new Rng(3), rows * cols, -2, 2);
        const grad = new Float32Array(rows * cols);
        const loss = c.run(k, grad, pred, rows, w);
        // Value: per-row unweighted losses (one-row calls), weighted, over the rows.
        let want = 0;
        for (let r = 0; r < rows; r++) {
          const p = pred.slice(r * cols, (r + 1) * cols);
          want += w[r]! * rowLoss(c, k, p, r);
        }
        expect(loss).toBeCloseTo(want / rows, 6);
        // Gradient: central differences of the weighted loss, in float64 over float32 inputs.
        for (let i = 0; i < rows * cols; i++) {
          const h = 1e-2;
          const up = pred.slice();
          const down = pred.slice();
          up[i] = pred[i]! + h;
          down[i] = pred[i]! - h;
          const fd = (c.run(k, null, up, rows, w) - c.run(k, null, down, rows, w)) / (up[i]! - down[i]!);
          expect(grad[i], `${c.name} grad[${i}]`).toBeCloseTo(fd, c.name === "mae" ? 2 : 3);
        }
        // Without weights and with all-1 weights: the same numbers (to rounding).
        const g1 = new Float32Array(rows * cols);
        const g0 = new Float32Array(rows * cols);
        expect(c.run(k, g1, pred, rows, new Float32Array(rows).fill(1))).toBeCloseTo(c.run(k, g0, pred, rows, null), 12);
        for (let i = 0; i < g0.length; i++) expect(g1[i]).toBeCloseTo(g0[i]!, 7);
      });
    }
  }

  it("the element-wise losses refuse weights that are not a whole number of rows", () => {
    for (const [, k] of backends) {
      expect(() => k.regressionLoss("mse", null, new Float32Array(6), new Float32Array(6), 6, 0, new Float32Array(4))).toThrow(/whole number of rows/);
      expect(() => k.bceWithLogits(null, new Float32Array(6), new Float32Array(6), 6, new Float32Array(4))).toThrow(/whole number of rows/);
    }
  });
});

/** Row r's unweighted loss, computed alone (its targets moved to row 0). */
function rowLoss(c: LossCase, k: Backend, p: Float32Array, r: number): number {
  const saved = { target: target.slice(), probs: probs.slice(), dist: dist.slice(), labels: labels.slice() };
  target.set(saved.target.subarray(r * cols, (r + 1) * cols));
  probs.set(saved.probs.subarray(r * cols, (r + 1) * cols));
  dist.set(saved.dist.subarray(r * cols, (r + 1) * cols));
  labels[0] = saved.labels[r]!;
  const v = c.run(k, null, p, 1, null);
  target.set(saved.target);
  probs.set(saved.probs);
  dist.set(saved.dist);
  labels.set(saved.labels);
  return v;
}

/** A classifier's loss and gradients on one batch of all the rows (weights optional). */
function lossAndGrads(model: Sequential, x: Float32Array, y: Int32Array, n: number, w: Float32Array | null): { loss: number; grads: Float32Array } {
  const P = model.parameterCount();
  const grads = new Float32Array(P);
  const exec = new PlanExecutor(tsBackend, model.buildSpec(n), { params: model.params, grads, state: new Float32Array(P), rngState: model.rngState.slice() });
  const loss = exec.lossAndGradients(x, y, n, true, w);
  return { loss, grads };
}

function classifier(backend: "js" | "native" = "js", path: TrainingPath = "fused"): Sequential {
  const m = new Sequential([dense(6, { activation: "tanh" }), dense(3)], { inputSize: 4, seed: 9, backend });
  m.compile({ loss: "crossEntropy", optimizer: sgd({ lr: 0.1, momentum: 0.5 }), trainingPath: path });
  return m;
}

function blobs(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = new Rng(seed);
  const x = randomF32(r, n * 4, -1, 1);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    x[i * 4 + (i % 3)] = x[i * 4 + (i % 3)]! + 2;
  }
  return { x, y };
}

describe("weighted batches", () => {
  const n = 9;
  const { x, y } = blobs(n, 1);

  it("a weight-0 row is that row dropped, scaled by the batch's rows", () => {
    const m = classifier();
    const w = Float32Array.of(1, 0, 1, 1, 0, 1, 0, 1, 1);
    const keep = [...w.keys()].filter((i) => w[i] !== 0);
    const xk = new Float32Array(keep.flatMap((i) => [...x.subarray(i * 4, i * 4 + 4)]));
    const yk = Int32Array.from(keep.map((i) => y[i]!));
    const a = lossAndGrads(m, x, y, n, w);
    const b = lossAndGrads(m, xk, yk, keep.length, null);
    expect(a.loss * n).toBeCloseTo(b.loss * keep.length, 5);
    for (let i = 0; i < a.grads.length; i++) expect(a.grads[i]! * n).toBeCloseTo(b.grads[i]! * keep.length, 5);
  });

  it("an integer weight is that row repeated, scaled by the batch's rows", () => {
    const m = classifier();
    const w = Float32Array.of(1, 2, 3, 1, 1, 2, 1, 4, 1);
    const rep = [...w.keys()].flatMap((i) => Array.from({ length: w[i]! }, () => i));
    const xr = new Float32Array(rep.flatMap((i) => [...x.subarray(i * 4, i * 4 + 4)]));
    const yr = Int32Array.from(rep.map((i) => y[i]!));
    const a = lossAndGrads(m, x, y, n, w);
    const b = lossAndGrads(m, xr, yr, rep.length, null);
    expect(a.loss * n).toBeCloseTo(b.loss * rep.length, 5);
    for (let i = 0; i < a.grads.length; i++) expect(a.grads[i]! * n).toBeCloseTo(b.grads[i]! * rep.length, 5);
  });
});

describe("fit and evaluate with sampleWeight and classWeight", () => {
  const { x, y } = blobs(60, 2);
  const X = { data: x, shape: [60, 4] };
  const classW = { 0: 1, 1: 3, 2: 0.5 };
  const sampleW = Array.from(y, (c) => [1, 3, 0.5][c]!);

  it("weights change training; classWeight trains exactly as its sampleWeight; both given multiply", async () => {
    const plain = classifier();
    await plain.fit(X, y, { epochs: 2, batchSize: 8, verbose: 0 });
    const byClass = classifier();
    const hc = await byClass.fit(X, y, { epochs: 2, batchSize: 8, verbose: 0, classWeight: classW });
    const bySample = classifier();
    const hs = await bySample.fit(X, y, { epochs: 2, batchSize: 8, verbose: 0, sampleWeight: sampleW });
    expect(byClass.params).toEqual(bySample.params);
    expect(hc.loss).toEqual(hs.loss);
    expect(byClass.params).not.toEqual(plain.params);
    const both = classifier();
    await both.fit(X, y, { epochs: 2, batchSize: 8, verbose: 0, classWeight: { 1: 3 }, sampleWeight: Array.from(y, (c) => (c === 2 ? 0.5 : 1)) });
    expect(both.params).toEqual(bySample.params);
  });

  it("classWeight of a one-hot target is its argmax's; of a binaryCrossEntropy target its 0/1", async () => {
    const oneHot = new Float32Array(60 * 3);
    y.forEach((c, i) => (oneHot[i * 3 + c] = 1));
    const a = classifier();
    await a.fit(X, { data: oneHot, shape: [60, 3] }, { epochs: 1, batchSize: 8, verbose: 0, classWeight: classW });
    const b = classifier();
    await b.fit(X, { data: oneHot, shape: [60, 3] }, { epochs: 1, batchSize: 8, verbose: 0, sampleWeight: sampleW });
    expect(a.params).toEqual(b.params);

    const yb = Float32Array.from(y, (c) => (c === 1 ? 1 : 0));
    const bin = () => {
      const m = new Sequential([dense(4, { activation: "relu" }), dense(1)], { inputSize: 4, seed: 2 });
      m.compile({ loss: "binaryCrossEntropy", optimizer: adam({ lr: 0.01 }) });
      return m;
    };
    const c = bin();
    await c.fit(X, { data: yb, shape: [60, 1] }, { epochs: 1, batchSize: 8, verbose: 0, classWeight: { 1: 4 } });
    const d = bin();
    await d.fit(X, { data: yb, shape: [60, 1] }, { epochs: 1, batchSize: 8, verbose: 0, sampleWeight: Array.from(yb, (t) => (t === 1 ? 4 : 1)) });
    expect(c.params).toEqual(d.params);
  });

  it("evaluate's weighted loss is sum_i w_i loss_i / N; validationSplit rows keep their weights", async () => {
    const m = classifier();
    const w = Array.from({ length: 60 }, (_, i) => (i % 4) * 0.5);
    const per = await Promise.all(Array.from({ length: 60 }, (_, i) => m.evaluate({ data: x.slice(i * 4, i * 4 + 4), shape: [1, 4] }, [y[i]!])));
    const want = per.reduce((s, r, i) => s + w[i]! * r.loss, 0) / 60;
    expect((await m.evaluate(X, y, { sampleWeight: w, batchSize: 7 })).loss).toBeCloseTo(want, 5);

    const h = await m.fit(X, y, { epochs: 1, batchSize: 8, verbose: 0, sampleWeight: w, validationSplit: 0.25 });
    const valX = { data: x.slice(45 * 4), shape: [15, 4] };
    const valLoss = (await m.evaluate(valX, y.slice(45), { sampleWeight: w.slice(45) })).loss;
    expect(h.valLoss![0]).toBeCloseTo(valLoss, 6);
    expect(h.valLoss![0]).not.toBeCloseTo((await m.evaluate(valX, y.slice(45))).loss, 3);
  });

  it("trains alike on the TypeScript backend, the native per-kernel path and the native fused path", async () => {
    if (!native) return;
    const runs: Float32Array[] = [];
    for (const [backend, path] of [["js", "fused"], ["native", "kernels"], ["native", "fused"]] as const) {
      const m = classifier(backend, path);
      await m.fit(X, y, { epochs: 3, batchSize: 8, verbose: 0, sampleWeight: sampleW });
      runs.push(m.params.slice());
    }
    for (const r of runs.slice(1)) for (let i = 0; i < r.length; i++) expect(Math.abs(r[i]! - runs[0]![i]!)).toBeLessThan(1e-4);
  });

  it("refuses bad weights, saying what arrived and what is expected", async () => {
    const m = classifier();
    const fit = (o: object) => m.fit(X, y, { verbose: 0, ...o });
    await expect(fit({ sampleWeight: [1, 2] })).rejects.toThrow("Invalid sampleWeight for fit: it has 2 values but y has 60 rows; give one weight per row");
    await expect(fit({ sampleWeight: sampleW.map((v, i) => (i === 7 ? -1 : v)) })).rejects.toThrow("Invalid sampleWeight[7] for fit: the number -1; expected a finite number >= 0");
    await expect(fit({ sampleWeight: sampleW.map((v, i) => (i === 3 ? NaN : v)) })).rejects.toThrow(/Invalid sampleWeight\[3\] for fit: .*NaN; expected a finite number >= 0/);
    await expect(fit({ sampleWeight: "heavy" })).rejects.toThrow(/Invalid sampleWeight for fit: expected an array of 60 non-negative numbers/);
    await expect(fit({ classWeight: { 3: 2 } })).rejects.toThrow('Unknown class "3" in classWeight for fit: the model\'s classes are the indices 0 to 2');
    await expect(fit({ classWeight: { 1: -2 } })).rejects.toThrow("Invalid classWeight[1] for fit: the number -2; expected a finite number >= 0");
    await expect(fit({ classWeights: { 1: 2 } })).rejects.toThrow(/Unknown fit option "classWeights"/);
    await expect(m.evaluate(X, y, { sampleWeight: [1] })).rejects.toThrow("Invalid sampleWeight for evaluate: it has 1 values but y has 60 rows; give one weight per row");

    const reg = new Sequential([dense(1)], { inputSize: 4 });
    reg.compile({ loss: "mse", optimizer: "sgd" });
    await expect(reg.fit(X, Matrix.zeros(60, 1), { verbose: 0, classWeight: { 0: 2 } })).rejects.toThrow(
      "classWeight is for classifiers (crossEntropy or binaryCrossEntropy) but this model's loss is mse: give per-row weights as sampleWeight instead",
    );
  });
});

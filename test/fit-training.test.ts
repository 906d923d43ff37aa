import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { dense, dropout, residual, softmax } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam, sgd } from "../lib/optim/index.js";
import { earlyStopping } from "../lib/train/callbacks.js";
import { nativeOrSkip, tsBackend } from "./helpers.js";

const native = nativeOrSkip();

const XOR_X = Matrix.fromArray([[0, 0], [0, 1], [1, 0], [1, 1]]);
const XOR_Y = Matrix.column([0, 1, 1, 0]);

/** Three Gaussian blobs in 2-D, labels 0..2. */
function blobs(rows: number, seed: number): { x: Matrix; labels: Int32Array } {
  const rng = new Rng(seed);
  const centers = [[-2, 0], [2, 0], [0, 2.5]];
  const x = Matrix.zeros(rows, 2);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    labels[i] = c;
    x.set(i, 0, centers[c]![0]! + 0.5 * rng.normal());
    x.set(i, 1, centers[c]![1]! + 0.5 * rng.normal());
  }
  return { x, labels };
}

/** y = sin(x) sampled on [-3, 3]. */
function curve(rows: number, seed: number): { x: Matrix; y: Matrix } {
  const x = Matrix.randomUniform(rows, 1, seed, -3, 3);
  return { x, y: new Matrix(x.data.map(Math.sin), rows, 1) };
}

describe("what a network can learn", () => {
  it("learns XOR with a hidden layer", async () => {
    const model = new Sequential([dense(8, { activation: "tanh" }), dense(1)], { inputSize: 2, seed: 1, backend: tsBackend });
    model.compile({ loss: "binaryCrossEntropy", optimizer: adam({ lr: 0.05 }) });
    const h = await model.fit(XOR_X, XOR_Y, { epochs: 300, batchSize: 4, verbose: 0, metrics: ["accuracy"] });
    expect(h.loss[h.loss.length - 1]!).toBeLessThan(0.05);
    expect(Array.from(model.predictClasses(XOR_X))).toEqual([0, 1, 1, 0]);
    expect(h.metrics["accuracy"]!.at(-1)).toBe(1);
  });

  it("does not learn XOR without one (a linear model cannot do better than ln 2)", async () => {
    const model = new Sequential([dense(1)], { inputSize: 2, seed: 1, backend: tsBackend });
    model.compile({ loss: "binaryCrossEntropy", optimizer: adam({ lr: 0.05 }) });
    const h = await model.fit(XOR_X, XOR_Y, { epochs: 300, batchSize: 4, verbose: 0 });
    expect(h.loss[h.loss.length - 1]!).toBeGreaterThan(Math.LN2 - 1e-3);
    const acc = (await model.evaluate(XOR_X, XOR_Y, { metrics: ["accuracy"] }))["accuracy"]!;
    expect(acc).toBeLessThanOrEqual(0.75);
  });

  it("classifies blobs with crossEntropy: labels and one-hot targets train alike; predict gives probabilities", async () => {
    const { x, labels } = blobs(300, 2);
    const oneHot = Matrix.zeros(300, 3);
    labels.forEach((c, i) => oneHot.set(i, c, 1));
    const make = (): Sequential => {
      const m = new Sequential([dense(8, { activation: "relu" }), dense(3), softmax()], { inputSize: 2, seed: 4, backend: tsBackend });
      m.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.02 }) });
      return m;
    };
    const a = make();
    const b = make();
    const ha = await a.fit(x, labels, { epochs: 10, batchSize: 30, verbose: 0, metrics: ["accuracy"] });
    const hb = await b.fit(x, oneHot, { epochs: 10, batchSize: 30, verbose: 0, metrics: ["accuracy"] });
    expect(ha.metrics["accuracy"]!.at(-1)!).toBeGreaterThan(0.95);
    for (let i = 0; i < a.params.length; i++) expect(a.params[i]!).toBeCloseTo(b.params[i]!, 4);
    hb.loss.forEach((l, e) => expect(l).toBeCloseTo(ha.loss[e]!, 4));
    const p = a.predict(x);
    for (let i = 0; i < p.rows; i++) expect(p.get(i, 0) + p.get(i, 1) + p.get(i, 2)).toBeCloseTo(1, 5);
    const classes = a.predictClasses(x);
    let right = 0;
    classes.forEach((c, i) => (right += c === labels[i] ? 1 : 0));
    expect(right / 300).toBeCloseTo(ha.metrics["accuracy"]!.at(-1)!, 10);
  });
});

describe("classifier outputs", () => {
  it("a final softmax layer with crossEntropy trains exactly like logits, and predict returns probabilities either way", async () => {
    const { x, labels } = blobs(90, 3);
    const make = (withSoftmax: boolean): Sequential => {
      const layers = [dense(6, { activation: "tanh" }), dense(3), ...(withSoftmax ? [softmax()] : [])];
      const m = new Sequential(layers, { inputSize: 2, seed: 6, backend: tsBackend });
      m.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.01 }) });
      return m;
    };
    const a = make(true);
    const b = make(false);
    const ha = await a.fit(x, labels, { epochs: 3, batchSize: 16, verbose: 0 });
    const hb = await b.fit(x, labels, { epochs: 3, batchSize: 16, verbose: 0 });
    expect(ha.loss).toEqual(hb.loss);
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(Array.from(a.predict(x).data)).toEqual(Array.from(b.predict(x).data));
    // The probabilities are the softmax of the logits an uncompiled copy of the model computes.
    const raw = new Sequential([dense(6, { activation: "tanh" }), dense(3)], { inputSize: 2, backend: tsBackend });
    raw.setWeights(b.getWeights());
    const logits = raw.predict(x);
    const p = b.predict(x);
    for (let i = 0; i < 90; i++) {
      const r = logits.row(i);
      const mx = Math.max(...r);
      const z = r.reduce((s, v) => s + Math.exp(v - mx), 0);
      for (let j = 0; j < 3; j++) expect(p.get(i, j)).toBeCloseTo(Math.exp(r[j]! - mx) / z, 6);
    }
  });

  it("binaryCrossEntropy models predict sigmoid probabilities of their logits", async () => {
    const m = new Sequential([dense(4, { activation: "tanh" }), dense(2)], { inputSize: 2, seed: 2, backend: tsBackend });
    m.compile({ loss: "binaryCrossEntropy", optimizer: "sgd" });
    const raw = new Sequential([dense(4, { activation: "tanh" }), dense(2)], { inputSize: 2, seed: 2, backend: tsBackend });
    const p = m.predict(XOR_X);
    const z = raw.predict(XOR_X);
    for (let i = 0; i < p.data.length; i++) expect(p.data[i]!).toBeCloseTo(1 / (1 + Math.exp(-z.data[i]!)), 6);
    expect(() => m.predictClasses(XOR_X)).toThrow(/multi-label/);
  });
});

describe("the training loop", () => {
  it("makes ceil(N / batchSize) updates per epoch, using the last partial batch", async () => {
    for (const [n, steps, lastSize] of [[10_000, 1000, 10], [10_001, 1001, 1]] as const) {
      const x = Matrix.randomUniform(n, 1, 3, -1, 1);
      const model = new Sequential([dense(3, { activation: "sigmoid" }), dense(1)], { inputSize: 1, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: sgd({ lr: 0.01 }) });
      const sizes: number[] = [];
      const h = await model.fit(x, x, { epochs: 1, batchSize: 10, verbose: 0, callbacks: [{ onBatchEnd: (_s, logs) => void sizes.push(logs.size) }] });
      expect(sizes.length).toBe(steps);
      expect(h.stepsPerEpoch).toBe(steps);
      expect(model.step).toBe(steps);
      expect(sizes.at(-1)).toBe(lastSize);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
    }
  });

  it("reports the epoch loss as the row-weighted mean of the step losses", async () => {
    const { x, y } = curve(25, 5);
    const model = new Sequential([dense(4, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.05 }) });
    const steps: [number, number][] = [];
    const h = await model.fit(x, y, { epochs: 1, batchSize: 10, verbose: 0, callbacks: [{ onBatchEnd: (_s, l) => void steps.push([l.loss, l.size]) }] });
    expect(steps.map((s) => s[1])).toEqual([10, 10, 5]);
    expect(h.loss[0]!).toBeCloseTo(steps.reduce((a, [l, r]) => a + l * r, 0) / 25, 6);
  });

  it("repeats exactly from the same seed (shuffle and dropout), and differs with another seed", async () => {
    const { x, y } = curve(200, 6);
    const run = async (seed: number): Promise<[Float32Array, number[]]> => {
      const model = new Sequential([dense(16, { activation: "relu" }), dropout(0.3), dense(1)], { inputSize: 1, seed, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: adam({ lr: 0.01 }) });
      const h = await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });
      return [model.params, h.loss];
    };
    const [p1, l1] = await run(11);
    const [p2, l2] = await run(11);
    const [p3] = await run(12);
    expect(Array.from(p2)).toEqual(Array.from(p1));
    expect(l2).toEqual(l1);
    expect(Array.from(p3)).not.toEqual(Array.from(p1));
  });

  it("resumes from getTrainingState + initialEpoch exactly as an uninterrupted run", async () => {
    const { x, y } = curve(120, 7);
    const make = (): Sequential => {
      const m = new Sequential([dense(8, { activation: "tanh" }), dropout(0.2), dense(1)], { inputSize: 1, seed: 3, backend: tsBackend });
      m.compile({ loss: "mse", optimizer: adam({ lr: 0.01 }) });
      return m;
    };
    const full = make();
    const hFull = await full.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0 });
    const first = make();
    await first.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    const weights = first.getWeights();
    const state = first.getTrainingState();
    expect(state.epoch).toBe(2);
    const resumed = make();
    resumed.setWeights(weights);
    resumed.setTrainingState(state);
    const hRest = await resumed.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0, initialEpoch: state.epoch });
    expect(hRest.epochs).toEqual([2, 3]);
    expect(hRest.loss).toEqual(hFull.loss.slice(2));
    expect(Array.from(resumed.params)).toEqual(Array.from(full.params));
  });

  it("calls callbacks in order and stops when a callback sets model.stopTraining", async () => {
    const { x, y } = curve(40, 8);
    const model = new Sequential([dense(4, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.05 }) });
    const events: string[] = [];
    const h = await model.fit(x, y, {
      epochs: 10,
      batchSize: 20,
      verbose: 0,
      callbacks: [
        {
          onTrainBegin: () => void events.push("trainBegin"),
          onEpochBegin: (e) => void events.push(`epochBegin ${e}`),
          onBatchEnd: async (s) => {
            await new Promise((r) => setTimeout(r, 1));
            events.push(`batch ${s}`);
          },
          onEpochEnd: (e, logs, m) => {
            events.push(`epochEnd ${e} ${Object.keys(logs).join(",")}`);
            if (e === 1) m.stopTraining = true;
          },
          onTrainEnd: () => void events.push("trainEnd"),
        },
      ],
    });
    expect(events).toEqual([
      "trainBegin",
      "epochBegin 0",
      "batch 0",
      "batch 1",
      "epochEnd 0 loss",
      "epochBegin 1",
      "batch 0",
      "batch 1",
      "epochEnd 1 loss",
      "trainEnd",
    ]);
    expect(h.epochs).toEqual([0, 1]);
    // stopTraining from a batch hook takes effect after that step.
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.05 }) });
    const h2 = await model.fit(x, y, { epochs: 3, batchSize: 5, verbose: 0, callbacks: [{ onBatchEnd: (s, _l, m) => void (s === 2 && (m.stopTraining = true)) }] });
    expect(model.step).toBe(3);
    expect(h2.epochs).toEqual([0]);
  });

  it("holds out the last rows with validationSplit and reports validation loss and metrics", async () => {
    const { x, y } = curve(100, 9);
    const model = new Sequential([dense(16, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: adam({ lr: 0.02 }) });
    const h = await model.fit(x, y, { epochs: 40, batchSize: 10, verbose: 0, validationSplit: 0.2, metrics: ["mae", "rmse", "r2"] });
    expect(h.stepsPerEpoch).toBe(8);
    expect(h.valLoss!.length).toBe(40);
    expect(Object.keys(h.valMetrics!)).toEqual(["mae", "rmse", "r2"]);
    expect(h.metrics["r2"]!.at(-1)!).toBeGreaterThan(0.9);
    // Validation numbers equal evaluate on the held-out rows.
    const vx = x.sliceRows(80, 100);
    const vy = y.sliceRows(80, 100);
    const ev = await model.evaluate(vx, vy, { metrics: ["mae", "rmse", "r2", "mse"] });
    expect(ev.loss).toBeCloseTo(h.valLoss!.at(-1)!, 6);
    expect(ev["mae"]!).toBeCloseTo(h.valMetrics!["mae"]!.at(-1)!, 6);
    expect(ev["mse"]!).toBeCloseTo(ev.loss, 6);
    expect(ev["rmse"]!).toBeCloseTo(Math.sqrt(ev.loss), 6);
    // And equal the same numbers computed from predict.
    const p = model.predict(vx);
    let sa = 0;
    let ss = 0;
    let mean = 0;
    for (let i = 0; i < 20; i++) mean += vy.data[i]! / 20;
    let st = 0;
    for (let i = 0; i < 20; i++) {
      const d = p.data[i]! - vy.data[i]!;
      sa += Math.abs(d);
      ss += d * d;
      st += (vy.data[i]! - mean) ** 2;
    }
    expect(ev["mae"]!).toBeCloseTo(sa / 20, 6);
    expect(ev["r2"]!).toBeCloseTo(1 - ss / st, 5);
  });

  it("accepts validationData as [x, y] or { x, y }, equal to holding out the same rows with validationSplit", async () => {
    const { x, y } = curve(50, 16);
    const run = async (opts: object): Promise<number[]> => {
      const model = new Sequential([dense(4, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
      return (await model.fit(x.sliceRows(0, 40), y.sliceRows(0, 40), { epochs: 3, batchSize: 8, verbose: 0, ...opts })).valLoss!;
    };
    const a = await run({ validationData: [x.sliceRows(40, 50), y.sliceRows(40, 50)] });
    const b = await run({ validationData: { x: x.sliceRows(40, 50), y: y.sliceRows(40, 50) } });
    expect(b).toEqual(a);
    const model = new Sequential([dense(4, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
    const c = (await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, validationSplit: 0.2 })).valLoss!;
    expect(c).toEqual(a);
  });

  it("applies dropout while training only", async () => {
    const { x, y } = curve(64, 17);
    const make = (rate: number): Sequential => {
      const m = new Sequential([dense(16, { activation: "tanh" }), dropout(rate), dense(1)], { inputSize: 1, seed: 2, backend: tsBackend });
      m.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
      return m;
    };
    const withDropout = make(0.5);
    const without = make(0);
    expect(Array.from(withDropout.predict(x).data)).toEqual(Array.from(without.predict(x).data));
    await withDropout.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    await without.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    expect(Array.from(withDropout.params)).not.toEqual(Array.from(without.params));
    // Inference is deterministic: dropout is off.
    expect(Array.from(withDropout.predict(x).data)).toEqual(Array.from(withDropout.predict(x).data));
    const rng = withDropout.rngState.slice();
    withDropout.predict(x);
    expect(Array.from(withDropout.rngState)).toEqual(Array.from(rng));
  });

  it("early stopping stops after `patience` epochs without improvement and restores the best weights", async () => {
    // Train towards y = x while validating against y = -x: starting from w = -3, the validation loss
    // (w + 1)^2 falls until w passes -1 and rises afterwards.
    const x = Matrix.randomUniform(64, 1, 10, -1, 1);
    const vy = new Matrix(x.data.map((v) => -v), 64, 1);
    const run = async (restoreBestWeights: boolean): Promise<{ snapshots: Float32Array[]; model: Sequential; stop: ReturnType<typeof earlyStopping>; epochs: number[] }> => {
      const model = new Sequential([dense(1, { useBias: false })], { inputSize: 1, backend: tsBackend });
      model.setWeights([{ weight: Matrix.full(1, 1, -3) }]);
      model.compile({ loss: "mse", optimizer: sgd({ lr: 0.05 }) });
      const snapshots: Float32Array[] = [];
      const stop = earlyStopping({ patience: 2, restoreBestWeights });
      const h = await model.fit(x, x, {
        epochs: 100,
        batchSize: 8,
        verbose: 0,
        validationData: [x, vy],
        callbacks: [{ onEpochEnd: (_e, _l, m) => void snapshots.push(m.params.slice()) }, stop],
      });
      return { snapshots, model, stop, epochs: h.epochs };
    };
    const r = await run(true);
    expect(r.stop.monitored).toBe("valLoss");
    expect(r.stop.bestEpoch).toBeGreaterThan(0);
    expect(r.stop.stoppedEpoch).toBe(r.stop.bestEpoch + 2);
    expect(r.epochs.length).toBe(r.stop.bestEpoch + 3);
    expect(Array.from(r.model.params)).toEqual(Array.from(r.snapshots[r.stop.bestEpoch]!));
    expect(Math.abs(r.model.params[0]! + 1)).toBeLessThan(0.3);
    const noRestore = await run(false);
    expect(Array.from(noRestore.model.params)).toEqual(Array.from(noRestore.snapshots.at(-1)!));
    expect(Array.from(noRestore.model.params)).not.toEqual(Array.from(r.model.params));
  });

  it("early stopping falls back to the training loss without validation data", async () => {
    const { x, y } = curve(30, 11);
    const model = new Sequential([dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
    const stop = earlyStopping({ minDelta: 1e-3 });
    const h = await model.fit(x, y, { epochs: 200, batchSize: 30, verbose: 0, callbacks: [stop] });
    expect(stop.monitored).toBe("loss");
    expect(h.epochs.length).toBeLessThan(200);
    expect(() => earlyStopping({ patience: -1 })).toThrow(/Invalid patience: -1/);
  });

  it("stops on a non-finite loss with an error naming epoch and step, keeping the weights from before that step", async () => {
    const x = Matrix.randomNormal(64, 1, 12);
    const y = new Matrix(x.data.map((v) => 1000 * v), 64, 1);
    const make = (): Sequential => {
      const m = new Sequential([dense(8, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
      m.compile({ loss: "mse", optimizer: sgd({ lr: 10 }) });
      return m;
    };
    const model = make();
    let last = model.params.slice();
    const err = await model
      .fit(x, y, { epochs: 50, batchSize: 8, verbose: 0, callbacks: [{ onBatchEnd: (_s, _l, m) => void (last = m.params.slice()) }] })
      .then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const where = /the loss became (NaN|Infinity|-Infinity) at epoch (\d+), step (\d+) of 8/.exec(err!.message);
    expect(where).not.toBeNull();
    expect(err!.message).toMatch(/smaller learning rate/);
    // The weights kept are usable numbers (toEqual alone would also match NaN with NaN).
    expect(Array.from(model.params).every(Number.isFinite)).toBe(true);
    expect(Array.from(model.params)).toEqual(Array.from(last));
    expect(model.isTraining).toBe(false);
    const [epoch, step] = [Number(where![2]), Number(where![3])];
    expect(model.step).toBe((epoch - 1) * 8 + step - 1);

    // The chunked path (no batch callbacks) stops at the same step with the same weights.
    const again = make();
    await expect(again.fit(x, y, { epochs: 50, batchSize: 8, verbose: 0 })).rejects.toThrow(`at epoch ${epoch}, step ${step} of 8`);
    expect(Array.from(again.params)).toEqual(Array.from(last));
  });

  it.for([
    ["TypeScript", tsBackend],
    ["native fused", native],
  ] as const)("says so when an update overflowed the weights before the loss turned non-finite (%s)", async ([, backend], { skip }) => {
    if (!backend) return skip(); // reported as skipped (nativeOrSkip throws under CI instead)
    // Step 1: loss 25 (finite), gradient about -10, learning rate 1e38: the weight update is about
    // 1e39, past float32's range. Step 2's loss is then the first non-finite one.
    const x = new Matrix(new Float32Array(8).fill(1), 8, 1);
    const y = new Matrix(new Float32Array(8).fill(5), 8, 1);
    const model = new Sequential([dense(1, { init: "zeros" })], { inputSize: 1, backend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 1e38 }) });
    const err = await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 }).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/the loss became (NaN|Infinity|-Infinity) at epoch 2, step 1 of 1/);
    expect(err!.message).toMatch(/update of the step before overflowed the weights.*no longer usable.*Restore them/);
    expect(Array.from(model.params).every(Number.isFinite)).toBe(false);
    expect(model.step).toBe(1);
  });

  it.for([
    ["TypeScript", tsBackend],
    ["native fused", native],
  ] as const)("names the parameter when the weights are not finite before fit starts, instead of blaming an update (%s)", async ([, backend], { skip }) => {
    if (!backend) return skip();
    const x = Matrix.randomNormal(16, 2, 3);
    const model = new Sequential([dense(3), residual([dense(3), dense(3)]), dense(1)], { inputSize: 2, backend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.01 }) });
    const y = Matrix.randomNormal(16, 1, 4);
    // layers.1.body.1.weight[2, 0]: the residual block's second dense layer, row 2, column 0.
    const body = model.layers[1]!.children()[1]!;
    body.params[0]!.value[6] = NaN;
    const before = model.params.slice();
    await expect(model.fit(x, y, { epochs: 1, verbose: 0 })).rejects.toThrow(
      new RangeError(
        "Cannot start fit(): the weights are not finite before training: layers.1.body.1.weight[2, 0] (layer 1, residual_1.dense_1) is NaN. " +
          "It was written into model.params (or a layer's weight or bias view of it): restore the weights (model.setWeights, loadModel or a checkpoint) before calling fit",
      ),
    );
    expect(model.step).toBe(0);
    expect(model.isTraining).toBe(false);
    expect(Array.from(model.params)).toEqual(Array.from(before));
    model.params[model.params.length - 1] = -Infinity; // the last layer's bias
    model.params[body.params[0]!.offset + 6] = 0;
    await expect(model.fit(x, y, { epochs: 1, verbose: 0 })).rejects.toThrow(/: layers\.2\.bias\[0\] \(layer 2, dense_2\) is -Infinity\. /);
  });

  it("rejects a callback with a misspelled hook or a hook that is not a function, before any training", async () => {
    const x = Matrix.randomNormal(16, 1, 3);
    const model = new Sequential([dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
    const before = model.params.slice();
    const fit = (callbacks: object[]) => model.fit(x, x, { epochs: 2, batchSize: 8, verbose: 0, callbacks: callbacks as never });
    await expect(fit([{ onEpochEnded: () => {} }])).rejects.toThrow(
      'Unknown callback hook "onEpochEnded" in callbacks[0]; fit calls onTrainBegin, onEpochBegin, onBatchEnd, onEpochEnd, onTrainEnd',
    );
    await expect(fit([{}, { onBatchBegin: () => {} }])).rejects.toThrow(/Unknown callback hook "onBatchBegin" in callbacks\[1\]/);
    // Inherited hooks count too (a class with a misspelled method).
    class Logger {
      onTrainStart(): void {}
    }
    await expect(fit([new Logger()])).rejects.toThrow(/Unknown callback hook "onTrainStart"/);
    await expect(fit([{ onEpochEnd: 3 }])).rejects.toThrow(/Invalid callbacks\[0\]\.onEpochEnd: expected a function/);
    expect(Array.from(model.params)).toEqual(Array.from(before));
    expect(model.step).toBe(0);
    // Callbacks may carry their own state, and class-based hooks run.
    class Counter {
      epochs = 0;
      onlyHere = "state, not a hook";
      onEpochEnd(): void {
        this.epochs++;
      }
    }
    const counter = new Counter();
    await fit([counter, earlyStopping({ patience: 5 })]);
    expect(counter.epochs).toBe(2);
  });

  it("refuses a second concurrent fit and weight mutations while fitting, and keeps the event loop running", async () => {
    const x = Matrix.randomUniform(20_000, 1, 13, -1, 1);
    const model = new Sequential([dense(3, { activation: "sigmoid" }), dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.01 }) });
    // 10,000 steps: tens of milliseconds even at the TypeScript target speed, so fit must yield.
    let firedDuringFit = false;
    let fitDone = false;
    setImmediate(() => (firedDuringFit = !fitDone));
    const first = model.fit(x, x, { epochs: 5, batchSize: 10, verbose: 0 });
    expect(model.isTraining).toBe(true);
    await expect(model.fit(x, x, { epochs: 1, verbose: 0 })).rejects.toThrow(/already training/);
    expect(() => model.setWeights(model.getWeights())).toThrow(/Cannot setWeights while fit\(\) is running/);
    expect(() => model.compile({ loss: "mse", optimizer: "sgd" })).toThrow(/Cannot compile while fit\(\) is running/);
    expect(() => model.setTrainingState(model.getTrainingState())).toThrow(/Cannot setTrainingState while fit/);
    expect(() => model.setNormalization(null)).toThrow(/Cannot setNormalization while fit/);
    const h = await first;
    fitDone = true;
    expect(h.epochs).toEqual([0, 1, 2, 3, 4]);
    expect(model.step).toBe(10_000);
    // A callback queued before fit ran before fit finished: fit yielded to the event loop.
    expect(firedDuringFit).toBe(true);
    // After fit, mutation is allowed again.
    model.setWeights(model.getWeights());
  });

  it("standardizes raw inputs and targets by the stored statistics and maps predictions back", async () => {
    const n = 200;
    const x = Matrix.zeros(n, 1);
    const y = Matrix.zeros(n, 1);
    const rng = new Rng(14);
    for (let i = 0; i < n; i++) {
      x.data[i] = 100 + 10 * rng.normal();
      y.data[i] = 1000 + 5 * (x.data[i]! - 100);
    }
    const model = new Sequential([dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
    model.setNormalization({ inputMean: [100], inputStd: [10], targetMean: [1000], targetStd: [50] });
    await model.fit(x, y, { epochs: 30, batchSize: 20, verbose: 0 });
    // In standardized units the model is y' = x': weight 1, bias 0.
    expect(model.params[0]!).toBeCloseTo(1, 2);
    const p = model.predict(Matrix.fromArray([[110], [90]]));
    expect(p.data[0]!).toBeCloseTo(1050, 0);
    expect(p.data[1]!).toBeCloseTo(950, 0);
    // Metrics are in raw units; the loss is on the standardized scale the model trains on.
    const ev = await model.evaluate(x, y, { metrics: ["rmse"] });
    expect(ev["rmse"]!).toBeCloseTo(Math.sqrt(ev.loss) * 50, 2);
    // Targets cannot be standardized for a classification loss.
    model.compile({ loss: "binaryCrossEntropy", optimizer: "sgd" });
    await expect(model.fit(x, Matrix.column(new Array(n).fill(1)), { verbose: 0 })).rejects.toThrow(/not a regression loss/);
  });

  it("draws a live bar with the running loss and ETA on a TTY, then each epoch's line", async () => {
    const { x, y } = curve(2000, 16);
    const model = new Sequential([dense(16, { activation: "tanh" }), dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: "sgd" });
    let text = "";
    // What cli-progress needs of a terminal: isTTY, columns, and write (cursor moves are escape codes).
    const tty = { write: (s: string) => ((text += s), true), isTTY: true, columns: 120, on: () => tty, removeListener: () => tty } as unknown as NodeJS.WritableStream;
    await model.fit(x, y, { epochs: 2, batchSize: 4, progressStream: tty });
    const plain = text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "");
    // The bar: progress over the epoch's 500 steps, the running loss, and an ETA.
    expect(plain).toMatch(/Epoch 1\/2 \[[=-]{30}\] \d+\/500 \| loss \d\.\d{4} \| ETA \d+s/);
    expect(plain).toMatch(/Epoch 2\/2 \[={30}\] 500\/500 \| loss \d\.\d{4} \| ETA \d+s/);
    // Each bar is replaced by the epoch's summary line.
    expect(plain).toMatch(/Epoch 1\/2 - [\d.]+s - loss \d\.\d{4}\n[\s\S]*Epoch 2\/2 - [\d.]+s - loss \d\.\d{4}\n/);
    expect(text).toMatch(/\x1b\[2K/); // the bar's line is cleared before the summary is written
  });

  it("prints one line per epoch when not on a TTY, and nothing with verbose 0", async () => {
    const { x, y } = curve(20, 15);
    const model = new Sequential([dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: "sgd" });
    const lines: string[] = [];
    const stream = { write: (s: string) => (lines.push(s), true), isTTY: false } as unknown as NodeJS.WritableStream;
    await model.fit(x, y, { epochs: 3, batchSize: 5, progressStream: stream, metrics: ["mae"], validationSplit: 0.25 });
    expect(lines.length).toBe(3);
    expect(lines[2]).toMatch(/^Epoch 3\/3 - [\d.]+s - loss \d\.\d{4} - mae \d\.\d{4} - valLoss \d\.\d{4} - valMae \d\.\d{4}\n$/);
    lines.length = 0;
    await model.fit(x, y, { epochs: 2, progressStream: stream, verbose: 0 });
    expect(lines).toEqual([]);
  });
});

describe("predictAsync", () => {
  it("gives predict's outputs batch by batch, yielding to the event loop, and refuses a fit that would mix weights into it", async () => {
    const x = Matrix.randomNormal(3000, 64, 21);
    const model = new Sequential([dense(256, { activation: "relu" }), dense(10)], { inputSize: 64, seed: 3, backend: tsBackend });
    model.compile({ loss: "crossEntropy", optimizer: "sgd" });
    model.setNormalization({ inputMean: new Array(64).fill(0.1), inputStd: new Array(64).fill(2) });

    // Tens of milliseconds of work on the TypeScript backend: it must let a queued callback run.
    let firedDuring = false;
    let done = false;
    setImmediate(() => (firedDuring = !done));
    const pending = model.predictAsync(x, { batchSize: 100 });
    const p = await pending;
    done = true;
    expect(firedDuring).toBe(true);
    const want = model.predict(x, { batchSize: 100 });
    expect(p.shape).toEqual([3000, 10]);
    expect(Array.from(p.data)).toEqual(Array.from(want.data));
    expect(Array.from(await model.predictClassesAsync(x))).toEqual(Array.from(model.predictClasses(x)));
    await expect(model.predictAsync([[1, 2]])).rejects.toThrow(/2 columns per row but the model expects inputSize 64/);

    // A fit started while predictAsync runs is refused, naming it: every row sees one set of weights
    // (test/model-use.test.ts has the rest of the rules).
    const labels = Int32Array.from({ length: 200 }, (_, i) => i % 10);
    const racing = model.predictAsync(x, { batchSize: 50 });
    await expect(model.fit(x.sliceRows(0, 200), labels, { epochs: 50, batchSize: 10, verbose: 0 })).rejects.toThrow(
      /^Cannot start fit\(\) while predictAsync\(\) is running on this model: await the predictAsync\(\) promise first$/,
    );
    expect(Array.from((await racing).data)).toEqual(Array.from(want.data));
  });
});

/**
 * brain.js (1.6.1, pure JS): the per-sample reference for T1. It trains one sample at a time
 * (no mini-batches), so a "step" here is one sample. Its output layer is a sigmoid too (T1's
 * targets lie inside (0,1)), its error is the mean squared error, and it always uses momentum:
 * set to 1e-10 (it rejects 0) so that the update is plain SGD at the workload's learning rate.
 */
import type { Dataset, Workload } from "../workloads.js";
import type { SystemEntry, TrainSession } from "./types.js";

interface BrainNet {
  run(input: number[]): ArrayLike<number>;
  /** Sizes the layers and draws the initial weights (train does this on its first call). */
  verifyIsInitialized(data: { input: number[]; output: number[] }[]): void;
  train(
    data: { input: number[]; output: number[] }[],
    options: { iterations: number; errorThresh: number; log: boolean; learningRate: number; momentum: number },
  ): { error: number; iterations: number };
}

async function createSession(w: Workload, data: Dataset): Promise<TrainSession> {
  const mod = (await import("brain.js")) as unknown as {
    default?: { NeuralNetwork: new (o: object) => BrainNet };
    NeuralNetwork?: new (o: object) => BrainNet;
  };
  const NeuralNetwork = mod.NeuralNetwork ?? mod.default?.NeuralNetwork;
  if (!NeuralNetwork) throw new Error("brain.js did not export NeuralNetwork");
  const lr = w.optimizer.lr;
  const net = new NeuralNetwork({
    hiddenLayers: w.hidden.map((h) => h.units),
    activation: "sigmoid",
    learningRate: lr,
  });
  let rowsData: { input: number[]; output: number[] }[] = [];
  const y = data.y as Float32Array;
  // Initialize now, so that the loss can be evaluated before training.
  net.verifyIsInitialized([{ input: new Array<number>(w.inFeatures).fill(0), output: new Array<number>(w.outFeatures).fill(0) }]);
  return {
    samplesPerStep: 1,
    notes: ["brain.js 1.6.1, per-sample SGD (batch 1), sigmoid output, momentum 1e-10"],
    stepsPerEpoch: (rows) => rows,
    prepare(rows) {
      if (rowsData.length === rows) return;
      rowsData = [];
      for (let r = 0; r < rows; r++) {
        rowsData.push({
          input: Array.from(data.x.subarray(r * w.inFeatures, (r + 1) * w.inFeatures)),
          output: Array.from(y.subarray(r * w.outFeatures, (r + 1) * w.outFeatures)),
        });
      }
    },
    async fit(rows, epochs) {
      if (rowsData.length !== rows) throw new Error(`brain.js session: prepare(${rows}) was not called`);
      const r = net.train(rowsData, { iterations: epochs, errorThresh: 1e-12, log: false, learningRate: lr, momentum: 1e-10 });
      return r.error;
    },
    async evaluate(rows) {
      // Mean squared error over the rows and outputs (brain.js trains on the same error).
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        const out = net.run(Array.from(data.x.subarray(r * w.inFeatures, (r + 1) * w.inFeatures)));
        for (let j = 0; j < w.outFeatures; j++) sum += (out[j]! - y[r * w.outFeatures + j]!) ** 2;
      }
      return sum / (rows * w.outFeatures);
    },
    dispose() {},
  };
}

export const brainJs: SystemEntry = {
  id: "brain.js",
  supports: (w) =>
    w.id === "T1" ? true : "T1 only (per-sample reference; no mini-batches, no softmax CE)",
  create: (w, data) => createSession(w, data),
};

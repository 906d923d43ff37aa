/**
 * blasnet's own entries, all through the public model API (`Sequential.compile` + `fit`, end to end):
 * - blasnet-fused:   native backend, trainingPath "fused" (whole steps in C++ on a worker thread);
 * - blasnet-kernels: native backend, trainingPath "kernels" (one N-API call per kernel);
 * - blasnet-ts:      the TypeScript backend.
 * Data is handed over as `{ data, shape }` views of the workload's arrays (no copies): (rows, features),
 * or (rows, C, H, W) for a convolutional workload.
 */
import type { Dataset, Workload } from "../workloads.js";
import type { SystemEntry, TrainSession } from "./types.js";

async function createSession(
  backendName: "native" | "js",
  trainingPath: "fused" | "kernels",
  w: Workload,
  data: Dataset,
  threads: number,
): Promise<TrainSession> {
  const lib = await import("../../lib/index.js");
  const backend = lib.setBackend(backendName);
  if (backendName === "native") lib.setThreads(threads);
  const info = lib.backendInfo();
  const conv = w.conv?.stages ?? [];
  const layers = [
    ...conv.flatMap((c) => [lib.conv2d(c.outChannels, c.kernelSize, { padding: c.padding, activation: "relu" }), lib.maxPool2d(c.pool)]),
    ...(w.conv ? [lib.flatten()] : []),
    ...w.hidden.map((h) => lib.dense(h.units, { activation: h.activation })),
    lib.dense(w.outFeatures),
  ];
  const sample: number[] = w.conv ? [...w.conv.input] : [w.inFeatures];
  const model = new lib.Sequential(layers, { inputShape: sample, seed: 0, backend });
  const o = w.optimizer;
  model.compile({
    loss: w.loss,
    optimizer: o.kind === "adam" ? lib.adam({ lr: o.lr }) : lib.sgd({ lr: o.lr, momentum: o.momentum }),
    trainingPath,
  });
  const notes =
    backendName === "native"
      ? [`native ${trainingPath}, ${info.threads} thread${info.threads === 1 ? "" : "s"}, ${info.blas}`]
      : ["TypeScript backend (1 thread)"];
  /** The first `rows` rows as views of the workload's arrays (no copies). */
  const views = (rows: number) => ({
    x: { data: data.x.subarray(0, rows * w.inFeatures), shape: [rows, ...sample] },
    y:
      w.loss === "crossEntropy"
        ? (data.y as Int32Array).subarray(0, rows)
        : { data: (data.y as Float32Array).subarray(0, rows * w.outFeatures), shape: [rows, w.outFeatures] as [number, number] },
  });
  let prepared: ReturnType<typeof views> | undefined;
  return {
    samplesPerStep: w.batchSize,
    notes,
    stepsPerEpoch: (rows) => Math.ceil(rows / w.batchSize),
    prepare(rows) {
      prepared = views(rows);
    },
    async fit(rows, epochs) {
      if (!prepared || prepared.x.shape[0] !== rows) throw new Error(`blasnet session: prepare(${rows}) was not called`);
      const h = await model.fit(prepared.x, prepared.y, { epochs, batchSize: w.batchSize, verbose: 0 });
      return h.loss[h.loss.length - 1]!;
    },
    async evaluate(rows) {
      const { x, y } = views(rows);
      return (await model.evaluate(x, y, { batchSize: w.batchSize })).loss;
    },
    dispose() {},
  };
}

export const blasnetFused: SystemEntry = {
  id: "blasnet-fused",
  supports: () => true,
  create: (w, data, threads) => createSession("native", "fused", w, data, threads),
};

export const blasnetKernels: SystemEntry = {
  id: "blasnet-kernels",
  supports: () => true,
  create: (w, data, threads) => createSession("native", "kernels", w, data, threads),
};

export const blasnetTs: SystemEntry = {
  id: "blasnet-ts",
  supports: () => true,
  create: (w, data) => createSession("js", "fused", w, data, 1),
};

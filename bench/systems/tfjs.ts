/**
 * TensorFlow.js entries: the pure-JS "cpu" backend and the WASM backend (loaded from node_modules,
 * offline: the .wasm files are read from the package's dist directory), training through
 * `LayersModel.fit` with the workload's exact network, loss, optimizer and batch size.
 *
 * A convolutional workload's samples go in as (rows, H, W, C) (tfjs' channels-last layout, the one
 * its conv2d kernels are written for); with one input channel that is the same memory as NCHW.
 *
 * fit runs with `shuffle: true, verbose: 0, yieldEvery: "never"` (no event-loop yields between
 * batches: the most favourable setting for throughput).
 */
import { createRequire } from "node:module";
import path from "node:path";
import type { Dataset, Workload } from "../workloads.js";
import type { SystemEntry, TrainSession } from "./types.js";

type Tf = typeof import("@tensorflow/tfjs");

async function loadTf(backend: "cpu" | "wasm"): Promise<{ tf: Tf; notes: string[] }> {
  // tfjs prints a "use tfjs-node" banner through console.log on import; it is harmless.
  const tf = await import("@tensorflow/tfjs");
  const notes: string[] = [];
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const require = createRequire(import.meta.url);
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
    wasm.setWasmPaths(dist);
  }
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) {
    throw new Error(`TensorFlow.js backend "${backend}" did not initialise (got ${tf.getBackend()})`);
  }
  if (backend === "wasm") {
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    const mt = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
    notes.push(`tfjs ${tf.version.tfjs} wasm (simd ${simd ? "on" : "off"}, ${mt ? "multi-threaded" : "1 thread"})`);
  } else {
    notes.push(`tfjs ${tf.version.tfjs} cpu (pure JS, 1 thread)`);
  }
  return { tf, notes };
}

async function createSession(
  backend: "cpu" | "wasm",
  w: Workload,
  data: Dataset,
): Promise<TrainSession> {
  const { tf, notes } = await loadTf(backend);
  const model = tf.sequential();
  if (w.conv && w.conv.input[0] !== 1) throw new Error(`tfjs session: ${w.id} has ${w.conv.input[0]} input channels; only 1 (where NCHW and NHWC agree) is supported`);
  const [, h, wd] = w.conv?.input ?? [1, 1, 1];
  const inputShape = w.conv ? [h, wd, 1] : [w.inFeatures];
  // The conv stages (conv2d ReLU, max pooling) and a flatten, then the hidden dense layers with their
  // activations, then the output layer (linear).
  (w.conv?.stages ?? []).forEach((c, i) => {
    const pad = (c.kernelSize - 1) / 2;
    if (c.padding !== 0 && c.padding !== pad) throw new Error(`tfjs session: padding ${c.padding} with a ${c.kernelSize}x${c.kernelSize} kernel is neither "valid" nor "same"`);
    model.add(
      tf.layers.conv2d({ filters: c.outChannels, kernelSize: c.kernelSize, padding: c.padding === 0 ? "valid" : "same", activation: "relu", ...(i === 0 ? { inputShape } : {}) }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: c.pool }));
  });
  if (w.conv) model.add(tf.layers.flatten());
  [...w.hidden, { units: w.outFeatures, activation: "linear" as const }].forEach(({ units, activation }, i) =>
    model.add(tf.layers.dense({ units, activation, ...(i === 0 && !w.conv ? { inputShape } : {}) })),
  );

  const o = w.optimizer;
  const optimizer =
    o.kind === "adam"
      ? tf.train.adam(o.lr)
      : o.momentum !== 0
        ? tf.train.momentum(o.lr, o.momentum)
        : tf.train.sgd(o.lr);
  const loss =
    w.loss === "mse"
      ? "meanSquaredError"
      : (yTrue: import("@tensorflow/tfjs").Tensor, yPred: import("@tensorflow/tfjs").Tensor) =>
          tf.losses.softmaxCrossEntropy(yTrue, yPred);
  model.compile({ optimizer, loss });

  let xs: import("@tensorflow/tfjs").Tensor | undefined;
  let ys: import("@tensorflow/tfjs").Tensor | undefined;
  let preparedRows = -1;
  const tensors = (rows: number): [import("@tensorflow/tfjs").Tensor, import("@tensorflow/tfjs").Tensor] => {
    const x = tf.tensor(data.x.subarray(0, rows * w.inFeatures), [rows, ...inputShape], "float32");
    if (w.loss === "crossEntropy") {
      const labels = tf.tensor1d(data.y.subarray(0, rows) as Int32Array, "int32");
      const y = tf.oneHot(labels, w.outFeatures).toFloat();
      labels.dispose();
      return [x, y];
    }
    return [x, tf.tensor2d(data.y.subarray(0, rows * w.outFeatures) as Float32Array, [rows, w.outFeatures], "float32")];
  };

  return {
    samplesPerStep: w.batchSize,
    notes,
    stepsPerEpoch: (rows) => Math.ceil(rows / w.batchSize),
    prepare(rows) {
      if (rows === preparedRows) return;
      xs?.dispose();
      ys?.dispose();
      [xs, ys] = tensors(rows);
      preparedRows = rows;
    },
    async fit(rows, epochs) {
      if (rows !== preparedRows || !xs || !ys) throw new Error(`tfjs session: prepare(${rows}) was not called`);
      const h = await model.fit(xs, ys, { batchSize: w.batchSize, epochs, shuffle: true, verbose: 0, yieldEvery: "never" });
      const losses = h.history["loss"] as number[];
      return losses[losses.length - 1]!;
    },
    async evaluate(rows) {
      const [x, y] = tensors(rows);
      const r = model.evaluate(x, y, { batchSize: w.batchSize });
      const scalar = Array.isArray(r) ? r[0]! : r;
      const loss = (await scalar.data())[0]!;
      tf.dispose([x, y, r]);
      return loss;
    },
    dispose() {
      xs?.dispose();
      ys?.dispose();
      model.dispose();
    },
  };
}

export const tfjsCpu: SystemEntry = {
  id: "tfjs-cpu",
  supports: () => true,
  create: (w, data) => createSession("cpu", w, data),
};

export const tfjsWasm: SystemEntry = {
  id: "tfjs-wasm",
  // Measured: fit of a conv2d model fails with "Kernel 'Conv2DBackpropFilter' not registered for
  // backend 'wasm'" (tfjs-backend-wasm 4.22 has conv2d's forward kernel, not its gradients).
  supports: (w) => (w.conv ? "tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel: it cannot train conv2d" : true),
  create: (w, data) => createSession("wasm", w, data),
};

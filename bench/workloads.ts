/**
 * The training workloads of issue 5 (T1-T4) and issue 10 (T5, a convolutional network), and the
 * scaling grids, as plain data every system reads, plus their seeded synthetic data sets.
 *
 * FLOPs per training step are counted from the layer shapes as 3 x the forward multiply-adds x 2 x
 * batch: the forward GEMM, dW and dX of every layer (dX of the first layer too, as PyTorch's and
 * Keras' usual counts do). A dense layer (in -> out) does in·out multiply-adds per sample, so a
 * dense network costs 6 x weights x batch; a conv2d layer (C -> outC, kernel kH x kW, output
 * outH x outW) does outC·C·kH·kW·outH·outW per sample (its im2col GEMM). Biases, activations and
 * pooling are not counted (under 1% of T5's FLOPs).
 */
import { Rng } from "../lib/core/rng.js";

export type WorkloadLoss = "mse" | "crossEntropy";
export type WorkloadOptimizer =
  | { kind: "sgd"; lr: number; momentum: number }
  | { kind: "adam"; lr: number };

/** conv2d (stride 1, `padding` on every side) -> ReLU -> maxPool2d(pool) (stride pool). */
export interface ConvStage {
  outChannels: number;
  kernelSize: number;
  padding: number;
  pool: number;
}

export interface Workload {
  id: string;
  name: string;
  /** Values per sample (C·H·W for a convolutional workload). */
  inFeatures: number;
  /** Convolutional stages before the dense layers, on samples of shape `input` (C, H, W); flattened after the last. */
  conv?: { input: [number, number, number]; stages: ConvStage[] };
  /** Hidden dense layers, each followed by its activation. */
  hidden: { units: number; activation: "sigmoid" | "relu" }[];
  /** The output dense layer (no activation: logits for crossEntropy, values for mse). */
  outFeatures: number;
  loss: WorkloadLoss;
  optimizer: WorkloadOptimizer;
  batchSize: number;
  /** N: rows in the data set (one epoch). */
  rows: number;
}

/** Hidden ReLU layers of these widths. */
function reluLayers(...units: number[]): Workload["hidden"] {
  return units.map((u) => ({ units: u, activation: "relu" as const }));
}

/** Issue 5's workloads and issue 10's T5, exactly as specified. */
export const WORKLOADS: Record<"T1" | "T2" | "T3" | "T4" | "T5", Workload> = {
  T1: {
    id: "T1",
    name: "lecture 1-3-1",
    inFeatures: 1,
    hidden: [{ units: 3, activation: "sigmoid" }],
    outFeatures: 1,
    loss: "mse",
    optimizer: { kind: "sgd", lr: 0.01, momentum: 0 },
    batchSize: 10,
    rows: 10_000,
  },
  T2: {
    id: "T2",
    name: "mnist-mlp 784-256-128-10",
    inFeatures: 784,
    hidden: reluLayers(256, 128),
    outFeatures: 10,
    loss: "crossEntropy",
    optimizer: { kind: "adam", lr: 1e-3 },
    batchSize: 128,
    rows: 60_000,
  },
  T3: {
    id: "T3",
    name: "wide 1024-4096-4096-1024",
    inFeatures: 1024,
    hidden: reluLayers(4096, 4096),
    outFeatures: 1024,
    loss: "mse",
    optimizer: { kind: "sgd", lr: 1e-3, momentum: 0 },
    batchSize: 256,
    rows: 16_384,
  },
  T4: {
    id: "T4",
    name: "deep 256-16x256-10",
    inFeatures: 256,
    hidden: reluLayers(...new Array<number>(16).fill(256)),
    outFeatures: 10,
    loss: "crossEntropy",
    optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9 },
    batchSize: 64,
    rows: 32_768,
  },
  T5: {
    id: "T5",
    name: "cnn 1x28x28 conv32-pool-conv64-pool-128-10",
    inFeatures: 784,
    conv: {
      input: [1, 28, 28],
      stages: [
        { outChannels: 32, kernelSize: 3, padding: 1, pool: 2 },
        { outChannels: 64, kernelSize: 3, padding: 1, pool: 2 },
      ],
    },
    hidden: reluLayers(128),
    outFeatures: 10,
    loss: "crossEntropy",
    optimizer: { kind: "adam", lr: 1e-3 },
    batchSize: 64,
    rows: 8192,
  },
};

/** T5 at another batch size (the CNN scaling table). */
export function cnnScalingWorkload(batchSize: number): Workload {
  return { ...WORKLOADS.T5, id: `S-T5-b${batchSize}`, name: `${WORKLOADS.T5.name} @${batchSize}`, batchSize };
}

/**
 * A scaling-grid point: width -> width relu -> width relu -> 10, softmax cross-entropy, SGD 0.01,
 * at the given batch size.
 */
export function scalingWorkload(width: number, batchSize: number): Workload {
  return {
    id: `S-w${width}-b${batchSize}`,
    name: `${width}-${width}-${width}-10 @${batchSize}`,
    inFeatures: width,
    hidden: reluLayers(width, width),
    outFeatures: 10,
    loss: "crossEntropy",
    optimizer: { kind: "sgd", lr: 0.01, momentum: 0 },
    batchSize,
    // Enough rows for 32 steps, at most 16M input values (64 MB), and never fewer than 2 batches.
    rows: Math.max(2 * batchSize, Math.min(Math.max(4096, 32 * batchSize), Math.floor(16_777_216 / width))),
  };
}

/** A conv stage's geometry: input (inC, h, w), conv output (outC, outH, outW), pooled (outC, pooledH, pooledW). */
export interface ConvShape {
  inC: number;
  h: number;
  w: number;
  outC: number;
  kernel: number;
  padding: number;
  outH: number;
  outW: number;
  pool: number;
  pooledH: number;
  pooledW: number;
}

/** The conv stages' shapes, first to last (none for a dense workload). */
export function convShapes(w: Workload): ConvShape[] {
  if (!w.conv) return [];
  let [c, h, wd] = w.conv.input;
  return w.conv.stages.map((s) => {
    const outH = h + 2 * s.padding - s.kernelSize + 1;
    const outW = wd + 2 * s.padding - s.kernelSize + 1;
    const shape: ConvShape = {
      inC: c,
      h,
      w: wd,
      outC: s.outChannels,
      kernel: s.kernelSize,
      padding: s.padding,
      outH,
      outW,
      pool: s.pool,
      pooledH: Math.floor(outH / s.pool),
      pooledW: Math.floor(outW / s.pool),
    };
    [c, h, wd] = [shape.outC, shape.pooledH, shape.pooledW];
    return shape;
  });
}

/** Values per sample entering the first dense layer (the flattened conv output, or inFeatures). */
export function denseInput(w: Workload): number {
  const last = convShapes(w).at(-1);
  return last ? last.outC * last.pooledH * last.pooledW : w.inFeatures;
}

/** Dense layers as [inFeatures, outFeatures]. */
export function denseShapes(w: Workload): [number, number][] {
  const shapes: [number, number][] = [];
  let prev = denseInput(w);
  for (const h of w.hidden) {
    shapes.push([prev, h.units]);
    prev = h.units;
  }
  shapes.push([prev, w.outFeatures]);
  return shapes;
}

/** Weight entries (biases excluded): the weight matrices and the conv kernels. */
export function weightCount(w: Workload): number {
  const conv = convShapes(w).reduce((s, c) => s + c.outC * c.inC * c.kernel * c.kernel, 0);
  return conv + denseShapes(w).reduce((s, [i, o]) => s + i * o, 0);
}

/** Multiply-adds of one sample's forward pass through the conv and dense layers. */
export function forwardMacsPerSample(w: Workload): number {
  const conv = convShapes(w).reduce((s, c) => s + c.outC * c.inC * c.kernel * c.kernel * c.outH * c.outW, 0);
  return conv + denseShapes(w).reduce((s, [i, o]) => s + i * o, 0);
}

/** FLOPs of one training step: forward, dW and dX of every layer, 2 FLOPs per multiply-add (see the file comment). */
export function flopsPerStep(w: Workload): number {
  return 3 * 2 * forwardMacsPerSample(w) * w.batchSize;
}

export interface Dataset {
  /** (rows, inFeatures) row-major. */
  x: Float32Array;
  /** crossEntropy: class indices (rows); mse: (rows, outFeatures) row-major. */
  y: Float32Array | Int32Array;
  rows: number;
}

/**
 * Seeded synthetic data that a network can learn (so "the loss fell" is a real check):
 * - T1-style 1-in/1-out regression: x uniform in [-1, 1], y = 0.3 + 0.3 sin(2x) (inside (0,1), so the
 *   sigmoid-output brain.js can fit it too);
 * - other mse workloads: x uniform in [-1, 1], y_j = 0.5 x_(j mod in) - 0.3 x_((7j + 3) mod in);
 * - crossEntropy: a class c uniform, x = 0.5 mu_c + uniform noise in [-1, 1], mu_c fixed random
 *   class means (images, T5: pixels in [0, 1], x = 0.5 + 0.15 mu_c + uniform noise in [-0.3, 0.3],
 *   clipped, as inputs scaled by 1/255 are); then 20% of the labels are replaced by random classes,
 *   so the loss levels off near 0.7 instead of collapsing towards 0 (realistic gradients for the
 *   whole run).
 */
export function makeDataset(w: Workload, rows: number = w.rows, seed = 1234): Dataset {
  const rng = new Rng(seed);
  const inF = w.inFeatures;
  const x = new Float32Array(rows * inF);
  if (w.loss === "mse") {
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform() * 2 - 1;
    const out = w.outFeatures;
    const y = new Float32Array(rows * out);
    if (inF === 1 && out === 1) {
      for (let r = 0; r < rows; r++) y[r] = 0.3 + 0.3 * Math.sin(2 * x[r]!);
    } else {
      for (let r = 0; r < rows; r++) {
        const xr = r * inF;
        const yr = r * out;
        for (let j = 0; j < out; j++) {
          y[yr + j] = 0.5 * x[xr + (j % inF)]! - 0.3 * x[xr + ((7 * j + 3) % inF)]!;
        }
      }
    }
    return { x, y, rows };
  }
  const classes = w.outFeatures;
  const mu = new Float32Array(classes * inF);
  for (let i = 0; i < mu.length; i++) mu[i] = rng.normal();
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = Math.min(classes - 1, Math.floor(rng.uniform() * classes));
    y[r] = c;
    const xr = r * inF;
    const mr = c * inF;
    if (w.conv) {
      // Images: pixel intensities in [0, 1] (as inputs / 255 are), around a class pattern.
      for (let j = 0; j < inF; j++) x[xr + j] = Math.min(1, Math.max(0, 0.5 + 0.15 * mu[mr + j]! + 0.3 * (rng.uniform() * 2 - 1)));
    } else {
      for (let j = 0; j < inF; j++) x[xr + j] = 0.5 * mu[mr + j]! + (rng.uniform() * 2 - 1);
    }
    if (rng.uniform() < 0.2) y[r] = Math.min(classes - 1, Math.floor(rng.uniform() * classes));
  }
  return { x, y, rows };
}

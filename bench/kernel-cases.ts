/**
 * The element-wise cases of the kernel benchmark (bench/kernels.ts): activations, softmax, losses,
 * optimizer updates, reductions, each as seeded buffers and one call on a backend.
 */
import type { Kernels } from "../lib/backend/backend.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { Rng } from "../lib/core/rng.js";
import { adam, adamw, rmsprop, sgd, type OptimizerName } from "../lib/optim/index.js";

export function uniform(n: number, rng: Rng, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.uniform();
  return a;
}

/** One element-wise case: buffers for n elements and a call on a backend. */
export interface Case {
  name: string;
  bytesPerElement: number;
  /** Fresh state (same seed: same values); `elements` is what one call processes. */
  make(n: number): { elements: number; run(k: Kernels): number | void; outputs(): Float32Array[] };
}

function act(name: "sigmoid" | "relu" | "tanh" | "leakyRelu" | "gelu"): Case[] {
  return [
    {
      name: `${name} fwd`,
      bytesPerElement: 8,
      make(n) {
        const rng = new Rng(1);
        const x = uniform(n, rng, -4, 4);
        const y = new Float32Array(n);
        return { elements: n, run: (k) => k.activationForward(name, y, x, n, 0.01), outputs: () => [y] };
      },
    },
    {
      name: `${name} bwd`,
      bytesPerElement: 12,
      make(n) {
        const rng = new Rng(2);
        const x = uniform(n, rng, -4, 4);
        const y = new Float32Array(n);
        createTsBackend().activationForward(name, y, x, n, 0.01);
        const dy = uniform(n, rng);
        const dx = new Float32Array(n);
        return { elements: n, run: (k) => k.activationBackward(name, dx, dy, x, y, n, 0.01), outputs: () => [dx] };
      },
    },
  ];
}

/** A kernel on one array of n uniform values: a reduction (its result is compared) or in place. */
function onArray(name: string, bytesPerElement: number, seed: number, run: (k: Kernels, x: Float32Array, n: number) => number | void): Case {
  return {
    name,
    bytesPerElement,
    make(n) {
      const x = uniform(n, new Rng(seed));
      return { elements: n, run: (k) => run(k, x, n), outputs: () => [x] };
    },
  };
}

function labelsFor(rows: number, cols: number, rng: Rng): Int32Array {
  const l = new Int32Array(rows);
  for (let i = 0; i < rows; i++) l[i] = Math.min(cols - 1, Math.floor(rng.uniform() * cols));
  return l;
}

export const CASES: Case[] = [
  ...act("sigmoid"),
  ...act("relu"),
  ...act("tanh"),
  ...act("leakyRelu"),
  ...act("gelu"),
  {
    name: "softmax fwd (rows,10)",
    bytesPerElement: 8,
    make(n) {
      const rows = Math.floor(n / 10);
      const x = uniform(rows * 10, new Rng(3), -5, 5);
      const y = new Float32Array(rows * 10);
      return { elements: rows * 10, run: (k) => k.softmaxForward(y, x, rows, 10), outputs: () => [y] };
    },
  },
  {
    name: "softmax bwd (rows,10)",
    bytesPerElement: 12,
    make(n) {
      const rows = Math.floor(n / 10);
      const rng = new Rng(4);
      const y = new Float32Array(rows * 10);
      createTsBackend().softmaxForward(y, uniform(rows * 10, rng, -5, 5), rows, 10);
      const dy = uniform(rows * 10, rng);
      const dx = new Float32Array(rows * 10);
      return { elements: rows * 10, run: (k) => k.softmaxBackward(dx, dy, y, rows, 10), outputs: () => [dx] };
    },
  },
  ...(["mse", "mae", "huber"] as const).map(
    (kind): Case => ({
      name: `${kind} loss+grad`,
      bytesPerElement: 12,
      make(n) {
        const rng = new Rng(5);
        const p = uniform(n, rng);
        const t = uniform(n, rng);
        const g = new Float32Array(n);
        return { elements: n, run: (k) => k.regressionLoss(kind, g, p, t, n, 1), outputs: () => [g] };
      },
    }),
  ),
  {
    name: "softmax CE loss+grad (rows,10)",
    bytesPerElement: 8,
    make(n) {
      const rows = Math.floor(n / 10);
      const rng = new Rng(6);
      const z = uniform(rows * 10, rng, -5, 5);
      const labels = labelsFor(rows, 10, rng);
      const g = new Float32Array(rows * 10);
      return { elements: rows * 10, run: (k) => k.softmaxCrossEntropy(g, z, labels, rows, 10), outputs: () => [g] };
    },
  },
  {
    name: "BCE-with-logits loss+grad",
    bytesPerElement: 12,
    make(n) {
      const rng = new Rng(7);
      const z = uniform(n, rng, -5, 5);
      const t = uniform(n, rng, 0, 1);
      const g = new Float32Array(n);
      return { elements: n, run: (k) => k.bceWithLogits(g, z, t, n), outputs: () => [g] };
    },
  },
  // Every optimizer's update (lib/optim), one case each: p and state read and written, g read.
  ...(
    [
      ["SGD momentum+nesterov+wd", sgd({ momentum: 0.9, nesterov: true, weightDecay: 1e-4 })],
      ["Adam update", adam({ weightDecay: 1e-2 })],
      ["AdamW update", adamw({ weightDecay: 1e-2 })],
      ["RMSprop update (momentum)", rmsprop({ momentum: 0.9 })],
    ] as const
  ).map(
    ([name, opt]): Case => ({
      name,
      bytesPerElement: 12 + 8 * opt.slotNames().length,
      make(n) {
        const rng = new Rng(8);
        const p = uniform(n, rng);
        const g = uniform(n, rng);
        const state = uniform(opt.slotNames().length * n, rng, 0, 0.1);
        const hyper = Float64Array.from(opt.hyper);
        const kind = opt.name as OptimizerName;
        return { elements: n, run: (k) => k.optimizerStep(kind, p, g, state, n, 1e-3, 10, hyper), outputs: () => [p, state] };
      },
    }),
  ),
  {
    name: "bias add (rows,256)",
    bytesPerElement: 8,
    make(n) {
      const rows = Math.max(1, Math.floor(n / 256));
      const rng = new Rng(11);
      const y = uniform(rows * 256, rng);
      const b = uniform(256, rng, -1e-6, 1e-6);
      return { elements: rows * 256, run: (k) => k.biasAdd(y, b, rows, 256), outputs: () => [y] };
    },
  },
  {
    name: "bias grad (rows,256)",
    bytesPerElement: 4,
    make(n) {
      const rows = Math.max(1, Math.floor(n / 256));
      const dy = uniform(rows * 256, new Rng(12));
      const db = new Float32Array(256);
      return { elements: rows * 256, run: (k) => k.biasGrad(db, dy, rows, 256, 0), outputs: () => [db] };
    },
  },
  onArray("sum", 4, 13, (k, x, n) => k.sum(x, n)),
  onArray("sum of squares", 4, 14, (k, x, n) => k.sumSquares(x, n)),
  onArray("scale", 8, 15, (k, x, n) => k.scale(x, n, 1.0000001)),
  onArray("clip", 8, 16, (k, x, n) => k.clip(x, n, -0.5, 0.5)),
  {
    name: "argmax rows (rows,10)",
    bytesPerElement: 4,
    make(n) {
      const rows = Math.floor(n / 10);
      const x = uniform(rows * 10, new Rng(17));
      const out = new Int32Array(rows);
      return { elements: rows * 10, run: (k) => k.argmaxRows(out, x, rows, 10), outputs: () => [Float32Array.from(out)] };
    },
  },
];

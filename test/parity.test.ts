/**
 * Native vs TypeScript parity for every kernel, one table row per case: `{ op, shape, tolerance }`
 * plus the seeded call that produces the outputs. Each row runs twice on identical inputs (the same
 * Rng seed), once per backend; every output (arrays written in place and returned values) is
 * compared with
 *   nmse   = sum (native - ts)^2 / sum ts^2      (ggml's normalized mean squared error), and
 *   maxRel = max |native - ts| / max |ts|        (worst element, relative to the output's scale),
 * and integer outputs (argmax) must match exactly.
 *
 * Tolerances are in units of the float32 unit roundoff U = 2^-24 = 6e-8 and are justified by the
 * error model of each kernel (see TOL below): both backends round to float32, but OpenBLAS
 * accumulates GEMM sums in float32 with FMA while the TypeScript GEMM sums runs of 8 products in
 * double, and the native element-wise kernels may use their own exp/tanh approximations.
 */
import { describe, expect, it } from "vitest";
import type { Backend, ElementwiseActivation, RegressionLoss } from "../lib/backend/backend.js";
import { Rng } from "../lib/core/rng.js";
import { Optimizer, optimizerDef, OPTIMIZER_NAMES } from "../lib/optim/index.js";
import { OPTIMIZER_CASES } from "./optimizer-cases.js";
import { CONV_PARITY_ROWS, window2d } from "./parity-conv-rows.js";
import { nativeOrSkip, nmse, normalizeRows, randomF32, tsBackend } from "./helpers.js";

const U = 2 ** -24;

interface Tolerance {
  /** Bound on the normalized mean squared error of each float output. */
  nmse: number;
  /** Bound on max |native - ts| / max |ts| of each float output (and relative error of scalars). */
  maxRel: number;
}

/** What a row's call produced: arrays written by the kernel and scalars it returned. */
type Outputs = Record<string, Float32Array | Int32Array | number>;

interface ParityRow {
  op: string;
  shape: string;
  tolerance: Tolerance;
  /** Draws the inputs from `rng`, calls the kernel on `b`, returns the outputs to compare. */
  run: (b: Backend, rng: Rng) => Outputs;
}

/**
 * Tolerances, from each kernel's error model (U = 6e-8):
 * - EXACT_ISH: one float32 rounding of the same double-precision expression on both sides (bias,
 *   scale, clip, linear, relu): at most a couple of U per element; 4 U allows for a
 *   float-vs-double intermediate on the native side. OPTIMIZER (below) for the update rules.
 * - ELEMENTWISE: exp/tanh based (sigmoid, tanh, gelu, softmax, losses): libm or a vectorised
 *   approximation on the native side, each within a few U; 64 U (4e-6) bounds an approximation
 *   good to ~20 bits, the least a float32 kernel should deliver (measured: 3.6 U at worst).
 * - gemm(k): native sums k products in float32 (error grows like sqrt(k) U on random data, k U at
 *   worst), TypeScript in double; maxRel 4 sqrt(k) U + 8 U and nmse (that)^2 allow both
 *   (measured: 10-12 U for k = 256..1024, against bounds of 72-136 U).
 * - REDUCTION: sums in double on both sides (the interface says so): 1e-12 relative; a float32
 *   accumulator would be off by 1e-5 or more on the 100003-element rows and fail.
 */
const EXACT_ISH: Tolerance = { nmse: (4 * U) ** 2, maxRel: 4 * U };
/**
 * Optimizers, three steps: a float32 implementation (as PyTorch's own) rounds about four
 * intermediates per step (g, the state, the update, the parameter), each within U of its own
 * magnitude, and the state carries them into the next step: 3 x 4 + 4 = 16 U.
 */
const OPTIMIZER: Tolerance = { nmse: (16 * U) ** 2, maxRel: 16 * U };
const ELEMENTWISE: Tolerance = { nmse: (64 * U) ** 2, maxRel: 64 * U };
const REDUCTION: Tolerance = { nmse: 1e-24, maxRel: 1e-12 };
function gemmTol(k: number): Tolerance {
  const rel = 4 * Math.sqrt(Math.max(k, 1)) * U + 8 * U;
  return { nmse: rel * rel, maxRel: rel };
}

const f32 = randomF32;

// ---------------------------------------------------------------------------------------------
// The table. Every kernel runs at 1x1 (n = 1), odd sizes, a row vector where it has rows, 1024x1024
// (n = 2^20), and shapes drawn from a seeded Rng (the same every run).

const ROWS: ParityRow[] = [];

// GEMM: every transpose combination at small odd sizes, alpha/beta variants, vectors, edge sizes,
// the MLP's shapes and one 1024^3.
const TRANS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
function gemmRow(m: number, n: number, k: number, transA: boolean, transB: boolean, alpha: number, beta: number, nanC = false, nanAB = false): ParityRow {
  const t = `${transA ? "T" : "N"}${transB ? "T" : "N"}`;
  return {
    op: `gemm ${t} alpha=${alpha} beta=${beta}${nanC ? " (C = NaN)" : ""}${nanAB ? " (A, B = NaN)" : ""}`,
    shape: `${m}x${n}x${k}`,
    tolerance: gemmTol(k),
    run: (b, rng) => {
      const a = nanAB ? new Float32Array(m * k).fill(NaN) : f32(rng, m * k);
      const bm = nanAB ? new Float32Array(k * n).fill(NaN) : f32(rng, k * n);
      const c = nanC ? new Float32Array(m * n).fill(NaN) : f32(rng, m * n);
      b.gemm(transA, transB, m, n, k, alpha, a, bm, beta, c);
      return { c };
    },
  };
}
for (const [ta, tb] of TRANS) {
  for (const [m, n, k] of [
    [1, 1, 1],
    [7, 13, 5],
    [33, 65, 17],
    [1, 64, 33], // row vector times matrix
    [64, 1, 33], // matrix times column vector
  ] as const) {
    ROWS.push(gemmRow(m, n, k, ta, tb, 1, 0));
  }
  ROWS.push(gemmRow(7, 13, 5, ta, tb, -0.5, 1));
  ROWS.push(gemmRow(33, 65, 17, ta, tb, 2, 0.25));
  ROWS.push(gemmRow(9, 11, 6, ta, tb, 1, 0, true));
}
ROWS.push(gemmRow(5, 3, 0, false, false, 1, 0.5)); // k = 0: C = beta C
ROWS.push(gemmRow(6, 5, 4, false, true, 0, 0.5, false, true)); // alpha = 0: C = beta C, A and B unread
ROWS.push(gemmRow(0, 3, 4, false, true, 1, 0));
ROWS.push(gemmRow(128, 256, 784, false, true, 1, 0)); // MLP forward: X W^T
ROWS.push(gemmRow(256, 784, 128, true, false, 1, 0)); // weight gradient: dY^T X
ROWS.push(gemmRow(128, 784, 256, false, false, 1, 0)); // input gradient: dY W
ROWS.push(gemmRow(1024, 1024, 1024, false, false, 1, 0));
// Seeded random shapes (drawn once from a fixed seed, so the table is the same every run).
const SHAPE_RNG = new Rng(77);
const randomDim = (max: number): number => 1 + SHAPE_RNG.int(max);
for (let i = 0; i < 6; i++) {
  const [ta, tb] = TRANS[SHAPE_RNG.int(4)]!;
  ROWS.push(gemmRow(randomDim(150), randomDim(150), randomDim(150), ta, tb, i % 2 === 0 ? 1 : 0.75, i % 3 === 0 ? 0 : 0.5));
}

// Bias.
const MATRIX_SHAPES: [number, number][] = [
  [1, 1],
  [7, 13],
  [1, 37], // row vector
  [37, 1], // column vector
  [128, 256],
  [1024, 1024],
  [randomDim(300), randomDim(300)],
  [randomDim(300), randomDim(300)],
];
for (const [rows, cols] of MATRIX_SHAPES) {
  ROWS.push({
    op: "biasAdd",
    shape: `${rows}x${cols}`,
    tolerance: EXACT_ISH,
    run: (b, rng) => {
      const y = f32(rng, rows * cols);
      b.biasAdd(y, f32(rng, cols), rows, cols);
      return { y };
    },
  });
  for (const beta of [0, 1]) {
    ROWS.push({
      op: `biasGrad beta=${beta}`,
      shape: `${rows}x${cols}`,
      // Column sums of `rows` values: float32 accumulation on either side would be within
      // sqrt(rows) U; 4 U + that.
      tolerance: gemmTol(rows),
      run: (b, rng) => {
        const dy = f32(rng, rows * cols);
        const db = beta === 0 ? new Float32Array(cols).fill(NaN) : f32(rng, cols);
        b.biasGrad(db, dy, rows, cols, beta);
        return { db };
      },
    });
  }
}

// Activations, forward and backward. x includes exact zeros (relu/leakyRelu derivative at 0) and
// large magnitudes (sigmoid/tanh saturation).
const ACTS: ElementwiseActivation[] = ["linear", "sigmoid", "relu", "tanh", "leakyRelu", "gelu"];
for (const act of ACTS) {
  const tol = act === "linear" || act === "relu" || act === "leakyRelu" ? EXACT_ISH : ELEMENTWISE;
  for (const n of [1, 91, 4099, 1024 * 1024, randomDim(20_000)]) {
    const input = (rng: Rng) => {
      const x = f32(rng, n, -6, 6);
      if (n > 4) {
        x[1] = 0;
        x[2] = -30;
        x[3] = 30;
      }
      return x;
    };
    ROWS.push({
      op: `activationForward ${act}`,
      shape: `${n}`,
      tolerance: tol,
      run: (b, rng) => {
        const x = input(rng);
        const y = new Float32Array(n);
        b.activationForward(act, y, x, n, 0.02);
        const inPlace = x.slice();
        b.activationForward(act, inPlace, inPlace, n, 0.02);
        return { y, inPlace };
      },
    });
    ROWS.push({
      op: `activationBackward ${act}`,
      shape: `${n}`,
      tolerance: tol,
      run: (b, rng) => {
        const x = input(rng);
        const dy = f32(rng, n);
        // Both backends receive the same y: the TypeScript forward output.
        const y = new Float32Array(n);
        tsBackend.activationForward(act, y, x, n, 0.02);
        const dx = new Float32Array(n);
        b.activationBackward(act, dx, dy, x, y, n, 0.02);
        b.activationBackward(act, dy, dy, x, y, n, 0.02);
        return { dx, inPlace: dy };
      },
    });
  }
}

// Softmax and losses over (rows, cols).
const ROW_SHAPES: [number, number][] = [
  [1, 1],
  [7, 13],
  [1, 10],
  [10, 1],
  [128, 10],
  [1024, 1024],
  [randomDim(300), randomDim(300)],
  [randomDim(300), randomDim(30)],
];
for (const [rows, cols] of ROW_SHAPES) {
  ROWS.push({
    op: "softmaxForward",
    shape: `${rows}x${cols}`,
    tolerance: ELEMENTWISE,
    run: (b, rng) => {
      const x = f32(rng, rows * cols, -8, 8);
      for (let j = 0; j < cols && rows > 1; j++) x[cols + j] = x[cols + j]! + 500; // needs the max shift
      const y = new Float32Array(rows * cols);
      b.softmaxForward(y, x, rows, cols);
      return { y };
    },
  });
  ROWS.push({
    op: "softmaxBackward",
    shape: `${rows}x${cols}`,
    tolerance: ELEMENTWISE,
    run: (b, rng) => {
      const y = new Float32Array(rows * cols);
      tsBackend.softmaxForward(y, f32(rng, rows * cols, -3, 3), rows, cols);
      const dy = f32(rng, rows * cols);
      const dx = new Float32Array(rows * cols);
      b.softmaxBackward(dx, dy, y, rows, cols);
      return { dx };
    },
  });
  ROWS.push({
    op: "softmaxCrossEntropy",
    shape: `${rows}x${cols}`,
    tolerance: ELEMENTWISE,
    run: (b, rng) => {
      const logits = f32(rng, rows * cols, -5, 5);
      const labels = Int32Array.from({ length: rows }, () => rng.int(cols));
      const grad = new Float32Array(rows * cols);
      const loss = b.softmaxCrossEntropy(grad, logits, labels, rows, cols);
      const lossOnly = b.softmaxCrossEntropy(null, logits, labels, rows, cols);
      return { loss, lossOnly, grad };
    },
  });
  ROWS.push({
    op: "softmaxCrossEntropyDense",
    shape: `${rows}x${cols}`,
    tolerance: ELEMENTWISE,
    run: (b, rng) => {
      const logits = f32(rng, rows * cols, -5, 5);
      const targets = normalizeRows(f32(rng, rows * cols, 0.05, 1), rows, cols);
      const grad = new Float32Array(rows * cols);
      const loss = b.softmaxCrossEntropyDense(grad, logits, targets, rows, cols);
      return { loss, grad };
    },
  });
  ROWS.push({
    op: "argmaxRows",
    shape: `${rows}x${cols}`,
    tolerance: EXACT_ISH,
    run: (b, rng) => {
      // Values on a coarse grid, so that rows have ties: the first maximum must win.
      const x = Float32Array.from({ length: rows * cols }, () => rng.int(4));
      const out = new Int32Array(rows);
      b.argmaxRows(out, x, rows, cols);
      return { out };
    },
  });
}

// Loss gradients written over the logits (the interface allows grad = logits).
ROWS.push({
  op: "softmaxCrossEntropy, softmaxCrossEntropyDense, bceWithLogits with grad = logits",
  shape: "9x7",
  tolerance: ELEMENTWISE,
  run: (b, rng) => {
    const logits = f32(rng, 63, -4, 4);
    const labels = Int32Array.from({ length: 9 }, () => rng.int(7));
    const targets = f32(rng, 63, 0, 1);
    const ce = logits.slice();
    const dense = logits.slice();
    const bce = logits.slice();
    return {
      ceLoss: b.softmaxCrossEntropy(ce, ce, labels, 9, 7),
      ce,
      denseLoss: b.softmaxCrossEntropyDense(dense, dense, targets, 9, 7),
      dense,
      bceLoss: b.bceWithLogits(bce, bce, targets, 63),
      bce,
    };
  },
});

for (const kind of ["mse", "mae", "huber"] as RegressionLoss[]) {
  for (const n of [1, 91, 1280, 1024 * 1024, randomDim(20_000)]) {
    ROWS.push({
      op: `regressionLoss ${kind}`,
      shape: `${n}`,
      tolerance: ELEMENTWISE,
      run: (b, rng) => {
        const pred = f32(rng, n, -2, 2);
        const target = f32(rng, n, -2, 2);
        if (n > 1) target[0] = pred[0]!; // d = 0: MAE's gradient is 0
        const grad = new Float32Array(n);
        const loss = b.regressionLoss(kind, grad, pred, target, n, 0.6);
        const lossOnly = b.regressionLoss(kind, null, pred, target, n, 0.6);
        return { loss, lossOnly, grad };
      },
    });
  }
}
for (const n of [1, 91, 1280, 1024 * 1024, randomDim(20_000)]) {
  ROWS.push({
    op: "bceWithLogits",
    shape: `${n}`,
    tolerance: ELEMENTWISE,
    run: (b, rng) => {
      const logits = f32(rng, n, -10, 10);
      if (n > 2) {
        logits[1] = 60;
        logits[2] = -60;
      }
      const targets = f32(rng, n, 0, 1);
      const grad = new Float32Array(n);
      const loss = b.bceWithLogits(grad, logits, targets, n);
      return { loss, grad };
    },
  });
}

// Optimizers: three steps each, so that state (velocity, moments) is carried and compared. Every
// registered optimizer must have cases here (checked below); each case is a set of options.
const STEPS = 3;
for (const n of [1, 91, 10007, 1024 * 1024, randomDim(20_000)]) {
  for (const name of OPTIMIZER_NAMES) {
    for (const { label, options } of OPTIMIZER_CASES[name]) {
      const { lr, ...rest } = options;
      const opt = new Optimizer(optimizerDef(name), rest);
      const rate = lr as number;
      ROWS.push({
        op: `optimizerStep ${label}`,
        shape: `${n} x ${STEPS} steps`,
        tolerance: OPTIMIZER,
        run: (b, rng) => {
          const param = f32(rng, n);
          const state = opt.createState(n);
          const hyper = Float64Array.from(opt.hyper);
          for (let t = 1; t <= STEPS; t++) b.optimizerStep(name, param, f32(rng, n), state, n, rate, t, hyper);
          return { param, state };
        },
      });
    }
  }
}

describe("optimizer parity cases", () => {
  it("every registered optimizer has parity cases", () => {
    expect(Object.keys(OPTIMIZER_CASES).sort()).toEqual([...OPTIMIZER_NAMES].sort());
    for (const name of OPTIMIZER_NAMES) expect(OPTIMIZER_CASES[name].length).toBeGreaterThan(0);
  });
});

// Reductions and vector updates.
for (const n of [1, 91, 100003, 1024 * 1024, randomDim(20_000)]) {
  ROWS.push({
    op: "sum, sumSquares",
    shape: `${n}`,
    tolerance: REDUCTION,
    run: (b, rng) => {
      const x = f32(rng, n, -1, 3);
      return { sum: b.sum(x, n), sumSquares: b.sumSquares(x, n) };
    },
  });
  ROWS.push({
    op: "scale, clip",
    shape: `${n}`,
    tolerance: EXACT_ISH,
    run: (b, rng) => {
      const x = f32(rng, n, -3, 3);
      b.scale(x, n, -0.37);
      const scaled = x.slice();
      b.clip(x, n, -0.5, 0.75);
      return { scaled, clipped: x };
    },
  });
}

// firstNonFinite: the index found (exact, as an Int32Array) over the whole buffer and subranges,
// with no, one and several non-finite values, over finite extremes (which must not count).
for (const n of [1, 91, 4096, 4097, 100003, 1024 * 1024, randomDim(20_000)]) {
  ROWS.push({
    op: "firstNonFinite",
    shape: `${n}`,
    tolerance: EXACT_ISH,
    run: (b, rng) => {
      const x = f32(rng, n, -3, 3);
      const extremes = [0, -0, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38, 3.4028235e38, -3.4028235e38];
      for (let k = 0; k < Math.min(n, 32); k++) x[rng.int(n)] = extremes[rng.int(extremes.length)]!;
      const found: number[] = [];
      const scan = (start: number, end: number): void => {
        found.push(b.firstNonFinite(x, start, end));
      };
      const some = (): [number, number] => {
        const a = rng.int(n + 1);
        const c = rng.int(n + 1);
        return [Math.min(a, c), Math.max(a, c)];
      };
      scan(0, n);
      for (const bad of [NaN, Infinity, -Infinity]) {
        const at = rng.int(n);
        x[at] = bad;
        scan(0, n);
        scan(at, n);
        scan(0, at);
        scan(...some());
      }
      x[n - 1] = NaN;
      scan(Math.max(0, n - 4096), n);
      scan(n, n);
      return { found: Int32Array.from(found) };
    },
  });
}

// Convolution, pooling and normalization: test/parity-conv-rows.ts.
ROWS.push(...CONV_PARITY_ROWS);

// Empty shapes: nothing is read or written, an empty mean is NaN on both sides.
ROWS.push({
  op: "empty shapes: biasAdd, biasGrad, activations, softmax, losses, argmaxRows, sum, firstNonFinite, scale",
  shape: "0 rows / n = 0 / cols = 0",
  tolerance: EXACT_ISH,
  run: (b) => {
    const none = new Float32Array(0);
    const y = Float32Array.from([1, 2, 3]);
    b.biasAdd(none, y, 0, 3);
    const db = Float32Array.from([4, 5, 6]);
    b.biasGrad(db, none, 0, 3, 0);
    b.activationForward("gelu", none, none, 0, 0);
    b.softmaxForward(none, none, 0, 4);
    const argmax = new Int32Array(2).fill(7);
    b.argmaxRows(argmax, none, 0, 3);
    return {
      y,
      db,
      mse: b.regressionLoss("mse", none, none, none, 0, 1),
      crossEntropy: b.softmaxCrossEntropy(none, none, new Int32Array(0), 0, 4),
      crossEntropyDense: b.softmaxCrossEntropyDense(none, none, none, 0, 4),
      bce: b.bceWithLogits(none, none, none, 0),
      sum: b.sum(none, 0),
      sumSquares: b.sumSquares(none, 0),
      firstNonFinite: b.firstNonFinite(none, 0, 0),
      argmax,
    };
  },
});

// ---------------------------------------------------------------------------------------------

/** nmse and maxRel of native vs ts for one output. */
function compare(native: Float32Array | number, ts: Float32Array | number): { nmse: number; maxRel: number } {
  if (typeof native === "number" || typeof ts === "number") {
    const a = Number(native);
    const b = Number(ts);
    if (Number.isNaN(a) && Number.isNaN(b)) return { nmse: 0, maxRel: 0 };
    const rel = a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
    return { nmse: rel * rel, maxRel: rel };
  }
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ts.length; i++) {
    const a = native[i]!;
    const b = ts[i]!;
    if (Number.isNaN(a) !== Number.isNaN(b)) return { nmse: Infinity, maxRel: Infinity };
    if (Number.isNaN(a)) continue;
    maxDiff = Math.max(maxDiff, Math.abs(a - b));
    maxRef = Math.max(maxRef, Math.abs(b));
  }
  const maxRel = maxDiff === 0 ? 0 : maxDiff / Math.max(maxRef, Number.MIN_VALUE);
  return { nmse: nmse(native, ts), maxRel };
}

const native = nativeOrSkip();

describe.skipIf(!native)("native vs TypeScript parity", () => {
  it.each(ROWS.map((row, i) => ({ ...row, seed: 1000 + i })))("$op $shape", ({ op, shape, tolerance, run, seed }) => {
    const want = run(tsBackend, new Rng(seed));
    const got = run(native!, new Rng(seed));
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const key of Object.keys(want)) {
      const w = want[key]!;
      const g = got[key]!;
      if (w instanceof Int32Array) {
        expect(Array.from(g as Int32Array), `${op} ${shape}: ${key}`).toEqual(Array.from(w));
        continue;
      }
      const { nmse: e, maxRel } = compare(g as Float32Array | number, w);
      if (process.env["PARITY_REPORT"]) {
        console.log(`parity ${op} ${shape} ${key}: nmse ${e.toExponential(2)} maxRel ${maxRel.toExponential(2)}`);
      }
      expect(e, `${op} ${shape}: ${key} nmse ${e} > ${tolerance.nmse}`).toBeLessThanOrEqual(tolerance.nmse);
      expect(maxRel, `${op} ${shape}: ${key} maxRel ${maxRel} > ${tolerance.maxRel}`).toBeLessThanOrEqual(tolerance.maxRel);
    }
  });

  /** One 4x4 channel, 3x3 kernel, padding 1: out 4x4 (3x3 to 5x5 allowed by the end padding). */
  const G3 = window2d(1, 4, 4, [3, 3], { pad: [1, 1] });
  // Invalid calls: both backends refuse them with a RangeError rather than read out of bounds.
  const none = new Float32Array(0);
  const ERROR_ROWS: { op: string; message: RegExp; call: (b: Backend) => unknown }[] = [
    { op: "softmaxCrossEntropy label = cols", message: /row 1/, call: (b) => b.softmaxCrossEntropy(null, new Float32Array(8), Int32Array.from([0, 4]), 2, 4) },
    { op: "softmaxCrossEntropy label < 0", message: /row 0/, call: (b) => b.softmaxCrossEntropy(new Float32Array(8), new Float32Array(8), Int32Array.from([-1, 0]), 2, 4) },
    { op: "argmaxRows cols = 0", message: /cols/, call: (b) => b.argmaxRows(new Int32Array(2), none, 2, 0) },
    { op: "gemm a shorter than m*k", message: /\ba\b/, call: (b) => b.gemm(false, false, 2, 2, 2, 1, new Float32Array(3), new Float32Array(4), 0, new Float32Array(4)) },
    { op: "gemm c shorter than m*n", message: /\bc\b/, call: (b) => b.gemm(false, true, 2, 2, 2, 1, new Float32Array(4), new Float32Array(4), 0, new Float32Array(3)) },
    { op: "biasAdd bias shorter than cols", message: /bias/, call: (b) => b.biasAdd(new Float32Array(6), new Float32Array(2), 2, 3) },
    { op: "firstNonFinite end past x.length", message: /\bend\b/, call: (b) => b.firstNonFinite(new Float32Array(6), 2, 7) },
    { op: "firstNonFinite end < start", message: /\bend\b/, call: (b) => b.firstNonFinite(new Float32Array(6), 4, 3) },
    { op: "firstNonFinite start past x.length", message: /\bstart\b/, call: (b) => b.firstNonFinite(new Float32Array(6), 7, 7) },
    { op: "optimizerStep adam state shorter than 2 slots x n", message: /\bstate\b/, call: (b) => b.optimizerStep("adam", new Float32Array(4), new Float32Array(4), new Float32Array(7), 4, 0.1, 1, Float64Array.of(0.9, 0.99, 1e-8, 0)) },
    { op: "im2col outH not what the geometry gives", message: /outH/, call: (b) => b.im2col(new Float32Array(9 * 36), new Float32Array(16), 1, { ...G3, outH: 6 }) },
    { op: "maxPool2dBackward argmax past the plane", message: /argmax/, call: (b) => b.maxPool2dBackward(new Float32Array(16), new Float32Array(16), new Int32Array(16).fill(16), 1, G3) },
    { op: "maxPool2dForward argmax shorter than y", message: /argmax/, call: (b) => b.maxPool2dForward(new Float32Array(16), new Int32Array(15), new Float32Array(16), 1, G3) },
    { op: "batchNormForward gamma shorter than channels", message: /gamma/, call: (b) => b.batchNormForward(new Float32Array(6), new Float32Array(6), new Float32Array(3), new Float32Array(3), new Float32Array(2), new Float32Array(3), 2, 3, 1, 1e-5) },
    { op: "layerNormForward eps < 0", message: /eps/, call: (b) => b.layerNormForward(new Float32Array(6), new Float32Array(2), new Float32Array(2), new Float32Array(6), new Float32Array(3), new Float32Array(3), 2, 3, -1) },
  ];
  it.each(ERROR_ROWS)("$op: both throw a RangeError naming it", ({ message, call }) => {
    expect(() => call(tsBackend)).toThrow(RangeError);
    expect(() => call(tsBackend)).toThrow(message);
    expect(() => call(native!)).toThrow(RangeError);
    expect(() => call(native!)).toThrow(message);
  });
});

// The table itself (no backend needed).
describe("the parity table", () => {
  /** Every kernel of the Backend interface (read off the TypeScript backend), as the rows' op names spell them (sgd for sgdUpdate, ...). */
  const KERNELS = Object.entries(tsBackend)
    .filter(([k, v]) => typeof v === "function" && !["setThreads", "getThreads", "info"].includes(k))
    .map(([k]) => k.replace(/Update$/, ""));

  it("reads the kernels off the backend", () => {
    expect(KERNELS).toEqual(expect.arrayContaining(["gemm", "softmaxCrossEntropyDense", "optimizerStep", "firstNonFinite", "clip"]));
  });

  it("every kernel of the interface has at least one parity row", () => {
    const ops = ROWS.map((r) => r.op).join(" | ");
    for (const k of KERNELS) expect(ops, k).toMatch(new RegExp(`(^|[ |,])${k}([ |,]|$)`));
  });

  it("every kernel has a 1x1 (n = 1) row and a 1024x1024 (n = 2^20) row", () => {
    for (const k of KERNELS) {
      const shapes = ROWS.filter((r) => new RegExp(`(^|[ ,])${k}([ ,]|$)`).test(r.op)).map((r) => r.shape);
      expect(shapes.some((s) => /^1(x1)*( |$)/.test(s)), `${k}: ${shapes.join(", ")}`).toBe(true);
      expect(shapes.some((s) => /(^|\D)(1024x1024|1048576)(\D|$)/.test(s)), `${k}: ${shapes.join(", ")}`).toBe(true);
    }
  });
});

/**
 * Finite-difference gradient checks for every activation and every loss.
 *
 * 1. The reference math in float64: each function's value and the analytic derivative the kernels
 *    implement (backend.ts), checked by central differences, as torch.autograd.gradcheck does.
 * 2. The float32 TypeScript kernels: the backward kernel against central differences of the
 *    forward kernel. Each perturbed input is stored in float32, so the step used is the actual
 *    difference of the two stored inputs, not the nominal h.
 *
 * Kinks are avoided by construction: relu/leakyRelu inputs and MAE/Huber residuals are kept at
 * least 0.05 away from 0 (and Huber's from +-delta), more than the largest step used.
 */
import { describe, expect, it } from "vitest";
import type { ElementwiseActivation, RegressionLoss } from "../lib/backend/backend.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { Rng } from "../lib/core/rng.js";
import { normalizeRows } from "./helpers.js";

const ts = createTsBackend();
const GELU_C = Math.sqrt(2 / Math.PI);
const LEAKY_ALPHA = 0.1;
const HUBER_DELTA = 0.7;
/** Minimum distance of any input from a kink. */
const KINK_GAP = 0.05;

/** Uniform in [lo, hi), redrawn while within KINK_GAP of any of `kinks`. */
function awayFrom(rng: Rng, lo: number, hi: number, kinks: number[]): number {
  for (;;) {
    const v = rng.uniformRange(lo, hi);
    if (kinks.every((k) => Math.abs(v - k) >= KINK_GAP)) return v;
  }
}

function expectGradClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i]! - want[i]!);
    if (!(diff <= atol + rtol * Math.abs(want[i]!))) {
      throw new Error(`${what}: [${i}] analytic ${got[i]}, numeric ${want[i]} (|diff| ${diff} > ${atol} + ${rtol} * |numeric|)`);
    }
  }
  expect(got.length).toBe(want.length);
}

// ---------------------------------------------------------------------------------------------
// Reference math in float64

/** f and the analytic f' as the kernels compute it (sigmoid and tanh from y = f(x)). */
const ACT64: Record<ElementwiseActivation, { f: (x: number) => number; df: (x: number, y: number) => number; kinks: number[] }> = {
  linear: { f: (x) => x, df: () => 1, kinks: [] },
  sigmoid: {
    f: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
    df: (_x, y) => y * (1 - y),
    kinks: [],
  },
  relu: { f: (x) => (x < 0 ? 0 : x), df: (x) => (x > 0 ? 1 : 0), kinks: [0] },
  tanh: { f: Math.tanh, df: (_x, y) => 1 - y * y, kinks: [] },
  leakyRelu: { f: (x) => (x < 0 ? LEAKY_ALPHA * x : x), df: (x) => (x > 0 ? 1 : LEAKY_ALPHA), kinks: [0] },
  gelu: {
    f: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x))),
    df: (x) => {
      const t = Math.tanh(GELU_C * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
    },
    kinks: [],
  },
  silu: {
    f: (x) => x / (1 + Math.exp(-x)),
    df: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s + x * s * (1 - s);
    },
    kinks: [],
  },
  // PyTorch's threshold: x above 20 (a kink of about 2e-9, far below these checks' steps' reach)
  softplus: { f: (x) => (x > 20 ? x : Math.log(1 + Math.exp(x))), df: (x) => (x > 20 ? 1 : 1 / (1 + Math.exp(-x))), kinks: [20] },
};
const ACTS = Object.keys(ACT64) as ElementwiseActivation[];

/** A scalar loss of a float64 vector and its analytic gradient. */
interface Scalar64 {
  value: (x: Float64Array) => number;
  grad: (x: Float64Array) => Float64Array;
}

function logSumExp(z: Float64Array, o: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, z[o + j]!);
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(z[o + j]! - max);
  return max + Math.log(s);
}

function regression64(kind: RegressionLoss, target: Float64Array): Scalar64 {
  const n = target.length;
  const e = (d: number) =>
    kind === "mse" ? d * d : kind === "mae" ? Math.abs(d) : Math.abs(d) <= HUBER_DELTA ? 0.5 * d * d : HUBER_DELTA * (Math.abs(d) - 0.5 * HUBER_DELTA);
  const de = (d: number) =>
    kind === "mse" ? 2 * d : kind === "mae" ? Math.sign(d) : Math.abs(d) <= HUBER_DELTA ? d : HUBER_DELTA * Math.sign(d);
  return {
    value: (p) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += e(p[i]! - target[i]!);
      return s / n;
    },
    grad: (p) => Float64Array.from(p, (v, i) => de(v - target[i]!) / n),
  };
}

/** Softmax cross-entropy against target rows t (one-hot for class indices). */
function crossEntropy64(t: Float64Array, rows: number, cols: number): Scalar64 {
  return {
    value: (z) => {
      let s = 0;
      for (let r = 0; r < rows; r++) {
        const lse = logSumExp(z, r * cols, cols);
        for (let j = 0; j < cols; j++) s += t[r * cols + j]! * (lse - z[r * cols + j]!);
      }
      return s / rows;
    },
    grad: (z) => {
      const g = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const lse = logSumExp(z, r * cols, cols);
        for (let j = 0; j < cols; j++) g[r * cols + j] = (Math.exp(z[r * cols + j]! - lse) - t[r * cols + j]!) / rows;
      }
      return g;
    },
  };
}

function bce64(t: Float64Array): Scalar64 {
  const n = t.length;
  return {
    value: (z) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.max(z[i]!, 0) - z[i]! * t[i]! + Math.log1p(Math.exp(-Math.abs(z[i]!)));
      return s / n;
    },
    grad: (z) => Float64Array.from(z, (v, i) => (ACT64.sigmoid.f(v) - t[i]!) / n),
  };
}

/** sum_j w_j softmax(x)_j over rows, and its gradient y * (w - rowsum(w * y)). */
function weightedSoftmax64(w: Float64Array, rows: number, cols: number): Scalar64 {
  const softmax = (x: Float64Array) => {
    const y = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const lse = logSumExp(x, r * cols, cols);
      for (let j = 0; j < cols; j++) y[r * cols + j] = Math.exp(x[r * cols + j]! - lse);
    }
    return y;
  };
  return {
    value: (x) => softmax(x).reduce((s, v, i) => s + w[i]! * v, 0),
    grad: (x) => {
      const y = softmax(x);
      const g = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += w[r * cols + j]! * y[r * cols + j]!;
        for (let j = 0; j < cols; j++) g[r * cols + j] = y[r * cols + j]! * (w[r * cols + j]! - dot);
      }
      return g;
    },
  };
}

/** Central differences of f at x, one coordinate at a time. */
function numericGrad64(f: (x: Float64Array) => number, x: Float64Array, h: number): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + h;
    const fp = f(x);
    x[i] = saved - h;
    const fm = f(x);
    x[i] = saved;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/**
 * float64, h = 1e-5: truncation error h^2/6 |f'''| ~ 2e-11 and rounding error ~1e-16 |f| / h ~ 1e-11
 * for the O(1) functions here, so 1e-8 absolute + 1e-8 relative is several hundred times the
 * expected error yet far below any formula mistake (a wrong factor or sign is O(|f'|)).
 */
const H64 = 1e-5;
const TOL64 = 1e-8;

describe("float64 reference math: central differences", () => {
  for (const act of ACTS) {
    it(`${act}`, () => {
      const rng = new Rng(11);
      const { f, df, kinks } = ACT64[act];
      const x = Float64Array.from({ length: 40 }, () => awayFrom(rng, -5, 5, kinks));
      const analytic = Float64Array.from(x, (v) => df(v, f(v)));
      const numeric = Float64Array.from(x, (v) => (f(v + H64) - f(v - H64)) / (2 * H64));
      expectGradClose(analytic, numeric, TOL64, TOL64, act);
    });
  }

  it("softmax (weighted sum of outputs) 4x5", () => {
    const rng = new Rng(12);
    const w = Float64Array.from({ length: 20 }, () => rng.uniformRange(-1, 1));
    const x = Float64Array.from({ length: 20 }, () => rng.uniformRange(-3, 3));
    const s = weightedSoftmax64(w, 4, 5);
    expectGradClose(s.grad(x), numericGrad64(s.value, x, H64), TOL64, TOL64, "softmax");
  });

  for (const kind of ["mse", "mae", "huber"] as RegressionLoss[]) {
    it(`${kind}`, () => {
      const rng = new Rng(13);
      const n = 15;
      const target = Float64Array.from({ length: n }, () => rng.uniformRange(-2, 2));
      // Residuals on both sides of Huber's delta, away from the kinks at 0 and +-delta.
      const pred = Float64Array.from(target, (t) => t + awayFrom(rng, -2, 2, [0, HUBER_DELTA, -HUBER_DELTA]));
      const s = regression64(kind, target);
      expectGradClose(s.grad(pred), numericGrad64(s.value, pred, H64), TOL64, TOL64, kind);
    });
  }

  it("softmax cross-entropy with class indices (one-hot targets) and with soft targets", () => {
    const rng = new Rng(14);
    const rows = 4;
    const cols = 6;
    const z = Float64Array.from({ length: rows * cols }, () => rng.uniformRange(-3, 3));
    const oneHot = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) oneHot[r * cols + rng.int(cols)] = 1;
    const soft = normalizeRows(Float64Array.from({ length: rows * cols }, () => rng.uniform() + 0.1), rows, cols);
    for (const t of [oneHot, soft]) {
      const s = crossEntropy64(t, rows, cols);
      expectGradClose(s.grad(z), numericGrad64(s.value, z, H64), TOL64, TOL64, "cross-entropy");
    }
  });

  it("bce with logits", () => {
    const rng = new Rng(15);
    const z = Float64Array.from({ length: 12 }, () => rng.uniformRange(-6, 6));
    const t = Float64Array.from({ length: 12 }, () => rng.uniform());
    const s = bce64(t);
    expectGradClose(s.grad(z), numericGrad64(s.value, z, H64), TOL64, TOL64, "bce");
  });
});

// ---------------------------------------------------------------------------------------------
// The float32 kernels

/**
 * Activations: (f32(x+h) - f32(x-h)) / (actual step), element-wise, against activationBackward with
 * dy = 1. h = 1e-2 (about the optimum cbrt(U) for float32). Error budget:
 * - the forward outputs are rounded to float32: 2 U |y| / (2h) = 6e-6 |y| <= 3e-5 for |y| <= 5;
 * - truncation h^2/6 |f'''| <= 1.7e-5 * max|f'''| (<= 2 for tanh, <= 1 for gelu, 1/8 sigmoid);
 * - sigmoid/tanh backward use the float32 y: about U.
 * So 1e-4 absolute + 1e-4 relative is about twice the worst case; a wrong derivative formula
 * (e.g. GELU without the (1 - t^2) factor) is off by 1e-1 or more.
 */
const H32 = 1e-2;
const TOL32_ACT = 1e-4;

describe("float32 kernels: activations and softmax", () => {
  for (const act of ACTS) {
    it(`${act}`, () => {
      const rng = new Rng(21);
      const n = 64;
      const x = Float32Array.from({ length: n }, () => awayFrom(rng, -5, 5, ACT64[act].kinks));
      const xp = Float32Array.from(x, (v) => v + H32);
      const xm = Float32Array.from(x, (v) => v - H32);
      const yp = new Float32Array(n);
      const ym = new Float32Array(n);
      const y = new Float32Array(n);
      ts.activationForward(act, yp, xp, n, LEAKY_ALPHA);
      ts.activationForward(act, ym, xm, n, LEAKY_ALPHA);
      ts.activationForward(act, y, x, n, LEAKY_ALPHA);
      const numeric = Float64Array.from(x, (_, i) => (yp[i]! - ym[i]!) / (xp[i]! - xm[i]!));
      const dx = new Float32Array(n);
      ts.activationBackward(act, dx, new Float32Array(n).fill(1), x, y, n, LEAKY_ALPHA);
      expectGradClose(dx, numeric, TOL32_ACT, TOL32_ACT, act);
    });
  }

  it("softmax: L = sum w * softmax(x), perturbing one logit at a time (3x7)", () => {
    // L is summed in double from float32 outputs (error <= U sum|w y| <= U), so the rounding
    // error of the difference quotient is U / h = 6e-6; truncation as above.
    const rng = new Rng(22);
    const rows = 3;
    const cols = 7;
    const x = Float32Array.from({ length: rows * cols }, () => rng.uniformRange(-3, 3));
    const w = Float32Array.from({ length: rows * cols }, () => rng.uniformRange(-1, 1));
    const y = new Float32Array(rows * cols);
    const L = (input: Float32Array) => {
      ts.softmaxForward(y, input, rows, cols);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
      return s;
    };
    const numeric = new Float64Array(rows * cols);
    for (let i = 0; i < x.length; i++) {
      const saved = x[i]!;
      x[i] = saved + H32;
      const up = x[i]!;
      const fp = L(x);
      x[i] = saved - H32;
      const down = x[i]!;
      const fm = L(x);
      x[i] = saved;
      numeric[i] = (fp - fm) / (up - down);
    }
    ts.softmaxForward(y, x, rows, cols);
    const dx = new Float32Array(rows * cols);
    ts.softmaxBackward(dx, w, y, rows, cols);
    expectGradClose(dx, numeric, TOL32_ACT, TOL32_ACT, "softmax");
  });
});

/**
 * Losses: each kernel returns its mean in double precision from the float32 inputs, so the only
 * rounding in the difference quotient is double's (~1e-16 / h). With h = 1e-3 the error is the
 * truncation h^2/6 |f'''| <= 2e-7 * max|f'''|, and |f'''| <= |f''| <= 2/n here (1/(4n) for BCE and
 * cross-entropy); the float32 gradient adds U relative. So atol = 1e-6 / n + rtol 1e-6 is
 * well above the error but catches a gradient off by a factor (n, 2, or a missing 1/rows).
 */
const H_LOSS = 1e-3;

/** Central differences of a float32-input loss, one coordinate at a time, with the actual steps. */
function numericGrad32(loss: (x: Float32Array) => number, x: Float32Array): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + H_LOSS;
    const up = x[i]!;
    const fp = loss(x);
    x[i] = saved - H_LOSS;
    const down = x[i]!;
    const fm = loss(x);
    x[i] = saved;
    g[i] = (fp - fm) / (up - down);
  }
  return g;
}

describe("float32 kernels: losses", () => {
  for (const kind of ["mse", "mae", "huber"] as RegressionLoss[]) {
    it(`${kind}`, () => {
      const rng = new Rng(31);
      const n = 19;
      const target = Float32Array.from({ length: n }, () => rng.uniformRange(-2, 2));
      const pred = Float32Array.from(target, (t) => t + awayFrom(rng, -2, 2, [0, HUBER_DELTA, -HUBER_DELTA]));
      const grad = new Float32Array(n);
      ts.regressionLoss(kind, grad, pred, target, n, HUBER_DELTA);
      const numeric = numericGrad32((p) => ts.regressionLoss(kind, null, p, target, n, HUBER_DELTA), pred);
      expectGradClose(grad, numeric, 1e-6 / n, 1e-6, kind);
    });
  }

  it("softmax cross-entropy with class indices", () => {
    const rng = new Rng(32);
    const rows = 5;
    const cols = 4;
    const logits = Float32Array.from({ length: rows * cols }, () => rng.uniformRange(-4, 4));
    const labels = Int32Array.from({ length: rows }, () => rng.int(cols));
    const grad = new Float32Array(rows * cols);
    ts.softmaxCrossEntropy(grad, logits, labels, rows, cols);
    const numeric = numericGrad32((z) => ts.softmaxCrossEntropy(null, z, labels, rows, cols), logits);
    expectGradClose(grad, numeric, 1e-6 / rows, 1e-6, "cross-entropy (indices)");
  });

  it("softmax cross-entropy with dense soft targets", () => {
    const rng = new Rng(33);
    const rows = 4;
    const cols = 6;
    const logits = Float32Array.from({ length: rows * cols }, () => rng.uniformRange(-4, 4));
    const targets = normalizeRows(Float32Array.from({ length: rows * cols }, () => rng.uniform() + 0.05), rows, cols);
    const grad = new Float32Array(rows * cols);
    ts.softmaxCrossEntropyDense(grad, logits, targets, rows, cols);
    const numeric = numericGrad32((z) => ts.softmaxCrossEntropyDense(null, z, targets, rows, cols), logits);
    // The targets are float32 and sum to 1 only within a few U: the kernel's gradient
    // (p - t) / rows assumes sum t = 1, the loss' derivative is (p sum t - t) / rows, so they differ
    // by p |1 - sum t| / rows <= 4 U / rows, far inside the tolerance.
    expectGradClose(grad, numeric, 1e-6 / rows, 1e-6, "cross-entropy (dense)");
  });

  it("bce with logits, including |z| = 30 where the naive form loses all precision", () => {
    const rng = new Rng(34);
    const n = 16;
    const logits = Float32Array.from({ length: n }, () => rng.uniformRange(-8, 8));
    logits[0] = 30;
    logits[1] = -30;
    const targets = Float32Array.from({ length: n }, () => rng.uniform());
    const grad = new Float32Array(n);
    ts.bceWithLogits(grad, logits, targets, n);
    const numeric = numericGrad32((z) => ts.bceWithLogits(null, z, targets, n), logits);
    expectGradClose(grad, numeric, 1e-6 / n, 1e-6, "bce");
  });
});

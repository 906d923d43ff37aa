/**
 * The TypeScript kernels against naive, obviously-correct float64 implementations written here.
 *
 * Each reference is the formula from lib/backend/backend.ts in plain loops over doubles. Inputs are
 * float32 values (so both sides see the same numbers); the kernels round their results to float32,
 * so each comparison allows the float32 rounding the kernel is entitled to, stated where it is used.
 */
import { describe, expect, it } from "vitest";
import type { ElementwiseActivation, RegressionLoss } from "../lib/backend/backend.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { Rng } from "../lib/core/rng.js";
import type { OptimizerName } from "../lib/optim/index.js";
import { normalizeRows, randomF32, refGemm } from "./helpers.js";

const ts = createTsBackend();
/** float32 unit roundoff. */
const U = 2 ** -24;

/** Asserts |got[i] - want[i]| <= atol + rtol |want[i]| for every i, reporting the first failure. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) {
      throw new Error(`${what}: index ${i}: got ${g}, want ${w} (|diff| ${Math.abs(g - w)} > ${atol} + ${rtol} * |want|)`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM

/**
 * Float32 GEMM error bound: the kernel sums products in double and rounds C to float32 at most
 * once per 8 values of k, once per leftover k, and once for beta: fewer than k + 2 roundings, each
 * at most U times a partial sum bounded by S (refGemm's scale). So |C - C_ref| <= (k + 2) U S; we allow 2(k + 2) U S.
 * A wrong index or transpose gives errors of order S itself, far outside this bound.
 */
function expectGemmClose(got: Float32Array, want: { c: Float64Array; scale: Float64Array }, k: number, what: string): void {
  for (let i = 0; i < want.c.length; i++) {
    const tol = 2 * (k + 2) * U * want.scale[i]! + 1e-30;
    const diff = Math.abs(got[i]! - want.c[i]!);
    if (!(diff <= tol)) throw new Error(`${what}: C[${i}] = ${got[i]}, want ${want.c[i]} (|diff| ${diff} > ${tol})`);
  }
}

const GEMM_SHAPES: { name: string; m: number; n: number; k: number }[] = [
  { name: "1x1x1", m: 1, n: 1, k: 1 },
  { name: "odd 7x13x5", m: 7, n: 13, k: 5 },
  { name: "row vector 1x9x6", m: 1, n: 9, k: 6 },
  { name: "column vector 9x1x6", m: 9, n: 1, k: 6 },
  { name: "outer product 5x3x1", m: 5, n: 3, k: 1 },
  { name: "dot product 1x1x37", m: 1, n: 1, k: 37 },
  { name: "4-row and 8-k blocks with tails 11x6x19", m: 11, n: 6, k: 19 },
  { name: "crosses a k block 5x7x300", m: 5, n: 7, k: 300 },
  { name: "crosses a column block 6x600x9", m: 6, n: 600, k: 9 },
  { name: "blocked path with row and k tails 37x45x29", m: 37, n: 45, k: 29 },
];
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const SCALARS: { alpha: number; beta: number }[] = [
  { alpha: 1, beta: 0 },
  { alpha: -0.5, beta: 1 },
  { alpha: 2, beta: 0.25 },
];

describe("gemm", () => {
  const rng = new Rng(1);
  for (const { name, m, n, k } of GEMM_SHAPES) {
    for (const [transA, transB] of TRANSPOSES) {
      for (const { alpha, beta } of SCALARS) {
        it(`${name} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta}`, () => {
          const a = randomF32(rng, m * k);
          const b = randomF32(rng, k * n);
          const c = randomF32(rng, m * n);
          const want = refGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
          ts.gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
          expectGemmClose(c, want, k, name);
        });
      }
    }
  }

  it("beta = 0 overwrites C: NaN and Infinity in C do not propagate", () => {
    const rng = new Rng(2);
    for (const [transA, transB] of TRANSPOSES) {
      const a = randomF32(rng, 3 * 4);
      const b = randomF32(rng, 4 * 5);
      const c = new Float32Array(15).fill(NaN);
      c[3] = Infinity;
      const want = refGemm(transA, transB, 3, 5, 4, 1, a, b, 0, c);
      ts.gemm(transA, transB, 3, 5, 4, 1, a, b, 0, c);
      expectGemmClose(c, want, 4, `transA=${transA} transB=${transB}`);
    }
  });

  it("k = 0 leaves beta * C (and zeros for beta = 0)", () => {
    const c = Float32Array.from([1, -2, 3, NaN, 5, 6]);
    ts.gemm(false, false, 2, 3, 0, 1, new Float32Array(0), new Float32Array(0), 0.5, c);
    expect(Array.from(c)).toEqual([0.5, -1, 1.5, NaN, 2.5, 3]);
    ts.gemm(true, true, 2, 3, 0, 1, new Float32Array(0), new Float32Array(0), 0, c);
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("alpha = 0 leaves beta * C without reading A or B (the BLAS convention)", () => {
    for (const [m, n, k] of [[2, 3, 4], [40, 40, 40]]) {
      const a = new Float32Array(m * k).fill(NaN);
      const b = new Float32Array(k * n).fill(Infinity);
      const c = new Float32Array(m * n).fill(3);
      ts.gemm(false, true, m, n, k, 0, a, b, 0.5, c);
      expect(c.every((v) => v === 1.5)).toBe(true);
    }
  });

  it("m = 0 or n = 0 touches nothing", () => {
    const c = Float32Array.from([7, 8]);
    ts.gemm(false, false, 0, 2, 3, 1, new Float32Array(0), new Float32Array(6), 0, c);
    ts.gemm(false, true, 2, 0, 3, 1, new Float32Array(6), new Float32Array(0), 0, c);
    expect(Array.from(c)).toEqual([7, 8]);
  });

  it("reads only the first m*k, k*n, m*n values of longer buffers (subarray views)", () => {
    const rng = new Rng(3);
    const aBig = randomF32(rng, 40);
    const bBig = randomF32(rng, 40);
    const a = aBig.subarray(5, 5 + 2 * 3);
    const b = bBig.subarray(1, 1 + 3 * 4);
    const cBig = new Float32Array(20).fill(9);
    const c = cBig.subarray(2, 2 + 2 * 4);
    const want = refGemm(false, true, 2, 4, 3, 1, a, b, 0, c);
    ts.gemm(false, true, 2, 4, 3, 1, a, b, 0, c);
    expectGemmClose(c, want, 3, "view");
    expect(cBig[0]).toBe(9);
    expect(cBig[1]).toBe(9);
    expect(cBig[10]).toBe(9);
  });

  it("a packed transpose of a large B does not leak into a later smaller call", () => {
    const rng = new Rng(4);
    const big = { m: 3, n: 70, k: 50 };
    const aBig = randomF32(rng, big.m * big.k);
    const bBig = randomF32(rng, big.n * big.k);
    const cBig = new Float32Array(big.m * big.n);
    ts.gemm(false, true, big.m, big.n, big.k, 1, aBig, bBig, 0, cBig);
    const a = randomF32(rng, 2 * 3);
    const b = randomF32(rng, 5 * 3);
    const c = new Float32Array(10);
    const want = refGemm(false, true, 2, 5, 3, 1, a, b, 0, c);
    ts.gemm(false, true, 2, 5, 3, 1, a, b, 0, c);
    expectGemmClose(c, want, 3, "after a large packed call");
  });

  it("with B stored transposed, up to 4 rows (not packed) give the same bits as the same rows of a taller A (blocked)", () => {
    // The few-rows path adds the products in the blocked kernel's order, so predict on one row and a
    // batch containing that row agree exactly. k values cover groups of 8 with and without a
    // remainder, and more than one block of k (KC = 128).
    const rng = new Rng(5);
    for (const [n, k] of [[5, 3], [13, 8], [9, 17], [70, 129], [33, 300]] as const) {
      for (const transA of [false, true]) {
        for (const { alpha, beta } of SCALARS) {
          const tall = 8;
          const aTall = randomF32(rng, tall * k);
          const b = randomF32(rng, n * k);
          const cTall = randomF32(rng, tall * n);
          const c0 = cTall.slice();
          ts.gemm(transA, true, tall, n, k, alpha, aTall, b, beta, cTall);
          for (const m of [1, 2, 3, 4]) {
            // The first m rows of A, stored (m,k) or, transposed, (k,m).
            const a = new Float32Array(m * k);
            for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) a[transA ? p * m + i : i * k + p] = aTall[transA ? p * tall + i : i * k + p]!;
            const c = c0.slice(0, m * n);
            ts.gemm(transA, true, m, n, k, alpha, a, b, beta, c);
            expect(Array.from(c), `m=${m} n=${n} k=${k} transA=${transA} alpha=${alpha} beta=${beta}`).toEqual(Array.from(cTall.subarray(0, m * n)));
          }
        }
      }
    }
  });

  it("rejects buffers shorter than their shape and invalid sizes, naming the argument", () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => ts.gemm(false, false, 2, 3, 4, 1, f(7), f(12), 0, f(6))).toThrow(/a \(m,k\).*at least 8.*received 7/);
    expect(() => ts.gemm(true, false, 2, 3, 4, 1, f(7), f(12), 0, f(6))).toThrow(/a \(k,m\)/);
    expect(() => ts.gemm(false, true, 2, 3, 4, 1, f(8), f(11), 0, f(6))).toThrow(/b \(n,k\).*at least 12/);
    expect(() => ts.gemm(false, false, 2, 3, 4, 1, f(8), f(12), 0, f(5))).toThrow(/c \(m,n\).*at least 6/);
    expect(() => ts.gemm(false, false, -1, 3, 4, 1, f(8), f(12), 0, f(6))).toThrow(/Invalid m: -1/);
    expect(() => ts.gemm(false, false, 2, 2.5, 4, 1, f(8), f(12), 0, f(6))).toThrow(/Invalid n: 2.5/);
    expect(() => ts.gemm(false, false, 2, 3, 4, 1, f(7), f(12), 0, f(6))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Bias

describe("biasAdd / biasGrad", () => {
  const shapes = [
    { rows: 0, cols: 3 },
    { rows: 1, cols: 1 },
    { rows: 1, cols: 9 },
    { rows: 9, cols: 1 },
    { rows: 7, cols: 13 },
  ];
  for (const { rows, cols } of shapes) {
    it(`${rows}x${cols}`, () => {
      const rng = new Rng(10 + rows * 31 + cols);
      const y = randomF32(rng, rows * cols);
      const bias = randomF32(rng, cols);
      const want = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) want[r * cols + j] = y[r * cols + j]! + bias[j]!;
      ts.biasAdd(y, bias, rows, cols);
      // One float32 rounding of a sum of two values.
      expectClose(y, want, U, 0, "biasAdd");

      const dy = randomF32(rng, rows * cols);
      const sums = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) sums[j] += dy[r * cols + j]!;
      const db = new Float32Array(cols).fill(NaN);
      ts.biasGrad(db, dy, rows, cols, 0);
      // Summed in double, rounded once: relative U of the sum, plus U of the absolute sum
      // for cancellation.
      expectClose(db, sums, U, rows * 1e-7, "biasGrad beta=0 overwrites NaN");
      const prior = randomF32(rng, cols);
      const acc = prior.slice();
      ts.biasGrad(acc, dy, rows, cols, 1);
      const wantAcc = Array.from(sums, (s, j) => s + prior[j]!);
      expectClose(acc, wantAcc, U, (rows + 1) * 1e-7, "biasGrad beta=1 accumulates");
    });
  }

  it("rejects a short bias and a short dy, naming them", () => {
    expect(() => ts.biasAdd(new Float32Array(6), new Float32Array(2), 2, 3)).toThrow(/bias \(cols\).*at least 3.*received 2/);
    expect(() => ts.biasGrad(new Float32Array(3), new Float32Array(5), 2, 3, 0)).toThrow(/dy \(rows,cols\).*at least 6/);
    // Every argument of both kernels, in the order they are named (one condition tests them all; the message names the first out of range).
    expect(() => ts.biasAdd(new Float32Array(5), new Float32Array(3), 2, 3)).toThrow(/y \(rows,cols\).*at least 6.*received 5/);
    expect(() => ts.biasAdd(new Float32Array(6), new Float32Array(3), 2.5, 3)).toThrow(/Invalid rows: 2.5/);
    expect(() => ts.biasAdd(new Float32Array(6), new Float32Array(3), 2, NaN)).toThrow(/Invalid cols: NaN/);
    expect(() => ts.biasGrad(new Float32Array(2), new Float32Array(6), 2, 3, 0)).toThrow(/db \(cols\).*at least 3.*received 2/);
    expect(() => ts.biasGrad(new Float32Array(2), new Float32Array(5), 2, 3, 0)).toThrow(/db \(cols\)/);
    expect(() => ts.biasGrad(new Float32Array(3), new Float32Array(6), -1, 3, 0)).toThrow(/Invalid rows: -1/);
  });
});

// ---------------------------------------------------------------------------------------------
// Activations

const GELU_C = Math.sqrt(2 / Math.PI);
const LEAKY_ALPHA = 0.07;

/** f(x) and f'(x) in float64, straight from the definitions. */
const REF_ACT: Record<ElementwiseActivation, { f: (x: number) => number; df: (x: number) => number }> = {
  linear: { f: (x) => x, df: () => 1 },
  sigmoid: {
    f: (x) => 1 / (1 + Math.exp(-x)),
    df: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s);
    },
  },
  relu: { f: (x) => Math.max(x, 0), df: (x) => (x > 0 ? 1 : 0) },
  tanh: { f: (x) => Math.tanh(x), df: (x) => 1 - Math.tanh(x) ** 2 },
  leakyRelu: { f: (x) => (x >= 0 ? x : LEAKY_ALPHA * x), df: (x) => (x > 0 ? 1 : LEAKY_ALPHA) },
  gelu: {
    f: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3))),
    df: (x) => {
      const t = Math.tanh(GELU_C * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
    },
  },
  silu: {
    f: (x) => x / (1 + Math.exp(-x)),
    df: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    },
  },
  softplus: { f: (x) => (x > 20 ? x : Math.log1p(Math.exp(x))), df: (x) => (x > 20 ? 1 : 1 / (1 + Math.exp(-x))) },
};
const ACTS = Object.keys(REF_ACT) as ElementwiseActivation[];

describe("activations", () => {
  for (const act of ACTS) {
    for (const n of [0, 1, 13, 64]) {
      it(`${act} forward and backward, n=${n}`, () => {
        const rng = new Rng(100 + n);
        const x = randomF32(rng, n, -6, 6);
        if (n >= 13) {
          // Large magnitudes: sigmoid must not overflow e^-x; relu's kink at exactly 0.
          x[0] = -100;
          x[1] = 100;
          x[2] = 0;
          x[3] = -0.5;
        }
        const y = new Float32Array(n);
        ts.activationForward(act, y, x, n, LEAKY_ALPHA);
        const wantY = Array.from(x, REF_ACT[act].f);
        // The kernel evaluates the same formula in double and rounds once; Math.exp/tanh are
        // accurate to about 1 ulp of double, so the float32 result is within U relative (plus a
        // tiny absolute floor for results that underflow float32, e.g. sigmoid(-100) = 3.7e-44).
        expectClose(y, wantY, 2 * U, 1e-38, `${act} forward`);
        expect(y.every((v) => Number.isFinite(v))).toBe(true);

        const dy = randomF32(rng, n);
        const dx = new Float32Array(n);
        ts.activationBackward(act, dx, dy, x, y, n, LEAKY_ALPHA);
        // sigmoid and tanh use the float32 output y: f'(x) from a y rounded by U has error of
        // order U |f'| + U (from 1 - y^2 with |y| <= 1), hence an absolute term of a few U.
        const wantDx = Array.from(x, (v, i) => dy[i]! * REF_ACT[act].df(v));
        expectClose(dx, wantDx, 4 * U, 4 * U, `${act} backward`);
      });
    }

    it(`${act} works in place (y = x, dx = dy)`, () => {
      const rng = new Rng(7);
      const x = randomF32(rng, 9, -3, 3);
      const inPlace = x.slice();
      const y = new Float32Array(9);
      ts.activationForward(act, y, x, 9, LEAKY_ALPHA);
      ts.activationForward(act, inPlace, inPlace, 9, LEAKY_ALPHA);
      expect(Array.from(inPlace)).toEqual(Array.from(y));
      const dy = randomF32(rng, 9);
      const dx = new Float32Array(9);
      ts.activationBackward(act, dx, dy, x, y, 9, LEAKY_ALPHA);
      const dyInPlace = dy.slice();
      ts.activationBackward(act, dyInPlace, dyInPlace, x, y, 9, LEAKY_ALPHA);
      expect(Array.from(dyInPlace)).toEqual(Array.from(dx));
    });
  }

  it("relu's derivative at 0 is 0 and leakyRelu's is alpha (PyTorch's choice)", () => {
    const x = Float32Array.from([0]);
    const dx = new Float32Array(1);
    ts.activationBackward("relu", dx, Float32Array.from([3]), x, x, 1, 0);
    expect(dx[0]).toBe(0);
    ts.activationBackward("leakyRelu", dx, Float32Array.from([2]), x, x, 1, 0.25);
    expect(dx[0]).toBe(0.5);
  });

  it("rejects an unknown activation and short buffers", () => {
    const f = new Float32Array(4);
    expect(() => ts.activationForward("swish" as ElementwiseActivation, f, f, 4, 0)).toThrow(/Unknown activation "swish"/);
    // Names an object inherits are not activations (the kernels look names up on every call).
    for (const name of ["toString", "__proto__", "constructor", "hasOwnProperty"]) {
      expect(() => ts.activationForward(name as ElementwiseActivation, f, f, 4, 0)).toThrow(`Unknown activation "${name}"`);
      expect(() => ts.activationBackward(name as ElementwiseActivation, f, f, f, f, 4, 0)).toThrow(`Unknown activation "${name}"`);
    }
    expect(() => ts.activationForward("relu", f, new Float32Array(3), 4, 0)).toThrow(/x \(n\).*at least 4.*received 3/);
    expect(() => ts.activationBackward("sigmoid", f, f, f, new Float32Array(2), 4, 0)).toThrow(/y \(n\)/);
    expect(() => ts.activationForward("relu", new Float32Array(3), f, 4, 0)).toThrow(/y \(n\).*at least 4.*received 3/);
    expect(() => ts.activationForward("relu", f, f, -4, 0)).toThrow(/Invalid n: -4/);
    expect(() => ts.activationBackward("relu", new Float32Array(3), f, f, f, 4, 0)).toThrow(/dx \(n\).*at least 4.*received 3/);
    expect(() => ts.activationBackward("relu", f, new Float32Array(3), f, f, 4, 0)).toThrow(/dy \(n\)/);
    expect(() => ts.activationBackward("relu", f, f, new Float32Array(3), new Float32Array(0), 4, 0)).toThrow(/x \(n\)/);
    expect(() => ts.activationBackward("relu", f, f, f, f, 1.5, 0)).toThrow(/Invalid n: 1.5/);
    // linear reads neither x nor y.
    expect(() => ts.activationBackward("linear", f, f, new Float32Array(0), new Float32Array(0), 4, 0)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Softmax

function refSoftmaxRow(z: ArrayLike<number>, o: number, cols: number): number[] {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, z[o + j]!);
  const e: number[] = [];
  let s = 0;
  for (let j = 0; j < cols; j++) {
    e.push(Math.exp(z[o + j]! - max));
    s += e[j]!;
  }
  return e.map((v) => v / s);
}

function refLogSumExp(z: ArrayLike<number>, o: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, z[o + j]!);
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(z[o + j]! - max);
  return max + Math.log(s);
}

const ROW_SHAPES = [
  { rows: 0, cols: 4 },
  { rows: 1, cols: 1 },
  { rows: 1, cols: 10 },
  { rows: 10, cols: 1 },
  { rows: 7, cols: 13 },
];

describe("softmax", () => {
  for (const { rows, cols } of ROW_SHAPES) {
    it(`forward and backward ${rows}x${cols}`, () => {
      const rng = new Rng(200 + rows * 17 + cols);
      const x = randomF32(rng, rows * cols, -5, 5);
      // A row shifted by 1000: e^1000 overflows unless the max is subtracted.
      if (rows > 1) for (let j = 0; j < cols; j++) x[cols + j] = x[cols + j]! + 1000;
      const y = new Float32Array(rows * cols);
      ts.softmaxForward(y, x, rows, cols);
      const want: number[] = [];
      for (let r = 0; r < rows; r++) want.push(...refSoftmaxRow(x, r * cols, cols));
      // Values in (0, 1], rounded once; the x + 1000 row loses precision in its float32 input,
      // not in the kernel (both sides see the same input).
      expectClose(y, want, 4 * U, 1e-12, "softmax forward");

      const dy = randomF32(rng, rows * cols);
      const dx = new Float32Array(rows * cols);
      ts.softmaxBackward(dx, dy, y, rows, cols);
      const wantDx: number[] = [];
      for (let r = 0; r < rows; r++) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += dy[r * cols + j]! * y[r * cols + j]!;
        for (let j = 0; j < cols; j++) wantDx.push(y[r * cols + j]! * (dy[r * cols + j]! - dot));
      }
      // Given the same y, the kernel evaluates exactly this in double, then rounds: one U, plus
      // an absolute U for rows where dy - dot cancels.
      expectClose(dx, wantDx, 2 * U, U, "softmax backward");
    });
  }

  it("works in place", () => {
    const rng = new Rng(5);
    const x = randomF32(rng, 12, -3, 3);
    const y = new Float32Array(12);
    ts.softmaxForward(y, x, 3, 4);
    ts.softmaxForward(x, x, 3, 4);
    expect(Array.from(x)).toEqual(Array.from(y));
    const dy = randomF32(rng, 12);
    const dx = new Float32Array(12);
    ts.softmaxBackward(dx, dy, y, 3, 4);
    ts.softmaxBackward(dy, dy, y, 3, 4);
    expect(Array.from(dy)).toEqual(Array.from(dx));
  });
});

// ---------------------------------------------------------------------------------------------
// Losses

function refRegression(kind: RegressionLoss, pred: Float32Array, target: Float32Array, delta: number) {
  const n = pred.length;
  let total = 0;
  const grad: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - target[i]!;
    if (kind === "mse") {
      total += d * d;
      grad.push((2 * d) / n);
    } else if (kind === "mae") {
      total += Math.abs(d);
      grad.push(Math.sign(d) / n);
    } else if (Math.abs(d) <= delta) {
      total += 0.5 * d * d;
      grad.push(d / n);
    } else {
      total += delta * (Math.abs(d) - 0.5 * delta);
      grad.push((delta * Math.sign(d)) / n);
    }
  }
  return { loss: total / n, grad };
}

describe("losses", () => {
  for (const kind of ["mse", "mae", "huber"] as RegressionLoss[]) {
    for (const n of [1, 2, 17]) {
      it(`${kind} n=${n}`, () => {
        const rng = new Rng(300 + n);
        const pred = randomF32(rng, n, -2, 2);
        const target = randomF32(rng, n, -2, 2);
        if (n === 17) target[5] = pred[5]!; // d = 0: MAE's gradient is 0 there
        const delta = 0.8;
        const want = refRegression(kind, pred, target, delta);
        const grad = new Float32Array(n).fill(NaN);
        const loss = ts.regressionLoss(kind, grad, pred, target, n, delta);
        // The loss is accumulated in double from float32 inputs: the same sums as the reference.
        expect(loss).toBeCloseTo(want.loss, 12);
        expectClose(grad, want.grad, U, 0, `${kind} grad`);
        expect(ts.regressionLoss(kind, null, pred, target, n, delta)).toBe(loss);
      });
    }
  }

  it("an empty batch has no mean: NaN, and writes nothing", () => {
    const grad = Float32Array.from([5]);
    expect(ts.regressionLoss("mse", grad, new Float32Array(0), new Float32Array(0), 0, 1)).toBeNaN();
    const four = new Float32Array(4);
    expect(() => ts.regressionLoss("mse", four, new Float32Array(3), four, 4, 1)).toThrow(/pred \(n\).*at least 4.*received 3/);
    expect(() => ts.regressionLoss("mae", four, four, new Float32Array(3), 4, 1)).toThrow(/target \(n\).*at least 4.*received 3/);
    expect(() => ts.regressionLoss("huber", new Float32Array(3), four, four, 4, 1)).toThrow(/grad \(n\).*at least 4.*received 3/);
    expect(() => ts.regressionLoss("mse", null, four, four, -1, 1)).toThrow(/Invalid n: -1/);
    expect(ts.softmaxCrossEntropy(grad, new Float32Array(0), new Int32Array(0), 0, 3)).toBeNaN();
    expect(ts.softmaxCrossEntropyDense(grad, new Float32Array(0), new Float32Array(0), 0, 3)).toBeNaN();
    expect(ts.bceWithLogits(grad, new Float32Array(0), new Float32Array(0), 0)).toBeNaN();
    expect(grad[0]).toBe(5);
  });

  for (const { rows, cols } of ROW_SHAPES.filter((s) => s.rows > 0)) {
    it(`softmax cross-entropy with indices and with dense targets ${rows}x${cols}`, () => {
      const rng = new Rng(400 + rows * 13 + cols);
      const logits = randomF32(rng, rows * cols, -4, 4);
      if (rows > 1) for (let j = 0; j < cols; j++) logits[cols + j] = logits[cols + j]! * 200; // logits up to 800
      const labels = new Int32Array(rows);
      for (let r = 0; r < rows; r++) labels[r] = rng.int(cols);
      const oneHot = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) oneHot[r * cols + labels[r]!] = 1;

      let wantLoss = 0;
      const wantGrad: number[] = [];
      for (let r = 0; r < rows; r++) {
        wantLoss += refLogSumExp(logits, r * cols, cols) - logits[r * cols + labels[r]!]!;
        const p = refSoftmaxRow(logits, r * cols, cols);
        for (let j = 0; j < cols; j++) wantGrad.push((p[j]! - (j === labels[r] ? 1 : 0)) / rows);
      }
      wantLoss /= rows;

      const grad = new Float32Array(rows * cols);
      const loss = ts.softmaxCrossEntropy(grad, logits, labels, rows, cols);
      expect(loss).toBeCloseTo(wantLoss, 10);
      // Probabilities in double, rounded once: U relative, plus U / rows absolute where
      // p - 1 cancels.
      expectClose(grad, wantGrad, 2 * U, (2 * U) / rows, "CE grad");
      expect(ts.softmaxCrossEntropy(null, logits, labels, rows, cols)).toBe(loss);

      const gradDense = new Float32Array(rows * cols);
      const lossDense = ts.softmaxCrossEntropyDense(gradDense, logits, oneHot, rows, cols);
      expect(lossDense).toBeCloseTo(wantLoss, 10);
      expectClose(gradDense, wantGrad, 2 * U, (2 * U) / rows, "dense CE grad");
    });
  }

  it("dense cross-entropy with soft targets", () => {
    const rng = new Rng(41);
    const rows = 5;
    const cols = 6;
    const logits = randomF32(rng, rows * cols, -3, 3);
    const targets = normalizeRows(Float32Array.from({ length: rows * cols }, () => rng.uniform() + 0.01), rows, cols);
    let wantLoss = 0;
    const wantGrad: number[] = [];
    for (let r = 0; r < rows; r++) {
      const lse = refLogSumExp(logits, r * cols, cols);
      const p = refSoftmaxRow(logits, r * cols, cols);
      for (let j = 0; j < cols; j++) {
        const t = targets[r * cols + j]!;
        wantLoss -= t * (logits[r * cols + j]! - lse);
        wantGrad.push((p[j]! - t) / rows);
      }
    }
    const grad = new Float32Array(rows * cols);
    expect(ts.softmaxCrossEntropyDense(grad, logits, targets, rows, cols)).toBeCloseTo(wantLoss / rows, 10);
    expectClose(grad, wantGrad, 2 * U, (2 * U) / rows, "soft-target grad");
  });

  it("a row certain of its label has loss 0 and gradient exactly 0 (p - 1 rounded once)", () => {
    const logits = Float32Array.from([0.3, -7, 2.5]);
    const grad = new Float32Array(3).fill(NaN);
    expect(ts.softmaxCrossEntropy(grad, logits, new Int32Array(3), 3, 1)).toBe(0);
    expect(Array.from(grad)).toEqual([0, 0, 0]);
  });

  it("loss gradients may be written over the logits (grad = logits)", () => {
    const rng = new Rng(42);
    const rows = 4;
    const cols = 5;
    const logits = randomF32(rng, rows * cols, -3, 3);
    const labels = Int32Array.from([0, 4, 2, 2]);
    const targets = randomF32(rng, rows * cols, 0, 1);
    const cases: [string, (grad: Float32Array, z: Float32Array) => number][] = [
      ["softmaxCrossEntropy", (g, z) => ts.softmaxCrossEntropy(g, z, labels, rows, cols)],
      ["softmaxCrossEntropyDense", (g, z) => ts.softmaxCrossEntropyDense(g, z, targets, rows, cols)],
      ["bceWithLogits", (g, z) => ts.bceWithLogits(g, z, targets, rows * cols)],
    ];
    for (const [name, loss] of cases) {
      const separate = new Float32Array(rows * cols);
      const want = loss(separate, logits.slice());
      const aliased = logits.slice();
      expect(loss(aliased, aliased), name).toBe(want);
      expect(Array.from(aliased), name).toEqual(Array.from(separate));
    }
  });

  it("softmax cross-entropy rejects a label out of range, naming the row", () => {
    const logits = new Float32Array(3 * 4);
    const grad = new Float32Array(12);
    expect(() => ts.softmaxCrossEntropy(grad, logits, Int32Array.from([0, 3, 4]), 3, 4)).toThrow(RangeError);
    expect(() => ts.softmaxCrossEntropy(grad, logits, Int32Array.from([0, 3, 4]), 3, 4)).toThrow(/Label 4 at row 2.*\[0, 4\)/);
    expect(() => ts.softmaxCrossEntropy(null, logits, Int32Array.from([-1, 0, 0]), 3, 4)).toThrow(/Label -1 at row 0/);
    expect(() => ts.softmaxCrossEntropy(null, logits, Int32Array.from([0, 0]), 3, 4)).toThrow(/labels \(rows\).*at least 3/);
  });

  it("bce with logits: stable at |z| = 80, matches the naive form where that is accurate", () => {
    const rng = new Rng(500);
    const n = 21;
    const z = randomF32(rng, n, -6, 6);
    const t = randomF32(rng, n, 0, 1);
    z[0] = 80;
    t[0] = 0; // naive: -log(1 - sigmoid(80)) = -log(0) = Infinity
    z[1] = -80;
    t[1] = 1;
    t[2] = 1;
    t[3] = 0;
    let want = 0;
    const wantGrad: number[] = [];
    for (let i = 0; i < n; i++) {
      const zi = z[i]!;
      const ti = t[i]!;
      // log sigmoid(z) = -log(1 + e^-z), log(1 - sigmoid(z)) = -log(1 + e^z), each evaluated on
      // the side where it is accurate in double.
      const logSig = zi >= 0 ? -Math.log1p(Math.exp(-zi)) : zi - Math.log1p(Math.exp(zi));
      const logOneMinus = zi >= 0 ? -zi - Math.log1p(Math.exp(-zi)) : -Math.log1p(Math.exp(zi));
      want -= ti * logSig + (1 - ti) * logOneMinus;
      wantGrad.push((1 / (1 + Math.exp(-zi)) - ti) / n);
    }
    const grad = new Float32Array(n);
    const loss = ts.bceWithLogits(grad, z, t, n);
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeCloseTo(want / n, 10);
    expectClose(grad, wantGrad, 2 * U, (2 * U) / n, "bce grad");
    expect(ts.bceWithLogits(null, z, t, n)).toBe(loss);
  });
});

// ---------------------------------------------------------------------------------------------
// Optimizers: a few steps against a float64 transcription of torch/optim (single-tensor path).

function runSteps(
  steps: number,
  n: number,
  seed: number,
  kernelStep: (p: Float32Array, g: Float32Array, state: Float32Array[], t: number) => void,
  refStep: (p: number[], g: number[], state: number[][], t: number) => void,
  slots: number,
): void {
  const rng = new Rng(seed);
  const p = randomF32(rng, n);
  const state = Array.from({ length: slots }, () => new Float32Array(n));
  const ref = { p: Array.from(p), state: Array.from({ length: slots }, () => new Array<number>(n).fill(0)) };
  for (let t = 1; t <= steps; t++) {
    const g = randomF32(rng, n);
    kernelStep(p, g, state, t);
    refStep(ref.p, Array.from(g), ref.state, t);
    // Keep the reference on the kernel's float32 trajectory so errors do not compound:
    // compare after each step, then continue both from the float32 values.
    for (let i = 0; i < n; i++) {
      const tol = 8 * U * (Math.abs(ref.p[i]!) + 1e-3);
      if (!(Math.abs(p[i]! - ref.p[i]!) <= tol)) {
        throw new Error(`step ${t}, param ${i}: got ${p[i]}, want ${ref.p[i]}`);
      }
      ref.p[i] = p[i]!;
      // The state the kernel stored, too: the reference continues from it, so a kernel that
      // updated its state but did not store it would otherwise go unnoticed. Each slot is
      // computed in double from the same float32 inputs and rounded once.
      for (let s = 0; s < slots; s++) {
        const want = ref.state[s]![i]!;
        if (!(Math.abs(state[s]![i]! - want) <= 8 * U * Math.abs(want))) {
          throw new Error(`step ${t}, state ${s}[${i}]: got ${state[s]![i]}, want ${want}`);
        }
        ref.state[s]![i] = state[s]![i]!;
      }
    }
  }
}

/** optimizerStep over state kept as one array per slot (as runSteps keeps it). */
function stepSlots(kind: OptimizerName, p: Float32Array, g: Float32Array, slots: Float32Array[], n: number, lr: number, t: number, hyper: number[]): void {
  const state = new Float32Array(slots.length * n);
  slots.forEach((s, i) => state.set(s.subarray(0, n), i * n));
  ts.optimizerStep(kind, p, g, state, n, lr, t, Float64Array.from(hyper));
  slots.forEach((s, i) => s.set(state.subarray(i * n, (i + 1) * n)));
}

describe("optimizers", () => {
  const n = 11;
  const sgdCases = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0.001 },
    { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.01 },
  ];
  for (const o of sgdCases) {
    it(`sgd ${JSON.stringify(o)}`, () => {
      runSteps(
        4,
        n,
        600,
        (p, g, state, t) => stepSlots("sgd", p, g, state, n, o.lr, t, [o.momentum, o.dampening, o.nesterov ? 1 : 0, o.weightDecay]),
        (p, g, [v], t) => {
          for (let i = 0; i < n; i++) {
            let d = g[i]! + o.weightDecay * p[i]!; // grad = grad.add(param, alpha=weight_decay)
            if (o.momentum !== 0) {
              // buf = clone(grad) on the first step, else buf.mul_(momentum).add_(grad, alpha=1-dampening)
              v![i] = t === 1 ? d : o.momentum * v![i]! + (1 - o.dampening) * d;
              d = o.nesterov ? d + o.momentum * v![i]! : v![i]!;
            }
            p[i] = p[i]! - o.lr * d;
          }
        },
        o.momentum !== 0 ? 1 : 0,
      );
    });
  }

  const adamCases = [
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
    { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false },
    { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true },
  ];
  for (const o of adamCases) {
    it(`${o.decoupled ? "adamw" : "adam"} ${JSON.stringify(o)}`, () => {
      runSteps(
        5,
        n,
        700,
        (p, g, state, t) => stepSlots(o.decoupled ? "adamw" : "adam", p, g, state, n, o.lr, t, [o.beta1, o.beta2, o.eps, o.weightDecay]),
        (p, g, [m, v], t) => {
          for (let i = 0; i < n; i++) {
            let d = g[i]!;
            if (o.decoupled) p[i] = p[i]! * (1 - o.lr * o.weightDecay); // param.mul_(1 - lr * weight_decay)
            else d += o.weightDecay * p[i]!;
            m![i] = m![i]! + (1 - o.beta1) * (d - m![i]!); // exp_avg.lerp_(grad, 1 - beta1)
            v![i] = o.beta2 * v![i]! + (1 - o.beta2) * d * d; // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
            const stepSize = o.lr / (1 - o.beta1 ** t);
            const denom = Math.sqrt(v![i]!) / Math.sqrt(1 - o.beta2 ** t) + o.eps;
            p[i] = p[i]! - (stepSize * m![i]!) / denom; // param.addcdiv_(exp_avg, denom, value=-step_size)
          }
        },
        2,
      );
    });
  }

  it("adam's first step moves every parameter by lr against the sign of its gradient", () => {
    const p = Float32Array.from([1, 1, 1, 1]);
    const g = Float32Array.from([0.3, -2, 1e-3, -50]);
    ts.optimizerStep("adam", p, g, new Float32Array(8), 4, 0.01, 1, Float64Array.of(0.9, 0.999, 1e-8, 0));
    // m / sqrt(v) after bias correction is g / |g|; eps perturbs it by eps / |g| <= 1e-5.
    expectClose(p, [0.99, 1.01, 0.99, 1.01], 2e-5 * 0.01, 0, "first adam step");
  });

  const rmsCases = [
    { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 },
    { lr: 0.01, alpha: 0.9, eps: 1e-6, weightDecay: 0.05, momentum: 0 },
    { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0.01, momentum: 0.9 },
  ];
  for (const o of rmsCases) {
    it(`rmsprop ${JSON.stringify(o)}`, () => {
      runSteps(
        5,
        n,
        800,
        (p, g, state, t) => stepSlots("rmsprop", p, g, state, n, o.lr, t, [o.alpha, o.eps, o.weightDecay, o.momentum]),
        (p, g, [sq, buf]) => {
          for (let i = 0; i < n; i++) {
            const d = g[i]! + o.weightDecay * p[i]!;
            sq![i] = o.alpha * sq![i]! + (1 - o.alpha) * d * d; // square_avg.mul_(alpha).addcmul_(grad, grad, 1 - alpha)
            const avg = Math.sqrt(sq![i]!) + o.eps;
            if (o.momentum > 0) {
              buf![i] = o.momentum * buf![i]! + d / avg; // buf.mul_(momentum).addcdiv_(grad, avg)
              p[i] = p[i]! - o.lr * buf![i]!;
            } else {
              p[i] = p[i]! - (o.lr * d) / avg;
            }
          }
        },
        2,
      );
    });
  }

  const adagradCases = [
    { lr: 0.01, lrDecay: 0, weightDecay: 0, eps: 1e-10, init: 0 },
    { lr: 0.05, lrDecay: 0.1, weightDecay: 0.01, eps: 1e-6, init: 0.1 },
  ];
  for (const o of adagradCases) {
    it(`adagrad ${JSON.stringify(o)}`, () => {
      let first = true;
      runSteps(
        5,
        n,
        900,
        (p, g, state, t) => {
          if (first) state[0]!.fill(o.init); // state_sum = full_like(p, initial_accumulator_value)
          first = false;
          stepSlots("adagrad", p, g, state, n, o.lr, t, [o.lrDecay, o.weightDecay, o.eps, o.init]);
        },
        (p, g, [sum], t) => {
          if (t === 1) sum!.fill(o.init);
          for (let i = 0; i < n; i++) {
            const d = g[i]! + o.weightDecay * p[i]!; // grad = grad.add(param, alpha=weight_decay)
            const clr = o.lr / (1 + (t - 1) * o.lrDecay); // clr = lr / (1 + (step - 1) * lr_decay)
            sum![i] = sum![i]! + d * d; // state_sum.addcmul_(grad, grad, value=1)
            p[i] = p[i]! - (clr * d) / (Math.sqrt(sum![i]!) + o.eps); // param.addcdiv_(grad, std, value=-clr)
          }
        },
        1,
      );
    });
  }

  it("rejects short state buffers, naming them", () => {
    const f = (k: number) => new Float32Array(k);
    const h = (...v: number[]) => Float64Array.from(v);
    expect(() => ts.optimizerStep("sgd", f(4), f(4), f(3), 4, 0.1, 1, h(0.9, 0, 0, 0))).toThrow(/state \(1 slots x n\).*at least 4.*received 3/);
    expect(() => ts.optimizerStep("adam", f(4), f(4), f(6), 4, 0.1, 1, h(0.9, 0.99, 1e-8, 0))).toThrow(/state \(2 slots x n\)/);
    expect(() => ts.optimizerStep("rmsprop", f(4), f(3), f(8), 4, 0.1, 1, h(0.9, 1e-8, 0, 0))).toThrow(/grad \(n\)/);
    expect(() => ts.optimizerStep("adam", f(4), f(4), f(8), 4, 0.1, 1, h(0.9, 0.99))).toThrow(/Expected 4 hyperparameters for adam/);
    expect(() => ts.optimizerStep("adam", f(4), f(4), f(8), 4, 0.1, 0, h(0.9, 0.99, 1e-8, 0))).toThrow(/Invalid step: 0/);
    for (const name of ["toString", "__proto__", "constructor"]) {
      expect(() => ts.optimizerStep(name as never, f(4), f(4), f(8), 4, 0.1, 1, h(0, 0, 0, 0))).toThrow(/Unknown optimizer name/);
    }
  });

  it("sgd without momentum accepts an empty velocity", () => {
    const p = Float32Array.from([1, 2]);
    ts.optimizerStep("sgd", p, Float32Array.from([0.5, -1]), new Float32Array(0), 2, 0.1, 1, Float64Array.of(0, 0, 0, 0));
    expect(Array.from(p)).toEqual([Math.fround(0.95), Math.fround(2.1)]);
  });
});

// ---------------------------------------------------------------------------------------------
// Reductions and vector updates

describe("argmaxRows", () => {
  it("returns the first index on ties", () => {
    const x = Float32Array.from([1, 3, 3, 2, /* */ 5, 5, 5, 5, /* */ -4, -1, -1, -9, /* */ 0, 0, 7, 7]);
    const out = new Int32Array(4).fill(-7);
    ts.argmaxRows(out, x, 4, 4);
    expect(Array.from(out)).toEqual([1, 0, 1, 2]);
  });

  it("handles a column vector, a row vector and 0 rows; rejects rows without columns", () => {
    const out = new Int32Array(3).fill(9);
    ts.argmaxRows(out, Float32Array.from([4, -2, 0]), 3, 1);
    expect(Array.from(out)).toEqual([0, 0, 0]);
    ts.argmaxRows(out, Float32Array.from([0.1, 0.5, -3, 0.5, 0.49]), 1, 5);
    expect(out[0]).toBe(1);
    out.fill(9);
    ts.argmaxRows(out, new Float32Array(0), 0, 5);
    expect(Array.from(out)).toEqual([9, 9, 9]);
    expect(() => ts.argmaxRows(out, new Float32Array(0), 2, 0)).toThrow(/Invalid cols: 0 with 2 rows/);
    expect(Array.from(out)).toEqual([9, 9, 9]);
  });

  it("matches a naive argmax on random rows", () => {
    const rng = new Rng(900);
    const rows = 37;
    const cols = 10;
    const x = randomF32(rng, rows * cols);
    const out = new Int32Array(rows);
    ts.argmaxRows(out, x, rows, cols);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      expect(out[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });
});

describe("sum, sumSquares, scale, clip", () => {
  it("sum and sumSquares accumulate in double precision", () => {
    // In float32, 1e8 + 1 = 1e8, so a float32 accumulator returns 0 here.
    const x = Float32Array.from([1e8, 1, -1e8, 0.5]);
    expect(ts.sum(x, 4)).toBe(1.5);
    expect(ts.sumSquares(Float32Array.from([4096, 1, 0.5]), 3)).toBe(4096 * 4096 + 1.25);
  });

  it("match a float64 sum over odd lengths and read only the first n values", () => {
    const rng = new Rng(950);
    for (const n of [0, 1, 7, 1001]) {
      const x = randomF32(rng, n + 3);
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        s += x[i]!;
        s2 += x[i]! * x[i]!;
      }
      // Same values summed in double in the same order: equal up to double rounding.
      expect(ts.sum(x, n)).toBeCloseTo(s, 12);
      expect(ts.sumSquares(x, n)).toBeCloseTo(s2, 12);
    }
  });

  it("scale and clip update the first n values in place", () => {
    const x = Float32Array.from([1, -2, 3, 10]);
    ts.scale(x, 3, -0.5);
    expect(Array.from(x)).toEqual([-0.5, 1, -1.5, 10]);
    const y = Float32Array.from([-3, -0.25, 0, 0.7, 2, 9]);
    ts.clip(y, 5, -0.5, 1);
    expect(Array.from(y)).toEqual([-0.5, -0.25, 0, Math.fround(0.7), 1, 9]);
    expect(() => ts.scale(x, 5, 2)).toThrow(/x \(n\).*at least 5.*received 4/);
    expect(() => ts.clip(x, -1, 0, 1)).toThrow(/Invalid n: -1/);
  });
});

describe("backend object", () => {
  it("is named js, records threads, reports one thread and no BLAS", () => {
    const b = createTsBackend();
    expect(b.name).toBe("js");
    b.setThreads(4);
    expect(b.getThreads()).toBe(4);
    const info = b.info();
    expect(info.backend).toBe("js");
    expect(info.threads).toBe(1);
    expect(info.blas).toBe("none (TypeScript kernels)");
    expect(info.cpu.length).toBeGreaterThan(0);
    expect(() => b.setThreads(0)).toThrow(/Invalid thread count: 0/);
  });
});

/**
 * The TypeScript convolution, pooling and normalization kernels against naive float64 definitions
 * written here: direct convolution loops, pooling by listing each window's values, batch and layer
 * normalization from their formulas, and their backward passes against central differences of those
 * float64 forwards (or, for the linear maps im2col / col2im / average pooling, the adjoint identity
 * <A x, c> = <x, A^T c>). Geometries cover strides, padding (symmetric and "same" with the extra row
 * at the bottom), dilation, odd sizes, kernel = input, stride > kernel, 1x1 kernels, rows 1 and
 * channels 1.
 */
import { describe, expect, it } from "vitest";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { Rng } from "../lib/core/rng.js";
import type { Window2d } from "../lib/ops/window.js";
import { randomF32, thrown } from "./helpers.js";

const ts = createTsBackend();

/** A window with PyTorch's output size for padding `pad` before and `padEnd` after (default: symmetric). */
function win(
  C: number,
  H: number,
  W: number,
  k: [number, number],
  o: { stride?: [number, number]; pad?: [number, number]; padEnd?: [number, number]; dilation?: [number, number] } = {},
): Window2d {
  const [sH, sW] = o.stride ?? [1, 1];
  const [pT, pL] = o.pad ?? [0, 0];
  const [pB, pR] = o.padEnd ?? [pT, pL];
  const [dH, dW] = o.dilation ?? [1, 1];
  const outH = Math.floor((H + pT + pB - dH * (k[0] - 1) - 1) / sH) + 1;
  const outW = Math.floor((W + pL + pR - dW * (k[1] - 1) - 1) / sW) + 1;
  return { channels: C, height: H, width: W, kernelH: k[0], kernelW: k[1], strideH: sH, strideW: sW, padTop: pT, padLeft: pL, dilationH: dH, dilationW: dW, outH, outW };
}

/** The geometries every window kernel runs on, with the batch size. */
const CASES: { name: string; rows: number; g: Window2d }[] = [
  { name: "3x3 pad 1 (same)", rows: 2, g: win(3, 5, 6, [3, 3], { pad: [1, 1] }) },
  { name: "valid 3x2 odd sizes", rows: 3, g: win(2, 7, 5, [3, 2]) },
  { name: "stride 2 pad 1", rows: 2, g: win(2, 7, 8, [3, 3], { stride: [2, 2], pad: [1, 1] }) },
  { name: "stride > kernel", rows: 2, g: win(2, 9, 7, [2, 2], { stride: [3, 3] }) },
  { name: "kernel = input", rows: 2, g: win(3, 4, 5, [4, 5]) },
  { name: "1x1 kernel", rows: 2, g: win(4, 3, 5, [1, 1]) },
  { name: "dilation 2 pad 2", rows: 2, g: win(2, 7, 6, [3, 3], { dilation: [2, 2], pad: [2, 2] }) },
  { name: "even kernel 'same' (extra at bottom/right)", rows: 2, g: win(2, 5, 6, [4, 2], { pad: [1, 0], padEnd: [2, 1] }) },
  { name: "rows 1 channels 1", rows: 1, g: win(1, 6, 6, [3, 3], { stride: [2, 1], pad: [1, 0] }) },
  { name: "mixed strides, pads and dilations", rows: 2, g: win(3, 9, 8, [2, 3], { stride: [1, 2], pad: [1, 2], dilation: [3, 1] }) },
  { name: "input 1x1", rows: 3, g: win(2, 1, 1, [1, 1]) },
];

/** Naive: the input value at (n, c) for output (oh, ow) and tap (i, j), or undefined in the padding. */
function at(x: ArrayLike<number>, g: Window2d, n: number, c: number, oh: number, ow: number, i: number, j: number): number | undefined {
  const h = oh * g.strideH - g.padTop + i * g.dilationH;
  const w = ow * g.strideW - g.padLeft + j * g.dilationW;
  if (h < 0 || h >= g.height || w < 0 || w >= g.width) return undefined;
  return x[((n * g.channels + c) * g.height + h) * g.width + w]!;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** |got - want| <= atol + rtol |want| everywhere. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= atol + rtol * Math.abs(want[i]!))) throw new Error(`${what}: index ${i}: got ${got[i]}, want ${want[i]} (|diff| ${d})`);
  }
}

/** Central differences of f (float64) at x, weighted by w: d/dx_k sum(w * f(x)). */
function numericGrad(f: (x: Float64Array) => Float64Array, x: Float64Array, w: ArrayLike<number>, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const keep = x[k]!;
    x[k] = keep + h;
    const up = dot(f(x), w);
    x[k] = keep - h;
    const down = dot(f(x), w);
    x[k] = keep;
    g[k] = (up - down) / (2 * h);
  }
  return g;
}

const outCount = (rows: number, g: Window2d): number => rows * g.channels * g.outH * g.outW;
const inCount = (rows: number, g: Window2d): number => rows * g.channels * g.height * g.width;

describe("im2col and col2im", () => {
  for (const { name, rows, g } of CASES) {
    it(`im2col is its definition: ${name}`, () => {
      const rng = new Rng(1);
      const x = randomF32(rng, inCount(rows, g));
      const N = rows * g.outH * g.outW;
      const cols = new Float32Array(g.channels * g.kernelH * g.kernelW * N).fill(NaN);
      ts.im2col(cols, x, rows, g);
      for (let c = 0; c < g.channels; c++)
        for (let i = 0; i < g.kernelH; i++)
          for (let j = 0; j < g.kernelW; j++)
            for (let n = 0; n < rows; n++)
              for (let oh = 0; oh < g.outH; oh++)
                for (let ow = 0; ow < g.outW; ow++) {
                  const got = cols[((c * g.kernelH + i) * g.kernelW + j) * N + n * g.outH * g.outW + oh * g.outW + ow];
                  expect(got, `c${c} i${i} j${j} n${n} oh${oh} ow${ow}`).toBe(at(x, g, n, c, oh, ow, i, j) ?? 0);
                }
    });

    it(`col2im is im2col's adjoint and overwrites dx: ${name}`, () => {
      const rng = new Rng(2);
      const x = randomF32(rng, inCount(rows, g));
      const c = randomF32(rng, g.channels * g.kernelH * g.kernelW * rows * g.outH * g.outW);
      const cols = new Float32Array(c.length);
      ts.im2col(cols, x, rows, g);
      const dx = new Float32Array(x.length).fill(7);
      ts.col2im(dx, c, rows, g);
      const lhs = dot(cols, c);
      const rhs = dot(x, dx);
      expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(lhs)));
    });
  }
});

describe("convolution through im2col + gemm + swapAxes01 + channelBiasAdd, against direct loops", () => {
  for (const { name, rows, g } of CASES) {
    it(name, () => {
      const rng = new Rng(3);
      const outC = 3;
      const { channels: C, kernelH: kH, kernelW: kW, outH, outW } = g;
      const K = C * kH * kW;
      const HW = outH * outW;
      const x = randomF32(rng, inCount(rows, g));
      const weight = randomF32(rng, outC * K);
      const bias = randomF32(rng, outC);
      const dy = randomF32(rng, rows * outC * HW);

      // Forward as the plan step does it.
      const cols = new Float32Array(K * rows * HW);
      ts.im2col(cols, x, rows, g);
      const yT = new Float32Array(outC * rows * HW);
      ts.gemm(false, false, outC, rows * HW, K, 1, weight, cols, 0, yT);
      const y = new Float32Array(rows * outC * HW);
      ts.swapAxes01(y, yT, outC, rows, HW);
      ts.channelBiasAdd(y, bias, rows, outC, HW);

      // Backward as the plan step does it.
      const dyT = new Float32Array(outC * rows * HW);
      ts.swapAxes01(dyT, dy, rows, outC, HW);
      const db = new Float32Array(outC).fill(9);
      ts.channelBiasGrad(db, dy, rows, outC, HW);
      const dW = new Float32Array(outC * K);
      ts.gemm(false, true, outC, K, rows * HW, 1, dyT, cols, 0, dW);
      const dcols = new Float32Array(K * rows * HW);
      ts.gemm(true, false, K, rows * HW, outC, 1, weight, dyT, 0, dcols);
      const dx = new Float32Array(x.length);
      ts.col2im(dx, dcols, rows, g);

      // Direct convolution and its gradients, in float64.
      const yRef = new Float64Array(y.length);
      const dWRef = new Float64Array(dW.length);
      const dbRef = new Float64Array(outC);
      const dxRef = new Float64Array(x.length);
      for (let n = 0; n < rows; n++)
        for (let o = 0; o < outC; o++)
          for (let oh = 0; oh < outH; oh++)
            for (let ow = 0; ow < outW; ow++) {
              const yi = ((n * outC + o) * outH + oh) * outW + ow;
              let s = bias[o]!;
              dbRef[o] += dy[yi]!;
              for (let c = 0; c < C; c++)
                for (let i = 0; i < kH; i++)
                  for (let j = 0; j < kW; j++) {
                    const v = at(x, g, n, c, oh, ow, i, j);
                    if (v === undefined) continue;
                    const wi = ((o * C + c) * kH + i) * kW + j;
                    s += weight[wi]! * v;
                    dWRef[wi] += dy[yi]! * v;
                    const h = oh * g.strideH - g.padTop + i * g.dilationH;
                    const w = ow * g.strideW - g.padLeft + j * g.dilationW;
                    dxRef[((n * C + c) * g.height + h) * g.width + w] += dy[yi]! * weight[wi]!;
                  }
              yRef[yi] = s;
            }
      expectClose(y, yRef, 1e-5, 1e-5, "y");
      expectClose(db, dbRef, 1e-5, 1e-5, "db");
      expectClose(dW, dWRef, 1e-5, 1e-5, "dW");
      expectClose(dx, dxRef, 1e-5, 1e-5, "dx");
    });
  }
});

describe("swapAxes01, channelBiasAdd, channelBiasGrad, add", () => {
  it("swapAxes01 swaps the first two axes, including sizes 1", () => {
    const rng = new Rng(4);
    for (const [a, b, c] of [[2, 3, 4], [1, 5, 3], [4, 1, 2], [3, 2, 1], [1, 1, 1]] as const) {
      const x = randomF32(rng, a * b * c);
      const out = new Float32Array(a * b * c);
      ts.swapAxes01(out, x, a, b, c);
      for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) expect(out[(j * a + i) * c + k]).toBe(x[(i * b + j) * c + k]);
    }
  });

  it("swapAxes01 refuses an output that shares memory with x", () => {
    const buf = new Float32Array(12);
    const e = thrown(() => ts.swapAxes01(buf.subarray(2), buf.subarray(0, 6), 2, 3, 1));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(/out.*shares memory with x/);
  });

  it("channelBiasAdd adds bias[c] over rows and spatial positions; channelBiasGrad sums in double and overwrites", () => {
    const rng = new Rng(5);
    const [rows, C, S] = [3, 4, 5];
    const y = randomF32(rng, rows * C * S);
    const before = Float32Array.from(y);
    const bias = randomF32(rng, C);
    ts.channelBiasAdd(y, bias, rows, C, S);
    for (let n = 0; n < rows; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) {
      const i = (n * C + c) * S + s;
      expect(y[i]).toBe(Math.fround(before[i]! + bias[c]!));
    }
    // 1 followed by many tiny values: a float32 accumulator would lose them all.
    const dy = new Float32Array(2 * 1 * 4096).fill(2 ** -25);
    dy[0] = 1;
    const db = new Float32Array(1).fill(NaN);
    ts.channelBiasGrad(db, dy, 2, 1, 4096);
    expect(db[0]).toBe(Math.fround(1 + (2 * 4096 - 1) * 2 ** -25));
  });

  it("add sums element-wise, in place on either input", () => {
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([0.5, -2, 4]);
    const out = new Float32Array(3);
    ts.add(out, a, b, 3);
    expect(Array.from(out)).toEqual([1.5, 0, 7]);
    ts.add(a, a, b, 3);
    expect(Array.from(a)).toEqual([1.5, 0, 7]);
    ts.add(b, a, b, 2);
    expect(Array.from(b)).toEqual([2, -2, 4]);
  });
});

/** Naive max pooling: each window's real values listed, the max by a fold, NaN first. */
function refMaxPool(x: ArrayLike<number>, rows: number, g: Window2d): { y: number[]; argmax: number[] } {
  const y: number[] = [];
  const argmax: number[] = [];
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < g.channels; c++)
      for (let oh = 0; oh < g.outH; oh++)
        for (let ow = 0; ow < g.outW; ow++) {
          const seen: { v: number; idx: number }[] = [];
          for (let i = 0; i < g.kernelH; i++)
            for (let j = 0; j < g.kernelW; j++) {
              const v = at(x, g, n, c, oh, ow, i, j);
              const h = oh * g.strideH - g.padTop + i * g.dilationH;
              const w = ow * g.strideW - g.padLeft + j * g.dilationW;
              if (v !== undefined) seen.push({ v, idx: h * g.width + w });
            }
          const nan = seen.find((s) => Number.isNaN(s.v));
          const max = seen.reduce((m, s) => Math.max(m, s.v), -Infinity);
          const best = nan ?? seen.find((s) => s.v === max);
          y.push(best ? best.v : -Infinity);
          argmax.push(best ? best.idx : -1);
        }
  return { y, argmax };
}

function refAvgPool(x: ArrayLike<number>, rows: number, g: Window2d): number[] {
  const y: number[] = [];
  for (let n = 0; n < rows; n++)
    for (let c = 0; c < g.channels; c++)
      for (let oh = 0; oh < g.outH; oh++)
        for (let ow = 0; ow < g.outW; ow++) {
          let s = 0;
          for (let i = 0; i < g.kernelH; i++) for (let j = 0; j < g.kernelW; j++) s += at(x, g, n, c, oh, ow, i, j) ?? 0;
          y.push(s / (g.kernelH * g.kernelW));
        }
  return y;
}

describe("max and average pooling", () => {
  for (const { name, rows, g } of CASES) {
    it(`maxPool2d forward and backward: ${name}`, () => {
      const rng = new Rng(6);
      const x = randomF32(rng, inCount(rows, g));
      // Ties: a few repeated values, so "the first maximum" is exercised.
      for (let i = 0; i + 3 < x.length; i += 7) x[i + 3] = x[i]!;
      const y = new Float32Array(outCount(rows, g)).fill(NaN);
      const argmax = new Int32Array(y.length).fill(-7);
      ts.maxPool2dForward(y, argmax, x, rows, g);
      const want = refMaxPool(x, rows, g);
      expect(Array.from(y)).toEqual(want.y);
      expect(Array.from(argmax)).toEqual(want.argmax);
      // Backward: the gradient goes to the argmax positions, summed where windows share one.
      const dy = randomF32(rng, y.length);
      const dx = new Float32Array(x.length).fill(5);
      ts.maxPool2dBackward(dx, dy, argmax, rows, g);
      const dxRef = new Float64Array(x.length);
      const plane = g.height * g.width;
      for (let o = 0; o < y.length; o++) {
        const p = Math.floor(o / (g.outH * g.outW));
        if (want.argmax[o]! >= 0) dxRef[p * plane + want.argmax[o]!] += dy[o]!;
      }
      expectClose(dx, dxRef, 1e-6, 0, "dx");
    });

    it(`avgPool2d forward against its definition, backward its adjoint: ${name}`, () => {
      const rng = new Rng(7);
      const x = randomF32(rng, inCount(rows, g));
      const y = new Float32Array(outCount(rows, g));
      ts.avgPool2dForward(y, x, rows, g);
      expectClose(y, refAvgPool(x, rows, g), 1e-6, 1e-7, "y");
      const dy = randomF32(rng, y.length);
      const dx = new Float32Array(x.length).fill(3);
      ts.avgPool2dBackward(dx, dy, rows, g);
      expect(Math.abs(dot(y, dy) - dot(x, dx))).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(dot(y, dy))));
    });
  }

  it("max pooling: NaN propagates (the first NaN of the window wins), -Infinity inputs still give an index", () => {
    const g = win(1, 2, 4, [2, 2], { stride: [2, 2] });
    const x = Float32Array.from([1, NaN, -Infinity, -Infinity, NaN, 9, -Infinity, -Infinity]);
    const y = new Float32Array(2);
    const argmax = new Int32Array(2);
    ts.maxPool2dForward(y, argmax, x, 1, g);
    expect(Number.isNaN(y[0])).toBe(true);
    expect(argmax[0]).toBe(1);
    expect(y[1]).toBe(-Infinity);
    expect(argmax[1]).toBe(2);
  });

  it("max pooling: a window with no input position (dilation over a 1x1 input) gives -Infinity and argmax -1, skipped backward", () => {
    // H = W = 1, kernel 2 dilated by 3 (reach 4), padding 2 (PyTorch allows up to half of 4):
    // the windows start at -2 and -1, their taps at (-2, 1) and (-1, 2) all miss the one pixel.
    const g = win(1, 1, 1, [2, 2], { pad: [2, 2], dilation: [3, 3] });
    expect([g.outH, g.outW]).toEqual([2, 2]);
    const y = new Float32Array(g.outH * g.outW);
    const argmax = new Int32Array(y.length);
    ts.maxPool2dForward(y, argmax, Float32Array.of(4), 1, g);
    expect(Array.from(y).every((v) => v === -Infinity)).toBe(true);
    expect(Array.from(argmax).every((v) => v === -1)).toBe(true);
    const dx = Float32Array.of(8);
    ts.maxPool2dBackward(dx, new Float32Array(y.length).fill(1), argmax, 1, g);
    expect(dx[0]).toBe(0);
  });

  it("global average pooling is the window over the whole plane", () => {
    const rng = new Rng(8);
    const g = win(3, 4, 5, [4, 5]);
    expect([g.outH, g.outW]).toEqual([1, 1]);
    const x = randomF32(rng, 2 * 3 * 20);
    const y = new Float32Array(6);
    ts.avgPool2dForward(y, x, 2, g);
    for (let p = 0; p < 6; p++) {
      let s = 0;
      for (let k = 0; k < 20; k++) s += x[p * 20 + k]!;
      expect(y[p]).toBeCloseTo(s / 20, 6);
    }
  });

  it("maxPool2dBackward refuses an argmax outside the channel plane", () => {
    const g = win(1, 2, 2, [2, 2]);
    const e = thrown(() => ts.maxPool2dBackward(new Float32Array(4), new Float32Array(1), Int32Array.of(4), 1, g));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("argmax[0]");
  });
});

describe("window geometry checks", () => {
  const g = win(2, 5, 5, [3, 3], { pad: [1, 1] });
  const x = new Float32Array(2 * 25);
  const cols = new Float32Array(18 * 25);
  it.each([
    ["outH too large", { outH: 7 }, /g\.outH.*7.*give 5\.\.5|g\.outH.*: 7/],
    ["outW too small", { outW: 2 }, /g\.outW/],
    ["kernel 0", { kernelH: 0 }, /g\.kernelH/],
    ["fractional stride", { strideW: 1.5 }, /g\.strideW/],
    ["negative padding", { padTop: -1 }, /g\.padTop/],
    ["dilation 0", { dilationW: 0 }, /g\.dilationW/],
    ["channels NaN", { channels: NaN }, /g\.channels/],
  ] as const)("%s", (_label, change, message) => {
    const e = thrown(() => ts.im2col(cols, x, 1, { ...g, ...change }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(message);
    expect(e.message).toContain("im2col");
  });

  it("accepts every output size an end padding in [0, max(pad, reach)] gives, and nothing else", () => {
    // H 6, k 3, stride 2, pad 1: end padding 0..2 gives out 3 or 4.
    for (const [outH, ok] of [[2, false], [3, true], [4, true], [5, false]] as const) {
      const w = win(1, 6, 6, [3, 3], { stride: [2, 2], pad: [1, 1] });
      const call = (): void => ts.avgPool2dForward(new Float32Array(outH * w.outW), new Float32Array(36), 1, { ...w, outH });
      if (ok) expect(call).not.toThrow();
      else expect(call).toThrow(/g\.outH/);
    }
  });

  it("refuses short buffers naming them", () => {
    expect(() => ts.im2col(cols.subarray(1), x, 1, g)).toThrow(/cols/);
    expect(() => ts.col2im(x.subarray(1), cols, 1, g)).toThrow(/dx/);
    expect(() => ts.maxPool2dForward(new Float32Array(50), new Int32Array(49), x, 1, g)).toThrow(/argmax/);
  });
});

// ---------------------------------------------------------------------------------------------
// Normalization

/** Float64 batch norm forward; with `stats` undefined the batch statistics of x are used. */
function refBatchNorm(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  rows: number,
  C: number,
  S: number,
  eps: number,
  stats?: { mean: ArrayLike<number>; variance: ArrayLike<number> },
): { y: Float64Array; mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const y = new Float64Array(rows * C * S);
  const m = rows * S;
  for (let c = 0; c < C; c++) {
    const values: number[] = [];
    for (let n = 0; n < rows; n++) for (let s = 0; s < S; s++) values.push(x[(n * C + c) * S + s]!);
    mean[c] = values.reduce((a, b) => a + b, 0) / m;
    variance[c] = values.reduce((a, b) => a + (b - mean[c]!) ** 2, 0) / m;
    const mu = stats ? stats.mean[c]! : mean[c]!;
    const v = stats ? stats.variance[c]! : variance[c]!;
    for (let n = 0; n < rows; n++) for (let s = 0; s < S; s++) {
      const i = (n * C + c) * S + s;
      y[i] = (gamma[c]! * (x[i]! - mu)) / Math.sqrt(v + eps) + beta[c]!;
    }
  }
  return { y, mean, variance };
}

function refLayerNorm(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, groups: number, size: number, eps: number): { y: Float64Array; mean: Float64Array; invStd: Float64Array } {
  const y = new Float64Array(groups * size);
  const mean = new Float64Array(groups);
  const invStd = new Float64Array(groups);
  for (let r = 0; r < groups; r++) {
    const row = Array.from({ length: size }, (_, j) => x[r * size + j]!);
    const mu = row.reduce((a, b) => a + b, 0) / size;
    const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / size;
    mean[r] = mu;
    invStd[r] = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < size; j++) y[r * size + j] = gamma[j]! * (row[j]! - mu) * invStd[r]! + beta[j]!;
  }
  return { y, mean, invStd };
}

const BN_SHAPES: [number, number, number][] = [
  [4, 3, 5], // (rows, C, S)
  [1, 2, 7], // one row
  [6, 1, 1], // one channel, (N, F) features
  [3, 4, 1],
  [2, 3, 9],
];

describe("batch normalization", () => {
  for (const [rows, C, S] of BN_SHAPES) {
    it(`stats, forward and backward (batch statistics and running statistics): rows ${rows}, C ${C}, S ${S}`, () => {
      const rng = new Rng(9);
      const eps = 1e-5;
      const x = randomF32(rng, rows * C * S, -2, 3);
      const gamma = randomF32(rng, C, 0.5, 1.5);
      const beta = randomF32(rng, C);
      const ref = refBatchNorm(x, gamma, beta, rows, C, S, eps);

      const mean = new Float32Array(C);
      const variance = new Float32Array(C);
      ts.batchNormStats(mean, variance, x, rows, C, S);
      expectClose(mean, ref.mean, 1e-6, 1e-7, "mean");
      expectClose(variance, ref.variance, 1e-6, 1e-7, "variance");

      const y = new Float32Array(x.length);
      ts.batchNormForward(y, x, mean, variance, gamma, beta, rows, C, S, eps);
      expectClose(y, ref.y, 1e-4, 1e-4, "y");

      const dy = randomF32(rng, x.length);
      for (const batchStats of [true, false]) {
        const dx = new Float32Array(x.length);
        const dgamma = new Float32Array(C).fill(NaN);
        const dbeta = new Float32Array(C).fill(NaN);
        ts.batchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma, rows, C, S, eps, batchStats);
        const fixed = { mean: Float64Array.from(mean), variance: Float64Array.from(variance) };
        const fx = (v: Float64Array): Float64Array => refBatchNorm(v, gamma, beta, rows, C, S, eps, batchStats ? undefined : fixed).y;
        expectClose(dx, numericGrad(fx, Float64Array.from(x), dy), 2e-3, 2e-4, `dx (batchStats ${batchStats})`);
        const fg = (v: Float64Array): Float64Array => refBatchNorm(x, v, beta, rows, C, S, eps, fixed).y;
        expectClose(dgamma, numericGrad(fg, Float64Array.from(gamma), dy), 1e-3, 1e-4, "dgamma");
        const fb = (v: Float64Array): Float64Array => refBatchNorm(x, gamma, v, rows, C, S, eps, fixed).y;
        expectClose(dbeta, numericGrad(fb, Float64Array.from(beta), dy), 1e-3, 1e-4, "dbeta");
        // dx may be dy, and may be null (dgamma and dbeta still written).
        const inPlace = Float32Array.from(dy);
        const dg2 = new Float32Array(C);
        const db2 = new Float32Array(C);
        ts.batchNormBackward(inPlace, dg2, db2, inPlace, x, mean, variance, gamma, rows, C, S, eps, batchStats);
        expect(Array.from(inPlace)).toEqual(Array.from(dx));
        ts.batchNormBackward(null, dg2.fill(0), db2.fill(0), dy, x, mean, variance, gamma, rows, C, S, eps, batchStats);
        expect(Array.from(dg2)).toEqual(Array.from(dgamma));
        expect(Array.from(db2)).toEqual(Array.from(dbeta));
      }
    });
  }

  it("the variance is two-pass: a large common offset does not cancel it away", () => {
    // E[x^2] - E[x]^2 in float64 on values near 1e4 with spread 1e-3 would lose most digits.
    const x = Float32Array.from({ length: 64 }, (_, i) => 10000 + (i % 2 === 0 ? 0.0009765625 : -0.0009765625));
    const mean = new Float32Array(1);
    const variance = new Float32Array(1);
    ts.batchNormStats(mean, variance, x, 64, 1, 1);
    expect(mean[0]).toBe(10000);
    expect(variance[0]).toBe(Math.fround(0.0009765625 ** 2));
  });

  it("y may be x", () => {
    const rng = new Rng(10);
    const x = randomF32(rng, 2 * 3 * 4);
    const params = [randomF32(rng, 3), randomF32(rng, 3, 0.1, 1), randomF32(rng, 3), randomF32(rng, 3)] as const;
    const y = new Float32Array(x.length);
    ts.batchNormForward(y, x, ...params, 2, 3, 4, 1e-5);
    ts.batchNormForward(x, x, ...params, 2, 3, 4, 1e-5);
    expect(Array.from(x)).toEqual(Array.from(y));
  });
});

describe("layer normalization", () => {
  for (const [groups, size] of [[3, 8], [1, 5], [4, 1], [2, 33]] as const) {
    it(`forward and backward: groups ${groups}, size ${size}`, () => {
      const rng = new Rng(11);
      const eps = 1e-5;
      const x = randomF32(rng, groups * size, -2, 3);
      const gamma = randomF32(rng, size, 0.5, 1.5);
      const beta = randomF32(rng, size);
      const ref = refLayerNorm(x, gamma, beta, groups, size, eps);
      const y = new Float32Array(x.length);
      const mean = new Float32Array(groups);
      const invStd = new Float32Array(groups);
      ts.layerNormForward(y, mean, invStd, x, gamma, beta, groups, size, eps);
      expectClose(y, ref.y, 1e-4, 1e-4, "y");
      expectClose(mean, ref.mean, 1e-6, 1e-7, "mean");
      expectClose(invStd, ref.invStd, 1e-6, 0, "invStd");

      const dy = randomF32(rng, x.length);
      const dx = new Float32Array(x.length);
      const dgamma = new Float32Array(size).fill(NaN);
      const dbeta = new Float32Array(size).fill(NaN);
      ts.layerNormBackward(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, groups, size);
      // With size 1 the output is beta whatever x is: dx = 0 (the finite differences agree).
      expectClose(dx, numericGrad((v) => refLayerNorm(v, gamma, beta, groups, size, eps).y, Float64Array.from(x), dy), 2e-3, 2e-4, "dx");
      expectClose(dgamma, numericGrad((v) => refLayerNorm(x, v, beta, groups, size, eps).y, Float64Array.from(gamma), dy), 1e-3, 1e-4, "dgamma");
      expectClose(dbeta, numericGrad((v) => refLayerNorm(x, gamma, v, groups, size, eps).y, Float64Array.from(beta), dy), 1e-3, 1e-4, "dbeta");
      const inPlace = Float32Array.from(dy);
      ts.layerNormBackward(inPlace, new Float32Array(size), new Float32Array(size), inPlace, x, mean, invStd, gamma, groups, size);
      expect(Array.from(inPlace)).toEqual(Array.from(dx));
      const dg2 = new Float32Array(size);
      ts.layerNormBackward(null, dg2, new Float32Array(size), dy, x, mean, invStd, gamma, groups, size);
      expect(Array.from(dg2)).toEqual(Array.from(dgamma));
    });
  }
});

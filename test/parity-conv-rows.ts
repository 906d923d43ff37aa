/**
 * Parity rows (native vs TypeScript, see parity.test.ts) for the convolution, pooling and
 * normalization kernels, on fixed edge geometries (1x1 everything, 1x1 kernels, kernel = input,
 * stride > kernel, padding, "same" padding of an even kernel, dilation 2, batch 1, channel 1, NaN in
 * max pooling) and on geometries drawn from a seeded Rng (the same every run).
 *
 * Tolerances (U = 2^-24):
 * - copies (im2col, swapAxes01, max pooling, channelBiasAdd, add): one float32 rounding at most: 4 U.
 * - sums of k values (col2im, average pooling, channelBiasGrad, the statistics): float32 or double
 *   accumulation, within (4 sqrt(k) + 8) U.
 * - normalization (a sqrt and a division per channel or group, then products): 64 U plus the sums'
 *   bound.
 */
import type { Backend } from "../lib/backend/backend.js";
import type { Rng } from "../lib/core/rng.js";
import { Rng as SeededRng } from "../lib/core/rng.js";
import type { Window2d } from "../lib/ops/window.js";
import { randomF32 } from "./helpers.js";

const U = 2 ** -24;

export interface ConvParityRow {
  op: string;
  shape: string;
  tolerance: { nmse: number; maxRel: number };
  run: (b: Backend, rng: Rng) => Record<string, Float32Array | Int32Array | number>;
}

const tol = (rel: number): { nmse: number; maxRel: number } => ({ nmse: rel * rel, maxRel: rel });
const COPY = tol(4 * U);
const sumTol = (k: number): { nmse: number; maxRel: number } => tol((4 * Math.sqrt(Math.max(k, 1)) + 8) * U);
const normTol = (k: number): { nmse: number; maxRel: number } => tol((64 + 4 * Math.sqrt(Math.max(k, 1))) * U);

/** A window with PyTorch's output size for padding `pad` before and `padEnd` after (default: symmetric). */
export function window2d(
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

/** "rows x C x H x W k3x3 s2x2 p1x1 d1x1" (the 1x1 and 2^20 rows are found by their leading sizes). */
function label(rows: number, g: Window2d): string {
  const n = rows * g.channels * g.height * g.width;
  return (
    `${rows}x${g.channels}x${g.height}x${g.width} k${g.kernelH}x${g.kernelW} s${g.strideH}x${g.strideW} ` +
    `p${g.padTop}x${g.padLeft} d${g.dilationH}x${g.dilationW} out${g.outH}x${g.outW}` + (n === 1 << 20 ? " (1048576)" : "")
  );
}

const GEOMETRIES: { rows: number; g: Window2d }[] = [
  { rows: 1, g: window2d(1, 1, 1, [1, 1]) },
  { rows: 2, g: window2d(3, 5, 6, [3, 3], { pad: [1, 1] }) },
  { rows: 3, g: window2d(2, 7, 5, [3, 2]) },
  { rows: 2, g: window2d(2, 7, 8, [3, 3], { stride: [2, 2], pad: [1, 1] }) },
  { rows: 2, g: window2d(2, 9, 7, [2, 2], { stride: [3, 3] }) }, // stride > kernel
  { rows: 2, g: window2d(3, 4, 5, [4, 5]) }, // kernel = input (global)
  { rows: 2, g: window2d(4, 3, 5, [1, 1]) }, // 1x1 kernel
  { rows: 2, g: window2d(2, 7, 6, [3, 3], { dilation: [2, 2], pad: [2, 2] }) },
  { rows: 2, g: window2d(2, 5, 6, [4, 2], { pad: [1, 0], padEnd: [2, 1] }) }, // "same" for an even kernel
  { rows: 1, g: window2d(1, 6, 6, [3, 3], { stride: [2, 1], pad: [1, 0] }) }, // batch 1, channel 1
  { rows: 64, g: window2d(32, 14, 14, [3, 3], { pad: [1, 1] }) }, // the Fashion-MNIST CNN's second conv
  { rows: 16, g: window2d(16, 64, 64, [3, 3], { pad: [1, 1] }) }, // 2^20 input values
  // Stride 1 with rows as wide as the input's: the native im2col / col2im copy each tap's rows in one
  // run. Taller than wide (outH = H + 2), and wide padding on a tall image (more edge pixels than
  // col2im's run saves: its row-by-row path).
  { rows: 2, g: window2d(2, 5, 6, [3, 3], { pad: [2, 1], padEnd: [2, 1] }) },
  { rows: 2, g: window2d(2, 90, 9, [7, 7], { pad: [3, 3] }) },
  // 2x2 windows with stride 2 (native max pooling's vectorized rows) on odd sizes, with padding
  { rows: 2, g: window2d(3, 9, 37, [2, 2], { stride: [2, 2] }) },
  { rows: 3, g: window2d(2, 7, 9, [2, 2], { stride: [2, 2], pad: [1, 1] }) },
];
// Seeded random geometries: padding at most half the effective kernel (what the pooling layers allow).
const SHAPES = new SeededRng(4242);
for (let i = 0; i < 6; i++) {
  const d = (): number => 1 + SHAPES.int(2);
  const dil: [number, number] = [d(), d()];
  const k: [number, number] = [1 + SHAPES.int(4), 1 + SHAPES.int(4)];
  const H = dil[0] * (k[0] - 1) + 1 + SHAPES.int(9);
  const W = dil[1] * (k[1] - 1) + 1 + SHAPES.int(9);
  const pad: [number, number] = [SHAPES.int(Math.floor((dil[0] * (k[0] - 1) + 1) / 2) + 1), SHAPES.int(Math.floor((dil[1] * (k[1] - 1) + 1) / 2) + 1)];
  GEOMETRIES.push({ rows: 1 + SHAPES.int(4), g: window2d(1 + SHAPES.int(4), H, W, k, { stride: [1 + SHAPES.int(3), 1 + SHAPES.int(3)], pad, dilation: dil }) });
}

const f32 = randomF32;
const inCount = (rows: number, g: Window2d): number => rows * g.channels * g.height * g.width;
const outCount = (rows: number, g: Window2d): number => rows * g.channels * g.outH * g.outW;
const colsCount = (rows: number, g: Window2d): number => g.channels * g.kernelH * g.kernelW * rows * g.outH * g.outW;

export const CONV_PARITY_ROWS: ConvParityRow[] = [];
const ROWS = CONV_PARITY_ROWS;

for (const { rows, g } of GEOMETRIES) {
  const shape = label(rows, g);
  const taps = g.kernelH * g.kernelW;
  ROWS.push({
    op: "im2col",
    shape,
    tolerance: COPY,
    run: (b, rng) => {
      const cols = new Float32Array(colsCount(rows, g)).fill(NaN);
      b.im2col(cols, f32(rng, inCount(rows, g)), rows, g);
      return { cols };
    },
  });
  ROWS.push({
    op: "col2im",
    shape,
    // Each input position sums at most kH*kW entries.
    tolerance: sumTol(taps),
    run: (b, rng) => {
      const dx = new Float32Array(inCount(rows, g)).fill(NaN);
      b.col2im(dx, f32(rng, colsCount(rows, g)), rows, g);
      return { dx };
    },
  });
  ROWS.push({
    op: "maxPool2dForward, maxPool2dBackward (NaN and ties in x)",
    shape,
    tolerance: COPY,
    run: (b, rng) => {
      const x = f32(rng, inCount(rows, g));
      for (let i = 0; i + 5 < x.length; i += 11) x[i + 5] = x[i]!; // ties
      if (x.length > 3) x[3] = NaN;
      const y = new Float32Array(outCount(rows, g)).fill(7);
      const argmax = new Int32Array(y.length).fill(-5);
      b.maxPool2dForward(y, argmax, x, rows, g);
      const dx = new Float32Array(x.length).fill(NaN);
      b.maxPool2dBackward(dx, f32(rng, y.length), argmax, rows, g);
      // NaN outputs compared exactly as a mask (the nmse of arrays holding NaN is NaN).
      const nan = Int32Array.from(y, (v) => (Number.isNaN(v) ? 1 : 0));
      return { y: y.map((v) => (Number.isNaN(v) ? 0 : v)), nan, argmax, dx };
    },
  });
  ROWS.push({
    op: "avgPool2dForward, avgPool2dBackward",
    shape,
    tolerance: sumTol(taps),
    run: (b, rng) => {
      const y = new Float32Array(outCount(rows, g)).fill(NaN);
      b.avgPool2dForward(y, f32(rng, inCount(rows, g)), rows, g);
      const dx = new Float32Array(inCount(rows, g)).fill(NaN);
      b.avgPool2dBackward(dx, f32(rng, y.length), rows, g);
      return { y, dx };
    },
  });
}

// Max pooling on values drawn from {NaN, -0, +0, 1} over 2x2 and 3x3 windows (the native fixed-size
// paths) and a padded 3x3 (the generic one): ties between the zeros and between the ones, NaN
// anywhere; the maxima's signs and NaN positions compared exactly.
for (const { rows, g } of [
  { rows: 3, g: window2d(2, 6, 8, [2, 2], { stride: [2, 2] }) },
  { rows: 2, g: window2d(3, 9, 37, [2, 2], { stride: [2, 2] }) }, // odd sizes, rows longer than a vector
  { rows: 2, g: window2d(2, 7, 9, [2, 2], { stride: [2, 2], pad: [1, 1] }) }, // padded edges
  { rows: 2, g: window2d(3, 7, 7, [3, 3], { stride: [1, 2] }) },
  { rows: 2, g: window2d(2, 6, 6, [3, 3], { pad: [1, 1] }) },
]) {
  ROWS.push({
    op: "maxPool2dForward (signed zeros, NaN)",
    shape: label(rows, g),
    tolerance: COPY,
    run: (b, rng) => {
      const values = [NaN, -0, 0, 1, -0, 0, -0, 0];
      const x = Float32Array.from({ length: inCount(rows, g) }, () => values[rng.int(values.length)]!);
      const y = new Float32Array(outCount(rows, g));
      const argmax = new Int32Array(y.length);
      b.maxPool2dForward(y, argmax, x, rows, g);
      const kind = Int32Array.from(y, (v) => (Number.isNaN(v) ? 2 : Object.is(v, -0) ? 1 : v === 0 ? 0 : 3));
      return { kind, argmax };
    },
  });
}

/** (rows, C, S) shapes for the per-channel kernels; (a, b, c) for swapAxes01; (groups, size) for layer norm. */
const RCS: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 7],
  [5, 1, 9],
  [64, 32, 196],
  [9, 4, 1], // (N, F) features: S = 1
  [16, 16, 4096], // 2^20
  [1 + SHAPES.int(20), 1 + SHAPES.int(20), 1 + SHAPES.int(300)],
  [1 + SHAPES.int(20), 1 + SHAPES.int(20), 1 + SHAPES.int(300)],
];
for (const [rows, C, S] of RCS) {
  const n = rows * C * S;
  const shape = `${rows}x${C}x${S}` + (n === 1 << 20 ? " (1048576)" : "");
  const m = rows * S;
  ROWS.push({
    op: "swapAxes01",
    shape,
    tolerance: COPY,
    run: (b, rng) => {
      const out = new Float32Array(n).fill(NaN);
      b.swapAxes01(out, f32(rng, n), rows, C, S);
      return { out };
    },
  });
  ROWS.push({
    op: "channelBiasAdd, channelBiasGrad",
    shape,
    tolerance: sumTol(m),
    run: (b, rng) => {
      const y = f32(rng, n);
      b.channelBiasAdd(y, f32(rng, C), rows, C, S);
      const db = new Float32Array(C).fill(NaN);
      b.channelBiasGrad(db, f32(rng, n), rows, C, S);
      return { y, db };
    },
  });
  ROWS.push({
    op: "add",
    shape: `${n}`,
    tolerance: COPY,
    run: (b, rng) => {
      const a = f32(rng, n);
      const c = f32(rng, n);
      const out = new Float32Array(n);
      b.add(out, a, c, n);
      b.add(a, a, c, n);
      return { out, inPlace: a };
    },
  });
  ROWS.push({
    op: "batchNormStats, batchNormForward, batchNormBackward",
    shape,
    tolerance: normTol(m),
    run: (b, rng) => {
      const x = f32(rng, n, -1, 3);
      const gamma = f32(rng, C, 0.5, 1.5);
      const beta = f32(rng, C);
      const dy = f32(rng, n);
      const mean = new Float32Array(C).fill(NaN);
      const variance = new Float32Array(C).fill(NaN);
      b.batchNormStats(mean, variance, x, rows, C, S);
      // Both backends normalize with the same statistics (the TypeScript ones), so that the
      // forward and backward rows measure those kernels alone.
      const tsMean = new Float32Array(C);
      const tsVar = new Float32Array(C);
      if (m > 0) {
        for (let c = 0; c < C; c++) {
          tsMean[c] = mean[c]!;
          tsVar[c] = variance[c]!;
        }
      }
      const y = new Float32Array(n);
      b.batchNormForward(y, x, tsMean, tsVar, gamma, beta, rows, C, S, 1e-5);
      const dx = new Float32Array(n);
      const dgamma = new Float32Array(C).fill(NaN);
      const dbeta = new Float32Array(C).fill(NaN);
      b.batchNormBackward(dx, dgamma, dbeta, dy, x, tsMean, tsVar, gamma, rows, C, S, 1e-5, true);
      const dxRunning = new Float32Array(n);
      b.batchNormBackward(dxRunning, dgamma.slice(), dbeta.slice(), dy, x, tsMean, tsVar, gamma, rows, C, S, 1e-5, false);
      return { mean, variance, y, dx, dgamma, dbeta, dxRunning };
    },
  });
  ROWS.push({
    op: "layerNormForward, layerNormBackward",
    shape: `${rows * C}x${S}` + (n === 1 << 20 ? " (1048576)" : ""),
    tolerance: normTol(Math.max(S, rows * C)),
    run: (b, rng) => {
      const groups = rows * C;
      const x = f32(rng, n, -1, 3);
      const gamma = f32(rng, S, 0.5, 1.5);
      const beta = f32(rng, S);
      const dy = f32(rng, n);
      const y = new Float32Array(n);
      const mean = new Float32Array(groups);
      const invStd = new Float32Array(groups);
      b.layerNormForward(y, mean, invStd, x, gamma, beta, groups, S, 1e-5);
      const dx = new Float32Array(n);
      const dgamma = new Float32Array(S).fill(NaN);
      const dbeta = new Float32Array(S).fill(NaN);
      b.layerNormBackward(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, groups, S);
      return { y, mean, invStd, dx, dgamma, dbeta };
    },
  });
}

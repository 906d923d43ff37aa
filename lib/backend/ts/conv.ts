/**
 * Convolution as im2col + GEMM (PyTorch's ConvolutionMM2d, llm.c's style): im2col unrolls every
 * window of x into a column, so that Y' = W x cols is one GEMM; col2im is its adjoint (the input
 * gradient); swapAxes01 moves between the GEMM's (outC, rows*HW) and NCHW (rows, outC, HW); the
 * per-channel bias and its gradient.
 *
 * Geometry: lib/ops/window.ts. Output (oh, ow), tap (i, j) reads x at
 *   h = oh*strideH - padTop + i*dilationH,  w = ow*strideW - padLeft + j*dilationW,
 * zero outside [0,H)x[0,W).
 */
import type { Window2d } from "../../ops/window.js";
import { checkLength, checkSize, checkWindow } from "./check.js";

/**
 * The outputs o in [lo, hi) of one axis whose tap lands inside the input: 0 <= o*stride + offset < size
 * (offset = tap*dilation - pad). Empty (lo >= hi) when no output of this tap reads the input.
 */
export function tapRange(size: number, stride: number, offset: number, out: number): [number, number] {
  const lo = offset >= 0 ? 0 : Math.ceil(-offset / stride);
  const hi = size - 1 - offset < 0 ? 0 : Math.floor((size - 1 - offset) / stride) + 1;
  return [Math.min(lo, out), Math.min(hi, out)];
}

/**
 * cols (C*kH*kW, rows*outH*outW) from x (rows, C, H, W):
 * cols[(c*kH + i)*kW + j][n*outH*outW + oh*outW + ow] = x[n, c, h, w], 0 in the padding.
 */
export function im2col(cols: Float32Array, x: Float32Array, rows: number, g: Window2d): void {
  checkSize("rows", rows);
  checkWindow("im2col", g);
  const { channels: C, height: H, width: W, kernelH: kH, kernelW: kW, outH, outW } = g;
  const plane = H * W;
  const outHW = outH * outW;
  const N = rows * outHW;
  checkLength("x (rows, C, H, W)", x.length, rows * C * plane);
  checkLength("cols (C*kH*kW, rows*outH*outW)", cols.length, C * kH * kW * N);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kH; i++) {
      const offH = i * g.dilationH - g.padTop;
      const [ohLo, ohHi] = tapRange(H, g.strideH, offH, outH);
      for (let j = 0; j < kW; j++) {
        const offW = j * g.dilationW - g.padLeft;
        const [owLo, owHi] = tapRange(W, g.strideW, offW, outW);
        const row = ((c * kH + i) * kW + j) * N;
        for (let n = 0; n < rows; n++) {
          const src = (n * C + c) * plane;
          const dst = row + n * outHW;
          for (let oh = 0; oh < outH; oh++) {
            const o = dst + oh * outW;
            if (oh < ohLo || oh >= ohHi || owLo >= owHi) {
              cols.fill(0, o, o + outW);
              continue;
            }
            const xr = src + (oh * g.strideH + offH) * W + offW;
            for (let ow = 0; ow < owLo; ow++) cols[o + ow] = 0;
            for (let ow = owLo; ow < owHi; ow++) cols[o + ow] = x[xr + ow * g.strideW];
            for (let ow = owHi; ow < outW; ow++) cols[o + ow] = 0;
          }
        }
      }
    }
  }
}

/**
 * dx (rows, C, H, W) = im2col's adjoint applied to cols (C*kH*kW, rows*outH*outW): each input
 * position gets the sum of the cols entries im2col copies from it (padding entries are dropped).
 * Overwrites dx.
 */
export function col2im(dx: Float32Array, cols: Float32Array, rows: number, g: Window2d): void {
  checkSize("rows", rows);
  checkWindow("col2im", g);
  const { channels: C, height: H, width: W, kernelH: kH, kernelW: kW, outH, outW } = g;
  const plane = H * W;
  const outHW = outH * outW;
  const N = rows * outHW;
  checkLength("dx (rows, C, H, W)", dx.length, rows * C * plane);
  checkLength("cols (C*kH*kW, rows*outH*outW)", cols.length, C * kH * kW * N);
  dx.fill(0, 0, rows * C * plane);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kH; i++) {
      const offH = i * g.dilationH - g.padTop;
      const [ohLo, ohHi] = tapRange(H, g.strideH, offH, outH);
      for (let j = 0; j < kW; j++) {
        const offW = j * g.dilationW - g.padLeft;
        const [owLo, owHi] = tapRange(W, g.strideW, offW, outW);
        const row = ((c * kH + i) * kW + j) * N;
        for (let n = 0; n < rows; n++) {
          const dst = (n * C + c) * plane;
          const src = row + n * outHW;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const o = src + oh * outW;
            const xr = dst + (oh * g.strideH + offH) * W + offW;
            for (let ow = owLo; ow < owHi; ow++) dx[xr + ow * g.strideW] += cols[o + ow];
          }
        }
      }
    }
  }
}

/** out (b, a, c) = x (a, b, c) with its first two axes swapped: out[j][i][k] = x[i][j][k]. out must not be x. */
export function swapAxes01(out: Float32Array, x: Float32Array, a: number, b: number, c: number): void {
  checkSize("a", a);
  checkSize("b", b);
  checkSize("c", c);
  checkLength("x (a, b, c)", x.length, a * b * c);
  checkLength("out (b, a, c)", out.length, a * b * c);
  if (out.buffer === x.buffer && a * b * c > 0 && overlaps(out, x, a * b * c)) {
    throw new RangeError("Invalid out for swapAxes01: it shares memory with x; expected a separate buffer");
  }
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      const src = (i * b + j) * c;
      const dst = (j * a + i) * c;
      for (let k = 0; k < c; k++) out[dst + k] = x[src + k];
    }
  }
}

/** The first n values of two views of one buffer overlap. */
function overlaps(p: Float32Array, q: Float32Array, n: number): boolean {
  const p0 = p.byteOffset;
  const q0 = q.byteOffset;
  return p0 < q0 + 4 * n && q0 < p0 + 4 * n;
}

/** y (rows, C, S) += bias (C), broadcast over rows and the S spatial positions. */
export function channelBiasAdd(y: Float32Array, bias: Float32Array, rows: number, channels: number, spatial: number): void {
  checkSize("rows", rows);
  checkSize("channels", channels);
  checkSize("spatial", spatial);
  checkLength("y (rows, channels, spatial)", y.length, rows * channels * spatial);
  checkLength("bias (channels)", bias.length, channels);
  for (let n = 0; n < rows; n++) {
    for (let c = 0; c < channels; c++) {
      const o = (n * channels + c) * spatial;
      const b = bias[c];
      for (let s = 0; s < spatial; s++) y[o + s] += b;
    }
  }
}

/** db (C) = sum over rows and the S spatial positions of dy (rows, C, S), in double. Overwrites db. */
export function channelBiasGrad(db: Float32Array, dy: Float32Array, rows: number, channels: number, spatial: number): void {
  checkSize("rows", rows);
  checkSize("channels", channels);
  checkSize("spatial", spatial);
  checkLength("dy (rows, channels, spatial)", dy.length, rows * channels * spatial);
  checkLength("db (channels)", db.length, channels);
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let n = 0; n < rows; n++) {
      const o = (n * channels + c) * spatial;
      for (let k = 0; k < spatial; k++) s += dy[o + k];
    }
    db[c] = s;
  }
}

/**
 * 2-D max and average pooling over (rows, C, H, W) samples, PyTorch's MaxPool2d / AvgPool2d
 * (count_include_pad=True) with the geometry of lib/ops/window.ts. Each output (oh, ow) of a
 * channel plane looks at the taps h = oh*strideH - padTop + i*dilationH, w = ow*strideW - padLeft + j*dilationW.
 */
import type { Window2d } from "../../ops/window.js";
import { checkLength, checkSize, checkWindow } from "./check.js";

/** Input and output element counts of a pooling call, after checking the geometry and the buffers' lengths. */
function pooled(what: string, g: Window2d, rows: number): { inCount: number; outCount: number } {
  checkSize("rows", rows);
  checkWindow(what, g);
  return { inCount: rows * g.channels * g.height * g.width, outCount: rows * g.channels * g.outH * g.outW };
}

/**
 * y (rows, C, outH, outW) = the largest x (rows, C, H, W) in each window (padding never wins);
 * argmax (rows, C, outH, outW) = h*W + w of the first largest within its channel plane. NaN wins (it
 * propagates, as in PyTorch): the first NaN of a window is its maximum. A window with no position
 * inside the input (possible only with padding or dilation larger than the input) gives -Infinity
 * and argmax -1, which maxPool2dBackward skips.
 */
export function maxPool2dForward(y: Float32Array, argmax: Int32Array, x: Float32Array, rows: number, g: Window2d): void {
  const { inCount, outCount } = pooled("maxPool2dForward", g, rows);
  checkLength("x (rows, C, H, W)", x.length, inCount);
  checkLength("y (rows, C, outH, outW)", y.length, outCount);
  checkLength("argmax (rows, C, outH, outW)", argmax.length, outCount);
  const { height: H, width: W, kernelH: kH, kernelW: kW, outH, outW } = g;
  const planes = rows * g.channels;
  for (let p = 0; p < planes; p++) {
    const xp = p * H * W;
    const yp = p * outH * outW;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * g.strideW - g.padLeft;
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < kH; i++) {
          const h = h0 + i * g.dilationH;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < kW; j++) {
            const w = w0 + j * g.dilationW;
            if (w < 0 || w >= W) continue;
            const v = x[xp + h * W + w];
            // The first real position, then strictly larger, then the first NaN (NaN > v is false).
            if (at < 0 || v > best || (v !== v && best === best)) {
              best = v;
              at = h * W + w;
            }
          }
        }
        y[yp + oh * outW + ow] = best;
        argmax[yp + oh * outW + ow] = at;
      }
    }
  }
}

/**
 * dx (rows, C, H, W) = 0, then dx[n, c, argmax] += dy[n, c, oh, ow] for every output (argmax -1:
 * no input position, skipped). Overwrites dx. argmax (rows, C, outH, outW) values must be in [-1, H*W).
 */
export function maxPool2dBackward(dx: Float32Array, dy: Float32Array, argmax: Int32Array, rows: number, g: Window2d): void {
  const { inCount, outCount } = pooled("maxPool2dBackward", g, rows);
  checkLength("dx (rows, C, H, W)", dx.length, inCount);
  checkLength("dy (rows, C, outH, outW)", dy.length, outCount);
  checkLength("argmax (rows, C, outH, outW)", argmax.length, outCount);
  const plane = g.height * g.width;
  const outHW = g.outH * g.outW;
  const planes = rows * g.channels;
  // Every index is checked before dx is touched.
  for (let o = 0; o < outCount; o++) {
    const a = argmax[o];
    if (!(a >= -1 && a < plane)) {
      throw new RangeError(`Invalid argmax[${o}] for maxPool2dBackward: ${a}; expected -1 or an index in [0, ${plane}) (H*W)`);
    }
  }
  dx.fill(0, 0, inCount);
  for (let p = 0; p < planes; p++) {
    for (let o = p * outHW; o < (p + 1) * outHW; o++) {
      const a = argmax[o];
      if (a >= 0) dx[p * plane + a] += dy[o];
    }
  }
}

/**
 * y (rows, C, outH, outW) = the mean of each window of x (rows, C, H, W), padding counted as zeros:
 * the sum of the taps inside the input divided by kH*kW (PyTorch's count_include_pad=True).
 */
export function avgPool2dForward(y: Float32Array, x: Float32Array, rows: number, g: Window2d): void {
  const { inCount, outCount } = pooled("avgPool2dForward", g, rows);
  checkLength("x (rows, C, H, W)", x.length, inCount);
  checkLength("y (rows, C, outH, outW)", y.length, outCount);
  const { height: H, width: W, kernelH: kH, kernelW: kW, outH, outW } = g;
  const inv = 1 / (kH * kW);
  const planes = rows * g.channels;
  for (let p = 0; p < planes; p++) {
    const xp = p * H * W;
    const yp = p * outH * outW;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * g.strideW - g.padLeft;
        let s = 0;
        for (let i = 0; i < kH; i++) {
          const h = h0 + i * g.dilationH;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < kW; j++) {
            const w = w0 + j * g.dilationW;
            if (w >= 0 && w < W) s += x[xp + h * W + w];
          }
        }
        y[yp + oh * outW + ow] = s * inv;
      }
    }
  }
}

/** dx (rows, C, H, W) = the adjoint of avgPool2dForward applied to dy (rows, C, outH, outW): each tap inside the input gets dy / (kH*kW). Overwrites dx. */
export function avgPool2dBackward(dx: Float32Array, dy: Float32Array, rows: number, g: Window2d): void {
  const { inCount, outCount } = pooled("avgPool2dBackward", g, rows);
  checkLength("dx (rows, C, H, W)", dx.length, inCount);
  checkLength("dy (rows, C, outH, outW)", dy.length, outCount);
  const { height: H, width: W, kernelH: kH, kernelW: kW, outH, outW } = g;
  const inv = 1 / (kH * kW);
  const planes = rows * g.channels;
  dx.fill(0, 0, inCount);
  for (let p = 0; p < planes; p++) {
    const xp = p * H * W;
    const yp = p * outH * outW;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * g.strideW - g.padLeft;
        const d = dy[yp + oh * outW + ow] * inv;
        for (let i = 0; i < kH; i++) {
          const h = h0 + i * g.dilationH;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < kW; j++) {
            const w = w0 + j * g.dilationW;
            if (w >= 0 && w < W) dx[xp + h * W + w] += d;
          }
        }
      }
    }
  }
}

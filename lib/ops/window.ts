/**
 * The geometry of a 2-D window (a convolution kernel or a pooling window), shared by the layers, the
 * kernels (lib/backend/backend.ts) and the plan steps (lib/backend/plan.ts), and the one rule for
 * its output size and padding: PyTorch's (ceil_mode off), with the layers' validation messages.
 *
 * Output (oh, ow), tap (i, j) reads the input at
 *   h = oh*strideH - padTop + i*dilationH,  w = ow*strideW - padLeft + j*dilationW;
 * positions outside [0,H)x[0,W) are padding. NCHW, float32, a sample contiguous (PyTorch's layout).
 * Along each axis out = floor((in + padBefore + padAfter - dilation*(kernel - 1) - 1) / stride) + 1.
 */
import { countText } from "../core/format.js";
import { describe } from "../core/matrix.js";

/** A 2-D window (a convolution kernel or a pooling window) sliding over (channels, height, width) samples. */
export interface Window2d {
  channels: number; height: number; width: number;   // the input sample (C, H, W)
  kernelH: number; kernelW: number;
  strideH: number; strideW: number;
  padTop: number; padLeft: number;                     // padding before the first row / column
  dilationH: number; dilationW: number;
  outH: number; outW: number;                          // output size; bottom/right padding is what these imply
}

/** A pair (height, width) of a 2-D window's settings. */
export type Pair = readonly [number, number];

/** Padding along each axis: before (top / left) and after (bottom / right). */
export interface Padding2d {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The output size along one axis (PyTorch's formula, ceil_mode off). */
export function outSize(input: number, kernel: number, stride: number, padBefore: number, padAfter: number, dilation: number): number {
  return Math.floor((input + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * The output sizes one axis may claim: what outSize gives with `padBefore` and some end padding in
 * [0, maxEnd], maxEnd = max(padBefore, dilation·(kernel − 1)), so that symmetric and "same" padding
 * both fit. Every size from `least` to `most` occurs (outSize grows by at most 1 per unit of padding).
 * The one rule both the layers' checkWindow and the kernels' argument checks apply.
 */
export function outSizeRange(input: number, kernel: number, stride: number, padBefore: number, dilation: number): { least: number; most: number; maxEnd: number } {
  const maxEnd = Math.max(padBefore, dilation * (kernel - 1));
  return { least: outSize(input, kernel, stride, padBefore, 0, dilation), most: outSize(input, kernel, stride, padBefore, maxEnd, dilation), maxEnd };
}

/** `v` as a (height, width) pair of integers >= `min`; `what` names it in errors ("kernelSize of conv2d"). */
export function pairOf(v: unknown, what: string, min: number): Pair {
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= min;
  const pair: Pair | null = ok(v) ? [v, v] : Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1]) ? [v[0], v[1]] : null;
  if (pair === null) throw new RangeError(`Invalid ${what}: expected an integer >= ${min} or a pair [height, width] of them but received ${describe(v)}`);
  if (pair[0] > MAX_WINDOW || pair[1] > MAX_WINDOW) throw new RangeError(`Invalid ${what}: ${typeof v === "number" ? v : `[${pair.join(", ")}]`} is above 2^30 (1,073,741,824), the largest window setting blasnet takes`);
  return pair;
}

/** The largest size, stride, padding or dilation along one axis of a window (the plans' limit). */
const MAX_WINDOW = 2 ** 30;

/**
 * "same" padding (stride 1, PyTorch's rule): total dilation·(kernel − 1) per axis, the odd one out
 * (even kernels) at the bottom / right, so the output has the input's size.
 */
export function samePadding(kernel: Pair, dilation: Pair): Padding2d {
  const th = dilation[0] * (kernel[0] - 1);
  const tw = dilation[1] * (kernel[1] - 1);
  return { top: Math.floor(th / 2), bottom: th - Math.floor(th / 2), left: Math.floor(tw / 2), right: tw - Math.floor(tw / 2) };
}

/**
 * The window over input sample (C, H, W) with the given settings; throws a RangeError naming the
 * input and the settings when the output would be empty (PyTorch's "Kernel size can't be greater
 * than actual input size").
 */
export function makeWindow(what: string, inShape: readonly number[], kernel: Pair, stride: Pair, pad: Padding2d, dilation: Pair): Window2d {
  const [channels, height, width] = inShape as [number, number, number];
  const outH = outSize(height, kernel[0], stride[0], pad.top, pad.bottom, dilation[0]);
  const outW = outSize(width, kernel[1], stride[1], pad.left, pad.right, dilation[1]);
  if (outH < 1 || outW < 1) {
    const ph = height + pad.top + pad.bottom;
    const pw = width + pad.left + pad.right;
    const eh = dilation[0] * (kernel[0] - 1) + 1;
    const ew = dilation[1] * (kernel[1] - 1) + 1;
    throw new RangeError(
      `${what}: calculated padded input size per channel: (${ph} x ${pw}). Kernel size${dilation[0] > 1 || dilation[1] > 1 ? " (dilated)" : ""}: (${eh} x ${ew}). ` +
        `Kernel size can't be greater than actual input size (the input is (batch, ${inShape.join(", ")})): use a smaller kernel, more padding or a larger input`,
    );
  }
  if (outH > MAX_WINDOW || outW > MAX_WINDOW) {
    throw new RangeError(`${what}: the output would be ${countText(outH)} x ${countText(outW)} per channel (the input is (batch, ${inShape.join(", ")})); at most 2^30 along each axis: use less padding or a larger stride`);
  }
  return {
    channels, height, width,
    kernelH: kernel[0], kernelW: kernel[1],
    strideH: stride[0], strideW: stride[1],
    padTop: pad.top, padLeft: pad.left,
    dilationH: dilation[0], dilationW: dilation[1],
    outH, outW,
  };
}

/** The bottom / right padding a window's output size implies (the least that gives that size). */
export function impliedPadding(g: Window2d): { bottom: number; right: number } {
  const need = (out: number, stride: number, kernel: number, dilation: number, input: number, before: number) =>
    Math.max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - input - before);
  return { bottom: need(g.outH, g.strideH, g.kernelH, g.dilationH, g.height, g.padTop), right: need(g.outW, g.strideW, g.kernelW, g.dilationW, g.width, g.padLeft) };
}

/**
 * Throws a RangeError (naming `at`) unless `g` is a consistent window: positive integer sizes,
 * non-negative padding before, and an output size the formula gives for some bottom / right
 * padding in [0, max(padding before, dilation·(kernel − 1))] (the kernels' rule).
 */
export function checkWindow(g: Window2d, at: string): void {
  if (g === null || typeof g !== "object") throw new RangeError(`${at}: expected a window object but received ${describe(g)}`);
  const positive = ["channels", "height", "width", "kernelH", "kernelW", "strideH", "strideW", "dilationH", "dilationW", "outH", "outW"] as const;
  for (const k of positive) {
    const v = g[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 2 ** 30) throw new RangeError(`${at}: window.${k} is ${describe(v)}; expected an integer in [1, 2^30]`);
  }
  const axes = [
    ["H", g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH, "padTop"],
    ["W", g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW, "padLeft"],
  ] as const;
  for (const [axis, input, kernel, stride, before, dilation, out, padName] of axes) {
    if (typeof before !== "number" || !Number.isInteger(before) || before < 0 || before > 2 ** 30) {
      throw new RangeError(`${at}: window.${padName} is ${describe(before)}; expected an integer in [0, 2^30]`);
    }
    const { least, most } = outSizeRange(input, kernel, stride, before, dilation);
    if (out < least || out > most) {
      throw new RangeError(`${at}: window.out${axis} is ${out}; an input of ${input} with kernel ${kernel}, stride ${stride}, dilation ${dilation} and padding ${before} before gives ${least === most ? least : `${least} to ${most}`}`);
    }
  }
}

/** Values per sample at the window's input (C·H·W) and output (C·outH·outW, per output channel count `channels`). */
export function windowSizes(g: Window2d, outChannels = g.channels): { inFeatures: number; outFeatures: number } {
  return { inFeatures: g.channels * g.height * g.width, outFeatures: outChannels * g.outH * g.outW };
}

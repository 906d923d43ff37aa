/**
 * Pooling over (channels, height, width) samples, PyTorch's MaxPool2d, AvgPool2d and (as Keras'
 * GlobalAveragePooling2D) AdaptiveAvgPool2d(1) + Flatten. Each channel plane separately:
 *
 *   max:  y[n, c, oh, ow] = max over the window's real positions (padding never wins; NaN does)
 *   avg:  y[n, c, oh, ow] = (1 / (kH·kW)) Σ over the window, padding counted as zeros
 *         (count_include_pad=True, PyTorch's default)
 *   global average: the mean of each whole plane, output (C)
 *
 * Backward: max sends dy to the first maximum of each window (argmax kept by forward); average
 * spreads dy / (kH·kW) over the window.
 */
import type { PlanLayer } from "../../backend/plan.js";
import { checkOptions } from "../../core/options.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { checkWindow, makeWindow, pairOf, type Pair, type Window2d } from "../../ops/window.js";
import { Layer, showShape, type PlanOp, type Shape } from "./layer.js";
import { pyPair, type TorchLayer, type TorchLayerContext } from "./torch.js";

/** Options of maxPool2d(kernelSize, options); names and defaults are PyTorch's MaxPool2d. */
export interface MaxPool2dOptions {
  /** Step between windows. Default: the kernel size. */
  stride?: number | readonly [number, number];
  /** Implicit padding on each side (never the maximum), at most half the effective kernel. Default 0. */
  padding?: number | readonly [number, number];
  /** Spacing between window taps. Default 1. */
  dilation?: number | readonly [number, number];
}

/** Options of avgPool2d(kernelSize, options); names and defaults are PyTorch's AvgPool2d. */
export interface AvgPool2dOptions {
  /** Step between windows. Default: the kernel size. */
  stride?: number | readonly [number, number];
  /** Zero padding on each side (counted in the average), at most half the kernel. Default 0. */
  padding?: number | readonly [number, number];
}

/** A maxPool2d layer as JSON (config(), model.json): the options as [height, width] pairs. */
export interface MaxPool2dConfig {
  /** The registry type: always "maxPool2d". */
  type: "maxPool2d";
  /** Window size as [height, width]. */
  kernelSize: [number, number];
  /** Step between windows as [height, width]. */
  stride: [number, number];
  /** Implicit padding on each side as [height, width]. */
  padding: [number, number];
  /** Spacing between window taps as [height, width]. */
  dilation: [number, number];
}

/** An avgPool2d layer as JSON (config(), model.json): the options as [height, width] pairs. */
export interface AvgPool2dConfig {
  /** The registry type: always "avgPool2d". */
  type: "avgPool2d";
  /** Window size as [height, width]. */
  kernelSize: [number, number];
  /** Step between windows as [height, width]. */
  stride: [number, number];
  /** Zero padding on each side as [height, width]. */
  padding: [number, number];
}

/** A globalAvgPool2d layer as JSON (config(), model.json). */
export interface GlobalAvgPool2dConfig {
  /** The registry type: always "globalAvgPool2d". */
  type: "globalAvgPool2d";
}

/** Throws unless the input is (C, H, W). */
function checkImage(what: string, inShape: Shape): void {
  if (inShape.length !== 3) {
    throw new RangeError(`${what} takes inputs of shape (batch, channels, height, width) but receives ${showShape(inShape)}` + (inShape.length === 1 ? ": give the model an image inputShape such as [1, 28, 28]" : ""));
  }
}

/** A window pooling layer's settings, validated as PyTorch does. */
abstract class WindowPool extends Layer {
  /** Window size as [height, width]. */
  readonly kernelSize: Pair;
  /** Step between windows (default: the window size) as [height, width]. */
  readonly stride: Pair;
  /** Padding on each side (default [0, 0]) as [height, width]. */
  readonly padding: Pair;
  /** Spacing between window taps (default [1, 1]; average pooling has none) as [height, width]. */
  readonly dilation: Pair;
  /** The window over the input (set by build). */
  window: Window2d | null = null;

  constructor(what: string, kernelSize: number | readonly [number, number], stride: unknown, padding: unknown, dilation: unknown) {
    super();
    this.kernelSize = pairOf(kernelSize, `kernelSize for ${what}`, 1);
    this.stride = stride === undefined ? this.kernelSize : pairOf(stride, `stride for ${what}`, 1);
    this.padding = pairOf(padding ?? 0, `padding for ${what}`, 0);
    this.dilation = pairOf(dilation ?? 1, `dilation for ${what}`, 1);
    for (const a of [0, 1] as const) {
      const effective = this.dilation[a] * (this.kernelSize[a] - 1) + 1;
      if (this.padding[a] > Math.floor(effective / 2)) {
        throw new RangeError(
          what === "maxPool2d"
            ? `${what}: pad should be at most half of effective kernel size, but got pad=${this.padding[a]}, kernel_size=${this.kernelSize[a]} and dilation=${this.dilation[a]}`
            : `${what}: pad should be at most half of kernel size, but got pad=${this.padding[a]} and kernel_size=${this.kernelSize[a]}`,
        );
      }
    }
  }

  protected override outputShape(inShape: Shape): Shape {
    checkImage(this.kind(), inShape);
    const [ph, pw] = this.padding;
    this.window = makeWindow(`${this.kind()}([${this.kernelSize.join(", ")}])`, inShape, this.kernelSize, this.stride, { top: ph, bottom: ph, left: pw, right: pw }, this.dilation);
    return [inShape[0]!, this.window.outH, this.window.outW];
  }

  /**
   * The window for summary(): "2x2", plus stride, padding and dilation where they differ from the
   * defaults.
   */
  protected settingsText(): string {
    const k = this.kernelSize[0] === this.kernelSize[1] ? `${this.kernelSize[0]}x${this.kernelSize[0]}` : this.kernelSize.join("x");
    const same = (p: Pair, v: number) => p[0] === v && p[1] === v;
    const parts = [
      same(this.stride, this.kernelSize[0]) && this.stride[1] === this.kernelSize[1] ? "" : `stride ${this.stride.join("x")}`,
      same(this.padding, 0) ? "" : `padding ${this.padding.join("x")}`,
      same(this.dilation, 1) ? "" : `dilation ${this.dilation.join("x")}`,
    ].filter((s) => s);
    return parts.length ? `${k}, ${parts.join(", ")}` : k;
  }

  /** The ONNX attributes both pools share: kernel_shape, strides and pads (begin and end alike). */
  protected onnxAttributes(): { name: string; ints: number[] }[] {
    const [ph, pw] = this.padding;
    return [
      { name: "kernel_shape", ints: [...this.kernelSize] },
      { name: "strides", ints: [...this.stride] },
      { name: "pads", ints: [ph, pw, ph, pw] },
    ];
  }
}

/**
 * Max pooling over (C, H, W) samples, each channel separately (PyTorch's MaxPool2d); output (C, OH, OW).
 * Made by maxPool2d(kernelSize, options).
 */
export class MaxPool2d extends WindowPool {
  readonly type = "maxPool2d";

  constructor(kernelSize: number | readonly [number, number], options: MaxPool2dOptions = {}) {
    checkOptions(options, ["stride", "padding", "dilation"], "maxPool2d");
    super("maxPool2d", kernelSize, options.stride, options.padding, options.dilation);
  }

  planLayers(): PlanLayer[] {
    return [{ kind: "maxPool2d", window: { ...this.window! } }];
  }

  config(): MaxPool2dConfig {
    return { type: "maxPool2d", kernelSize: [...this.kernelSize], stride: [...this.stride], padding: [...this.padding], dilation: [...this.dilation] };
  }

  /** Rebuild a maxPool2d layer from its config, validating it as maxPool2d() does. */
  static fromConfig(c: MaxPool2dConfig): MaxPool2d {
    return new MaxPool2d(c.kernelSize, { stride: c.stride, padding: c.padding, dilation: c.dilation });
  }

  label(): string {
    return `maxPool2d ${this.settingsText()}`;
  }

  kind(): string {
    return "maxPool2d";
  }

  onnx(g: OnnxGraph, x: string): string {
    return g.node("MaxPool", [x], [...this.onnxAttributes(), { name: "dilations", ints: [...this.dilation] }], this.name);
  }

  /** Its PyTorch module: nn.MaxPool2d. */
  static torch(c: MaxPool2dConfig, at: TorchLayerContext): TorchLayer {
    const args = [pyPair(c.kernelSize)];
    if (c.stride[0] !== c.kernelSize[0] || c.stride[1] !== c.kernelSize[1]) args.push(`stride=${pyPair(c.stride)}`);
    if (c.padding[0] !== 0 || c.padding[1] !== 0) args.push(`padding=${pyPair(c.padding)}`);
    if (c.dilation[0] !== 1 || c.dilation[1] !== 1) args.push(`dilation=${pyPair(c.dilation)}`);
    return { module: `nn.MaxPool2d(${args.join(", ")})`, comment: `max pooling -> (${at.layer.outShape.join(", ")})`, init: [] };
  }
}

/**
 * Average pooling over (C, H, W) samples, each channel separately, padding counted as zeros (PyTorch's
 * AvgPool2d); output (C, OH, OW). Made by avgPool2d(kernelSize, options).
 */
export class AvgPool2d extends WindowPool {
  readonly type = "avgPool2d";

  constructor(kernelSize: number | readonly [number, number], options: AvgPool2dOptions = {}) {
    checkOptions(options, ["stride", "padding"], "avgPool2d");
    super("avgPool2d", kernelSize, options.stride, options.padding, 1);
  }

  planLayers(): PlanLayer[] {
    return [{ kind: "avgPool2d", window: { ...this.window! } }];
  }

  config(): AvgPool2dConfig {
    return { type: "avgPool2d", kernelSize: [...this.kernelSize], stride: [...this.stride], padding: [...this.padding] };
  }

  /** Rebuild an avgPool2d layer from its config, validating it as avgPool2d() does. */
  static fromConfig(c: AvgPool2dConfig): AvgPool2d {
    return new AvgPool2d(c.kernelSize, { stride: c.stride, padding: c.padding });
  }

  label(): string {
    return `avgPool2d ${this.settingsText()}`;
  }

  kind(): string {
    return "avgPool2d";
  }

  onnx(g: OnnxGraph, x: string): string {
    return g.node("AveragePool", [x], [...this.onnxAttributes(), { name: "count_include_pad", int: 1 }], this.name);
  }

  /** Its PyTorch module: nn.AvgPool2d (padding counted as zeros, PyTorch's default). */
  static torch(c: AvgPool2dConfig, at: TorchLayerContext): TorchLayer {
    const args = [pyPair(c.kernelSize)];
    if (c.stride[0] !== c.kernelSize[0] || c.stride[1] !== c.kernelSize[1]) args.push(`stride=${pyPair(c.stride)}`);
    if (c.padding[0] !== 0 || c.padding[1] !== 0) args.push(`padding=${pyPair(c.padding)}`);
    return { module: `nn.AvgPool2d(${args.join(", ")})`, comment: `average pooling (padding counted as zeros) -> (${at.layer.outShape.join(", ")})`, init: [] };
  }
}

/**
 * The mean of each channel's whole plane: (C, H, W) samples become (C), Keras' GlobalAveragePooling2D.
 * Made by globalAvgPool2d().
 */
export class GlobalAvgPool2d extends Layer {
  readonly type = "globalAvgPool2d";
  /** The window over the input, the whole plane (set by build). */
  window: Window2d | null = null;

  protected override outputShape(inShape: Shape): Shape {
    checkImage("globalAvgPool2d", inShape);
    const [c, h, w] = inShape as [number, number, number];
    this.window = makeWindow("globalAvgPool2d", inShape, [h, w], [1, 1], { top: 0, bottom: 0, left: 0, right: 0 }, [1, 1]);
    return [c];
  }

  planLayers(): PlanLayer[] {
    // The mean of each plane is average pooling with the window over the whole plane; (C, 1, 1) and
    // (C) are the same values.
    return [{ kind: "avgPool2d", window: { ...this.window! } }];
  }

  config(): GlobalAvgPool2dConfig {
    return { type: "globalAvgPool2d" };
  }

  /** Rebuild a globalAvgPool2d layer from its config (it has no options). */
  static fromConfig(): GlobalAvgPool2d {
    return new GlobalAvgPool2d();
  }

  label(): string {
    return "globalAvgPool2d";
  }

  kind(): string {
    return "globalAvgPool2d";
  }

  onnx(g: OnnxGraph, x: string): string {
    const pooled = g.node("GlobalAveragePool", [x], [], this.name);
    return g.node("Flatten", [pooled], [{ name: "axis", int: 1 }]);
  }

  /** Its PyTorch module: adaptive average pooling to 1x1, then flatten. */
  static torch(_c: GlobalAvgPool2dConfig, at: TorchLayerContext): TorchLayer {
    return { module: "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())", comment: `global average pooling -> (${at.layer.outShape.join(", ")})`, init: [] };
  }
}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** Max pooling: output (C, outH, outW). */
    maxPool2d: { window: Window2d };
    /**
     * Average pooling: output (C, outH, outW); padding counts as zeros and each window divides by
     * kH·kW (global average pooling is a window over the whole plane).
     */
    avgPool2d: { window: Window2d };
  }
}

type PoolStep = Extract<PlanLayer, { kind: "maxPool2d" | "avgPool2d" }>;

/** Output width of a pooling step (it keeps the channels). */
function poolOutFeatures(l: PoolStep, inF: number, at: string): number {
  checkWindow(l.window, `${at} (${l.kind})`);
  const g = l.window;
  if (g.channels * g.height * g.width !== inF) throw new RangeError(`${at} (${l.kind}) expects inputs of (${g.channels}, ${g.height}, ${g.width}) = ${g.channels * g.height * g.width} values but receives ${inF}`);
  const effH = g.dilationH * (g.kernelH - 1) + 1;
  const effW = g.dilationW * (g.kernelW - 1) + 1;
  if (2 * g.padTop > effH || 2 * g.padLeft > effW) throw new RangeError(`${at} (${l.kind}): padding is more than half the (effective) kernel`);
  if (l.kind === "avgPool2d" && (g.dilationH !== 1 || g.dilationW !== 1)) throw new RangeError(`${at} (avgPool2d) has dilation ${g.dilationH}x${g.dilationW}; average pooling takes dilation 1`);
  return g.channels * g.outH * g.outW;
}

/** Where each output's maximum came from (h·W + w in its channel plane), for the batch. */
export const maxPool2dOp: PlanOp<Extract<PlanLayer, { kind: "maxPool2d" }>, Int32Array> = {
  code: 5,
  outFeatures: (l, inF, _P, at) => poolOutFeatures(l, inF, at),
  prepare: (_l, _buffers, batchSize, _inF, outF) => new Int32Array(batchSize * outF),
  forward(k, l, argmax, x, y, rows) {
    k.maxPool2dForward(y, argmax, x, rows, l.window);
  },
  backward(k, l, argmax, _x, _y, dy, dx, rows) {
    if (dx) k.maxPool2dBackward(dx, dy, argmax, rows, l.window);
  },
};

export const avgPool2dOp: PlanOp<Extract<PlanLayer, { kind: "avgPool2d" }>, null> = {
  code: 6,
  outFeatures: (l, inF, _P, at) => poolOutFeatures(l, inF, at),
  prepare: () => null,
  forward(k, l, _w, x, y, rows) {
    k.avgPool2dForward(y, x, rows, l.window);
  },
  backward(k, l, _w, _x, _y, dy, dx, rows) {
    if (dx) k.avgPool2dBackward(dx, dy, rows, l.window);
  },
};

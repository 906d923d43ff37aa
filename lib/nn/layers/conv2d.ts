/**
 * A 2-D convolution, PyTorch's Conv2d: x (batch, C, H, W) maps to y (batch, outC, outH, outW) with
 * weight W (outC, C, kH, kW) and bias b (outC):
 *
 *   y[n, o, oh, ow] = b[o] + Σ_{c, i, j} W[o, c, i, j] · x[n, c, oh·sH − padTop + i·dH, ow·sW − padLeft + j·dW]
 *
 * (zero outside the input; geometry in lib/ops/window.ts). The plan step is im2col and one GEMM:
 *
 *   cols (K, rows·HW) = im2col(x),  K = C·kH·kW,  HW = outH·outW
 *   Y' (outC, rows·HW) = W (outC, K) × cols;   y (rows, outC, HW) = swapAxes01(Y') + b
 * backward:
 *   dY' = swapAxes01(dy);  db = Σ_{rows, HW} dy;  dW (outC, K) = dY' × colsᵀ;  dx = col2im(Wᵀ × dY')
 */
import type { PlanLayer } from "../../backend/plan.js";
import { countText } from "../../core/format.js";
import { describe } from "../../core/matrix.js";
import { checkOptions } from "../../core/options.js";
import type { Rng } from "../../core/rng.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { checkWindow, makeWindow, pairOf, samePadding, type Padding2d, type Pair, type Window2d } from "../../ops/window.js";
import { checkInitializer, defaultInitializer, initialize, type Initializer } from "../init.js";
import { activationLayer, activationStep, checkActivationName, LEAKY_RELU_ALPHA, type DenseActivation } from "./activation.js";
import { Layer, showShape, sizeOf, type PlanOp, type Shape, type TrainableOption } from "./layer.js";
import { activationAfter, pyPair, torchActivation, torchInit, type TorchLayer, type TorchLayerContext } from "./torch.js";

/** Options of conv2d(outChannels, kernelSize, options); names and defaults are PyTorch's Conv2d. */
export interface Conv2dOptions extends TrainableOption {
  /** Step between windows: a number or [height, width]. Default 1. */
  stride?: number | readonly [number, number];
  /**
   * Zero padding: "valid" (none, the default), "same" (stride 1 only: the output keeps the input's
   * height and width; the odd one of an even kernel goes at the bottom / right, as PyTorch), or
   * rows / columns on each side as a number or [height, width].
   */
  padding?: "valid" | "same" | number | readonly [number, number];
  /** Spacing between kernel taps: a number or [height, width]. Default 1. */
  dilation?: number | readonly [number, number];
  /** Add a bias per output channel (initialized to zero). Default true. */
  useBias?: boolean;
  /** Activation applied after the convolution. Default: none. */
  activation?: DenseActivation;
  /**
   * Weight initializer (fanIn = C·kH·kW, fanOut = outChannels·kH·kW). Default: "heUniform" before a
   * ReLU-family activation, "glorotUniform" otherwise (as dense).
   */
  init?: Initializer;
}

/** A conv2d layer as JSON (config(), model.json): the options with pairs spelled out. */
export interface Conv2dConfig {
  /** The registry type: always "conv2d". */
  type: "conv2d";
  /** Output channels (filters). */
  outChannels: number;
  /** Kernel size as [height, width]. */
  kernelSize: [number, number];
  /** Step between windows as [height, width]. */
  stride: [number, number];
  /** "valid", "same", or rows and columns of zeros on each side as [height, width]. */
  padding: "valid" | "same" | [number, number];
  /** Spacing between kernel taps as [height, width]. */
  dilation: [number, number];
  /** Whether the layer has a bias per output channel. */
  useBias: boolean;
  /** The activation after the convolution, or null for none. */
  activation: DenseActivation | null;
  /** The weight initializer given, or null for the default (chosen by the activation that follows). */
  init: Initializer | null;
}

/** The most values one layer's weight may hold (one float32 buffer). */
const MAX_PARAMS = 2 ** 31 - 1;

/**
 * A 2-D convolution over (C, H, W) samples (PyTorch's Conv2d, cross-correlation): weight (outChannels, C,
 * kH, kW), bias (outChannels), output (outChannels, OH, OW), then its activation if it has one. Runs as
 * im2col + GEMM. Made by conv2d(outChannels, kernelSize, options).
 */
export class Conv2d extends Layer {
  readonly type = "conv2d";
  /** Output channels (filters). */
  readonly outChannels: number;
  /** Kernel size as [height, width]. */
  readonly kernelSize: Pair;
  /** Step between windows (default [1, 1]) as [height, width]. */
  readonly stride: Pair;
  /**
   * "valid" (none, the default), "same" (output keeps the input's height and width), or zeros on each side
   * as [height, width].
   */
  readonly padding: "valid" | "same" | Pair;
  /** Spacing between kernel taps (default [1, 1]) as [height, width]. */
  readonly dilation: Pair;
  /** Whether the layer has a bias per output channel (default true). */
  readonly useBias: boolean;
  /** The activation after the convolution, or null. */
  readonly activation: DenseActivation | null;
  /**
   * The weight initializer given, or null for the default (heUniform before a ReLU-family activation,
   * glorotUniform otherwise).
   */
  readonly init: Initializer | null;
  /** The window over the input (set by build). */
  window: Window2d | null = null;

  constructor(outChannels: number, kernelSize: number | readonly [number, number], options: Conv2dOptions = {}) {
    super();
    if (!Number.isInteger(outChannels) || outChannels < 1) {
      throw new RangeError(`Invalid outChannels for conv2d: expected a positive integer but received ${describe(outChannels)}`);
    }
    checkOptions(options, ["stride", "padding", "dilation", "useBias", "activation", "init", "trainable"], "conv2d");
    this.trainable = options.trainable ?? true;
    const { stride = 1, padding = "valid", dilation = 1, useBias = true, activation, init } = options;
    this.outChannels = outChannels;
    this.kernelSize = pairOf(kernelSize, "kernelSize for conv2d", 1);
    this.stride = pairOf(stride, "stride for conv2d", 1);
    this.dilation = pairOf(dilation, "dilation for conv2d", 1);
    if (typeof padding === "string") {
      if (padding !== "valid" && padding !== "same") {
        throw new TypeError(`Invalid padding string ${JSON.stringify(padding)} for conv2d, should be one of "valid", "same" (or rows per side as a number or [height, width])`);
      }
      if (padding === "same" && (this.stride[0] !== 1 || this.stride[1] !== 1)) {
        throw new RangeError(`padding "same" is not supported for strided convolutions (conv2d stride [${this.stride.join(", ")}]): use stride 1, or give the padding as a number`);
      }
      this.padding = padding;
    } else {
      const p = pairOf(padding, "padding for conv2d", 0);
      this.padding = p;
    }
    if (activation !== undefined) checkActivationName(activation, "conv2d", false);
    if (typeof useBias !== "boolean") throw new TypeError(`Invalid useBias for conv2d: expected a boolean but received ${describe(useBias)}`);
    this.useBias = useBias;
    this.activation = activation ?? null;
    this.init = init === undefined ? null : checkInitializer(init, "conv2d");
  }

  /** Padding on each side (what "valid" / "same" / [h, w] mean). */
  get pads(): Padding2d {
    if (this.padding === "valid") return { top: 0, bottom: 0, left: 0, right: 0 };
    if (this.padding === "same") return samePadding(this.kernelSize, this.dilation);
    const [h, w] = this.padding;
    return { top: h, bottom: h, left: w, right: w };
  }

  protected override outputShape(inShape: Shape): Shape {
    if (inShape.length !== 3) {
      throw new RangeError(
        `conv2d takes inputs of shape (batch, channels, height, width) but receives ${showShape(inShape)}` +
          (inShape.length === 1 ? ": give the model an image inputShape such as [1, 28, 28]" : ""),
      );
    }
    const n = this.outChannels * inShape[0]! * this.kernelSize[0] * this.kernelSize[1];
    if (n > MAX_PARAMS) throw new RangeError(`conv2d(${this.outChannels}) after ${inShape[0]} channels would have a weight of ${countText(n)} values: at most ${MAX_PARAMS.toLocaleString("en-US")} fit in one layer`);
    this.window = makeWindow(`conv2d(${this.outChannels}, [${this.kernelSize.join(", ")}])`, inShape, this.kernelSize, this.stride, this.pads, this.dilation);
    return [this.outChannels, this.window.outH, this.window.outW];
  }

  /** The unrolled input (channels x kH x kW rows, outH x outW columns per sample) when larger than the output. */
  override sampleArray(): { values: number; what: string } {
    const g = this.window!;
    const unrolled = g.channels * g.kernelH * g.kernelW * g.outH * g.outW;
    return unrolled > sizeOf(this.outShape) ? { values: unrolled, what: "unrolled input" } : super.sampleArray();
  }

  override paramSpecs() {
    const [kh, kw] = this.kernelSize;
    const specs = [{ name: "weight", shape: [this.outChannels, this.inShape[0]!, kh, kw] }];
    if (this.useBias) specs.push({ name: "bias", shape: [this.outChannels] });
    return specs;
  }

  /** (outC, C, kH, kW) view of the model's parameters (after bind). */
  get weight(): Float32Array {
    return this.params[0]!.value;
  }
  /** (outC) view, or null without bias. */
  get bias(): Float32Array | null {
    return this.useBias ? this.params[1]!.value : null;
  }

  override initialize(rng: Rng, next: Layer | undefined): void {
    const following = this.activation ?? next?.activationKind ?? null;
    const taps = this.kernelSize[0] * this.kernelSize[1];
    initialize(this.init ?? defaultInitializer(following), this.weight, this.inShape[0]! * taps, this.outChannels * taps, rng);
    this.bias?.fill(0);
  }

  planLayers(): PlanLayer[] {
    const out: PlanLayer[] = [
      {
        kind: "conv2d",
        window: { ...this.window! },
        outChannels: this.outChannels,
        weightOffset: this.params[0]?.offset ?? -1,
        biasOffset: this.useBias ? (this.params[1]?.offset ?? -1) : -1,
      },
    ];
    const step = this.activation === null ? null : activationStep(this.activation, undefined);
    if (step) out.push(step);
    return out;
  }

  config(): Conv2dConfig {
    return {
      type: "conv2d",
      outChannels: this.outChannels,
      kernelSize: [...this.kernelSize],
      stride: [...this.stride],
      padding: typeof this.padding === "string" ? this.padding : [...this.padding],
      dilation: [...this.dilation],
      useBias: this.useBias,
      activation: this.activation,
      init: this.init,
    };
  }

  /** Rebuild a conv2d layer from its config, validating it as conv2d() does. */
  static fromConfig(c: Conv2dConfig): Conv2d {
    return new Conv2d(c.outChannels, c.kernelSize, {
      stride: c.stride,
      padding: c.padding,
      dilation: c.dilation,
      useBias: c.useBias ?? true,
      ...(c.activation !== null && c.activation !== undefined ? { activation: c.activation } : {}),
      ...(c.init !== null && c.init !== undefined ? { init: c.init } : {}),
    });
  }

  label(): string {
    const k = this.kernelSize[0] === this.kernelSize[1] ? `${this.kernelSize[0]}x${this.kernelSize[0]}` : this.kernelSize.join("x");
    return `conv2d ${k}${this.activation ? ` (${this.activation})` : ""}`;
  }

  kind(): string {
    return "conv2d";
  }

  onnx(g: OnnxGraph, x: string): string {
    const [kh, kw] = this.kernelSize;
    const w = g.tensor(`${this.path}.weight`, [this.outChannels, this.inShape[0]!, kh, kw], this.weight);
    const inputs = [x, w];
    if (this.bias) inputs.push(g.tensor(`${this.path}.bias`, [this.outChannels], this.bias));
    const p = this.pads;
    const y = g.node(
      "Conv",
      inputs,
      [
        { name: "kernel_shape", ints: [kh, kw] },
        { name: "strides", ints: [...this.stride] },
        { name: "pads", ints: [p.top, p.left, p.bottom, p.right] },
        { name: "dilations", ints: [...this.dilation] },
      ],
      this.name,
    );
    return this.activation === null ? y : activationLayer(this.activation).onnx(g, y);
  }

  /** Its PyTorch module: nn.Conv2d, or the exported module's Conv2d with the activation applied after it. */
  static torch(c: Conv2dConfig, at: TorchLayerContext): TorchLayer {
    const where = `layer ${at.index} (conv2d)`;
    const inC = at.layer.inShape[0]!;
    const args = [`${inC}`, `${c.outChannels}`, pyPair(c.kernelSize)];
    if (c.stride[0] !== 1 || c.stride[1] !== 1) args.push(`stride=${pyPair(c.stride)}`);
    if (c.padding === "same") args.push('padding="same"');
    else if (c.padding !== "valid" && (c.padding[0] !== 0 || c.padding[1] !== 0)) args.push(`padding=${pyPair(c.padding)}`);
    if (c.dilation[0] !== 1 || c.dilation[1] !== 1) args.push(`dilation=${pyPair(c.dilation)}`);
    if (c.useBias === false) args.push("bias=False");
    const act = c.activation ?? "linear";
    const applied = act === "linear" ? null : torchActivation(act, act === "leakyRelu" ? LEAKY_RELU_ALPHA : 0, where);
    const module = applied ? `Conv2d(${args.join(", ")}, activation=${applied})` : `nn.Conv2d(${args.join(", ")})`;
    const following = c.activation ?? activationAfter(at.next);
    const init = torchInit(c.init ?? defaultInitializer(following), c.useBias !== false);
    const [, h, w] = at.layer.outShape;
    return { module, comment: `conv2d ${c.kernelSize.join("x")}, ${inC} -> ${c.outChannels} channels (${c.outChannels}, ${h}, ${w})${c.activation ? `, ${c.activation}` : ""}`, init };
  }
}

/** The conv2d step's views into the model's buffers and its workspaces. */
interface ConvWork {
  weight: Float32Array;
  weightGrad: Float32Array;
  bias: Float32Array | null;
  biasGrad: Float32Array | null;
  /** im2col of the batch (K, batch·HW); reused for the input gradient's columns in backward. */
  cols: Float32Array;
  /** The GEMM's output Y' and, in backward, dY' (outC, batch·HW). */
  gemmOut: Float32Array;
}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** A conv2d step: weight (outChannels, C, kH, kW) at weightOffset, bias (outChannels) or -1; output (outChannels, outH, outW). */
    conv2d: { window: Window2d; outChannels: number; weightOffset: number; biasOffset: number };
  }
}

type ConvStep = Extract<PlanLayer, { kind: "conv2d" }>;

export const conv2dOp: PlanOp<ConvStep, ConvWork> = {
  code: 4,
  outFeatures(l, inF, P, at) {
    checkWindow(l.window, `${at} (conv2d)`);
    const g = l.window;
    if (!Number.isInteger(l.outChannels) || l.outChannels < 1) throw new RangeError(`${at} (conv2d) has outChannels ${l.outChannels}; expected a positive integer`);
    if (g.channels * g.height * g.width !== inF) throw new RangeError(`${at} (conv2d) expects inputs of (${g.channels}, ${g.height}, ${g.width}) = ${g.channels * g.height * g.width} values but receives ${inF}`);
    const wEnd = l.weightOffset + l.outChannels * g.channels * g.kernelH * g.kernelW;
    const bEnd = l.biasOffset < 0 ? 0 : l.biasOffset + l.outChannels;
    if (l.weightOffset < 0 || wEnd > P || bEnd > P) throw new RangeError(`${at} (conv2d) has parameters outside the ${P} parameters`);
    return l.outChannels * g.outH * g.outW;
  },
  prepare(l, { params, grads }, batchSize) {
    const g = l.window;
    const K = g.channels * g.kernelH * g.kernelW;
    const HW = g.outH * g.outW;
    const w = [l.weightOffset, l.weightOffset + l.outChannels * K] as const;
    const b = [l.biasOffset, l.biasOffset + l.outChannels] as const;
    return {
      weight: params.subarray(...w),
      weightGrad: grads.subarray(...w),
      bias: l.biasOffset < 0 ? null : params.subarray(...b),
      biasGrad: l.biasOffset < 0 ? null : grads.subarray(...b),
      cols: new Float32Array(K * batchSize * HW),
      gemmOut: new Float32Array(l.outChannels * batchSize * HW),
    };
  },
  forward(k, l, v, x, y, rows) {
    const g = l.window;
    const K = g.channels * g.kernelH * g.kernelW;
    const HW = g.outH * g.outW;
    k.im2col(v.cols, x, rows, g);
    // Y' (outC, rows·HW) = W (outC, K) × cols (K, rows·HW)
    k.gemm(false, false, l.outChannels, rows * HW, K, 1, v.weight, v.cols, 0, v.gemmOut);
    // y (rows, outC, HW) = swapAxes01(Y') + b
    k.swapAxes01(y, v.gemmOut, l.outChannels, rows, HW);
    if (v.bias) k.channelBiasAdd(y, v.bias, rows, l.outChannels, HW);
  },
  backward(k, l, v, _x, _y, dy, dx, rows) {
    const g = l.window;
    const K = g.channels * g.kernelH * g.kernelW;
    const HW = g.outH * g.outW;
    const dYp = v.gemmOut;
    // dY' (outC, rows·HW) = swapAxes01(dy (rows, outC, HW))
    k.swapAxes01(dYp, dy, rows, l.outChannels, HW);
    if (v.biasGrad) k.channelBiasGrad(v.biasGrad, dy, rows, l.outChannels, HW);
    // dW (outC, K) = dY' × colsᵀ
    k.gemm(false, true, l.outChannels, K, rows * HW, 1, dYp, v.cols, 0, v.weightGrad);
    if (!dx) return;
    // dcols (K, rows·HW) = Wᵀ × dY' (into cols, no longer needed), then dx = col2im(dcols)
    k.gemm(true, false, K, rows * HW, l.outChannels, 1, v.weight, dYp, 0, v.cols);
    k.col2im(dx, v.cols, rows, g);
  },
};

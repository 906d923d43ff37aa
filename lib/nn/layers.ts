/**
 * The one list of layer kinds (`LAYERS`, by config type) and of plan ops (`PLAN_OPS`, by plan step
 * kind), and the factories users call. Each kind is described once, in its own file under layers/
 * (see layers/layer.ts for what a description holds); saving, loading, summaries, ONNX and PyTorch
 * export, and the training plans all go through these lists.
 *
 * Adding a layer kind: its file under layers/ (its plan step's fields, code and math among the
 * rest, and its PyTorch module, a static `torch` that lib/io/torch-layers.ts finds through LAYERS),
 * its entries here, and its native step (its file under native/steps/ and its line in the kind
 * list, native/steps/steps.h).
 */
import type { PlanLayer } from "../backend/plan.js";
import { registerPlanLayerCodes } from "../backend/native/kind-table.js";
import { describe } from "../core/matrix.js";
import { Activation, activationOp, LEAKY_RELU_ALPHA, type ActivationConfig } from "./layers/activation.js";
import { BatchNorm, batchNormOp, type BatchNormConfig, type BatchNormOptions } from "./layers/batch-norm.js";
import { Conv2d, conv2dOp, type Conv2dConfig, type Conv2dOptions } from "./layers/conv2d.js";
import { Dense, denseOp, type DenseConfig, type DenseOptions } from "./layers/dense.js";
import { Dropout, dropoutOp, type DropoutConfig } from "./layers/dropout.js";
import { Flatten, type FlattenConfig } from "./layers/flatten.js";
import { checkTrainable, type Layer, type PlanOp } from "./layers/layer.js";
import { LayerNorm, layerNormOp, type LayerNormConfig, type LayerNormOptions } from "./layers/layer-norm.js";
import {
  AvgPool2d,
  avgPool2dOp,
  GlobalAvgPool2d,
  MaxPool2d,
  maxPool2dOp,
  type AvgPool2dConfig,
  type AvgPool2dOptions,
  type GlobalAvgPool2dConfig,
  type MaxPool2dConfig,
  type MaxPool2dOptions,
} from "./layers/pooling.js";
import { MAX_RESIDUAL_DEPTH, Residual, residualEndOp, residualStartOp, type ResidualConfig } from "./layers/residual.js";
import { Softmax, softmaxOp, type SoftmaxConfig } from "./layers/softmax.js";

/** Every layer kind, by the `type` its config carries. */
export const LAYERS = {
  dense: Dense,
  activation: Activation,
  softmax: Softmax,
  dropout: Dropout,
  flatten: Flatten,
  conv2d: Conv2d,
  maxPool2d: MaxPool2d,
  avgPool2d: AvgPool2d,
  globalAvgPool2d: GlobalAvgPool2d,
  batchNorm: BatchNorm,
  layerNorm: LayerNorm,
  residual: Residual,
} as const;

/** A layer's JSON-able description (what `Sequential.config()` stores and `layerFromConfig` reads). */
export type LayerConfig =
  | DenseConfig
  | ActivationConfig
  | SoftmaxConfig
  | DropoutConfig
  | FlattenConfig
  | Conv2dConfig
  | MaxPool2dConfig
  | AvgPool2dConfig
  | GlobalAvgPool2dConfig
  | BatchNormConfig
  | LayerNormConfig
  | ResidualConfig;

/**
 * Every plan step kind (PlanSteps in lib/backend/plan.ts, which each layer file extends with its
 * own) and its math: the TypeScript reference the training plans run, and the kind's native code.
 */
export const PLAN_OPS: { [K in PlanLayer["kind"]]: PlanOp<Extract<PlanLayer, { kind: K }>, any> } = {
  dense: denseOp,
  activation: activationOp,
  softmax: softmaxOp,
  dropout: dropoutOp,
  conv2d: conv2dOp,
  maxPool2d: maxPool2dOp,
  avgPool2d: avgPool2dOp,
  batchNorm: batchNormOp,
  layerNorm: layerNormOp,
  residualStart: residualStartOp,
  residualEnd: residualEndOp,
};

/**
 * The plan step kinds' native codes, by kind (what the addon's kinds() must list), handed down to the
 * native loader's kind table (lib/backend/native/kind-table.ts) here, so that the backend, a floor
 * below, never imports this registry.
 */
export const PLAN_LAYER_CODES: Readonly<Record<PlanLayer["kind"], number>> = Object.fromEntries(
  Object.entries(PLAN_OPS).map(([kind, op]) => [kind, op.code]),
) as Record<PlanLayer["kind"], number>;
registerPlanLayerCodes(PLAN_LAYER_CODES);

/** How deeply residual blocks may nest in a config: as in a model (MAX_RESIDUAL_DEPTH). */
export const MAX_CONFIG_DEPTH = MAX_RESIDUAL_DEPTH;

/**
 * Rebuild a layer from its config (validating it as the factories do). `depth` counts the residual
 * blocks around this config (0 at the top of a model); configs nested deeper than MAX_CONFIG_DEPTH are refused.
 */
export function layerFromConfig(c: LayerConfig, index: number, depth = 0): Layer {
  if (depth > MAX_CONFIG_DEPTH) {
    throw new RangeError(
      `Layer config at index ${index} is nested ${depth} residual blocks deep; blasnet reads at most ${MAX_CONFIG_DEPTH} levels of nesting: flatten the model's residual blocks`,
    );
  }
  if (c === null || typeof c !== "object") {
    throw new TypeError(`Invalid layer config at index ${index}: expected an object but received ${describe(c)}`);
  }
  const type = (c as { type?: unknown }).type;
  if (typeof type !== "string" || !Object.hasOwn(LAYERS, type)) {
    throw new TypeError(
      `Unknown layer type at index ${index}: ${describe(type)}; expected one of ${Object.keys(LAYERS).map((s) => `"${s}"`).join(", ")}`,
    );
  }
  // A residual block's body is rebuilt through this function too, one level deeper. `trainable`
  // (saved only when false; absent in older files) is every kind's, set after the kind's own fields.
  const { trainable, ...own } = c as LayerConfig & { trainable?: unknown };
  const rebuild = (inner: LayerConfig, j: number): Layer => layerFromConfig(inner, j, depth + 1);
  const layer = (LAYERS[type as keyof typeof LAYERS].fromConfig as (c: LayerConfig, rebuild: (c: LayerConfig, j: number) => Layer) => Layer)(own as LayerConfig, rebuild);
  if (trainable !== undefined) layer.trainable = checkTrainable(trainable, `the layer config at index ${index}`);
  return layer;
}

/** A fully connected layer with `units` outputs: y = x Wᵀ + b, then `activation` if given. */
export function dense(units: number, options: DenseOptions = {}): Dense {
  return new Dense(units, options);
}
/** Logistic sigmoid 1 / (1 + e^-x). */
export function sigmoid(): Activation {
  return new Activation("sigmoid");
}
/** max(0, x). */
export function relu(): Activation {
  return new Activation("relu");
}
/** tanh(x). */
export function tanh(): Activation {
  return new Activation("tanh");
}
/** x for x > 0, alpha x otherwise (alpha default 0.01). */
export function leakyRelu(alpha = LEAKY_RELU_ALPHA): Activation {
  return new Activation("leakyRelu", alpha);
}
/** GELU, tanh approximation. */
export function gelu(): Activation {
  return new Activation("gelu");
}
/** SiLU (swish): x σ(x). */
export function silu(): Activation {
  return new Activation("silu");
}
/** Softplus: log(1 + e^x), a smooth ReLU (x above 20, as PyTorch). */
export function softplus(): Activation {
  return new Activation("softplus");
}
/** The identity. */
export function linear(): Activation {
  return new Activation("linear");
}
/** Softmax over each sample's features. */
export function softmax(): Softmax {
  return new Softmax();
}
/** Inverted dropout with drop probability `rate` in [0, 1). */
export function dropout(rate: number): Dropout {
  return new Dropout(rate);
}
/** Flatten each sample to one dimension (c, h, w) -> (c·h·w). */
export function flatten(): Flatten {
  return new Flatten();
}
/**
 * A 2-D convolution (PyTorch's Conv2d) with `outChannels` filters of `kernelSize` (a number or
 * [height, width]) over (channels, height, width) samples, then `activation` if given; e.g.
 * `conv2d(32, 3, { padding: 1, activation: "relu" })`. Weight (outChannels, channels, kH, kW).
 */
export function conv2d(outChannels: number, kernelSize: number | readonly [number, number], options: Conv2dOptions = {}): Conv2d {
  return new Conv2d(outChannels, kernelSize, options);
}
/** Max pooling over windows of `kernelSize` (stride: the kernel size unless given). */
export function maxPool2d(kernelSize: number | readonly [number, number], options: MaxPool2dOptions = {}): MaxPool2d {
  return new MaxPool2d(kernelSize, options);
}
/** Average pooling over windows of `kernelSize` (padding counted as zeros; stride: the kernel size unless given). */
export function avgPool2d(kernelSize: number | readonly [number, number], options: AvgPool2dOptions = {}): AvgPool2d {
  return new AvgPool2d(kernelSize, options);
}
/** The mean of each channel's plane: (C, H, W) -> (C) (Keras' GlobalAveragePooling2D). */
export function globalAvgPool2d(): GlobalAvgPool2d {
  return new GlobalAvgPool2d();
}
/** Batch normalization over the channels (the sample's first dimension): batch statistics while training, running ones after. */
export function batchNorm(options: BatchNormOptions = {}): BatchNorm {
  return new BatchNorm(options);
}
/** Layer normalization over each sample's last `dims` dimensions (default 1), with a learned scale and shift. */
export function layerNorm(options: LayerNormOptions = {}): LayerNorm {
  return new LayerNorm(options);
}
/** A residual block y = x + f(x), f being `layers` (which must keep the sample's shape). */
export function residual(layers: Layer[]): Residual {
  return new Residual(layers);
}

export { Layer, sizeOf, showShape, type TrainableOption, type Shape, type Param, type ParamSpec, type PlanOp, type PlanContext } from "./layers/layer.js";
export { Dense, type DenseOptions, type DenseConfig } from "./layers/dense.js";
export { Activation, LEAKY_RELU_ALPHA, type ActivationConfig, type DenseActivation, type DenseActivation as ActivationName } from "./layers/activation.js";
export { Softmax, type SoftmaxConfig } from "./layers/softmax.js";
export { Dropout, type DropoutConfig } from "./layers/dropout.js";
export { Flatten, type FlattenConfig } from "./layers/flatten.js";
export { Conv2d, type Conv2dOptions, type Conv2dConfig } from "./layers/conv2d.js";
export { MaxPool2d, AvgPool2d, GlobalAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions, type MaxPool2dConfig, type AvgPool2dConfig, type GlobalAvgPool2dConfig } from "./layers/pooling.js";
export { BatchNorm, type BatchNormOptions, type BatchNormConfig } from "./layers/batch-norm.js";
export { LayerNorm, type LayerNormOptions, type LayerNormConfig } from "./layers/layer-norm.js";
export { Residual, type ResidualConfig } from "./layers/residual.js";

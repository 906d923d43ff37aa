/**
 * The one list of layer kinds (`LAYERS`, by config type) and of plan ops (`PLAN_OPS`, by plan step
 * kind), and the factories users call. Each kind is described once, in its own file under layers/
 * (see layers/layer.ts for what a description holds); saving, loading, summaries, ONNX and PyTorch
 * export, and the training plans all go through these lists.
 *
 * Adding a layer kind: its file under layers/, its entries here, and its native plan op
 * (native/plan.cc and the kind list in native/ops/kinds.h).
 */
import type { PlanLayer } from "../backend/plan.js";
import { describe } from "../core/matrix.js";
import { Activation, activationOp, LEAKY_RELU_ALPHA, type ActivationConfig } from "./layers/activation.js";
import { Dense, denseOp, type DenseConfig, type DenseOptions } from "./layers/dense.js";
import { Dropout, dropoutOp, type DropoutConfig } from "./layers/dropout.js";
import { Flatten, type FlattenConfig } from "./layers/flatten.js";
import type { Layer, PlanOp } from "./layers/layer.js";
import { Softmax, softmaxOp, type SoftmaxConfig } from "./layers/softmax.js";

/** Every layer kind, by the `type` its config carries. */
export const LAYERS = {
  dense: Dense,
  activation: Activation,
  softmax: Softmax,
  dropout: Dropout,
  flatten: Flatten,
} as const;

/** A layer's JSON-able description (what `Sequential.config()` stores and `layerFromConfig` reads). */
export type LayerConfig = DenseConfig | ActivationConfig | SoftmaxConfig | DropoutConfig | FlattenConfig;

/** The math of every plan step kind (the TypeScript reference the training plans run). */
export const PLAN_OPS: { [K in PlanLayer["kind"]]: PlanOp<Extract<PlanLayer, { kind: K }>, any> } = {
  dense: denseOp,
  activation: activationOp,
  softmax: softmaxOp,
  dropout: dropoutOp,
};

/** Rebuild a layer from its config (validating it as the factories do). */
export function layerFromConfig(c: LayerConfig, index: number): Layer {
  if (c === null || typeof c !== "object") {
    throw new TypeError(`Invalid layer config at index ${index}: expected an object but received ${describe(c)}`);
  }
  const type = (c as { type?: unknown }).type;
  if (typeof type !== "string" || !Object.hasOwn(LAYERS, type)) {
    throw new TypeError(
      `Unknown layer type at index ${index}: ${describe(type)}; expected one of ${Object.keys(LAYERS).map((s) => `"${s}"`).join(", ")}`,
    );
  }
  return (LAYERS[type as keyof typeof LAYERS].fromConfig as (c: LayerConfig) => Layer)(c);
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

export { Layer, sizeOf, showShape, type Shape, type Param, type ParamSpec, type PlanOp } from "./layers/layer.js";
export { Dense, type DenseOptions, type DenseConfig } from "./layers/dense.js";
export { Activation, LEAKY_RELU_ALPHA, type ActivationConfig, type DenseActivation, type DenseActivation as ActivationName } from "./layers/activation.js";
export { Softmax, type SoftmaxConfig } from "./layers/softmax.js";
export { Dropout, type DropoutConfig } from "./layers/dropout.js";
export { Flatten, type FlattenConfig } from "./layers/flatten.js";

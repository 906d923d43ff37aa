/**
 * Layers of a `Sequential` model: dense (fully connected), element-wise activations, softmax and
 * dropout. A layer holds no arrays of its own: the model owns one flat parameter buffer and one flat
 * gradient buffer, and each dense layer gets `subarray` views into them at its offsets.
 *
 * Shapes: a dense layer maps x (batchSize, inFeatures) to y (batchSize, outFeatures) by
 * y = x W^T + b, with W (outFeatures, inFeatures) row-major as in PyTorch's Linear and b (outFeatures).
 */
import type { ElementwiseActivation } from "../backend/backend.js";
import { ACTIVATIONS } from "../ops/activations.js";
import type { PlanLayer } from "../backend/plan.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { checkInitializer, type Initializer } from "./init.js";

/** What `dense({ activation })` accepts: an element-wise activation, or softmax over each row. */
export type ActivationName = ElementwiseActivation | "softmax";

const ACTIVATION_NAMES: readonly ActivationName[] = [...(Object.keys(ACTIVATIONS) as ElementwiseActivation[]), "softmax"];

/** Default negative slope of leakyRelu (as in PyTorch and Keras' LeakyReLU(0.01) usage). */
export const LEAKY_RELU_ALPHA = 0.01;

/** A layer's JSON-able description (what `Sequential.config()` stores and `fromConfig` reads). */
export type LayerConfig =
  | { type: "dense"; units: number; activation: ActivationName | null; init: Initializer | null; useBias: boolean }
  | { type: "activation"; activation: ElementwiseActivation; alpha?: number }
  | { type: "softmax" }
  | { type: "dropout"; rate: number };

export interface DenseOptions {
  /** Activation applied after the affine map (a dense layer followed by that activation). Default: none. */
  activation?: ActivationName;
  /**
   * Weight initializer. Default: "heUniform" when the activation that follows is relu, leakyRelu or
   * gelu (this layer's own, or an activation layer right after it), "glorotUniform" otherwise.
   */
  init?: Initializer;
  /** Add a bias (initialized to zero). Default true. */
  useBias?: boolean;
}

/** Base class of all layers. Built once by the model that owns it. */
export abstract class Layer {
  /** Set by the model: "dense_0", "relu_1", ... (type and position). */
  name = "";
  inFeatures = 0;
  outFeatures = 0;
  /** @internal set when a model builds the layer; a layer belongs to at most one model. */
  owned = false;

  /** Fix the input width; returns the output width (the same, unless the layer overrides this). */
  build(inFeatures: number): number {
    this.inFeatures = this.outFeatures = inFeatures;
    return inFeatures;
  }
  /** Parameters this layer owns (after build). */
  paramCount(): number {
    return 0;
  }
  /** The layer's steps in a training plan (after build and bind). */
  abstract planLayers(): PlanLayer[];
  abstract config(): LayerConfig;
  /** The type shown by `summary()`, e.g. "dense (relu)". */
  abstract label(): string;
  /** The base of the layer's name ("dense", "relu", "dropout", ...). */
  abstract kind(): string;
}

export class Dense extends Layer {
  readonly units: number;
  readonly activation: ActivationName | null;
  readonly init: Initializer | null;
  readonly useBias: boolean;
  /** Offsets into the model's flat buffers (after bind). Bias offset -1: no bias. */
  weightOffset = -1;
  biasOffset = -1;
  /** Views into the model's parameter and gradient buffers (after bind). */
  weight: Float32Array = new Float32Array(0);
  bias: Float32Array | null = null;
  weightGrad: Float32Array = new Float32Array(0);
  biasGrad: Float32Array | null = null;

  constructor(units: number, options: DenseOptions = {}) {
    super();
    if (!Number.isInteger(units) || units < 1) {
      throw new RangeError(`Invalid units for dense: expected a positive integer but received ${describe(units)}`);
    }
    checkOptions(options, ["activation", "init", "useBias"], "dense");
    const { activation, init, useBias = true } = options;
    if (activation !== undefined && !ACTIVATION_NAMES.includes(activation)) {
      throw new TypeError(
        `Invalid activation for dense: expected one of ${ACTIVATION_NAMES.map((s) => `"${s}"`).join(", ")} but received ${describe(activation)}`,
      );
    }
    if (typeof useBias !== "boolean") {
      throw new TypeError(`Invalid useBias for dense: expected a boolean but received ${describe(useBias)}`);
    }
    this.units = units;
    this.activation = activation ?? null;
    this.init = init === undefined ? null : checkInitializer(init, "dense");
    this.useBias = useBias;
  }

  override build(inFeatures: number): number {
    this.inFeatures = inFeatures;
    this.outFeatures = this.units;
    return this.units;
  }

  override paramCount(): number {
    return this.units * this.inFeatures + (this.useBias ? this.units : 0);
  }

  /** Take views of the model's buffers starting at `offset`; returns the offset after this layer. */
  bind(params: Float32Array, grads: Float32Array, offset: number): number {
    const nw = this.units * this.inFeatures;
    this.weightOffset = offset;
    this.weight = params.subarray(offset, offset + nw);
    this.weightGrad = grads.subarray(offset, offset + nw);
    offset += nw;
    if (this.useBias) {
      this.biasOffset = offset;
      this.bias = params.subarray(offset, offset + this.units);
      this.biasGrad = grads.subarray(offset, offset + this.units);
      offset += this.units;
    }
    return offset;
  }

  planLayers(): PlanLayer[] {
    const out: PlanLayer[] = [
      {
        kind: "dense",
        inFeatures: this.inFeatures,
        outFeatures: this.outFeatures,
        weightOffset: this.weightOffset,
        biasOffset: this.biasOffset,
      },
    ];
    if (this.activation === "softmax") out.push({ kind: "softmax" });
    else if (this.activation !== null && this.activation !== "linear") {
      out.push({
        kind: "activation",
        activation: this.activation,
        alpha: this.activation === "leakyRelu" ? LEAKY_RELU_ALPHA : 0,
      });
    }
    return out;
  }

  config(): LayerConfig {
    return { type: "dense", units: this.units, activation: this.activation, init: this.init, useBias: this.useBias };
  }

  label(): string {
    return this.activation ? `dense (${this.activation})` : "dense";
  }

  kind(): string {
    return "dense";
  }
}

export class Activation extends Layer {
  readonly activation: ElementwiseActivation;
  readonly alpha: number;

  constructor(activation: ElementwiseActivation, alpha = 0) {
    super();
    if (!(activation in ACTIVATIONS)) {
      throw new TypeError(`Invalid activation: expected one of ${Object.keys(ACTIVATIONS).join(", ")} but received ${describe(activation)}`);
    }
    if (activation === "leakyRelu" && !(Number.isFinite(alpha) && alpha >= 0)) {
      throw new RangeError(`Invalid leakyRelu alpha: ${alpha}; expected a finite number >= 0`);
    }
    this.activation = activation;
    this.alpha = activation === "leakyRelu" ? alpha : 0;
  }

  planLayers(): PlanLayer[] {
    // linear is the identity: it has no step in the plan.
    return this.activation === "linear" ? [] : [{ kind: "activation", activation: this.activation, alpha: this.alpha }];
  }

  config(): LayerConfig {
    return this.activation === "leakyRelu"
      ? { type: "activation", activation: this.activation, alpha: this.alpha }
      : { type: "activation", activation: this.activation };
  }

  label(): string {
    return this.activation === "leakyRelu" ? `leakyRelu (alpha=${this.alpha})` : this.activation;
  }

  kind(): string {
    return this.activation;
  }
}

export class Softmax extends Layer {
  planLayers(): PlanLayer[] {
    return [{ kind: "softmax" }];
  }

  config(): LayerConfig {
    return { type: "softmax" };
  }

  label(): string {
    return "softmax";
  }

  kind(): string {
    return "softmax";
  }
}

/**
 * Inverted dropout: while training, each value is zeroed with probability `rate` and the survivors
 * scaled by 1 / (1 - rate); at inference it is the identity. Masks come from the model's seeded
 * generator state, so seeded runs repeat.
 */
export class Dropout extends Layer {
  readonly rate: number;

  constructor(rate: number) {
    super();
    if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
      throw new RangeError(`Invalid dropout rate: ${describe(rate)}; expected a number in [0, 1)`);
    }
    this.rate = rate;
  }

  planLayers(): PlanLayer[] {
    return this.rate === 0 ? [] : [{ kind: "dropout", rate: this.rate }];
  }

  config(): LayerConfig {
    return { type: "dropout", rate: this.rate };
  }

  label(): string {
    return `dropout (rate=${this.rate})`;
  }

  kind(): string {
    return "dropout";
  }
}

/** A fully connected layer with `units` outputs: y = x W^T + b, then `activation` if given. */
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
/** The identity. */
export function linear(): Activation {
  return new Activation("linear");
}
/** Softmax over each row. */
export function softmax(): Softmax {
  return new Softmax();
}
/** Inverted dropout with drop probability `rate` in [0, 1). */
export function dropout(rate: number): Dropout {
  return new Dropout(rate);
}

/** Rebuild a layer from its config (validating it as the factories do). */
export function layerFromConfig(c: LayerConfig, index: number): Layer {
  if (c === null || typeof c !== "object") {
    throw new TypeError(`Invalid layer config at index ${index}: expected an object but received ${describe(c)}`);
  }
  switch (c.type) {
    case "dense":
      return new Dense(c.units, {
        ...(c.activation !== null && c.activation !== undefined ? { activation: c.activation } : {}),
        ...(c.init !== null && c.init !== undefined ? { init: c.init } : {}),
        useBias: c.useBias ?? true,
      });
    case "activation":
      return new Activation(c.activation, c.activation === "leakyRelu" ? (c.alpha ?? LEAKY_RELU_ALPHA) : 0);
    case "softmax":
      return new Softmax();
    case "dropout":
      return new Dropout(c.rate);
    default:
      throw new TypeError(
        `Unknown layer type at index ${index}: ${describe((c as { type?: unknown }).type)}; expected "dense", "activation", "softmax" or "dropout"`,
      );
  }
}

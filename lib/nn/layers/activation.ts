/**
 * An element-wise activation as a layer of its own (relu(), sigmoid(), ...): y = f(x), any shape.
 * The math of each activation is defined once, in lib/ops/activations.ts; this file makes layers
 * and plan steps of them.
 */
import type { PlanLayer } from "../../backend/plan.js";
import { describe } from "../../core/matrix.js";
import { ACTIVATION_NAMES, activationDef, type ActivationName } from "../../ops/activations.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, type PlanOp } from "./layer.js";
import { Softmax } from "./softmax.js";
import { torchActivation, type TorchLayer, type TorchLayerContext } from "./torch.js";

/** Default negative slope of leakyRelu (as PyTorch's LeakyReLU). */
export const LEAKY_RELU_ALPHA = 0.01;

/** What `dense({ activation })` accepts: an element-wise activation, or softmax over each row. */
export type DenseActivation = ActivationName | "softmax";

/** An activation layer as JSON (config(), model.json). */
export interface ActivationConfig {
  /** The registry type: always "activation". */
  type: "activation";
  /** Which element-wise function ("relu", "tanh", ...). */
  activation: ActivationName;
  /** leakyRelu's negative slope (absent for the others). */
  alpha?: number;
}

/** Throws unless `name` is an activation (or, where `softmax` is allowed, "softmax"). */
export function checkActivationName(name: unknown, what: string, softmax: boolean): void {
  const names: string[] = softmax ? [...ACTIVATION_NAMES, "softmax"] : [...ACTIVATION_NAMES];
  if (typeof name !== "string" || !names.includes(name)) {
    throw new TypeError(`Invalid activation for ${what}: expected one of ${names.map((s) => `"${s}"`).join(", ")} but received ${describe(name)}`);
  }
}

/**
 * An element-wise activation as a layer: y = f(x), any shape. Made by relu(), sigmoid(), tanh(),
 * leakyRelu(alpha), gelu(), ...
 */
export class Activation extends Layer {
  readonly type = "activation";
  /** Which element-wise function this layer applies. */
  readonly activation: ActivationName;
  /** leakyRelu's negative slope (default 0.01, PyTorch's); unused by the other activations. */
  readonly alpha: number;

  constructor(activation: ActivationName, alpha = 0) {
    super();
    checkActivationName(activation, "an activation layer", false);
    if (activation === "leakyRelu" && !(typeof alpha === "number" && Number.isFinite(alpha) && alpha >= 0)) {
      throw new RangeError(`Invalid leakyRelu alpha: ${typeof alpha === "number" ? alpha : describe(alpha)}; expected a finite number >= 0`);
    }
    this.activation = activation;
    this.alpha = activation === "leakyRelu" ? alpha : 0;
  }

  override get activationKind(): string {
    return this.activation;
  }

  planLayers(): PlanLayer[] {
    const step = activationStep(this.activation, this.alpha);
    return step ? [step] : [];
  }

  config(): ActivationConfig {
    return this.activation === "leakyRelu" ? { type: "activation", activation: this.activation, alpha: this.alpha } : { type: "activation", activation: this.activation };
  }

  /** Rebuild an activation layer from its config, validating it as the factories do. */
  static fromConfig(c: ActivationConfig): Activation {
    return new Activation(c.activation, c.activation === "leakyRelu" ? (c.alpha ?? LEAKY_RELU_ALPHA) : 0);
  }

  label(): string {
    return this.activation === "leakyRelu" ? `leakyRelu (alpha=${this.alpha})` : this.activation;
  }

  kind(): string {
    return this.activation;
  }

  onnx(g: OnnxGraph, x: string): string {
    return activationDef(this.activation).onnx(g, x, this.alpha);
  }

  /** Its PyTorch module: the activation's torch spelling (nn.Identity() when the loss applies it). */
  static torch(c: ActivationConfig, at: TorchLayerContext): TorchLayer {
    const alpha = c.activation === "leakyRelu" ? (c.alpha ?? LEAKY_RELU_ALPHA) : 0;
    const module = at.fusedOutput ? "nn.Identity()" : torchActivation(c.activation, alpha, `layer ${at.index} (activation)`);
    const label = c.activation === "leakyRelu" ? `leakyRelu (alpha=${alpha})` : c.activation;
    return { module, comment: at.fusedOutput ? `${label}: applied by forward() and, while training, inside the loss` : label, init: [] };
  }

}

/** The layer an activation name stands for (softmax included), with leakyRelu's default slope. */
export function activationLayer(name: DenseActivation): Activation | Softmax {
  return name === "softmax" ? new Softmax() : new Activation(name, name === "leakyRelu" ? LEAKY_RELU_ALPHA : 0);
}

/** The plan step of an activation; null for linear, the identity. */
export function activationStep(name: DenseActivation, alpha: number | undefined): PlanLayer | null {
  if (name === "softmax") return { kind: "softmax" };
  if (name === "linear") return null;
  return { kind: "activation", activation: name, alpha: name === "leakyRelu" ? (alpha ?? LEAKY_RELU_ALPHA) : 0 };
}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** An activation step (alpha: leakyRelu's negative slope, 0 for the others). */
    activation: { activation: ActivationName; alpha: number };
  }
}

type ActivationStep = Extract<PlanLayer, { kind: "activation" }>;

export const activationOp: PlanOp<ActivationStep, null> = {
  code: 1,
  outFeatures: (_l, inF) => inF,
  prepare: () => null,
  forward(k, l, _w, x, y, rows, _inF, outF) {
    k.activationForward(l.activation, y, x, rows * outF, l.alpha);
  },
  backward(k, l, _w, x, y, dy, dx, rows, _inF, outF) {
    if (dx) k.activationBackward(l.activation, dx, dy, x, y, rows * outF, l.alpha);
  },
};

/**
 * A fully connected layer, PyTorch's Linear: x (batch, in) maps to y = x Wᵀ + b, with W (out, in)
 * row-major and b (out). Its backward pass is three kernel calls:
 *
 *   dW (out, in) = dyᵀ x;   db = Σ_rows dy;   dx (rows, in) = dy W
 */
import type { PlanLayer } from "../../backend/plan.js";
import { bytesText, countText } from "../../core/format.js";
import { describe } from "../../core/matrix.js";
import { checkOptions } from "../../core/options.js";
import type { Rng } from "../../core/rng.js";
import { checkInitializer, defaultInitializer, initialize, type Initializer } from "../init.js";
import { activationLayer, activationStep, checkActivationName, LEAKY_RELU_ALPHA, type DenseActivation } from "./activation.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, showShape, type PlanOp, type Shape, type TrainableOption } from "./layer.js";
import { activationAfter, torchActivation, torchInit, type TorchLayer, type TorchLayerContext } from "./torch.js";

/** Options of dense(units, options). */
export interface DenseOptions extends TrainableOption {
  /** Activation applied after the affine map (a dense layer followed by that activation). Default: none. */
  activation?: DenseActivation;
  /**
   * Weight initializer. Default: "heUniform" when the activation that follows is of the ReLU family
   * (this layer's own, or an activation layer right after it), "glorotUniform" otherwise.
   */
  init?: Initializer;
  /** Add a bias (initialized to zero). Default true. */
  useBias?: boolean;
}

/** A dense layer as JSON (config(), model.json). */
export interface DenseConfig {
  /** The registry type: always "dense". */
  type: "dense";
  /** Output features (outFeatures). */
  units: number;
  /** The activation after the affine map, or null for none. */
  activation: DenseActivation | null;
  /** The weight initializer given, or null for the default (chosen by the activation that follows). */
  init: Initializer | null;
  /** Whether the layer has a bias. */
  useBias: boolean;
}

/** Parameter count beyond which a layer is refused before anything is allocated. */
const MAX_PARAMS = 2 ** 31 - 1;

/**
 * A fully connected layer (PyTorch's Linear): y = x Wᵀ + b with W (units, inFeatures) and b (units), then
 * its activation if it has one. Made by dense(units, options).
 */
export class Dense extends Layer {
  readonly type = "dense";
  /** Output features. */
  readonly units: number;
  /** The activation after the affine map, or null. */
  readonly activation: DenseActivation | null;
  /**
   * The weight initializer given, or null for the default (heUniform before a ReLU-family activation,
   * glorotUniform otherwise).
   */
  readonly init: Initializer | null;
  /** Whether the layer has a bias (default true). */
  readonly useBias: boolean;

  constructor(units: number, options: DenseOptions = {}) {
    super();
    if (!Number.isInteger(units) || units < 1) {
      throw new RangeError(`Invalid units for dense: expected a positive integer but received ${describe(units)}`);
    }
    checkOptions(options, ["activation", "init", "useBias", "trainable"], "dense");
    this.trainable = options.trainable ?? true;
    const { activation, init, useBias = true } = options;
    if (activation !== undefined) checkActivationName(activation, "dense", true);
    if (typeof useBias !== "boolean") {
      throw new TypeError(`Invalid useBias for dense: expected a boolean but received ${describe(useBias)}`);
    }
    this.units = units;
    this.activation = activation ?? null;
    this.init = init === undefined ? null : checkInitializer(init, "dense");
    this.useBias = useBias;
  }

  protected override outputShape(inShape: Shape): Shape {
    if (inShape.length !== 1) {
      throw new RangeError(`dense takes inputs of shape (batch, features) but receives ${showShape(inShape)}: put flatten() before it`);
    }
    const n = this.units * inShape[0]! + (this.useBias ? this.units : 0);
    if (n > MAX_PARAMS) {
      throw new RangeError(
        `dense(${this.units}) after ${inShape[0]} inputs would have ${countText(n)} parameters (${bytesText(4 * n)} of float32): at most ${MAX_PARAMS.toLocaleString("en-US")} fit in one layer`,
      );
    }
    return [this.units];
  }

  override paramSpecs() {
    const specs = [{ name: "weight", shape: [this.units, this.inFeatures] }];
    if (this.useBias) specs.push({ name: "bias", shape: [this.units] });
    return specs;
  }

  /** (outFeatures, inFeatures) view of the model's parameters (after bind). */
  get weight(): Float32Array {
    return this.params[0]!.value;
  }
  /** (outFeatures) view, or null without bias. */
  get bias(): Float32Array | null {
    return this.useBias ? this.params[1]!.value : null;
  }
  /**
   * Offset of the weight (units x inFeatures values) in the model's flat parameter buffer; -1 before the
   * model binds the layer.
   */
  get weightOffset(): number {
    return this.params[0]?.offset ?? -1;
  }
  /**
   * Offset of the bias (units values) in the model's flat parameter buffer; -1 without a bias or before
   * binding.
   */
  get biasOffset(): number {
    return this.useBias ? (this.params[1]?.offset ?? -1) : -1;
  }

  override initialize(rng: Rng, next: Layer | undefined): void {
    const following = this.activation ?? next?.activationKind ?? null;
    initialize(this.init ?? defaultInitializer(following), this.weight, this.inFeatures, this.units, rng);
    this.bias?.fill(0);
  }

  planLayers(): PlanLayer[] {
    const out: PlanLayer[] = [
      { kind: "dense", inFeatures: this.inFeatures, outFeatures: this.units, weightOffset: this.weightOffset, biasOffset: this.biasOffset },
    ];
    const step = this.activation === null ? null : activationStep(this.activation, undefined);
    if (step) out.push(step);
    return out;
  }

  config(): DenseConfig {
    return { type: "dense", units: this.units, activation: this.activation, init: this.init, useBias: this.useBias };
  }

  /** Rebuild a dense layer from its config, validating it as dense() does. */
  static fromConfig(c: DenseConfig): Dense {
    return new Dense(c.units, {
      ...(c.activation !== null && c.activation !== undefined ? { activation: c.activation } : {}),
      ...(c.init !== null && c.init !== undefined ? { init: c.init } : {}),
      useBias: c.useBias ?? true,
    });
  }

  label(): string {
    return this.activation ? `dense (${this.activation})` : "dense";
  }

  kind(): string {
    return "dense";
  }

  onnx(g: OnnxGraph, x: string): string {
    const w = g.tensor(`${this.path}.weight`, [this.units, this.inFeatures], this.weight);
    const inputs = [x, w];
    if (this.bias) inputs.push(g.tensor(`${this.path}.bias`, [this.units], this.bias));
    const y = g.node("Gemm", inputs, [{ name: "transB", int: 1 }], this.name);
    return this.activation === null ? y : activationLayer(this.activation).onnx(g, y);
  }

  /** Its PyTorch module: nn.Linear, or the exported module's Dense with the activation applied after it. */
  static torch(c: DenseConfig, at: TorchLayerContext): TorchLayer {
    const where = `layer ${at.index} (dense)`;
    const act = c.activation ?? "linear";
    const applied = at.fusedOutput || act === "linear" ? null : torchActivation(act, act === "leakyRelu" ? LEAKY_RELU_ALPHA : 0, where);
    const bias = c.useBias === false ? ", bias=False" : "";
    const module = applied ? `Dense(${at.inFeatures}, ${at.outFeatures}${bias}, activation=${applied})` : `nn.Linear(${at.inFeatures}, ${at.outFeatures}${bias})`;
    const fused = at.fusedOutput ? `; its ${act} is applied by forward() and, while training, inside the loss` : "";
    // As Sequential picks it: the layer's own activation, else an activation layer right after it.
    const following = c.activation ?? activationAfter(at.next) ?? (at.next?.type === "softmax" ? "softmax" : null);
    const init = torchInit(c.init ?? defaultInitializer(following), c.useBias !== false);
    return { module, comment: `dense ${at.inFeatures} -> ${at.outFeatures}${c.activation ? `, ${c.activation}` : ""}${fused}`, init };
  }

}

/** The dense plan step's views into the model's buffers. */
interface DenseViews {
  weight: Float32Array;
  bias: Float32Array | null;
  weightGrad: Float32Array;
  biasGrad: Float32Array | null;
}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** A dense step: weight (outFeatures, inFeatures) at weightOffset, bias (outFeatures) at biasOffset (-1: none). */
    dense: { inFeatures: number; outFeatures: number; weightOffset: number; biasOffset: number };
  }
}

type DenseStep = Extract<PlanLayer, { kind: "dense" }>;

export const denseOp: PlanOp<DenseStep, DenseViews> = {
  code: 0,
  outFeatures(l, inF, P, at) {
    if (l.inFeatures !== inF) throw new RangeError(`${at} (dense) expects ${l.inFeatures} inputs but receives ${inF}`);
    const wEnd = l.weightOffset + l.inFeatures * l.outFeatures;
    const bEnd = l.biasOffset < 0 ? 0 : l.biasOffset + l.outFeatures;
    if (l.weightOffset < 0 || wEnd > P || bEnd > P) throw new RangeError(`${at} (dense) has parameters outside the ${P} parameters`);
    return l.outFeatures;
  },
  prepare(l, { params, grads }) {
    const w = [l.weightOffset, l.weightOffset + l.inFeatures * l.outFeatures] as const;
    const b = [l.biasOffset, l.biasOffset + l.outFeatures] as const;
    return {
      weight: params.subarray(...w),
      weightGrad: grads.subarray(...w),
      bias: l.biasOffset < 0 ? null : params.subarray(...b),
      biasGrad: l.biasOffset < 0 ? null : grads.subarray(...b),
    };
  },
  // y = x Wᵀ + b: (rows, in) x (in, out) with W stored (out, in).
  forward(k, _l, v, x, y, rows, inF, outF) {
    k.gemm(false, true, rows, outF, inF, 1, x, v.weight, 0, y);
    if (v.bias) k.biasAdd(y, v.bias, rows, outF);
  },
  // dW (out, in) = dyᵀ x;  db = Σ_rows dy;  dx (rows, in) = dy W.
  backward(k, _l, v, x, _y, dy, dx, rows, inF, outF) {
    k.gemm(true, false, outF, inF, rows, 1, dy, x, 0, v.weightGrad);
    if (v.biasGrad) k.biasGrad(v.biasGrad, dy, rows, outF, 0);
    if (dx) k.gemm(false, false, rows, inF, outF, 1, dy, v.weight, 0, dx);
  },
};

/** A fully connected layer with `units` outputs: y = x Wᵀ + b, then `activation` if given. */
export function dense(units: number, options: DenseOptions = {}): Dense {
  return new Dense(units, options);
}

/**
 * Layer normalization, PyTorch's LayerNorm(shape[-dims:]): each sample's last `dims` dimensions
 * (size values) form a group, normalized by its own statistics, then scaled and shifted:
 *
 *   y = γ · (x − mean) / sqrt(var + eps) + β      (biased variance; γ, β of the group's shape)
 *
 * The same in training and inference. Backward, with g = dy·γ and x̂ = (x − mean)·invStd:
 *   dx = invStd / size · (size·g − Σg − x̂·Σ(g·x̂));  dγ = Σ dy·x̂;  dβ = Σ dy.
 */
import type { PlanLayer } from "../../backend/plan.js";
import { describe } from "../../core/matrix.js";
import { checkOptions } from "../../core/options.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, showShape, sizeOf, type PlanOp, type Shape, type TrainableOption } from "./layer.js";
import { pyFloat, type TorchLayer, type TorchLayerContext } from "./torch.js";

/**
 * Options of layerNorm(options); PyTorch's LayerNorm with normalized_shape the sample's last `dims`
 * dimensions.
 */
export interface LayerNormOptions extends TrainableOption {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** How many of the sample's last dimensions are normalized together. Default 1. */
  dims?: number;
}

/** A layerNorm layer as JSON (config(), model.json). */
export interface LayerNormConfig {
  /** The registry type: always "layerNorm". */
  type: "layerNorm";
  /** Added to the variance before the square root (> 0). */
  eps: number;
  /** How many of the sample's last dimensions are normalized together (>= 1). */
  dims: number;
}

/**
 * Layer normalization (see this file's header): each sample's last `dims` dimensions normalized by their
 * own mean and variance, then scaled and shifted by weight and bias of that shape; the same in training
 * and inference. Made by layerNorm(options).
 */
export class LayerNorm extends Layer {
  readonly type = "layerNorm";
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps: number;
  /** How many of the sample's last dimensions are normalized together (default 1). */
  readonly dims: number;

  constructor(options: LayerNormOptions = {}) {
    super();
    checkOptions(options, ["eps", "dims", "trainable"], "layerNorm");
    this.trainable = options.trainable ?? true;
    const { eps = 1e-5, dims = 1 } = options;
    if (typeof eps !== "number" || !(eps > 0 && Number.isFinite(eps))) throw new RangeError(`Invalid eps for layerNorm: ${describe(eps)}; expected a finite number > 0`);
    if (typeof dims !== "number" || !Number.isInteger(dims) || dims < 1) throw new RangeError(`Invalid dims for layerNorm: ${describe(dims)}; expected an integer >= 1`);
    this.eps = eps;
    this.dims = dims;
  }

  /** The normalized shape (the sample's last `dims` dimensions). */
  get normalizedShape(): number[] {
    return this.inShape.slice(-this.dims);
  }

  protected override outputShape(inShape: Shape): Shape {
    if (this.dims > inShape.length) {
      throw new RangeError(`layerNorm({ dims: ${this.dims} }) normalizes the last ${this.dims} dimensions of each sample, but the input ${showShape(inShape)} has ${inShape.length}: use dims <= ${inShape.length}`);
    }
    return inShape;
  }

  override paramSpecs() {
    return [
      { name: "weight", shape: this.normalizedShape },
      { name: "bias", shape: this.normalizedShape },
    ];
  }

  override initialize(): void {
    this.params[0]!.value.fill(1);
    this.params[1]!.value.fill(0);
  }

  planLayers(): PlanLayer[] {
    return [{ kind: "layerNorm", size: sizeOf(this.normalizedShape), eps: this.eps, weightOffset: this.params[0]?.offset ?? -1, biasOffset: this.params[1]?.offset ?? -1 }];
  }

  config(): LayerNormConfig {
    return { type: "layerNorm", eps: this.eps, dims: this.dims };
  }

  /** Rebuild a layerNorm layer from its config, validating it as layerNorm() does. */
  static fromConfig(c: LayerNormConfig): LayerNorm {
    return new LayerNorm({ eps: c.eps, dims: c.dims });
  }

  label(): string {
    return this.dims === 1 ? "layerNorm" : `layerNorm (last ${this.dims} dims)`;
  }

  kind(): string {
    return "layerNorm";
  }

  onnx(g: OnnxGraph, x: string): string {
    if (g.opset < 17) {
      throw new RangeError(`ONNX export: layerNorm (${this.name}) is ONNX's LayerNormalization, which needs opset 17 or later; export with { opset: 17 } (the default)`);
    }
    const shape = this.normalizedShape;
    const w = g.tensor(`${this.path}.weight`, shape, this.params[0]!.value);
    const b = g.tensor(`${this.path}.bias`, shape, this.params[1]!.value);
    return g.node("LayerNormalization", [x, w, b], [{ name: "axis", int: -this.dims }, { name: "epsilon", float: this.eps }], this.name);
  }

  /** Its PyTorch module: nn.LayerNorm over the last `dims` dimensions of a sample. */
  static torch(c: LayerNormConfig, at: TorchLayerContext): TorchLayer {
    const shape = at.layer.inShape.slice(-c.dims);
    return { module: `nn.LayerNorm([${shape.join(", ")}], eps=${pyFloat(c.eps)})`, comment: `layer norm over the last ${c.dims} dimension${c.dims === 1 ? "" : "s"}`, init: [] };
  }
}

interface LayerNormWork {
  gamma: Float32Array;
  beta: Float32Array;
  gammaGrad: Float32Array;
  betaGrad: Float32Array;
  /** Each group's mean and 1 / sqrt(var + eps), from the forward pass (batch·groups per sample). */
  mean: Float32Array;
  invStd: Float32Array;
}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /** A layerNorm step over groups of `size` consecutive values (the sample's last dimensions); weight and bias (size). */
    layerNorm: { size: number; eps: number; weightOffset: number; biasOffset: number };
  }
}

type LayerNormStep = Extract<PlanLayer, { kind: "layerNorm" }>;

export const layerNormOp: PlanOp<LayerNormStep, LayerNormWork> = {
  code: 8,
  outFeatures(l, inF, P, at) {
    if (!Number.isInteger(l.size) || l.size < 1 || inF % l.size !== 0) throw new RangeError(`${at} (layerNorm) normalizes groups of ${l.size} values but receives ${inF} per sample`);
    if (!(l.eps > 0 && Number.isFinite(l.eps))) throw new RangeError(`${at} (layerNorm) has eps ${l.eps}; expected a finite number > 0`);
    for (const o of [l.weightOffset, l.biasOffset]) {
      if (!Number.isInteger(o) || o < 0 || o + l.size > P) throw new RangeError(`${at} (layerNorm) has parameters outside the ${P} parameters`);
    }
    return inF;
  },
  prepare(l, { params, grads }, batchSize, inF) {
    const view = (a: Float32Array, o: number) => a.subarray(o, o + l.size);
    const groups = batchSize * (inF / l.size);
    return {
      gamma: view(params, l.weightOffset),
      beta: view(params, l.biasOffset),
      gammaGrad: view(grads, l.weightOffset),
      betaGrad: view(grads, l.biasOffset),
      mean: new Float32Array(groups),
      invStd: new Float32Array(groups),
    };
  },
  forward(k, l, v, x, y, rows, inF) {
    k.layerNormForward(y, v.mean, v.invStd, x, v.gamma, v.beta, rows * (inF / l.size), l.size, l.eps);
  },
  backward(k, l, v, x, _y, dy, dx, rows, inF) {
    k.layerNormBackward(dx, v.gammaGrad, v.betaGrad, dy, x, v.mean, v.invStd, v.gamma, rows * (inF / l.size), l.size);
  },
};

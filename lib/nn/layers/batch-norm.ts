/**
 * Batch normalization, PyTorch's BatchNorm1d/2d/3d: per channel c (the sample's first dimension;
 * the rest, S values, are its spatial positions; a (F) sample has F channels of one position):
 *
 *   y = γ[c] · (x − μ[c]) / sqrt(σ²[c] + eps) + β[c]
 *
 * Training: μ, σ² are the batch's statistics over (rows, S) (biased variance), and the running
 * statistics move towards them: running_mean ← (1 − momentum) running_mean + momentum μ,
 * running_var ← (1 − momentum) running_var + momentum σ² m / (m − 1) (m = rows·S; σ² itself when
 * m = 1, a batch PyTorch refuses and blasnet lets an epoch's last one-row batch train on).
 * Inference (evaluate, predict): the running statistics.
 *
 * Parameters: weight γ (1), bias β (0), and running_mean (0), running_var (1), which the optimizer
 * never changes (non-trainable, frozen ranges of the plan).
 */
import type { PlanLayer } from "../../backend/plan.js";
import { describe } from "../../core/matrix.js";
import { checkOptions } from "../../core/options.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, sizeOf, type PlanOp, type Shape, type TrainableOption } from "./layer.js";
import { pyFloat, type TorchLayer, type TorchLayerContext } from "./torch.js";

/** Options of batchNorm(options); names and defaults are PyTorch's BatchNorm1d / BatchNorm2d. */
export interface BatchNormOptions extends TrainableOption {
  /** Weight of the new batch's statistics in the running ones. Default 0.1 (PyTorch's). */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
}

/** A batchNorm layer as JSON (config(), model.json). */
export interface BatchNormConfig {
  /** The registry type: always "batchNorm". */
  type: "batchNorm";
  /** Weight of each training batch's statistics in the running ones, in [0, 1]. */
  momentum: number;
  /** Added to the variance before the square root (> 0). */
  eps: number;
}

/**
 * Batch normalization per channel (the sample's first dimension): (F) samples as BatchNorm1d, (C, H, W) as
 * BatchNorm2d. Training normalizes by the batch's statistics and updates the running ones; inference uses
 * the running ones. Parameters weight and bias (C), buffers running_mean and running_var (C). Made by
 * batchNorm(options).
 */
export class BatchNorm extends Layer {
  readonly type = "batchNorm";
  /** Weight of each training batch's statistics in the running ones (default 0.1, PyTorch's). */
  readonly momentum: number;
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps: number;

  constructor(options: BatchNormOptions = {}) {
    super();
    checkOptions(options, ["momentum", "eps", "trainable"], "batchNorm");
    this.trainable = options.trainable ?? true;
    const { momentum = 0.1, eps = 1e-5 } = options;
    if (typeof momentum !== "number" || !(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`Invalid momentum for batchNorm: ${describe(momentum)}; expected a number in [0, 1]`);
    }
    if (typeof eps !== "number" || !(eps > 0 && Number.isFinite(eps))) throw new RangeError(`Invalid eps for batchNorm: ${describe(eps)}; expected a finite number > 0`);
    this.momentum = momentum;
    this.eps = eps;
  }

  /** Channels (the sample's first dimension). */
  get channels(): number {
    return this.inShape[0]!;
  }

  /** Positions per channel (the product of the sample's other dimensions; 1 for (F) samples). */
  get spatial(): number {
    return sizeOf(this.inShape.slice(1));
  }

  protected override outputShape(inShape: Shape): Shape {
    return inShape;
  }

  override paramSpecs() {
    const c = [this.inShape[0]!];
    return [
      { name: "weight", shape: c },
      { name: "bias", shape: c },
      { name: "running_mean", shape: c, trainable: false },
      { name: "running_var", shape: c, trainable: false },
    ];
  }

  override initialize(): void {
    const [w, b, mean, variance] = this.params;
    w!.value.fill(1);
    b!.value.fill(0);
    mean!.value.fill(0);
    variance!.value.fill(1);
  }

  planLayers(): PlanLayer[] {
    const [w, b, mean, variance] = this.params;
    return [
      {
        kind: "batchNorm",
        channels: this.channels,
        spatial: this.spatial,
        momentum: this.momentum,
        eps: this.eps,
        weightOffset: w?.offset ?? -1,
        biasOffset: b?.offset ?? -1,
        runningMeanOffset: mean?.offset ?? -1,
        runningVarOffset: variance?.offset ?? -1,
      },
    ];
  }

  config(): BatchNormConfig {
    return { type: "batchNorm", momentum: this.momentum, eps: this.eps };
  }

  /** Rebuild a batchNorm layer from its config, validating it as batchNorm() does. */
  static fromConfig(c: BatchNormConfig): BatchNorm {
    return new BatchNorm({ momentum: c.momentum, eps: c.eps });
  }

  label(): string {
    return "batchNorm";
  }

  kind(): string {
    return "batchNorm";
  }

  onnx(g: OnnxGraph, x: string): string {
    const c = [this.channels];
    const [w, b, mean, variance] = this.params.map((p) => g.tensor(`${this.path}.${p.name}`, c, p.value));
    return g.node("BatchNormalization", [x, w!, b!, mean!, variance!], [{ name: "epsilon", float: this.eps }], this.name);
  }

  /** Its PyTorch module: nn.BatchNorm1d, 2d or 3d by the rank of a sample. */
  static torch(c: BatchNormConfig, at: TorchLayerContext): TorchLayer {
    const rank = at.layer.inShape.length;
    if (rank > 4) throw new TypeError(`PyTorch export: layer ${at.index} (batchNorm) takes samples of ${rank} dimensions; PyTorch's BatchNorm1d/2d/3d take 1 to 4`);
    const cls = rank <= 2 ? "BatchNorm1d" : rank === 3 ? "BatchNorm2d" : "BatchNorm3d";
    return {
      module: `nn.${cls}(${at.layer.inShape[0]}, eps=${pyFloat(c.eps)}, momentum=${pyFloat(c.momentum)})`,
      comment: `batch norm over ${at.layer.inShape[0]} channels (running statistics in eval mode)`,
      init: [],
    };
  }
}

/** The batch norm step's views into the model's buffers, and the statistics its forward pass used. */
interface BatchNormWork {
  gamma: Float32Array;
  beta: Float32Array;
  gammaGrad: Float32Array;
  betaGrad: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  /** The batch's statistics (training forward). */
  mean: Float32Array;
  variance: Float32Array;
  /** Whether the last forward pass normalized with the batch's statistics. */
  batchStats: boolean;
}

declare module "../../backend/plan.js" {
  interface PlanSteps {
    /**
     * A batchNorm step: channels C = the sample's first dimension, spatial S = the product of the
     * rest; weight (gamma), bias (beta), running_mean and running_var (C each; the running statistics
     * are frozen ranges, changed only by the training forward pass, with PyTorch's momentum rule).
     */
    batchNorm: {
      channels: number;
      spatial: number;
      momentum: number;
      eps: number;
      weightOffset: number;
      biasOffset: number;
      runningMeanOffset: number;
      runningVarOffset: number;
    };
  }
}

type BatchNormStep = Extract<PlanLayer, { kind: "batchNorm" }>;

export const batchNormOp: PlanOp<BatchNormStep, BatchNormWork> = {
  code: 7,
  outFeatures(l, inF, P, at) {
    if (!(Number.isInteger(l.channels) && l.channels >= 1 && Number.isInteger(l.spatial) && l.spatial >= 1) || l.channels * l.spatial !== inF) {
      throw new RangeError(`${at} (batchNorm) expects ${l.channels} channels x ${l.spatial} positions but receives ${inF} values`);
    }
    if (!(l.momentum >= 0 && l.momentum <= 1) || !(l.eps > 0 && Number.isFinite(l.eps))) throw new RangeError(`${at} (batchNorm) has momentum ${l.momentum} and eps ${l.eps}; expected [0, 1] and > 0`);
    for (const o of [l.weightOffset, l.biasOffset, l.runningMeanOffset, l.runningVarOffset]) {
      if (!Number.isInteger(o) || o < 0 || o + l.channels > P) throw new RangeError(`${at} (batchNorm) has parameters outside the ${P} parameters`);
    }
    return inF;
  },
  prepare(l, { params, grads }) {
    const view = (a: Float32Array, o: number) => a.subarray(o, o + l.channels);
    return {
      gamma: view(params, l.weightOffset),
      beta: view(params, l.biasOffset),
      gammaGrad: view(grads, l.weightOffset),
      betaGrad: view(grads, l.biasOffset),
      runningMean: view(params, l.runningMeanOffset),
      runningVar: view(params, l.runningVarOffset),
      mean: new Float32Array(l.channels),
      variance: new Float32Array(l.channels),
      batchStats: false,
    };
  },
  forward(k, l, v, x, y, rows, _inF, _outF, training) {
    const { channels: C, spatial: S } = l;
    v.batchStats = training;
    if (!training) {
      k.batchNormForward(y, x, v.runningMean, v.runningVar, v.gamma, v.beta, rows, C, S, l.eps);
      return;
    }
    k.batchNormStats(v.mean, v.variance, x, rows, C, S);
    k.batchNormForward(y, x, v.mean, v.variance, v.gamma, v.beta, rows, C, S, l.eps);
    const m = rows * S;
    const unbias = m > 1 ? m / (m - 1) : 1;
    const mo = l.momentum;
    for (let c = 0; c < C; c++) {
      v.runningMean[c] = (1 - mo) * v.runningMean[c]! + mo * v.mean[c]!;
      v.runningVar[c] = (1 - mo) * v.runningVar[c]! + mo * v.variance[c]! * unbias;
    }
  },
  backward(k, l, v, x, _y, dy, dx, rows) {
    const mean = v.batchStats ? v.mean : v.runningMean;
    const variance = v.batchStats ? v.variance : v.runningVar;
    k.batchNormBackward(dx, v.gammaGrad, v.betaGrad, dy, x, mean, variance, v.gamma, rows, l.channels, l.spatial, l.eps, v.batchStats);
  },
};

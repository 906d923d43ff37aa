/**
 * The shapes of what a Sequential model is made from and made into: constructor, compile, evaluate
 * and save options, the training state, the JSON config; and the rules they follow (the input
 * shape, which final layer a cross-entropy loss applies itself, inference batch sizes).
 */
import type { Backend } from "../backend/backend.js";
import type { BackendName } from "../backend/index.js";
import type { PlanLayer, PlanSpec } from "../backend/plan.js";
import { describe } from "../core/matrix.js";
import { checkOptionKeys } from "../core/options.js";
import { resolveLoss, type Loss, type LossConfig, type LossName } from "../losses/index.js";
import { resolveOptimizer, type Optimizer, type OptimizerConfig, type OptimizerName } from "../optim/index.js";
import type { MetricName } from "../train/metrics.js";
import type { SampleWeightInput } from "../train/sample-weights.js";
import type { Layer, LayerConfig, Shape } from "./layers.js";
import type { TrainingPath } from "./plans.js";
import { frozenRanges } from "./weights.js";
import { isFloat32Array, isUint32Array } from "../core/typed-arrays.js";

/** Options of new Sequential(layers, options): the input shape (required), seed and backend. */
export interface SequentialOptions {
  /** Features per input row: the shorthand for `inputShape: [inputSize]`. */
  inputSize?: number;
  /** A sample's shape, e.g. [784] or [1, 28, 28] (channels, height, width). Give this or inputSize. */
  inputShape?: readonly number[];
  /** Seed of the weight initialization, the dropout masks and (by default) fit's shuffling. Default 0. */
  seed?: number;
  /** Backend to run on: an object or "native" / "js". Default: `getBackend()` at the time of use. */
  backend?: Backend | BackendName;
}

/** Options of model.compile: the loss and optimizer (required), gradient clipping and the training path. */
export interface CompileOptions {
  /**
   * The loss: a name ("mse", "crossEntropy", ...), a Loss from mse(), huber({ delta }), ..., or a saved
   * LossConfig. Keras' names get an error that gives blasnet's.
   */
  loss: LossName | Loss | LossConfig;
  /**
   * The optimizer: a name ("adam", "sgd", ...; default hyperparameters), an Optimizer from adam({ lr }),
   * sgd({ momentum }), ..., or a saved OptimizerConfig.
   */
  optimizer: OptimizerName | Optimizer | OptimizerConfig;
  /** Clip the global gradient L2 norm to this value before each update. Default: off. */
  clipNorm?: number;
  /** Clip every gradient value to [-clipValue, clipValue]. Default: off. */
  clipValue?: number;
  /**
   * "fused" (default): the backend's fused plan (native: whole steps in C++, off the main thread)
   * when it has one, else the TypeScript PlanExecutor. "kernels": always the PlanExecutor, one
   * kernel call at a time over the backend's kernels.
   */
  trainingPath?: TrainingPath;
}

/** What a checkpoint needs besides the weights to resume training exactly. */
export interface TrainingState {
  /** Optimizer updates applied so far. */
  step: number;
  /** Epochs completed (the initialEpoch to resume from). */
  epoch: number;
  /** Copy of the optimizer state buffer (one block of P values per optimizer slot; empty for plain SGD). */
  optimizerState: Float32Array;
  /** Copy of the dropout generator state (4 words). */
  rngState: Uint32Array;
}

/**
 * A model as JSON (model.config(), the "model" field of model.json): architecture, seed, compile settings
 * and standardization, without the weights. Sequential.fromConfig rebuilds it.
 */
export interface SequentialConfig {
  /** Always "blasnet.sequential". */
  format: "blasnet.sequential";
  /** The config's version (CONFIG_VERSION when written). */
  version: number;
  /** Features per sample (the product of inputShape). */
  inputSize: number;
  /** A sample's shape, when it has more than one dimension. */
  inputShape?: number[];
  /** The model's seed (SequentialOptions.seed). */
  seed: number;
  /** Each layer's config, in order (residual blocks hold their body's configs, at most 64 levels deep). */
  layers: LayerConfig[];
  /**
   * The compile settings, once compiled: loss, optimizer (with its learning rate or schedule), clipping,
   * training path.
   */
  compile?: { loss: LossConfig; optimizer: OptimizerConfig; clipNorm: number; clipValue: number; trainingPath: TrainingPath };
  /**
   * The stored standardization, as plain arrays (model files of format 2 keep it in the weights file
   * instead).
   */
  normalization?: { inputMean: number[]; inputStd: number[]; targetMean?: number[]; targetStd?: number[] };
}

export const CONFIG_VERSION = 1;

/** A model's config (Sequential.config()), with its compile settings and normalization when it has them. */
export function sequentialConfig(
  model: { readonly inputSize: number; readonly inputShape: Shape; readonly seed: number; readonly layers: readonly Layer[] },
  compile: SequentialConfig["compile"],
  normalization: SequentialConfig["normalization"],
): SequentialConfig {
  const c: SequentialConfig = {
    format: "blasnet.sequential",
    version: CONFIG_VERSION,
    inputSize: model.inputSize,
    ...(model.inputShape.length > 1 ? { inputShape: [...model.inputShape] } : {}),
    seed: model.seed,
    layers: model.layers.map((l) => l.savedConfig() as LayerConfig),
  };
  if (compile) c.compile = compile;
  if (normalization) c.normalization = normalization;
  return c;
}

/** Options of model.evaluate. */
export interface EvaluateOptions {
  /** Rows per forward pass. Default 256. */
  batchSize?: number;
  /** Metrics to report beside the loss, by name ("accuracy", "mae", "f1", "top5Accuracy", ...). */
  metrics?: MetricName[];
  /** Per-row loss weights (N, finite, >= 0): the loss is sum_i w_i loss_i / N (Keras' sample_weight); metrics are unweighted. */
  sampleWeight?: SampleWeightInput;
}

/** Column names of the data a model was trained on (kept so CLI predict output maps back). */
export interface DataInfo {
  /** Feature columns, in input order. */
  featureNames?: string[];
  /** Target columns. */
  targetNames?: string[];
  /**
   * For a categorical target: the class of each output, in output order; for binaryCrossEntropy on
   * a two-class target (one output), the two classes, the output being the second's probability.
   */
  classNames?: string[];
}

export interface ModelSaveOptions {
  /** Also save the optimizer state, step, epoch and dropout generator state (to resume training). Default false. */
  includeOptimizer?: boolean;
  /** Column names of the training data, stored in the manifest. */
  data?: DataInfo;
}

/** The input shape from the constructor's options: inputShape, or inputSize as [inputSize]. */
export function checkInputShape(inputSize: unknown, inputShape: unknown): Shape {
  if (inputShape !== undefined) {
    if (inputSize !== undefined) throw new TypeError("Give inputSize or inputShape, not both (inputSize is the shorthand for inputShape: [inputSize])");
    if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 1)) {
      throw new RangeError(`Invalid inputShape: ${describe(inputShape)}; expected a sample's shape as positive integers, e.g. [784] or [1, 28, 28]`);
    }
    return Object.freeze([...inputShape]);
  }
  if (typeof inputSize !== "number" || !Number.isInteger(inputSize) || inputSize < 1) {
    throw new RangeError(`Invalid inputSize: ${describe(inputSize)}; expected a positive integer (features per input row), or give inputShape`);
  }
  return Object.freeze([inputSize]);
}

/** True if `l` is what `loss` applies itself: softmax for crossEntropy, sigmoid for binaryCrossEntropy. */
export function fusedIntoLoss(loss: Loss | null, l: PlanLayer | undefined): boolean {
  if (loss?.name === "crossEntropy") return l?.kind === "softmax";
  if (loss?.name === "binaryCrossEntropy") return l?.kind === "activation" && l.activation === "sigmoid";
  return false;
}

/** Rows per forward pass of evaluate and predict, unless batchSize says otherwise. */
const DEFAULT_INFERENCE_BATCH = 256;

/** The inference batch size from an option (default DEFAULT_INFERENCE_BATCH). */
export function inferenceBatch(b: unknown): number {
  if (b === undefined) return DEFAULT_INFERENCE_BATCH;
  if (typeof b !== "number" || !Number.isInteger(b) || b < 1) throw new RangeError(`Invalid batchSize: ${describe(b)}; expected an integer >= 1`);
  // The plans' limit: said here, in the words of the option, rather than as a plan's spec.batchSize.
  if (b > 2 ** 30) throw new RangeError(`Invalid batchSize: ${describe(b)}; expected at most 2^30 (1,073,741,824) rows per forward pass`);
  return b;
}

/** Throws unless `s` is a training state for `stateLength` optimizer values (`what`: the optimizer and model). */
export function checkTrainingState(s: TrainingState, stateLength: number, what: string): void {
  if (s === null || typeof s !== "object") throw new TypeError(`setTrainingState expects { step, epoch, optimizerState, rngState } but received ${describe(s)}`);
  if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`trainingState.step: expected an integer >= 0 but received ${describe(s.step)}`);
  if (!Number.isInteger(s.epoch) || s.epoch < 0) throw new RangeError(`trainingState.epoch: expected an integer >= 0 but received ${describe(s.epoch)}`);
  if (!isFloat32Array(s.optimizerState) || s.optimizerState.length !== stateLength) {
    throw new RangeError(
      `trainingState.optimizerState: expected a Float32Array of ${stateLength} values (${what}) but received ${describe(s.optimizerState)}`,
    );
  }
  if (!isUint32Array(s.rngState) || s.rngState.length !== 4 || s.rngState.every((v) => v === 0)) {
    throw new RangeError(`trainingState.rngState: expected a Uint32Array of 4 words, not all zero, but received ${describe(s.rngState)}`);
  }
}

/**
 * The training plan's description of a model (Sequential.buildSpec): its steps, loss, update and
 * clipping for batches of up to `batchSize` rows.
 */
export function planSpec(
  layers: readonly Layer[],
  inFeatures: number,
  outFeatures: number,
  paramCount: number,
  compiled: { loss: Loss | null; optimizer: Optimizer | null; clipNorm: number; clipValue: number },
  batchSize: number,
  denseTargets: boolean,
): PlanSpec {
  const { loss } = compiled;
  return {
    inFeatures,
    outFeatures,
    batchSize,
    layers: planSteps(layers, loss),
    // An uncompiled model only runs forward passes; its plan carries a plain-SGD update it never uses.
    loss: loss ? loss.toPlan(denseTargets) : { kind: "mse", delta: 0 },
    optimizer: (compiled.optimizer ?? resolveOptimizer("sgd")).plan,
    clipNorm: compiled.clipNorm,
    clipValue: compiled.clipValue,
    paramCount,
    frozen: frozenRanges(layers),
  };
}

/**
 * The model's plan steps for `loss`: cross-entropy losses take logits, so a final softmax (or sigmoid
 * for binary cross-entropy) is fused into the loss and left out; predict applies it to the outputs.
 */
export function planSteps(layers: readonly Layer[], loss: Loss | null): PlanLayer[] {
  const steps = layers.flatMap((l) => l.planLayers());
  if (fusedIntoLoss(loss, steps[steps.length - 1])) steps.pop();
  return steps;
}

/** What predict applies after all the layers (see Sequential.outputFunction). */
export function outputFunction(layers: readonly Layer[], loss: Loss | null): "identity" | "softmax" | "sigmoid" {
  const name = loss?.name;
  if (name !== "crossEntropy" && name !== "binaryCrossEntropy") return "identity";
  const steps = layers.flatMap((l) => l.planLayers());
  if (fusedIntoLoss(loss, steps[steps.length - 1])) return "identity";
  return name === "crossEntropy" ? "softmax" : "sigmoid";
}

/**
 * Cross-entropy losses apply softmax (sigmoid) themselves. A final softmax (sigmoid) is left out of
 * the plan; one after the last dense step that is not final (e.g. softmax then dropout) would be
 * applied twice, so it is rejected.
 */
export function checkOutputLayers(layers: readonly Layer[], loss: Loss): void {
  const steps = layers.flatMap((l) => l.planLayers());
  const lastDense = steps.map((l) => l.kind).lastIndexOf("dense");
  if (steps.slice(lastDense + 1, -1).some((l) => fusedIntoLoss(loss, l))) {
    const fused = loss.name === "crossEntropy" ? "softmax" : "sigmoid";
    throw new TypeError(
      `${loss.name} applies ${fused} to the model's outputs itself, but a ${fused} after the last dense layer is followed by other layers: make ${fused} the last layer (it is then fused into the loss) or remove it`,
    );
  }
}

/** Validated compile settings: the loss, optimizer, clipping and training path. */
export function checkCompile(
  options: CompileOptions,
  layers: readonly Layer[],
  outputSize: number,
): { loss: Loss; opt: Optimizer; clipNorm: number; clipValue: number; path: TrainingPath } {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`compile needs { loss, optimizer } but received ${describe(options)}`);
  }
  if ("metrics" in options) throw new TypeError('compile takes no metrics: pass them to fit or evaluate, e.g. model.fit(x, y, { metrics: ["accuracy"] })');
  checkOptionKeys(options, ["loss", "optimizer", "clipNorm", "clipValue", "trainingPath"], "compile");
  if (options.loss === undefined) throw new TypeError('compile needs a loss, e.g. compile({ loss: "mse", optimizer: sgd({ lr: 0.01 }) })');
  if (options.optimizer === undefined) throw new TypeError('compile needs an optimizer, e.g. compile({ loss: "mse", optimizer: "adam" })');
  const loss = resolveLoss(options.loss);
  const opt = resolveOptimizer(options.optimizer);
  const clipNorm = options.clipNorm ?? 0;
  const clipValue = options.clipValue ?? 0;
  if (typeof clipNorm !== "number" || !Number.isFinite(clipNorm) || clipNorm < 0) {
    throw new RangeError(`Invalid clipNorm: ${describe(clipNorm)}; expected a finite number > 0 (or 0 / omitted for none)`);
  }
  if (typeof clipValue !== "number" || !Number.isFinite(clipValue) || clipValue < 0) {
    throw new RangeError(`Invalid clipValue: ${describe(clipValue)}; expected a finite number > 0 (or 0 / omitted for none)`);
  }
  const path = options.trainingPath ?? "fused";
  if (path !== "fused" && path !== "kernels") throw new TypeError(`Invalid trainingPath: ${describe(path)}; expected "fused" or "kernels"`);
  if (loss.name === "crossEntropy" && outputSize < 2) {
    throw new RangeError(`crossEntropy needs a model with at least 2 outputs (one per class) but the last layer has ${outputSize}; for two classes with one output use binaryCrossEntropy`);
  }
  checkOutputLayers(layers, loss);
  return { loss, opt, clipNorm, clipValue, path };
}

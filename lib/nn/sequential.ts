/**
 * A `Sequential` model: a stack of layers, compiled into a training plan (lib/backend/plan.ts).
 *
 * This file is the model's front: construction, compile, fit / evaluate / predict, and the state a
 * user reads and sets. The parts live beside it: its arguments checked and its layers chained
 * (model-build.ts), the flat parameter store (weights.ts), stored
 * standardization (normalization.ts), the plan cache (plans.ts), the layer kinds (layers.ts), and
 * the training loop (lib/train/fit.ts).
 *
 * Memory: the model owns one flat Float32Array each for parameters and gradients (P values, every
 * layer's parameters in layer order), one for optimizer state (made by `compile`), and the 4-word
 * generator state for dropout masks. Training plans share these buffers zero-copy (the native plan
 * reads and writes them in place), so they are never replaced, only written into.
 */
import type { Backend } from "../backend/backend.js";
import { backendFor, type BackendName } from "../backend/index.js";
import type { PlanBuffers, PlanSpec, TrainPlan } from "../backend/plan.js";
import { Matrix, describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { Rng } from "../core/rng.js";
import { sharedUint32 } from "../core/shared.js";
import type { Loss } from "../losses/index.js";
import type { Optimizer } from "../optim/index.js";
import type { FeaturesInput, TargetsInput } from "../train/data.js";
import { fitModel, type FitOptions, type History } from "../train/fit.js";
import { sizeOf, type Layer, type Shape } from "./layers.js";
import { checkNormalization, copyNormalization, normalizationConfig, type Normalization, type NormalizationInput } from "../train/normalization.js";
import { PlanCache, type TrainingPath } from "./plans.js";
import { evaluateModel } from "./evaluate-model.js";
import { classesOf, predictRows, predictRowsAsync } from "./predict.js";
import { chainLayers, checkModelArgs, layersOfConfig } from "./model-build.js";
import { checkCompile, checkTrainingState, outputFunction, planSpec, sequentialConfig, type CompileOptions, type EvaluateOptions, type ModelSaveOptions, type SequentialConfig, type SequentialOptions, type TrainingState } from "./model-spec.js";
import { summaryText } from "./summary.js";
import { ModelUse, type ModelCall } from "./model-use.js";
import { checkBatchRows, inferenceRows } from "./batch-limit.js";
import { allocateParameters, checkParamsFinite, frozenRanges, getWeights, setWeights, type LayerWeights, type WeightsInput } from "./weights.js";

export type { Normalization, NormalizationInput } from "../train/normalization.js";
export { CONFIG_VERSION, type SequentialOptions, type CompileOptions, type TrainingState, type SequentialConfig, type EvaluateOptions, type DataInfo, type ModelSaveOptions } from "./model-spec.js";
export type { LayerWeights } from "./weights.js";
export type { TrainingPath } from "./plans.js";

type ModelSaver = (model: Sequential, dir: string, options: ModelSaveOptions) => Promise<void>;
let modelSaver: ModelSaver | undefined;

/**
 * @internal io/model-file.ts hands the model front its save function when it loads (the file code
 * imports the model; the model does not import the file code).
 */
export function provideModelSaver(save: ModelSaver): void {
  modelSaver = save;
}

/**
 * A feed-forward model: layers applied in order (Keras' Sequential, PyTorch's nn.Sequential).
 * new Sequential([dense(64, { activation: "relu" }), dense(1)], { inputSize: 3 }), then compile({ loss,
 * optimizer }), fit(x, y), evaluate and predict; save(dir) and loadModel(dir) keep it. Inputs are rows of
 * `inputShape` (a Matrix, nested arrays or { data, shape }); outputs are rows of `outputShape`.
 */
export class Sequential {
  /** The layers, in order; they belong to this model (a layer object can be in one model only). */
  readonly layers: readonly Layer[];
  /** A sample's shape at the input and at the output. */
  readonly inputShape: Shape;
  /** A sample's shape at the output, e.g. [10] for ten classes. */
  readonly outputShape: Shape;
  /** Features per sample at the input and output (the products of the shapes). */
  readonly inputSize: number;
  /** Values per sample at the output (the product of outputShape). */
  readonly outputSize: number;
  /**
   * Seed of the weight initialization, the dropout masks and (by default) fit's shuffling
   * (SequentialOptions.seed).
   */
  readonly seed: number;
  /** All parameters, flat (see the file comment). Shared with training plans: write in place only. */
  readonly params: Float32Array;
  /** Gradients of the last step, same layout as params. */
  readonly grads: Float32Array;
  /** Dropout generator state (xoshiro128**), advanced by training. */
  readonly rngState: Uint32Array;
  /** Set to true (from a callback) to stop `fit` after the current step / chunk; reset by fit. */
  stopTraining = false;
  /** @internal true while the fused plan runs steps off the main thread. */
  _stepsRunning = false;

  private readonly backend: () => Backend;
  private state: Float32Array = new Float32Array(0);
  private lossFn: Loss | null = null;
  private opt: Optimizer | null = null;
  private clipNorm = 0;
  private clipValue = 0;
  private trainingPath: TrainingPath = "fused";
  private norm: Normalization | null = null;
  private steps = 0;
  private epochs = 0;
  /** What runs on the model now, and what that lets start (the table in model-use.ts). */
  private readonly use = new ModelUse(this);
  private readonly plans = new PlanCache();

  constructor(layers: Layer[], options: SequentialOptions) {
    const { inputShape, seed, backend } = checkModelArgs(layers, options);
    this.layers = [...layers];
    this.inputShape = inputShape;
    this.inputSize = sizeOf(inputShape);
    this.seed = seed;
    this.backend = backendFor(backend);
    this.outputShape = chainLayers(this.layers, inputShape);
    this.outputSize = sizeOf(this.outputShape);
    ({ params: this.params, grads: this.grads } = allocateParameters(this.layers, seed));
    // A separate stream for dropout, so adding dropout does not change the initial weights.
    this.rngState = sharedUint32(new Rng(seed ^ 0x2545f491).getState());
  }

  // --- Description ------------------------------------------------------------------------------------

  /** Total parameter count P (every weight, bias and batch-norm running statistic), trainable or not. */
  parameterCount(): number {
    return this.params.length;
  }

  /**
   * A table of layers (a residual block's body indented under it), output shapes and parameter
   * counts, with the total, trainable and non-trainable counts; printed unless print is false.
   */
  summary(options: { print?: boolean } = {}): string {
    checkOptions(options, ["print"], "summary");
    const text = summaryText(this.layers, this.inputShape, this.params.length);
    if (options.print !== false) console.log(text);
    return text;
  }

  /** The compiled loss, or null. */
  get loss(): Loss | null {
    return this.lossFn;
  }
  /** The compiled optimizer, or null. */
  get optimizer(): Optimizer | null {
    return this.opt;
  }
  /** Optimizer updates applied since compile. */
  get step(): number {
    return this.steps;
  }
  /** Epochs completed since compile (the next epoch index). */
  get epoch(): number {
    return this.epochs;
  }
  /** True while fit runs. */
  get isTraining(): boolean {
    return this.use.isRunning("fit");
  }
  /** A copy of the stored standardization statistics (change them with setNormalization), or null. */
  get normalization(): Normalization | null {
    return this.norm && copyNormalization(this.norm);
  }
  /** @internal the stored statistics themselves, for the passes that apply them (never written). */
  get _normalization(): Normalization | null {
    return this.norm;
  }

  // --- Compile --------------------------------------------------------------------------------------

  /** Choose loss, optimizer and clipping. Resets the optimizer state and step count. */
  compile(options: CompileOptions): void {
    this.use.assertMay("compile");
    const { loss, opt, clipNorm, clipValue, path } = checkCompile(options, this.layers, this.outputSize);
    this.plans.dispose();
    this.lossFn = loss;
    this.opt = opt;
    this.clipNorm = clipNorm;
    this.clipValue = clipValue;
    this.trainingPath = path;
    this.state = opt.createState(this.params.length);
    this.steps = 0;
    this.epochs = 0;
  }

  // --- Training and inference ------------------------------------------------------------------------

  /**
   * Train for `epochs` passes over (x, y), ceil(N / batchSize) updates each (the last batch may be
   * partial); resolves to the per-epoch history. See FitOptions for every option.
   *
   * x and y given as a Matrix or { data, shape } are read in place, not copied (unless the model
   * standardizes them): do not modify them while fit runs.
   *
   * Never blocks the event loop for long: on main-thread plans (the TypeScript backend) steps run in
   * chunks of about 4 ms with a yield to the event loop between them (so no block lasts longer than
   * about 4 ms plus one batch); the native fused plan runs its steps on a worker thread in chunks of
   * about 100 ms. While fit runs, a second fit, compile, setWeights, setNormalization,
   * setTrainingState and dispose throw (as they do while evaluate or predictAsync runs: model-use.ts). If the loss becomes NaN or infinite, fit rejects with an Error naming the
   * epoch and step, and the model keeps the weights from before that step.
   */
  fit(x: FeaturesInput, y: TargetsInput, options: FitOptions = {}): Promise<History> {
    try {
      this.use.assertMay("fit");
      return fitModel(this, x, y, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Loss (on the scale the model trains on) and metrics (on predictions, raw units) of x against y.
   * While it runs, calls that would change the model under it (fit, compile, setWeights, ...) throw.
   */
  async evaluate(x: FeaturesInput, y: TargetsInput, options: EvaluateOptions = {}): Promise<Record<string, number> & { loss: number }> {
    const loss = this.lossFn;
    if (!loss) throw new Error("The model must be compiled before evaluate: call model.compile({ loss, optimizer }) first");
    checkOptions(options, ["batchSize", "metrics", "sampleWeight"], "evaluate");
    const batchSize = inferenceRows(this.layers, this.inputSize, options.batchSize);
    const run = this.use.begin("evaluate");
    try {
      return await evaluateModel(this, loss, x, y, batchSize, options, run.check);
    } finally {
      run.release();
    }
  }

  /**
   * Outputs for x: probabilities for crossEntropy (softmax) and binaryCrossEntropy (sigmoid) models,
   * de-standardized values for regression with stored target statistics, the last layer's output
   * otherwise.
   */
  predict(x: FeaturesInput, options: { batchSize?: number } = {}): Matrix {
    this.use.assertMay("predict");
    checkOptions(options, ["batchSize"], "predict");
    return predictRows(this, x, inferenceRows(this.layers, this.inputSize, options.batchSize));
  }

  /**
   * `predict` without blocking the event loop: the same outputs, computed batch by batch with a
   * yield to the event loop whenever about 4 ms have passed (the rule fit follows). Use it for large
   * inputs on the TypeScript backend, where `predict` blocks for the whole pass. While it runs, calls
   * that would change the model under it (fit, compile, setWeights, ...) throw; started during fit,
   * it rejects if the model trains between two of its batches (its rows would mix two sets of weights).
   */
  async predictAsync(x: FeaturesInput, options: { batchSize?: number } = {}): Promise<Matrix> {
    checkOptions(options, ["batchSize"], "predictAsync");
    const batchSize = inferenceRows(this.layers, this.inputSize, options.batchSize);
    const run = this.use.begin("predictAsync");
    try {
      return await predictRowsAsync(this, x, batchSize, run.check);
    } finally {
      run.release();
    }
  }

  /**
   * Predicted class per row: the argmax of the outputs, or for a one-output binaryCrossEntropy model
   * 1 when the probability is above 0.5, else 0.
   */
  predictClasses(x: FeaturesInput, options: { batchSize?: number } = {}): Int32Array {
    checkOptions(options, ["batchSize"], "predictClasses");
    return classesOf(this, this.predict(x, options));
  }

  /** `predictClasses` without blocking the event loop (see predictAsync). */
  async predictClassesAsync(x: FeaturesInput, options: { batchSize?: number } = {}): Promise<Int32Array> {
    checkOptions(options, ["batchSize"], "predictClassesAsync");
    return classesOf(this, await this.predictAsync(x, options));
  }

  // --- Weights, normalization, state, config ------------------------------------------------------------

  /** Copies of every parameterized layer's weight and bias (dense: weight (outFeatures, inFeatures)). */
  getWeights(): LayerWeights[] {
    // A copy taken while a worker thread updates the weights would mix two steps.
    this.use.assertMay("getWeights");
    return getWeights(this.layers);
  }

  /** Set every parameterized layer's weight and bias, in the order getWeights returns them. */
  setWeights(weights: readonly WeightsInput[]): void {
    this.use.assertMay("setWeights");
    setWeights(this.layers, weights);
  }

  /**
   * Store standardization statistics (or remove them with null). fit, evaluate and predict then take
   * raw data: inputs become (x - inputMean) / inputStd, regression targets (y - targetMean) / targetStd,
   * and predict maps regression outputs back by y * targetStd + targetMean.
   */
  setNormalization(n: NormalizationInput | null): void {
    this.use.assertMay("setNormalization");
    if (n === null) {
      this.norm = null;
      return;
    }
    this.norm = checkNormalization(n, this.inputSize, this.outputSize);
  }

  /** Optimizer step, epoch, optimizer state and dropout generator state, as copies. */
  getTrainingState(): TrainingState {
    this.use.assertMay("getTrainingState");
    return { step: this.steps, epoch: this.epochs, optimizerState: this.state.slice(), rngState: this.rngState.slice() };
  }

  /** Restore what getTrainingState returned (after compile with the same optimizer). */
  setTrainingState(s: TrainingState): void {
    this.use.assertMay("setTrainingState");
    if (!this.opt) throw new Error("Compile the model (with the optimizer the state came from) before setTrainingState");
    checkTrainingState(s, this.state.length, `${this.opt.name} over ${this.params.length} parameters`);
    this.state.set(s.optimizerState);
    this.rngState.set(s.rngState);
    this.steps = s.step;
    this.epochs = s.epoch;
  }

  /** A JSON-able description: layers, input size, seed, compile settings and normalization. */
  config(): SequentialConfig {
    const compile = this.lossFn && this.opt ? { loss: this.lossFn.config(), optimizer: this.opt.config(), clipNorm: this.clipNorm, clipValue: this.clipValue, trainingPath: this.trainingPath } : undefined;
    return sequentialConfig(this, compile, this.norm ? normalizationConfig(this.norm) : undefined);
  }

  /** A new model from config() (freshly initialized weights; compiled if the config has compile settings). */
  static fromConfig(config: SequentialConfig, options: { backend?: Backend | BackendName } = {}): Sequential {
    checkOptions(options, ["backend"], "fromConfig");
    const layers = layersOfConfig(config);
    const shape = config.inputShape !== undefined ? { inputShape: config.inputShape } : { inputSize: config.inputSize };
    const model = new Sequential(layers, { ...shape, seed: config.seed ?? 0, ...(options.backend ? { backend: options.backend } : {}) });
    if (config.compile) model.compile(config.compile);
    if (config.normalization) model.setNormalization(config.normalization);
    return model;
  }

  /**
   * Save to `dir`: model.json (architecture, loss, optimizer, normalization, blasnet version) and
   * model.safetensors (weights), written atomically. Same as `saveModel(this, dir, options)`.
   */
  async save(dir: string, options: ModelSaveOptions = {}): Promise<void> {
    if (!modelSaver) throw new Error('Saving needs blasnet\'s file code: import from "blasnet" (not from a file inside the package)');
    return modelSaver(this, dir, options);
  }

  /** Release the model's training plans (native workspaces). The model stays usable. */
  dispose(): void {
    this.use.assertMay("dispose");
    this.plans.dispose();
  }

  // --- Internals used by the training loop ---------------------------------------------------------------

  /** @internal the backend in use. */
  _kernels(): Backend {
    return this.backend();
  }

  /** @internal throws unless `call` may start now (the table in model-use.ts); the file code asks it for "save". */
  _assertMay(call: ModelCall): void {
    this.use.assertMay(call);
  }

  /** @internal a plan for this batch size (created once and cached); pinned plans are not evicted. */
  _plan(batchSize: number, denseTargets: boolean, pin: boolean): TrainPlan {
    checkBatchRows(this.layers, this.inputSize, batchSize);
    const frozen = frozenRanges(this.layers);
    const buffers = (): PlanBuffers => ({ params: this.params, grads: this.grads, state: this.state, rngState: this.rngState });
    return this.plans.get(this._kernels(), this.trainingPath, batchSize, denseTargets, frozen, pin, () => this.buildSpec(batchSize, denseTargets), buffers);
  }

  /** @internal mark the model as training (its weights checked finite); returns the function that ends it. */
  _beginFit(): () => void {
    this.use.assertMay("fit");
    checkParamsFinite(this.layers, this.params, this._kernels());
    const run = this.use.begin("fit");
    return () => {
      run.release();
      this._stepsRunning = false;
      this.plans.unpinAll();
    };
  }

  /** @internal */
  _addSteps(n: number): void {
    this.steps += n;
  }

  /** @internal */
  _setEpoch(e: number): void {
    this.epochs = e;
  }

  /** The training plan's description for a batch size. */
  buildSpec(batchSize: number, denseTargets = false): PlanSpec {
    const compiled = { loss: this.lossFn, optimizer: this.opt, clipNorm: this.clipNorm, clipValue: this.clipValue };
    return planSpec(this.layers, this.inputSize, this.outputSize, this.params.length, compiled, batchSize, denseTargets);
  }

  /**
   * What predict applies after all of the model's layers: softmax (crossEntropy) or sigmoid
   * (binaryCrossEntropy) unless the layers already end in it, else nothing. Exporters add it.
   */
  outputFunction(): "identity" | "softmax" | "sigmoid" {
    return outputFunction(this.layers, this.lossFn);
  }
}


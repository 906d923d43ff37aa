/**
 * A `Sequential` model: a stack of layers, compiled into a training plan (lib/backend/plan.ts).
 *
 * Memory: the model owns one flat Float32Array each for parameters and gradients (P values, every
 * dense layer's weight (outFeatures, inFeatures) then bias, in layer order), one for optimizer state
 * (sized by `compile`), and the 4-word generator state for dropout masks. Layers hold views into
 * them. Training plans share these buffers zero-copy (the native plan reads and writes them in
 * place), so they are never replaced, only written into.
 *
 * Plans are made once per (backend, batch size, target form) and reused by fit, evaluate and predict;
 * `compile` discards them.
 */
import type { Backend } from "../backend/backend.js";
import type { BackendName } from "../backend/index.js";
import { getBackend, nativeBackendIfAvailable, nativeUnavailableReason } from "../backend/index.js";
import { type PlanLayer, type PlanSpec, type TrainPlan } from "../backend/plan.js";
import { createTsBackend } from "../backend/ts/index.js";
import { Matrix, describe } from "../core/matrix.js";
import { checkOptionKeys, checkOptions } from "../core/options.js";
import { Rng } from "../core/rng.js";
import { resolveLoss, type Loss, type LossConfig, type LossName } from "../losses/index.js";
import { resolveOptimizer, type Optimizer, type OptimizerConfig, type OptimizerName } from "../optim/index.js";
import { featuresWork, finiteCheckOf, runAsync, runSync, toFeatures, type FeaturesInput, type TargetsInput, type Work } from "../train/data.js";
import { toPredictions } from "../train/evaluate.js";
import { evaluatePrepared, fitModel, prepareData, type FitOptions, type History } from "../train/fit.js";
import { checkMetrics, type MetricName } from "../train/metrics.js";
import { metricTask } from "../train/evaluate.js";
import { PlanExecutor } from "../train/plan-executor.js";
import type { SaveOptions } from "../io/model-file.js";
import { makeSlicer } from "../train/yield.js";
import { defaultInitializer, initialize } from "./init.js";
import { Activation, Dense, Layer, layerFromConfig, Softmax, type LayerConfig } from "./layers.js";

export interface SequentialOptions {
  /** Features per input row. */
  inputSize: number;
  /** Seed of the weight initialization, the dropout masks and (by default) fit's shuffling. Default 0. */
  seed?: number;
  /** Backend to run on: an object or "native" / "js". Default: `getBackend()` at the time of use. */
  backend?: Backend | BackendName;
}

export type TrainingPath = "fused" | "kernels";

export interface CompileOptions {
  loss: LossName | Loss | LossConfig;
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

/** Stored standardization: inputs (x - inputMean) / inputStd; regression targets likewise. */
export interface Normalization {
  inputMean: Float32Array;
  inputStd: Float32Array;
  targetMean?: Float32Array;
  targetStd?: Float32Array;
}
export type NormalizationInput = {
  inputMean: ArrayLike<number>;
  inputStd: ArrayLike<number>;
  targetMean?: ArrayLike<number>;
  targetStd?: ArrayLike<number>;
};

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

/** One parameterized layer's weights (copies). */
export interface LayerWeights {
  /** Index of the layer in `model.layers`. */
  layer: number;
  /** "dense_0", ... */
  name: string;
  /** (outFeatures, inFeatures). */
  weight: Matrix;
  /** (outFeatures), or null without bias. */
  bias: Float32Array | null;
}

export interface SequentialConfig {
  format: "blasnet.sequential";
  version: number;
  inputSize: number;
  seed: number;
  layers: LayerConfig[];
  compile?: { loss: LossConfig; optimizer: OptimizerConfig; clipNorm: number; clipValue: number; trainingPath: TrainingPath };
  normalization?: { inputMean: number[]; inputStd: number[]; targetMean?: number[]; targetStd?: number[] };
}

export const CONFIG_VERSION = 1;

export interface EvaluateOptions {
  /** Rows per forward pass. Default 256. */
  batchSize?: number;
  metrics?: MetricName[];
}

const DEFAULT_INFERENCE_BATCH = 256;
const MAX_CACHED_PLANS = 8;

interface PlanEntry {
  key: string;
  backend: Backend;
  plan: TrainPlan;
  pinned: boolean;
}

export class Sequential {
  readonly layers: readonly Layer[];
  readonly inputSize: number;
  readonly outputSize: number;
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

  private readonly backendOption: Backend | BackendName | undefined;
  private explicitBackend: Backend | undefined;
  private state: Float32Array = new Float32Array(0);
  private lossFn: Loss | null = null;
  private opt: Optimizer | null = null;
  private clipNorm = 0;
  private clipValue = 0;
  private trainingPath: TrainingPath = "fused";
  private norm: Normalization | null = null;
  private steps = 0;
  private epochs = 0;
  private fitting = false;
  private plans: PlanEntry[] = [];

  constructor(layers: Layer[], options: SequentialOptions) {
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new TypeError(`Sequential needs a non-empty array of layers, e.g. [dense(3, { activation: "sigmoid" }), dense(1)], but received ${describe(layers)}`);
    }
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Sequential needs options { inputSize } but received ${describe(options)}`);
    }
    checkOptionKeys(options, ["inputSize", "seed", "backend"], "Sequential");
    const { inputSize, seed = 0, backend } = options;
    if (typeof inputSize !== "number" || !Number.isInteger(inputSize) || inputSize < 1) {
      throw new RangeError(`Invalid inputSize: ${describe(inputSize)}; expected a positive integer (features per input row)`);
    }
    if (typeof seed !== "number" || !Number.isInteger(seed)) {
      throw new TypeError(`Invalid seed: expected an integer but received ${describe(seed)}`);
    }
    if (backend !== undefined && backend !== "native" && backend !== "js" && !(typeof backend === "object" && backend !== null && typeof backend.gemm === "function")) {
      throw new TypeError(`Invalid backend: expected "native", "js" or a Backend object but received ${describe(backend)}`);
    }
    layers.forEach((l, i) => {
      if (!(l instanceof Layer)) throw new TypeError(`Layer ${i} is ${describe(l)}; expected a layer such as dense(4) or relu()`);
      if (l.owned) throw new Error(`Layer ${i} (${l.name || l.kind()}) already belongs to another model: create a new layer for each model`);
    });
    if (!layers.some((l) => l instanceof Dense)) throw new TypeError("Sequential needs at least one dense layer (a model without parameters cannot be trained)");

    this.layers = [...layers];
    this.inputSize = inputSize;
    this.seed = seed;
    this.backendOption = backend;

    let width = inputSize;
    let P = 0;
    this.layers.forEach((l, i) => {
      l.owned = true;
      l.name = `${l.kind()}_${i}`;
      width = l.build(width);
      P += l.paramCount();
    });
    this.outputSize = width;
    this.params = new Float32Array(P);
    this.grads = new Float32Array(P);
    let offset = 0;
    for (const l of this.layers) if (l instanceof Dense) offset = l.bind(this.params, this.grads, offset);

    const rng = new Rng(seed);
    this.layers.forEach((l, i) => {
      if (!(l instanceof Dense)) return;
      initialize(l.init ?? defaultInitializer(followingActivation(this.layers, i)), l.weight, l.inFeatures, l.outFeatures, rng);
      l.bias?.fill(0);
    });
    // A separate stream for dropout, so adding dropout does not change the initial weights.
    this.rngState = Uint32Array.from(new Rng(seed ^ 0x2545f491).getState());
  }

  // --- Description ------------------------------------------------------------------------------------

  parameterCount(): number {
    return this.params.length;
  }

  /** A table of layers, output shapes and parameter counts with the total; printed unless print is false. */
  summary(options: { print?: boolean } = {}): string {
    checkOptions(options, ["print"], "summary");
    const rows: string[][] = [["Layer", "Type", "Output shape", "Params"]];
    for (const l of this.layers) rows.push([l.name, l.label(), `(batch, ${l.outFeatures})`, l.paramCount().toLocaleString("en-US")]);
    const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
    const line = (r: string[]): string => r.map((v, c) => (c === 3 ? v.padStart(w[c]!) : v.padEnd(w[c]!))).join("  ");
    const rule = "-".repeat(w.reduce((a, b) => a + b, 0) + 6);
    const text = [
      `Sequential (input: ${this.inputSize} features)`,
      rule,
      line(rows[0]!),
      rule,
      ...rows.slice(1).map(line),
      rule,
      `Total params: ${this.params.length.toLocaleString("en-US")}`,
    ].join("\n");
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
    return this.fitting;
  }
  /** Stored standardization statistics, or null. */
  get normalization(): Normalization | null {
    return this.norm;
  }

  // --- Compile --------------------------------------------------------------------------------------

  /** Choose loss, optimizer and clipping. Resets the optimizer state and step count. */
  compile(options: CompileOptions): void {
    this.assertIdle("compile");
    if (options === null || typeof options !== "object") {
      throw new TypeError(`compile needs { loss, optimizer } but received ${describe(options)}`);
    }
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
    if (loss.name === "crossEntropy" && this.outputSize < 2) {
      throw new RangeError(`crossEntropy needs a model with at least 2 outputs (one per class) but the last layer has ${this.outputSize}; for two classes with one output use binaryCrossEntropy`);
    }
    this.checkOutputLayers(loss);
    this.disposePlans();
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
   * about 100 ms. While fit runs, a second fit, compile, setWeights, setNormalization and
   * setTrainingState throw. If the loss becomes NaN or infinite, fit rejects with an Error naming the
   * epoch and step, and the model keeps the weights from before that step.
   */
  fit(x: FeaturesInput, y: TargetsInput, options: FitOptions = {}): Promise<History> {
    try {
      if (this.fitting) throw new Error("Cannot start fit(): this model is already training. Await the running fit() before starting another.");
      return fitModel(this, x, y, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Loss (on the scale the model trains on) and metrics (on predictions, raw units) of x against y. */
  async evaluate(x: FeaturesInput, y: TargetsInput, options: EvaluateOptions = {}): Promise<Record<string, number> & { loss: number }> {
    const loss = this.lossFn;
    if (!loss) throw new Error("The model must be compiled before evaluate: call model.compile({ loss, optimizer }) first");
    this.assertNotStepping("evaluate");
    checkOptions(options, ["batchSize", "metrics"], "evaluate");
    const batchSize = inferenceBatch(options.batchSize);
    const metrics = checkMetrics(options.metrics, metricTask(loss), this.outputSize);
    const slicer = makeSlicer();
    const data = await prepareData(this, x, y, "x", "y", slicer);
    const guard = (): void => this.assertNotStepping("evaluate");
    return (await evaluatePrepared(this, data, batchSize, metrics, this._kernels(), slicer, guard)) as Record<string, number> & { loss: number };
  }

  /**
   * Outputs for x: probabilities for crossEntropy (softmax) and binaryCrossEntropy (sigmoid) models,
   * de-standardized values for regression with stored target statistics, the last layer's output
   * otherwise.
   */
  predict(x: FeaturesInput, options: { batchSize?: number } = {}): Matrix {
    this.assertNotStepping("predict");
    checkOptions(options, ["batchSize"], "predict");
    const batchSize = inferenceBatch(options.batchSize);
    const { data, rows } = toFeatures(x, "x", this.inputSize, null, null, finiteCheckOf(this._kernels()));
    return runSync(this.predictWork(data, rows, batchSize, null));
  }

  /**
   * `predict` without blocking the event loop: the same outputs, computed batch by batch with a
   * yield to the event loop whenever about 4 ms have passed (the rule fit follows). Use it for large
   * inputs on the TypeScript backend, where `predict` blocks for the whole pass. Rejects if the
   * model trains between two of its batches (its rows would mix two sets of weights).
   */
  async predictAsync(x: FeaturesInput, options: { batchSize?: number } = {}): Promise<Matrix> {
    this.assertNotStepping("predict");
    checkOptions(options, ["batchSize"], "predictAsync");
    const batchSize = inferenceBatch(options.batchSize);
    const slicer = makeSlicer();
    const { data, rows } = await runAsync(featuresWork(x, "x", this.inputSize, null, null, finiteCheckOf(this._kernels())), slicer);
    const step = this.steps;
    const guard = (): void => {
      this.assertNotStepping("predict");
      if (this.steps !== step) {
        throw new Error("The model trained while predictAsync ran: await fit() before predicting, so every row sees the same weights");
      }
    };
    return runAsync(this.predictWork(data, rows, batchSize, guard), slicer);
  }

  /**
   * The prediction pass over raw inputs (rows, inputSize), pausing after each batch: predict runs it
   * straight through, predictAsync yields to the event loop at the pauses. Inputs are standardized
   * one batch at a time into a batch-sized buffer, never as a copy of the whole input.
   */
  private *predictWork(data: Float32Array, rows: number, batchSize: number, guard: (() => void) | null): Work<Matrix> {
    const inF = this.inputSize;
    const outF = this.outputSize;
    const norm = this.norm;
    const xb = norm ? new Float32Array(batchSize * inF) : null;
    const result = Matrix.zeros(rows, outF);
    for (let start = 0; start < rows; start += batchSize) {
      guard?.();
      const b = Math.min(batchSize, rows - start);
      let xs = data.subarray(start * inF, (start + b) * inF);
      if (xb && norm) {
        for (let off = 0; off < b * inF; off += inF) {
          for (let j = 0; j < inF; j++) xb[off + j] = (xs[off + j]! - norm.inputMean[j]!) / norm.inputStd[j]!;
        }
        xs = xb;
      }
      const out = result.data.subarray(start * outF, (start + b) * outF);
      // The plan is looked up per batch: another call may have made or dropped plans during a pause.
      this._plan(batchSize, false, false).forward(out, xs, b);
      toPredictions(this._kernels(), this.lossFn, out, b, outF, norm?.targetMean ?? null, norm?.targetStd ?? null);
      yield;
    }
    return result;
  }

  /**
   * Predicted class per row: the argmax of the outputs, or for a one-output binaryCrossEntropy model
   * 1 when the probability is above 0.5, else 0.
   */
  predictClasses(x: FeaturesInput, options: { batchSize?: number } = {}): Int32Array {
    checkOptions(options, ["batchSize"], "predictClasses");
    return this.classesOf(this.predict(x, options));
  }

  /** `predictClasses` without blocking the event loop (see predictAsync). */
  async predictClassesAsync(x: FeaturesInput, options: { batchSize?: number } = {}): Promise<Int32Array> {
    checkOptions(options, ["batchSize"], "predictClassesAsync");
    return this.classesOf(await this.predictAsync(x, options));
  }

  private classesOf(p: Matrix): Int32Array {
    const out = new Int32Array(p.rows);
    if (this.lossFn?.name === "binaryCrossEntropy") {
      if (p.cols !== 1) throw new RangeError(`predictClasses on a ${p.cols}-output binaryCrossEntropy (multi-label) model is ambiguous: use predict and threshold each output`);
      for (let i = 0; i < p.rows; i++) out[i] = p.data[i]! > 0.5 ? 1 : 0;
      return out;
    }
    if (p.cols < 2) throw new RangeError("predictClasses needs a model with at least 2 outputs (one per class)");
    this._kernels().argmaxRows(out, p.data, p.rows, p.cols);
    return out;
  }

  // --- Weights, normalization, state, config ------------------------------------------------------------

  /** Copies of each dense layer's weight and bias. */
  getWeights(): LayerWeights[] {
    // A copy taken while a worker thread updates the weights would mix two steps.
    this.assertNotStepping("read the weights");
    const out: LayerWeights[] = [];
    this.layers.forEach((l, i) => {
      if (l instanceof Dense) {
        out.push({ layer: i, name: l.name, weight: new Matrix(l.weight.slice(), l.outFeatures, l.inFeatures), bias: l.bias ? l.bias.slice() : null });
      }
    });
    return out;
  }

  /** Set every dense layer's weight (outFeatures, inFeatures) and bias, in the order getWeights returns them. */
  setWeights(weights: readonly { weight: Matrix | Float32Array; bias?: Float32Array | null }[]): void {
    this.assertIdle("setWeights");
    const dense = this.layers.filter((l): l is Dense => l instanceof Dense);
    if (!Array.isArray(weights) || weights.length !== dense.length) {
      throw new RangeError(`setWeights expects ${dense.length} entries (one per dense layer) but received ${describe(weights)}`);
    }
    // Check everything before writing anything.
    dense.forEach((l, i) => {
      const w = weights[i]!;
      const wd = w?.weight instanceof Matrix ? w.weight.data : w?.weight;
      if (!(wd instanceof Float32Array)) throw new TypeError(`setWeights[${i}].weight: expected a Matrix or Float32Array but received ${describe(w?.weight)}`);
      if (w.weight instanceof Matrix && (w.weight.rows !== l.outFeatures || w.weight.cols !== l.inFeatures)) {
        throw new RangeError(`setWeights[${i}].weight (${l.name}) is ${w.weight.rows}x${w.weight.cols}; expected ${l.outFeatures}x${l.inFeatures} (outFeatures x inFeatures)`);
      }
      if (wd.length !== l.weight.length) throw new RangeError(`setWeights[${i}].weight (${l.name}) has ${wd.length} values; expected ${l.weight.length}`);
      checkFiniteArray(wd, `setWeights[${i}].weight`);
      const b = w.bias ?? null;
      if (l.bias) {
        if (!(b instanceof Float32Array) || b.length !== l.bias.length) {
          throw new RangeError(`setWeights[${i}].bias (${l.name}): expected a Float32Array of ${l.bias.length} values but received ${describe(b)}`);
        }
        checkFiniteArray(b, `setWeights[${i}].bias`);
      } else if (b !== null) {
        throw new RangeError(`setWeights[${i}].bias: layer ${l.name} has no bias (useBias: false) but a bias was given`);
      }
    });
    dense.forEach((l, i) => {
      const w = weights[i]!;
      l.weight.set(w.weight instanceof Matrix ? w.weight.data : w.weight);
      if (l.bias) l.bias.set(w.bias!);
    });
  }

  /**
   * Store standardization statistics (or remove them with null). fit, evaluate and predict then take
   * raw data: inputs become (x - inputMean) / inputStd, regression targets (y - targetMean) / targetStd,
   * and predict maps regression outputs back by y * targetStd + targetMean.
   */
  setNormalization(n: NormalizationInput | null): void {
    this.assertIdle("setNormalization");
    if (n === null) {
      this.norm = null;
      return;
    }
    if (typeof n !== "object") throw new TypeError(`setNormalization expects { inputMean, inputStd, targetMean?, targetStd? } or null but received ${describe(n)}`);
    const vec = (v: ArrayLike<number> | undefined, name: string, len: number, std: boolean): Float32Array => {
      if (v === undefined || v === null || typeof v !== "object" || typeof v.length !== "number") {
        throw new TypeError(`normalization.${name}: expected an array of ${len} numbers but received ${describe(v)}`);
      }
      if (v.length !== len) throw new RangeError(`normalization.${name} has ${v.length} values; expected ${len}`);
      const out = Float32Array.from(v);
      out.forEach((x, i) => {
        if (!Number.isFinite(x) || (std && x <= 0)) {
          throw new RangeError(`normalization.${name}[${i}] is ${x}; expected a finite number${std ? " > 0" : ""}`);
        }
      });
      return out;
    };
    const norm: Normalization = {
      inputMean: vec(n.inputMean, "inputMean", this.inputSize, false),
      inputStd: vec(n.inputStd, "inputStd", this.inputSize, true),
    };
    if ((n.targetMean === undefined) !== (n.targetStd === undefined)) {
      throw new TypeError("normalization: give both targetMean and targetStd, or neither");
    }
    if (n.targetMean !== undefined) {
      norm.targetMean = vec(n.targetMean, "targetMean", this.outputSize, false);
      norm.targetStd = vec(n.targetStd, "targetStd", this.outputSize, true);
    }
    this.norm = norm;
  }

  /** Optimizer step, epoch, optimizer state and dropout generator state, as copies. */
  getTrainingState(): TrainingState {
    this.assertNotStepping("read the training state");
    return { step: this.steps, epoch: this.epochs, optimizerState: this.state.slice(), rngState: this.rngState.slice() };
  }

  /** Restore what getTrainingState returned (after compile with the same optimizer). */
  setTrainingState(s: TrainingState): void {
    this.assertIdle("setTrainingState");
    if (!this.opt) throw new Error("Compile the model (with the optimizer the state came from) before setTrainingState");
    if (s === null || typeof s !== "object") throw new TypeError(`setTrainingState expects { step, epoch, optimizerState, rngState } but received ${describe(s)}`);
    if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`trainingState.step: expected an integer >= 0 but received ${describe(s.step)}`);
    if (!Number.isInteger(s.epoch) || s.epoch < 0) throw new RangeError(`trainingState.epoch: expected an integer >= 0 but received ${describe(s.epoch)}`);
    if (!(s.optimizerState instanceof Float32Array) || s.optimizerState.length !== this.state.length) {
      throw new RangeError(
        `trainingState.optimizerState: expected a Float32Array of ${this.state.length} values (${this.opt.name} over ${this.params.length} parameters) but received ${describe(s.optimizerState)}`,
      );
    }
    if (!(s.rngState instanceof Uint32Array) || s.rngState.length !== 4 || s.rngState.every((v) => v === 0)) {
      throw new RangeError(`trainingState.rngState: expected a Uint32Array of 4 words, not all zero, but received ${describe(s.rngState)}`);
    }
    this.state.set(s.optimizerState);
    this.rngState.set(s.rngState);
    this.steps = s.step;
    this.epochs = s.epoch;
  }

  /** A JSON-able description: layers, input size, seed, compile settings and normalization. */
  config(): SequentialConfig {
    const c: SequentialConfig = {
      format: "blasnet.sequential",
      version: CONFIG_VERSION,
      inputSize: this.inputSize,
      seed: this.seed,
      layers: this.layers.map((l) => l.config()),
    };
    if (this.lossFn && this.opt) {
      c.compile = { loss: this.lossFn.config(), optimizer: this.opt.config(), clipNorm: this.clipNorm, clipValue: this.clipValue, trainingPath: this.trainingPath };
    }
    if (this.norm) {
      c.normalization = { inputMean: Array.from(this.norm.inputMean), inputStd: Array.from(this.norm.inputStd) };
      if (this.norm.targetMean) {
        c.normalization.targetMean = Array.from(this.norm.targetMean);
        c.normalization.targetStd = Array.from(this.norm.targetStd!);
      }
    }
    return c;
  }

  /** A new model from config() (freshly initialized weights; compiled if the config has compile settings). */
  static fromConfig(config: SequentialConfig, options: { backend?: Backend | BackendName } = {}): Sequential {
    checkOptions(options, ["backend"], "fromConfig");
    if (config === null || typeof config !== "object") throw new TypeError(`Expected a model config object but received ${describe(config)}`);
    if (config.format !== "blasnet.sequential") throw new TypeError(`Not a blasnet model config: format is ${describe(config.format)}, expected "blasnet.sequential"`);
    if (typeof config.version !== "number" || config.version > CONFIG_VERSION) {
      throw new RangeError(`Model config version ${describe(config.version)} is newer than this blasnet supports (${CONFIG_VERSION}): upgrade blasnet`);
    }
    if (!Array.isArray(config.layers)) throw new TypeError(`Model config layers: expected an array but received ${describe(config.layers)}`);
    const layers = config.layers.map((l, i) => layerFromConfig(l, i));
    const model = new Sequential(layers, { inputSize: config.inputSize, seed: config.seed ?? 0, ...(options.backend ? { backend: options.backend } : {}) });
    if (config.compile) model.compile(config.compile);
    if (config.normalization) model.setNormalization(config.normalization);
    return model;
  }

  /**
   * Save to `dir`: model.json (architecture, loss, optimizer, normalization, blasnet version) and
   * model.safetensors (weights), written atomically. Same as `saveModel(this, dir, options)`.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    // Imported when used: the file code imports this module.
    const { saveModel } = await import("../io/model-file.js");
    return saveModel(this, dir, options);
  }

  /** Release the model's training plans (native workspaces). The model stays usable. */
  dispose(): void {
    this.assertIdle("dispose");
    this.disposePlans();
  }

  // --- Internals used by the training loop ---------------------------------------------------------------

  /** @internal the backend in use. */
  _kernels(): Backend {
    if (this.backendOption === undefined) return getBackend();
    if (!this.explicitBackend) {
      const b = this.backendOption;
      if (b === "js") this.explicitBackend = createTsBackend();
      else if (b === "native") {
        const nb = nativeBackendIfAvailable();
        if (!nb) throw new Error(`This model was created with backend "native", which cannot be used:\n${nativeUnavailableReason()}`);
        this.explicitBackend = nb;
      } else this.explicitBackend = b;
    }
    return this.explicitBackend;
  }

  /** @internal a plan for this batch size (created once and cached); pinned plans are not evicted. */
  _plan(batchSize: number, denseTargets: boolean, pin: boolean): TrainPlan {
    const backend = this._kernels();
    const key = `${this.trainingPath}|${batchSize}|${denseTargets ? "dense" : "index"}`;
    let entry = this.plans.find((e) => e.key === key && e.backend === backend);
    if (entry) {
      // Most recently used last.
      this.plans.splice(this.plans.indexOf(entry), 1);
      this.plans.push(entry);
    } else {
      const spec = this.buildSpec(batchSize, denseTargets);
      const buffers = { params: this.params, grads: this.grads, state: this.state, rngState: this.rngState };
      const plan =
        this.trainingPath === "fused" && backend.createFusedPlan
          ? backend.createFusedPlan(spec, buffers)
          : new PlanExecutor(backend, spec, buffers);
      entry = { key, backend, plan, pinned: false };
      this.plans.push(entry);
      while (this.plans.length > MAX_CACHED_PLANS) {
        const old = this.plans.find((e) => !e.pinned && e !== entry);
        if (!old) break;
        old.plan.dispose();
        this.plans.splice(this.plans.indexOf(old), 1);
      }
    }
    if (pin) entry.pinned = true;
    return entry.plan;
  }

  /** @internal mark the model as training; returns the function that ends it. */
  _beginFit(): () => void {
    if (this.fitting) throw new Error("Cannot start fit(): this model is already training. Await the running fit() before starting another.");
    this.fitting = true;
    return () => {
      this.fitting = false;
      this._stepsRunning = false;
      for (const e of this.plans) e.pinned = false;
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
    const layers: PlanLayer[] = this.layers.flatMap((l) => l.planLayers());
    const loss = this.lossFn;
    // Cross-entropy losses take logits: a final softmax (or sigmoid for binary cross-entropy) is
    // fused into the loss, so it is left out of the plan; predict applies it to the outputs.
    if (fusedIntoLoss(loss, layers[layers.length - 1])) layers.pop();
    return {
      inFeatures: this.inputSize,
      outFeatures: this.outputSize,
      batchSize,
      layers,
      // An uncompiled model only runs forward passes; its plan carries a plain-SGD update it never uses.
      loss: loss ? loss.toPlan(denseTargets) : { kind: "mse", delta: 0 },
      optimizer: (this.opt ?? resolveOptimizer("sgd")).plan,
      clipNorm: this.clipNorm,
      clipValue: this.clipValue,
      paramCount: this.params.length,
    };
  }

  /**
   * Cross-entropy losses apply softmax (sigmoid) themselves. A final softmax (sigmoid) is left out of
   * the plan; one after the last dense layer that is not final (e.g. softmax then dropout) would be
   * applied twice, so it is rejected.
   */
  private checkOutputLayers(loss: Loss): void {
    const layers = this.layers.flatMap((l) => l.planLayers());
    const lastDense = layers.map((l) => l.kind).lastIndexOf("dense");
    if (layers.slice(lastDense + 1, -1).some((l) => fusedIntoLoss(loss, l))) {
      const fused = loss.name === "crossEntropy" ? "softmax" : "sigmoid";
      throw new TypeError(
        `${loss.name} applies ${fused} to the model's outputs itself, but a ${fused} after the last dense layer is followed by other layers: make ${fused} the last layer (it is then fused into the loss) or remove it`,
      );
    }
  }

  private disposePlans(): void {
    for (const e of this.plans) e.plan.dispose();
    this.plans = [];
  }

  private assertIdle(what: string): void {
    if (this.fitting) {
      throw new Error(`Cannot ${what} while fit() is running on this model: await the fit() promise first (or set model.stopTraining = true to end it early)`);
    }
  }

  private assertNotStepping(what: string): void {
    if (this._stepsRunning) {
      throw new Error(`Cannot ${what} while training steps are running off the main thread: call it from a callback or after fit() resolves`);
    }
  }
}

/** True if `l` is what `loss` applies itself: softmax for crossEntropy, sigmoid for binaryCrossEntropy. */
function fusedIntoLoss(loss: Loss | null, l: PlanLayer | undefined): boolean {
  if (loss?.name === "crossEntropy") return l?.kind === "softmax";
  if (loss?.name === "binaryCrossEntropy") return l?.kind === "activation" && l.activation === "sigmoid";
  return false;
}

/** The activation that follows dense layer i: its own, or an activation layer right after it. */
function followingActivation(layers: readonly Layer[], i: number): string | null {
  const l = layers[i] as Dense;
  if (l.activation) return l.activation;
  const next = layers[i + 1];
  if (next instanceof Activation) return next.activation;
  if (next instanceof Softmax) return "softmax";
  return null;
}

function inferenceBatch(b: unknown): number {
  if (b === undefined) return DEFAULT_INFERENCE_BATCH;
  if (typeof b !== "number" || !Number.isInteger(b) || b < 1) throw new RangeError(`Invalid batchSize: ${describe(b)}; expected an integer >= 1`);
  return b;
}

function checkFiniteArray(a: Float32Array, name: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`${name}[${i}] is ${a[i]}; weights must be finite`);
  }
}

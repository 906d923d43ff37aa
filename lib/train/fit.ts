/**
 * The training loop behind `Sequential.fit`.
 *
 * Data is converted once per fit into contiguous arrays (inputs (N, inFeatures) Float32Array;
 * targets (N, outFeatures) Float32Array or (N) Int32Array class indices), all checked before any
 * training. Each epoch shuffles one `order` array (seeded from seed and the epoch index, so an
 * epoch's order does not depend on earlier epochs and a resumed run repeats it) and runs
 * ceil(N / batchSize) steps through the model's training plan; the last, partial batch is used.
 * The order, learning-rate and loss arrays are allocated once per fit; a step allocates nothing.
 * With the native fused plan the next epoch's shuffle is computed while the worker runs the current
 * epoch's last chunk (two order buffers), so for small networks it costs no training time.
 *
 * Steps run in chunks:
 * - plans that run on the calling thread (PlanExecutor: the TypeScript backend and the per-kernel
 *   native path) by the rule in yield.ts: chunks sized to take about 4 ms, a yield to the event loop
 *   whenever 4 ms have passed since the last one. With onBatchEnd callbacks, chunks are one step, so
 *   callbacks see every step as it happens and `stopTraining` takes effect after that step.
 * - the native fused plan runs a chunk off the main thread (its runSteps is asynchronous); chunks
 *   grow to about 100 ms of work (at most the rest of the epoch), and progress, onBatchEnd callbacks
 *   (for each step of the chunk) and `stopTraining` are handled between chunks.
 * Data checks and the per-epoch evaluation (metrics, validation) also yield by the 4 ms rule, on
 * every path.
 */
import type { Kernels } from "../backend/backend.js";
import type { StepRun, TrainPlan } from "../backend/plan.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import type { TrainableModel } from "./model.js";
import { checkCallback, type BatchLogs, type Callback, type EpochLogs } from "./callbacks.js";
import { featuresWork, finiteCheckOf, runAsync, sliceTargets, targetsWork, type FeaturesInput, type TargetsInput } from "./data.js";
import { evaluateArrays, metricTask, type EvalContext } from "./evaluate.js";
import { withKerasHistory } from "./keras-names.js";
import { checkMetrics, type MetricName, type Targets } from "./metrics.js";
import { Progress, type Verbosity } from "./progress.js";
import { permutationWork, seededPermutation } from "./shuffle.js";
import { makeSlicer, SLICE_MS, yieldIfDue, yieldNow, type Slicer } from "./yield.js";

export interface FitOptions {
  /** Epochs to train (the index of the last epoch + 1 when resuming with initialEpoch). Default 1. */
  epochs?: number;
  /** Rows per step. Default 32. A batch size above N trains on all N rows each step. */
  batchSize?: number;
  /** Shuffle the rows each epoch. Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default: the model's seed. */
  seed?: number;
  /** Fraction in (0, 1) of rows, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
  /** Validation data, as [x, y] or { x, y }. Takes precedence over validationSplit. */
  validationData?: readonly [FeaturesInput, TargetsInput] | { x: FeaturesInput; y: TargetsInput };
  /** Metrics computed each epoch on the training data (after the epoch) and the validation data. */
  metrics?: MetricName[];
  callbacks?: Callback[];
  /** 0 silent, 1 progress bar on a TTY (one line per epoch otherwise), 2 one line per epoch. Default 1. */
  verbose?: Verbosity;
  /** 0-based epoch to start from (resuming a checkpoint). Default 0. */
  initialEpoch?: number;
  /** Where progress goes. Default process.stderr. */
  progressStream?: NodeJS.WritableStream;
}

export interface History {
  /** 0-based epoch indices trained. */
  epochs: number[];
  /** Mean training loss of each epoch (step losses weighted by batch rows). */
  loss: number[];
  valLoss?: number[];
  /** Training metrics by name, one value per epoch. */
  metrics: Record<string, number[]>;
  valMetrics?: Record<string, number[]>;
  /** ceil(N / batchSize): optimizer updates per epoch. */
  stepsPerEpoch: number;
  /**
   * The same values as Keras' `History.history`: { loss, accuracy, val_loss, val_accuracy, ... }
   * (not enumerable, so JSON.stringify(history) leaves it out).
   */
  readonly history: Record<string, number[]>;
}

const FIT_OPTIONS = [
  "epochs",
  "batchSize",
  "shuffle",
  "seed",
  "validationSplit",
  "validationData",
  "metrics",
  "callbacks",
  "verbose",
  "initialEpoch",
  "progressStream",
] as const satisfies readonly (keyof FitOptions)[];

/** Chunks of the asynchronous (fused native) plan aim at this much work. */
const ASYNC_CHUNK_MS = 100;

function checkInt(name: string, v: unknown, min: number, hint: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`Invalid ${name}: ${typeof v === "number" ? v : describe(v)}; expected an integer >= ${min}${hint}`);
  }
  return v;
}

/** A shuffle seed that differs for every (seed, epoch) pair. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(Math.trunc(seed) | 0, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) | 0;
}

async function call<T extends unknown[]>(fn: ((...a: T) => void | Promise<void>) | undefined, self: unknown, ...args: T): Promise<void> {
  if (!fn) return;
  const r = fn.apply(self, args);
  if (r && typeof (r as Promise<void>).then === "function") await r;
}

export interface PreparedData {
  x: Float32Array;
  y: Targets;
  rows: number;
}

/**
 * Convert and check x and y for the model (standardizing by its stored statistics), yielding to the
 * event loop between slices of the work.
 */
export async function prepareData(model: TrainableModel, x: unknown, y: unknown, xName: string, yName: string, slicer: Slicer): Promise<PreparedData> {
  const loss = model.loss!;
  const norm = model.normalization;
  if (norm?.targetMean && !loss.isRegression) {
    throw new TypeError(`The model standardizes targets (normalization.targetMean is set) but its loss ${loss.name} is not a regression loss: set targetMean/targetStd only for mse, mae or huber`);
  }
  const check = finiteCheckOf(model._kernels());
  const fx = await runAsync(featuresWork(x, xName, model.inputShape, norm?.inputMean ?? null, norm?.inputStd ?? null, check), slicer);
  const fy = await runAsync(targetsWork(y, yName, loss, model.outputSize, fx.rows, norm?.targetMean ?? null, norm?.targetStd ?? null, check), slicer);
  return { x: fx.data, y: fy, rows: fx.rows };
}

export async function fitModel(model: TrainableModel, x: unknown, y: unknown, options: FitOptions): Promise<History> {
  checkOptions(options, FIT_OPTIONS, "fit");
  const loss = model.loss;
  const optimizer = model.optimizer;
  if (!loss || !optimizer) throw new Error("The model must be compiled before fit: call model.compile({ loss, optimizer }) first");

  // --- Options -----------------------------------------------------------------------------------
  const epochs = checkInt("epochs", options.epochs ?? 1, 1, " (the number of passes over the data)");
  const initialEpoch = checkInt("initialEpoch", options.initialEpoch ?? 0, 0, "");
  if (initialEpoch >= epochs) {
    throw new RangeError(`Invalid initialEpoch: ${initialEpoch}; it must be below epochs (${epochs}): epochs counts from 0, including the epochs already trained`);
  }
  const batchSizeOpt = checkInt("batchSize", options.batchSize ?? 32, 1, " (rows per training step)");
  const shuffle = options.shuffle ?? true;
  if (typeof shuffle !== "boolean") throw new TypeError(`Invalid shuffle: expected a boolean but received ${describe(shuffle)}`);
  const seed = options.seed ?? model.seed;
  if (typeof seed !== "number" || !Number.isInteger(seed)) throw new TypeError(`Invalid seed: expected an integer but received ${describe(seed)}`);
  const verbose = options.verbose ?? 1;
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new RangeError(`Invalid verbose: ${describe(verbose)}; expected 0, 1 or 2`);
  const callbacks = options.callbacks ?? [];
  if (!Array.isArray(callbacks) || callbacks.some((c) => c === null || typeof c !== "object")) {
    throw new TypeError(`Invalid callbacks: expected an array of callback objects but received ${describe(callbacks)}`);
  }
  callbacks.forEach((c, i) => checkCallback(c, i));
  const metrics = checkMetrics(options.metrics, metricTask(loss), model.outputSize);
  const split = options.validationSplit;
  if (split !== undefined && (typeof split !== "number" || !(split > 0 && split < 1))) {
    throw new RangeError(`Invalid validationSplit: ${describe(split)}; expected a fraction in (0, 1), e.g. 0.2 to hold out the last 20% of rows`);
  }

  // The model is marked as training from here: data checks yield to the event loop, and no other fit
  // or weight change may slip in meanwhile.
  const release = model._beginFit();
  let progress: Progress | null = null;
  try {
    // --- Data (all checks before any training) -------------------------------------------------------
    const slicer = makeSlicer();
    const all = await prepareData(model, x, y, "x", "y", slicer);
    let train: PreparedData = all;
    let val: PreparedData | null = null;
    const vd = options.validationData;
    if (vd !== undefined) {
      const [vx, vy] = Array.isArray(vd) ? vd : [(vd as { x: unknown }).x, (vd as { y: unknown }).y];
      if (vx === undefined || vy === undefined) {
        throw new TypeError("Invalid validationData: expected [x, y] or { x, y }");
      }
      val = await prepareData(model, vx, vy, "validationData x", "validationData y", slicer);
    } else if (split !== undefined) {
      const valRows = Math.floor(all.rows * split);
      const trainRows = all.rows - valRows;
      if (valRows < 1 || trainRows < 1) {
        throw new RangeError(`validationSplit ${split} of ${all.rows} rows leaves ${trainRows} for training and ${valRows} for validation: both need at least one row`);
      }
      const inF = model.inputSize;
      train = { x: all.x.subarray(0, trainRows * inF), y: sliceTargets(all.y, model.outputSize, 0, trainRows), rows: trainRows };
      val = {
        x: all.x.subarray(trainRows * inF, all.rows * inF),
        y: sliceTargets(all.y, model.outputSize, trainRows, all.rows),
        rows: valRows,
      };
    }

    const n = train.rows;
    const batchSize = Math.min(batchSizeOpt, n);
    const stepsPerEpoch = Math.ceil(n / batchSize);
    const denseTargets = train.y.kind === "float" && loss.name === "crossEntropy";
    if (val && val.y.kind !== train.y.kind) {
      throw new TypeError("validationData targets must have the same form as y (both class indices, or both matrices)");
    }

    // --- Training ---------------------------------------------------------------------------------------
    progress = new Progress(verbose, epochs, stepsPerEpoch, options.progressStream ?? process.stderr);
    const plan = model._plan(batchSize, denseTargets, true);
    const kernels = model._kernels();
    const evalCtx = evalContext(model, plan, kernels, batchSize, denseTargets);
    const sync = plan.runStepsSync ? (plan as Required<Pick<TrainPlan, "runStepsSync">>) : null;

    // Two order buffers for plans that train off the main thread: the next epoch's shuffle is computed
    // while the worker runs the current epoch's last chunk.
    const orders = [new Int32Array(n), sync || !shuffle ? null : new Int32Array(n)] as const;
    let cur = 0;
    let nextReady = false;
    const fillOrder = (buf: Int32Array, epoch: number): void => {
      if (shuffle) seededPermutation(buf, epochSeed(seed, epoch));
      else for (let i = 0; i < n; i++) buf[i] = i;
    };
    if (!shuffle) fillOrder(orders[0], 0);
    const lr = new Float32Array(stepsPerEpoch);
    const constantLr = typeof optimizer.lr === "number";
    if (constantLr) lr.fill(optimizer.lr as number);
    const losses = new Float32Array(stepsPerEpoch);
    const run: StepRun = {
      x: train.x,
      y: train.y.data,
      rows: n,
      order: orders[0],
      start: 0,
      steps: 0,
      batchSize,
      lr,
      firstStep: 1,
      training: true,
      losses,
    };
    const dataLengths = { x: run.x.length, y: run.y.length };
    const history: History = withKerasHistory({ epochs: [], loss: [], metrics: {}, stepsPerEpoch });
    for (const m of metrics) history.metrics[m] = [];
    if (val) {
      history.valLoss = [];
      history.valMetrics = {};
      for (const m of metrics) history.valMetrics[m] = [];
    }
    const batchCallbacks = callbacks.filter((c) => typeof c.onBatchEnd === "function");
    const batchLogs: BatchLogs = { loss: 0, size: 0, lr: 0 };
    // Chunk size in steps, adapted to the measured step time (see the file comment).
    let chunk = 1;
    const chunkMs = sync ? SLICE_MS : ASYNC_CHUNK_MS;
    const chunkGrowth = sync ? 2 : 4;

    model.stopTraining = false;
    for (const c of callbacks) await call(c.onTrainBegin, c, model);

    for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
      for (const c of callbacks) await call(c.onEpochBegin, c, epoch, model);
      progress.epochBegin(epoch);
      if (nextReady) {
        cur = 1 - cur;
        nextReady = false;
      } else if (shuffle) {
        // On the main thread a shuffle of millions of rows pauses by the 4 ms rule too.
        if (sync) await runAsync(permutationWork(orders[cur]!, epochSeed(seed, epoch)), slicer);
        else fillOrder(orders[cur]!, epoch);
      }
      run.order = orders[cur]!;
      // The data checks, the shuffle and the first step run in separate turns of the event loop:
      // fit's start blocks no longer than its first step.
      if (epoch === initialEpoch) await yieldNow(slicer);
      let lossSum = 0; // sum over steps of loss * rows
      let rowsDone = 0;
      let step = 0;
      while (step < stepsPerEpoch && !model.stopTraining) {
        const c = batchCallbacks.length > 0 && sync ? 1 : Math.min(chunk, stepsPerEpoch - step);
        const first = model.step; // updates applied so far
        if (!constantLr) for (let s = 0; s < c; s++) lr[s] = optimizer.lrAt(first + s, epoch);
        run.start = step * batchSize;
        run.steps = c;
        run.firstStep = first + 1;
        const t0 = performance.now();
        checkDataKept(run, dataLengths, epoch, step, stepsPerEpoch);
        let done: number;
        if (sync) {
          try {
            done = sync.runStepsSync(run);
          } catch (e) {
            throw stoppedAt(e, epoch, step, stepsPerEpoch);
          }
        } else {
          model._stepsRunning = true;
          try {
            const pending = plan.runSteps(run);
            const spare = orders[1 - cur];
            if (spare && step + c >= stepsPerEpoch && epoch + 1 < epochs) {
              fillOrder(spare, epoch + 1);
              nextReady = true;
            }
            done = await pending;
          } catch (e) {
            throw stoppedAt(e, epoch, step, stepsPerEpoch);
          } finally {
            model._stepsRunning = false;
          }
        }
        const elapsed = performance.now() - t0;
        model._addSteps(done);
        for (let s = 0; s < done; s++) {
          const rows = Math.min(batchSize, n - (step + s) * batchSize);
          lossSum += losses[s]! * rows;
          rowsDone += rows;
        }
        if (done < c) {
          const bad = losses[done]!;
          const where = `the loss became ${bad} at epoch ${epoch + 1}, step ${step + done + 1} of ${stepsPerEpoch} (learning rate ${lr[done]})`;
          const advice = "a smaller learning rate, gradient clipping (compile({ clipNorm: 1 })), or standardized inputs and targets";
          // A step with a finite loss can still overflow the weights in its update (a learning rate
          // near float32's range); the loss of the next step is then the first non-finite one, and
          // the weights kept are not usable. Checked here, on the error path only.
          if (kernels.firstNonFinite(model.params, 0, model.params.length) >= 0) {
            throw new Error(
              `Training stopped: ${where}, because the update of the step before overflowed the weights to non-finite ` +
                `values: the model's weights are no longer usable. Restore them (model.setWeights, or load a checkpoint), then try ${advice}.`,
            );
          }
          throw new Error(`Training stopped: ${where}. The model keeps the weights from before that step. Try ${advice}.`);
        }
        if (batchCallbacks.length > 0) {
          for (let s = 0; s < done; s++) {
            for (const cb of batchCallbacks) {
              batchLogs.loss = losses[s]!;
              batchLogs.size = Math.min(batchSize, n - (step + s) * batchSize);
              batchLogs.lr = lr[s]!;
              await call(cb.onBatchEnd, cb, step + s, batchLogs, model);
            }
          }
        }
        step += done;
        progress.update(step, lossSum / rowsDone);
        chunk = Math.max(1, Math.min(chunkGrowth * c, Math.floor((c * chunkMs) / Math.max(elapsed, 1e-3))));
        // (Also on the asynchronous path, where it costs one setImmediate per 4 ms: a plan whose
        // runSteps resolves without leaving the main thread must not starve timers either.)
        await yieldIfDue(slicer);
      }

      // Stopped (from onEpochBegin) before any step of this epoch: nothing to report for it.
      if (rowsDone === 0) break;
      const logs: EpochLogs = { loss: lossSum / rowsDone };
      if (metrics.length > 0) {
        const r = await evaluateArrays(evalCtx, train.x, train.y, n, metrics, slicer);
        for (const m of metrics) logs[m] = r[m]!;
      }
      if (val) {
        const r = await evaluateArrays(evalCtx, val.x, val.y, val.rows, metrics, slicer);
        logs["valLoss"] = r["loss"]!;
        for (const m of metrics) logs[valName(m)] = r[m]!;
      }
      model._setEpoch(epoch + 1);
      history.epochs.push(epoch);
      history.loss.push(logs["loss"]!);
      for (const m of metrics) history.metrics[m]!.push(logs[m]!);
      if (val) {
        history.valLoss!.push(logs["valLoss"]!);
        for (const m of metrics) history.valMetrics![m]!.push(logs[valName(m)]!);
      }
      progress.epochEnd(epoch, logs);
      for (const c of callbacks) await call(c.onEpochEnd, c, epoch, { ...logs }, model);
    }
    for (const c of callbacks) await call(c.onTrainEnd, c, history, model);
    return history;
  } catch (e) {
    progress?.abort();
    throw e;
  } finally {
    release();
  }
}

const KEEP_DATA = "fit reads x and y until it settles: do not change, transfer (detach) or resize their arrays meanwhile";

/**
 * x and y still hold what fit checked: an array whose ArrayBuffer was transferred (detached) or
 * resized while fit ran fails here, naming it, before the plan is handed the next run.
 */
function checkDataKept(run: StepRun, lengths: { x: number; y: number }, epoch: number, step: number, stepsPerEpoch: number): void {
  const changed = run.x.length !== lengths.x ? "x" : run.y.length !== lengths.y ? "y" : null;
  if (!changed) return;
  const [now, then] = changed === "x" ? [run.x.length, lengths.x] : [run.y.length, lengths.y];
  throw new Error(
    `Training stopped at epoch ${epoch + 1}, step ${step + 1} of ${stepsPerEpoch}: the training data ${changed} holds ${now} values, but ${then} when fit started (its ArrayBuffer was transferred, detached or resized); ${KEEP_DATA}`,
  );
}

/** An error of a run of steps (a plan refusing data changed since fit checked it), saying where training stopped. */
function stoppedAt(e: unknown, epoch: number, step: number, stepsPerEpoch: number): unknown {
  if (!(e instanceof Error)) return e;
  const Kind = e instanceof RangeError ? RangeError : e instanceof TypeError ? TypeError : Error;
  return new Kind(`Training stopped at epoch ${epoch + 1}, step ${step + 1} of ${stepsPerEpoch}: ${e.message}. The data were checked when fit started: ${KEEP_DATA}`, {
    cause: e,
  });
}

/** "mae" -> "valMae". */
function valName(metric: string): string {
  return "val" + metric.charAt(0).toUpperCase() + metric.slice(1);
}

/** For evaluate: loss and metrics of prepared data. */
export async function evaluatePrepared(
  model: TrainableModel,
  data: PreparedData,
  batchSize: number,
  metrics: readonly MetricName[],
  kernels: Kernels,
  slicer: Slicer,
  guard: () => void,
): Promise<Record<string, number>> {
  const denseTargets = data.y.kind === "float" && model.loss!.name === "crossEntropy";
  const plan = model._plan(batchSize, denseTargets, false);
  const ctx = { ...evalContext(model, plan, kernels, batchSize, denseTargets), guard };
  return evaluateArrays(ctx, data.x, data.y, data.rows, metrics, slicer);
}

/** What evaluateArrays needs to run the compiled `model` through `plan`. */
function evalContext(model: TrainableModel, plan: TrainPlan, kernels: Kernels, batchSize: number, denseTargets: boolean): EvalContext {
  const loss = model.loss!;
  const norm = model.normalization;
  return {
    plan,
    kernels,
    batchSize,
    inFeatures: model.inputSize,
    outFeatures: model.outputSize,
    loss,
    planLoss: loss.toPlan(denseTargets),
    targetMean: norm?.targetMean ?? null,
    targetStd: norm?.targetStd ?? null,
  };
}

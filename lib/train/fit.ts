/**
 * The training loop behind `Sequential.fit` (its options: fit-options.ts; its data: fit-data.ts).
 *
 * Data is converted once per fit into contiguous arrays, all checked before any training. Each epoch shuffles one `order` array (seeded from seed and the epoch index, so an
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
import type { Optimizer } from "../optim/index.js";
import type { BatchLogs, Callback, EpochLogs } from "./callbacks.js";
import { runAsync } from "./data.js";
import { evaluateArrays, type EvalContext } from "./evaluate.js";
import { evalContext, fitData, type PreparedData } from "./fit-data.js";
import { fitSettings, type FitOptions, type FitSettings, type History } from "./fit-options.js";
import { withKerasHistory } from "./keras-names.js";
import type { TrainableModel } from "./model.js";
import { Progress } from "./progress.js";
import { permutationWork, seededPermutation } from "./shuffle.js";
import { makeSlicer, SLICE_MS, yieldIfDue, yieldNow, type Slicer } from "./yield.js";

export type { FitOptions, History } from "./fit-options.js";
export { evaluatePrepared, prepareData, type PreparedData } from "./fit-data.js";

/** Chunks of the asynchronous (fused native) plan aim at this much work. */
const ASYNC_CHUNK_MS = 100;

/** A shuffle seed that differs for every (seed, epoch) pair. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(Math.trunc(seed) | 0, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) | 0;
}

async function call<T extends unknown[]>(fn: ((...a: T) => void | Promise<void>) | undefined, self: unknown, ...args: T): Promise<void> {
  if (!fn) return;
  const r = fn.apply(self, args);
  if (r && typeof (r as Promise<void>).then === "function") await r;
}

export async function fitModel(model: TrainableModel, x: unknown, y: unknown, options: FitOptions): Promise<History> {
  const settings = fitSettings(options, model);
  // The model is marked as training from here: data checks yield to the event loop, and no other fit
  // or weight change may slip in meanwhile.
  const release = model._beginFit();
  let progress: Progress | null = null;
  try {
    const slicer = makeSlicer();
    const { train, val } = await fitData(model, x, y, options.validationData, settings.validationSplit, slicer, options);
    // The data checks' last slice and the plan's construction (a few ms for a CNN: its spec, its
    // checks, its workspaces) in separate turns of the event loop: each of fit's first turns blocks
    // for less than a step.
    await yieldNow(slicer);
    const loop = new FitLoop(model, settings, train, val, slicer, options.progressStream ?? process.stderr);
    progress = loop.progress;
    return await loop.run();
  } catch (e) {
    progress?.abort();
    throw e;
  } finally {
    release();
  }
}

/** One fit's training loop: the buffers it allocates once, and its steps, one method each. */
class FitLoop {
  readonly progress: Progress;
  private readonly n: number;
  private readonly batchSize: number;
  private readonly stepsPerEpoch: number;
  private readonly plan: TrainPlan;
  private readonly kernels: Kernels;
  private readonly evalCtx: EvalContext;
  private readonly sync: Required<Pick<TrainPlan, "runStepsSync">> | null;
  private readonly optimizer: Optimizer;
  /**
   * Two order buffers for plans that train off the main thread: the next epoch's shuffle is computed
   * while the worker runs the current epoch's last chunk.
   */
  private readonly orders: readonly [Int32Array, Int32Array | null];
  private cur = 0;
  private nextReady = false;
  private readonly lr: Float32Array;
  private readonly constantLr: boolean;
  private readonly losses: Float32Array;
  private readonly run_: StepRun;
  private readonly dataLengths: { x: number; y: number };
  private readonly history: History;
  private readonly batchCallbacks: Callback[];
  private readonly batchLogs: BatchLogs = { loss: 0, size: 0, lr: 0 };
  /** Chunk size in steps, adapted to the measured step time (see the file comment). */
  private chunk = 1;
  private readonly chunkMs: number;
  private readonly chunkGrowth: number;

  constructor(
    private readonly model: TrainableModel,
    private readonly s: FitSettings & { optimizer: Optimizer },
    private readonly train: PreparedData,
    private readonly val: PreparedData | null,
    private readonly slicer: Slicer,
    progressStream: NodeJS.WritableStream,
  ) {
    const n = train.rows;
    this.n = n;
    this.optimizer = s.optimizer;
    this.batchSize = Math.min(s.batchSize, n);
    this.stepsPerEpoch = Math.ceil(n / this.batchSize);
    const denseTargets = train.y.kind === "float" && model.loss!.name === "crossEntropy";
    this.progress = new Progress(s.verbose, s.epochs, this.stepsPerEpoch, progressStream);
    this.plan = model._plan(this.batchSize, denseTargets, true);
    this.kernels = model._kernels();
    this.evalCtx = evalContext(model, this.plan, this.kernels, this.batchSize, denseTargets);
    this.sync = this.plan.runStepsSync ? (this.plan as Required<Pick<TrainPlan, "runStepsSync">>) : null;
    this.orders = [new Int32Array(n), this.sync || !s.shuffle ? null : new Int32Array(n)];
    if (!s.shuffle) this.fillOrder(this.orders[0], 0);
    this.lr = new Float32Array(this.stepsPerEpoch);
    this.constantLr = typeof this.optimizer.lr === "number";
    if (this.constantLr) this.lr.fill(this.optimizer.lr as number);
    this.losses = new Float32Array(this.stepsPerEpoch);
    this.run_ = {
      x: train.x,
      y: train.y.data,
      rows: n,
      order: this.orders[0],
      start: 0,
      steps: 0,
      batchSize: this.batchSize,
      lr: this.lr,
      firstStep: 1,
      training: true,
      losses: this.losses,
      weights: train.weights,
    };
    this.dataLengths = { x: this.run_.x.length, y: this.run_.y.length };
    this.history = withKerasHistory({ epochs: [], loss: [], metrics: {}, stepsPerEpoch: this.stepsPerEpoch });
    for (const m of s.metrics) this.history.metrics[m] = [];
    if (val) {
      this.history.valLoss = [];
      this.history.valMetrics = {};
      for (const m of s.metrics) this.history.valMetrics[m] = [];
    }
    this.batchCallbacks = s.callbacks.filter((c) => typeof c.onBatchEnd === "function");
    this.chunkMs = this.sync ? SLICE_MS : ASYNC_CHUNK_MS;
    this.chunkGrowth = this.sync ? 2 : 4;
  }

  /** Every epoch from initialEpoch, until the last or until a callback stops training. */
  async run(): Promise<History> {
    const { model, s } = this;
    model.stopTraining = false;
    for (const c of s.callbacks) await call(c.onTrainBegin, c, model);
    for (let epoch = s.initialEpoch; epoch < s.epochs && !model.stopTraining; epoch++) {
      for (const c of s.callbacks) await call(c.onEpochBegin, c, epoch, model);
      this.progress.epochBegin(epoch);
      await this.shuffleFor(epoch);
      // The data checks, the shuffle and the first step run in separate turns of the event loop:
      // fit's start blocks no longer than its first step.
      if (epoch === s.initialEpoch) await this.warmUp();
      const { lossSum, rowsDone } = await this.trainEpoch(epoch);
      // Stopped (from onEpochBegin) before any step of this epoch: nothing to report for it.
      if (rowsDone === 0) break;
      await this.endEpoch(epoch, lossSum / rowsDone);
    }
    for (const c of s.callbacks) await call(c.onTrainEnd, c, this.history, model);
    return this.history;
  }

  /**
   * A turn of the event loop, then the plan's warm-up slices (if it has any), each in its own turn:
   * fit's start blocks no longer than a warm step.
   */
  private async warmUp(): Promise<void> {
    await yieldNow(this.slicer);
    const plan = this.plan;
    if (!this.sync || !plan.warmUpSync) return;
    while (plan.warmUpSync(this.run_)) await yieldNow(this.slicer);
    await yieldNow(this.slicer);
  }

  private fillOrder(buf: Int32Array, epoch: number): void {
    if (this.s.shuffle) seededPermutation(buf, epochSeed(this.s.seed, epoch));
    else for (let i = 0; i < this.n; i++) buf[i] = i;
  }

  /** The epoch's row order: the spare buffer when it was filled during the last chunk, else shuffled now. */
  private async shuffleFor(epoch: number): Promise<void> {
    if (this.nextReady) {
      this.cur = 1 - this.cur;
      this.nextReady = false;
    } else if (this.s.shuffle) {
      // On the main thread a shuffle of millions of rows pauses by the 4 ms rule too.
      if (this.sync) await runAsync(permutationWork(this.orders[this.cur]!, epochSeed(this.s.seed, epoch)), this.slicer);
      else this.fillOrder(this.orders[this.cur]!, epoch);
    }
    this.run_.order = this.orders[this.cur]!;
  }

  /** The epoch's steps, chunk by chunk; the sum of loss * rows and the rows trained. */
  private async trainEpoch(epoch: number): Promise<{ lossSum: number; rowsDone: number }> {
    const { model, n, batchSize, stepsPerEpoch, losses } = this;
    let lossSum = 0;
    let rowsDone = 0;
    let step = 0;
    while (step < stepsPerEpoch && !model.stopTraining) {
      const c = this.batchCallbacks.length > 0 && this.sync ? 1 : Math.min(this.chunk, stepsPerEpoch - step);
      const t0 = performance.now();
      // On the calling thread a chunk is a plain call: no promise, no turn of the microtask queue.
      const done = this.sync ? this.runChunkSync(this.sync, epoch, step, c) : await this.runChunk(epoch, step, c);
      const elapsed = performance.now() - t0;
      model._addSteps(done);
      for (let s = 0; s < done; s++) {
        const rows = Math.min(batchSize, n - (step + s) * batchSize);
        lossSum += losses[s]! * rows;
        rowsDone += rows;
      }
      if (done < c) this.throwNonFinite(epoch, step, done);
      if (this.batchCallbacks.length > 0) await this.reportBatches(step, done);
      step += done;
      this.progress.update(step, lossSum / rowsDone);
      this.chunk = Math.max(1, Math.min(this.chunkGrowth * c, Math.floor((c * this.chunkMs) / Math.max(elapsed, 1e-3))));
      // (Also on the asynchronous path, where it costs one setImmediate per 4 ms: a plan whose
      // runSteps resolves without leaving the main thread must not starve timers either.)
      await yieldIfDue(this.slicer);
    }
    return { lossSum, rowsDone };
  }

  /** The run of `c` steps from `step`: its learning rates, start and first step number, after checking the data are as fit found them. */
  private setUpRun(epoch: number, step: number, c: number): StepRun {
    const { model, run_: run, lr } = this;
    const first = model.step; // updates applied so far
    if (!this.constantLr) for (let s = 0; s < c; s++) lr[s] = this.optimizer.lrAt(first + s, epoch);
    run.start = step * this.batchSize;
    run.steps = c;
    run.firstStep = first + 1;
    checkDataKept(run, this.dataLengths, epoch, step, this.stepsPerEpoch);
    return run;
  }

  /** runChunk for a plan that runs on the calling thread. */
  private runChunkSync(sync: Required<Pick<TrainPlan, "runStepsSync">>, epoch: number, step: number, c: number): number {
    const run = this.setUpRun(epoch, step, c);
    try {
      return sync.runStepsSync(run);
    } catch (e) {
      throw stoppedAt(e, epoch, step, this.stepsPerEpoch);
    }
  }

  /** Run `c` steps from `step` through the plan off the main thread; the steps done (fewer when a loss was not finite). */
  private async runChunk(epoch: number, step: number, c: number): Promise<number> {
    const { model, stepsPerEpoch } = this;
    const run = this.setUpRun(epoch, step, c);
    model._stepsRunning = true;
    try {
      const pending = this.plan.runSteps(run);
      const spare = this.orders[1 - this.cur];
      if (spare && step + c >= stepsPerEpoch && epoch + 1 < this.s.epochs) {
        this.fillOrder(spare, epoch + 1);
        this.nextReady = true;
      }
      return await pending;
    } catch (e) {
      throw stoppedAt(e, epoch, step, stepsPerEpoch);
    } finally {
      model._stepsRunning = false;
    }
  }

  /** The chunk stopped at step `step + done` because its loss was not finite: say where and what to do. */
  private throwNonFinite(epoch: number, step: number, done: number): never {
    const bad = this.losses[done]!;
    const where = `the loss became ${bad} at epoch ${epoch + 1}, step ${step + done + 1} of ${this.stepsPerEpoch} (learning rate ${this.lr[done]})`;
    const advice = "a smaller learning rate, gradient clipping (compile({ clipNorm: 1 })), or standardized inputs and targets";
    // A step with a finite loss can still overflow the weights in its update (a learning rate
    // near float32's range); the loss of the next step is then the first non-finite one, and
    // the weights kept are not usable. Checked here, on the error path only.
    if (this.kernels.firstNonFinite(this.model.params, 0, this.model.params.length) >= 0) {
      throw new Error(
        `Training stopped: ${where}, because the update of the step before overflowed the weights to non-finite ` +
          `values: the model's weights are no longer usable. Restore them (model.setWeights, or load a checkpoint), then try ${advice}.`,
      );
    }
    throw new Error(`Training stopped: ${where}. The model keeps the weights from before that step. Try ${advice}.`);
  }

  /** onBatchEnd of every callback that has one, for each step of the chunk. */
  private async reportBatches(step: number, done: number): Promise<void> {
    const { batchLogs, batchSize, n } = this;
    for (let s = 0; s < done; s++) {
      for (const cb of this.batchCallbacks) {
        batchLogs.loss = this.losses[s]!;
        batchLogs.size = Math.min(batchSize, n - (step + s) * batchSize);
        batchLogs.lr = this.lr[s]!;
        await call(cb.onBatchEnd, cb, step + s, batchLogs, this.model);
      }
    }
  }

  /** Metrics and validation after the epoch, into the history, the progress display and onEpochEnd. */
  private async endEpoch(epoch: number, loss: number): Promise<void> {
    const { model, s, train, val, history } = this;
    const metrics = s.metrics;
    const logs: EpochLogs = { loss };
    if (metrics.length > 0) {
      const r = await evaluateArrays(this.evalCtx, train.x, train.y, train.rows, metrics, this.slicer, train.weights);
      for (const m of metrics) logs[m] = r[m]!;
    }
    if (val) {
      const r = await evaluateArrays(this.evalCtx, val.x, val.y, val.rows, metrics, this.slicer, val.weights);
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
    this.progress.epochEnd(epoch, logs);
    for (const c of s.callbacks) await call(c.onEpochEnd, c, epoch, { ...logs }, model);
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

/**
 * fit's and evaluate's data: what users pass, converted and checked into the contiguous arrays a
 * training plan reads (inputs (N, ...sampleShape) flat Float32Array; targets (N, outFeatures)
 * Float32Array or (N) Int32Array class indices), the validation rows held out of them, and the
 * evaluation of prepared data through the model's plan.
 */
import type { Kernels } from "../backend/backend.js";
import type { TrainPlan } from "../backend/plan.js";
import { isShared, plainFloat32, sharedFloat32, type Float32Alloc } from "../core/shared.js";
import { featuresWork, finiteCheckOf, runAsync } from "./data.js";
import { sliceTargets, targetsWork } from "./targets.js";
import { evaluateArrays, type EvalContext } from "./evaluate.js";
import type { FitOptions } from "./fit-options.js";
import type { MetricName, Targets } from "./metrics.js";
import type { TrainableModel } from "./model.js";
import { yieldIfDue, type Slicer } from "./yield.js";
import { rowWeights } from "./sample-weights.js";

export interface PreparedData {
  x: Float32Array;
  y: Targets;
  rows: number;
  /** Per-row loss weights (rows), or null (all 1). */
  weights: Float32Array | null;
}

/**
 * Convert and check x and y for the model (standardizing by its stored statistics), yielding to the
 * event loop between slices of the work. The copies it makes (standardized or converted values) are
 * `alloc`'s arrays.
 */
export async function prepareData(
  model: TrainableModel,
  x: unknown,
  y: unknown,
  xName: string,
  yName: string,
  slicer: Slicer,
  alloc: Float32Alloc = plainFloat32,
): Promise<PreparedData> {
  const loss = model.loss!;
  const norm = model.normalization;
  if (norm?.targetMean && !loss.isRegression) {
    throw new TypeError(`The model standardizes targets (normalization.targetMean is set) but its loss ${loss.name} is not a regression loss: set targetMean/targetStd only for mse, mae or huber`);
  }
  const check = finiteCheckOf(model._kernels());
  const fx = await runAsync(featuresWork(x, xName, model.inputShape, norm?.inputMean ?? null, norm?.inputStd ?? null, check, alloc), slicer);
  const fy = await runAsync(targetsWork(y, yName, loss, model.outputSize, fx.rows, norm?.targetMean ?? null, norm?.targetStd ?? null, check, alloc), slicer);
  return { x: fx.data, y: fy, rows: fx.rows, weights: null };
}

/**
 * fit's training rows and validation rows (null without validation): validationData when given,
 * else the last `validationSplit` of the rows (before any shuffle), else none. The copies fit makes
 * of x and y (standardized or converted values; the validation split's rows are views of them) are
 * `alloc`'s arrays: for the native backend, SharedArrayBuffers (see sharedTrainingData).
 */
export async function fitData(
  model: TrainableModel,
  x: unknown,
  y: unknown,
  validationData: FitOptions["validationData"],
  split: number | undefined,
  slicer: Slicer,
  weights: { sampleWeight?: unknown; classWeight?: unknown } = {},
  alloc: Float32Alloc = plainFloat32,
): Promise<{ train: PreparedData; val: PreparedData | null }> {
  const all = await prepareData(model, x, y, "x", "y", slicer, alloc);
  all.weights = rowWeights(weights.sampleWeight, weights.classWeight, all.y, all.rows, model.outputSize, model.loss!, "fit");
  let train: PreparedData = all;
  let val: PreparedData | null = null;
  if (validationData !== undefined) {
    const vd = validationData;
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
    train = { x: all.x.subarray(0, trainRows * inF), y: sliceTargets(all.y, model.outputSize, 0, trainRows), rows: trainRows, weights: all.weights?.subarray(0, trainRows) ?? null };
    val = {
      x: all.x.subarray(trainRows * inF, all.rows * inF),
      y: sliceTargets(all.y, model.outputSize, trainRows, all.rows),
      rows: valRows,
      weights: all.weights?.subarray(trainRows) ?? null,
    };
  }
  if (val && val.y.kind !== train.y.kind) {
    throw new TypeError("validationData targets must have the same form as y (both class indices, or both matrices)");
  }
  return { train, val };
}

/** Values copied between yields to the event loop (4 MB: about 0.5-1 ms). */
const SHARE_CHUNK = 1 << 20;

/**
 * `data` with its x and float targets over SharedArrayBuffers: as they are when they already are
 * (fit's own copies, or users' shared arrays), else copied once, in slices between which the event
 * loop runs. For plans that train off the main thread (the native fused plan): they read shared
 * rows in place, where over an ordinary ArrayBuffer (which JavaScript can transfer away while the
 * worker runs) they copy each run's rows on the main thread before it starts. Class labels and row
 * weights stay as they are: the plan copies (and checks) what its runs read of them, a few bytes per
 * row. The cost: the memory of one more copy of x (and y), where fit had none; with `pool`, the copy
 * is made in a buffer an earlier fit gave back when one is still there.
 */
export async function sharedTrainingData(data: PreparedData, slicer: Slicer, pool?: SharedPool): Promise<PreparedData> {
  const x = await sharedCopy(data.x, slicer, pool);
  const y: Targets = data.y.kind === "float" ? { kind: "float", data: await sharedCopy(data.y.data, slicer, pool) } : data.y;
  return { ...data, x, y };
}

/**
 * SharedArrayBuffers that finished fits gave back, reused by the next fits' copies. Memory fresh
 * from the system costs a page fault per 4 KB at its first write (measured: as much CPU time as
 * the copy itself). Spares are held weakly: they cost memory only until the garbage collector
 * wants it.
 */
export class SharedPool {
  private spare: WeakRef<SharedArrayBuffer>[] = [];

  constructor(private readonly maxSpare = 2) {}

  /** A Float32Array of `length` values (any contents) over a buffer no one else holds until it is given back. */
  take(length: number): Float32Array {
    const bytes = length * Float32Array.BYTES_PER_ELEMENT;
    let best: SharedArrayBuffer | undefined;
    for (const r of this.spare) {
      const b = r.deref();
      if (b && b.byteLength >= bytes && (!best || b.byteLength < best.byteLength)) best = b;
    }
    this.spare = this.spare.filter((r) => r.deref() !== undefined && r.deref() !== best);
    return new Float32Array(best ?? new SharedArrayBuffer(bytes), 0, length);
  }

  /** A buffer from take, once nothing reads it any more (at most maxSpare are kept, the latest). */
  give(buffer: SharedArrayBuffer): void {
    this.spare.push(new WeakRef(buffer));
    if (this.spare.length > this.maxSpare) this.spare.splice(0, this.spare.length - this.maxSpare);
  }
}

async function sharedCopy(a: Float32Array, slicer: Slicer, pool?: SharedPool): Promise<Float32Array> {
  if (isShared(a)) return a;
  const out = pool ? pool.take(a.length) : sharedFloat32(a.length);
  for (let start = 0; start < a.length; start += SHARE_CHUNK) {
    const end = Math.min(a.length, start + SHARE_CHUNK);
    out.set(a.subarray(start, end), start);
    await yieldIfDue(slicer);
  }
  return out;
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
  return evaluateArrays(ctx, data.x, data.y, data.rows, metrics, slicer, data.weights);
}

/** What evaluateArrays needs to run the compiled `model` through `plan`. */
export function evalContext(model: TrainableModel, plan: TrainPlan, kernels: Kernels, batchSize: number, denseTargets: boolean): EvalContext {
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

/**
 * fit's and evaluate's data: what users pass, converted and checked into the contiguous arrays a
 * training plan reads (inputs (N, ...sampleShape) flat Float32Array; targets (N, outFeatures)
 * Float32Array or (N) Int32Array class indices), the validation rows held out of them, and the
 * evaluation of prepared data through the model's plan.
 */
import type { Kernels } from "../backend/backend.js";
import type { TrainPlan } from "../backend/plan.js";
import { featuresWork, finiteCheckOf, runAsync } from "./data.js";
import { sliceTargets, targetsWork } from "./targets.js";
import { evaluateArrays, type EvalContext } from "./evaluate.js";
import type { FitOptions } from "./fit-options.js";
import type { MetricName, Targets } from "./metrics.js";
import type { TrainableModel } from "./model.js";
import type { Slicer } from "./yield.js";
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
 * event loop between slices of the work.
 */
export async function prepareData(model: TrainableModel, x: unknown, y: unknown, xName: string, yName: string, slicer: Slicer): Promise<PreparedData> {
  const loss = model.loss!;
  const norm = model._normalization;
  if (norm?.targetMean && !loss.isRegression) {
    throw new TypeError(`The model standardizes targets (normalization.targetMean is set) but its loss ${loss.name} is not a regression loss: set targetMean/targetStd only for mse, mae or huber`);
  }
  const check = finiteCheckOf(model._kernels());
  const fx = await runAsync(featuresWork(x, xName, model.inputShape, norm?.inputMean ?? null, norm?.inputStd ?? null, check), slicer);
  const fy = await runAsync(targetsWork(y, yName, loss, model.outputSize, fx.rows, norm?.targetMean ?? null, norm?.targetStd ?? null, check), slicer);
  return { x: fx.data, y: fy, rows: fx.rows, weights: null };
}

/**
 * fit's training rows and validation rows (null without validation): validationData when given,
 * else the last `validationSplit` of the rows (before any shuffle), else none.
 */
export async function fitData(
  model: TrainableModel,
  x: unknown,
  y: unknown,
  validationData: FitOptions["validationData"],
  split: number | undefined,
  slicer: Slicer,
  weights: { sampleWeight?: unknown; classWeight?: unknown } = {},
): Promise<{ train: PreparedData; val: PreparedData | null }> {
  const all = await prepareData(model, x, y, "x", "y", slicer);
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
  const plan = (): TrainPlan => model._plan(batchSize, denseTargets, false);
  const ctx = { ...evalContext(model, plan, kernels, batchSize, denseTargets), guard };
  return evaluateArrays(ctx, data.x, data.y, data.rows, metrics, slicer, data.weights);
}

/** What evaluateArrays needs to run the compiled `model` through `plan`. */
export function evalContext(model: TrainableModel, plan: EvalContext["plan"], kernels: Kernels, batchSize: number, denseTargets: boolean): EvalContext {
  const loss = model.loss!;
  const norm = model._normalization;
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

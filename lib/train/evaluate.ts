/**
 * Batched inference over prepared arrays: loss (the training loss, on the scale the model trains on)
 * and metrics (on predictions as `predict` returns them), for `evaluate` and for the validation and
 * training metrics `fit` reports each epoch.
 */
import type { Kernels } from "../backend/backend.js";
import type { PlanLoss, TrainPlan } from "../backend/plan.js";
import type { Loss } from "../losses/index.js";
import { MetricAccumulator, type MetricName, type MetricTask, type Targets } from "./metrics.js";
import { yieldIfDue, yieldNow, type Slicer } from "./yield.js";

/**
 * The forward warm-up of the plan `plan()` gives (PlanExecutor.warmUpForwardSync; a native plan has
 * none) for a first batch of `rows` rows: a turn of the event loop per slice and one after the last,
 * so that the first batch runs warm. `before` runs first when there is a warm-up. The plan is looked
 * up after each pause: dropped from the model's cache by calls made meanwhile, it is not warmed
 * again (the pass goes on cold).
 */
export async function warmUpForward(plan: () => TrainPlan, rows: number, slicer: Slicer, before?: () => void): Promise<void> {
  const warming = plan();
  if (!warming.warmUpForwardSync) return;
  before?.();
  while (plan() === warming && warming.warmUpForwardSync(rows)) await yieldNow(slicer);
  await yieldNow(slicer);
}

export interface EvalContext {
  /**
   * The plan, or (evaluate) a function that looks it up: a plan not pinned by a fit may be dropped
   * from the model's cache by calls made while evaluate pauses, so evaluate asks for it each batch.
   */
  plan: TrainPlan | (() => TrainPlan);
  kernels: Kernels;
  /** Rows per forward call (at most the plan's batch size). */
  batchSize: number;
  inFeatures: number;
  outFeatures: number;
  loss: Loss;
  planLoss: PlanLoss;
  targetMean: Float32Array | null;
  targetStd: Float32Array | null;
  /** Called before each forward pass (evaluate: throws if the model trained since the call began). */
  guard?: () => void;
}

export function metricTask(loss: Loss | null): MetricTask {
  if (loss?.name === "crossEntropy") return "crossEntropy";
  if (loss?.name === "binaryCrossEntropy") return "binaryCrossEntropy";
  return "regression";
}

/**
 * Turn plan outputs (rows, cols) into predictions in place: softmax for crossEntropy, sigmoid for
 * binaryCrossEntropy, y * std + mean for regression with stored target statistics.
 */
export function toPredictions(
  kernels: Kernels,
  loss: Loss | null,
  out: Float32Array,
  rows: number,
  cols: number,
  targetMean: Float32Array | null,
  targetStd: Float32Array | null,
): void {
  if (loss?.name === "crossEntropy") kernels.softmaxForward(out, out, rows, cols);
  else if (loss?.name === "binaryCrossEntropy") kernels.activationForward("sigmoid", out, out, rows * cols, 0);
  else if (targetMean && targetStd) {
    for (let i = 0; i < rows; i++) {
      const off = i * cols;
      for (let j = 0; j < cols; j++) out[off + j] = out[off + j]! * targetStd[j]! + targetMean[j]!;
    }
  }
}

/** Mean loss of plan outputs `out` (rows, cols) against targets rows [start, start + rows), weighted by `w` (rows) when given. */
function batchLoss(k: Kernels, planLoss: PlanLoss, out: Float32Array, targets: Targets, start: number, rows: number, cols: number, w: Float32Array | null): number {
  switch (planLoss.kind) {
    case "mse":
    case "mae":
    case "huber":
      return k.regressionLoss(planLoss.kind, null, out, (targets.data as Float32Array).subarray(start * cols, (start + rows) * cols), rows * cols, planLoss.delta, w);
    case "crossEntropy":
      return k.softmaxCrossEntropy(null, out, (targets.data as Int32Array).subarray(start, start + rows), rows, cols, w);
    case "crossEntropyDense":
      return k.softmaxCrossEntropyDense(null, out, (targets.data as Float32Array).subarray(start * cols, (start + rows) * cols), rows, cols, w);
    case "bce":
      return k.bceWithLogits(null, out, (targets.data as Float32Array).subarray(start * cols, (start + rows) * cols), rows * cols, w);
  }
}

/**
 * Loss and metrics of x (rows, inFeatures) against targets, batch by batch, yielding to the event
 * loop by the same rule as training (see yield.ts) when `slicer` is given. With row `weights`
 * (rows) the loss is sum_i w_i loss_i / rows; the metrics are unweighted.
 */
export async function evaluateArrays(
  ctx: EvalContext,
  x: Float32Array,
  targets: Targets,
  rows: number,
  metrics: readonly MetricName[],
  slicer: Slicer | null,
  weights: Float32Array | null = null,
): Promise<Record<string, number>> {
  const { kernels, batchSize, inFeatures, outFeatures: cols } = ctx;
  const given = ctx.plan;
  const planNow = typeof given === "function" ? given : (): TrainPlan => given;
  const out = new Float32Array(batchSize * cols);
  const acc = new MetricAccumulator(metrics, metricTask(ctx.loss), cols, ctx.targetMean, ctx.targetStd);
  let lossSum = 0;
  if (slicer) await warmUpForward(planNow, Math.min(rows, batchSize), slicer);
  // What the arrays held when they were checked: x (rows, inFeatures), y (rows) class indices or (rows, cols).
  const xValues = rows * inFeatures;
  const yValues = targets.kind === "index" ? rows : rows * cols;
  for (let start = 0; start < rows; start += batchSize) {
    const b = Math.min(batchSize, rows - start);
    ctx.guard?.();
    // Between batches (a yield) JavaScript may have transferred or resized x or y: say so, naming them.
    if (x.length < xValues || targets.data.length < yValues) {
      const [name, now, then] = x.length < xValues ? ["x", x.length, xValues] : ["y", targets.data.length, yValues];
      throw new Error(
        `Stopped at row ${start} of ${rows}: ${name} holds ${now} values, but ${then} when they were checked (its ArrayBuffer was transferred, detached or resized): do not change, transfer or resize x and y until the call settles`,
      );
    }
    planNow().forward(out, x.subarray(start * inFeatures, (start + b) * inFeatures), b);
    const view = out.subarray(0, b * cols);
    let batch: number;
    try {
      batch = batchLoss(kernels, ctx.planLoss, view, targets, start, b, cols, weights ? weights.subarray(start, start + b) : null);
    } catch (e) {
      // The targets were checked before the pass: a refused one was written since.
      if (!(e instanceof RangeError)) throw e;
      throw new RangeError(`Stopped at rows ${start} to ${start + b - 1} of ${rows}: y was changed after it was checked (${e.message}): do not change x and y until the call settles`);
    }
    lossSum += batch * b;
    if (acc.active) {
      toPredictions(kernels, ctx.loss, view, b, cols, ctx.targetMean, ctx.targetStd);
      acc.update(view, targets, start, b);
    }
    if (slicer) await yieldIfDue(slicer);
  }
  return { loss: lossSum / rows, ...acc.results() };
}

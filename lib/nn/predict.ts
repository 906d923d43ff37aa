/**
 * The prediction pass: raw inputs standardized one batch at a time into a batch-sized buffer (never
 * a copy of the whole input), the model's inference plan, then what predict returns (probabilities
 * for cross-entropy models, de-standardized regression outputs); and predicted classes.
 */
import type { Backend } from "../backend/backend.js";
import type { TrainPlan } from "../backend/plan.js";
import { Matrix } from "../core/matrix.js";
import type { Loss } from "../losses/index.js";
import { toPredictions, warmUpForward } from "../train/evaluate.js";
import { featuresWork, finiteCheckOf, runAsync, runSync, toFeatures, type Work } from "../train/data.js";
import { makeSlicer } from "../train/yield.js";
import type { Normalization } from "../train/normalization.js";
import { passRows } from "./batch-limit.js";

/** What the prediction pass reads of a model. */
export interface PredictingModel {
  readonly inputShape: readonly number[];
  readonly inputSize: number;
  readonly outputSize: number;
  /** The stored standardization itself (not a copy). */
  readonly _normalization: Normalization | null;
  readonly loss: Loss | null;
  _plan(batchSize: number, denseTargets: boolean, pin: boolean): TrainPlan;
  _kernels(): Backend;
}

/**
 * predict: the inputs x checked (the model's input shape, finite) and the pass run straight through,
 * with no warm-up: the whole call blocks anyway, and a warm-up would only add to it.
 */
export function predictRows(model: PredictingModel, x: unknown, batchSize: number): Matrix {
  const { data, rows } = toFeatures(x, "x", model.inputShape, null, null, finiteCheckOf(model._kernels()));
  return runSync(predictPass(model, data, rows, passRows(batchSize, rows), null));
}

/**
 * predictAsync: predictRows with a yield to the event loop whenever a slice has passed, after the
 * plan's warm-up (PlanExecutor.warmUpForwardSync), each of its slices in its own turn and the first
 * batch in the turn after the last: the first batch then runs warm, and no turn blocks for much
 * longer than a batch (slices run together until 4 ms had passed made a turn of the last miniature
 * slices and the first full-sized layer, ~1.5x an MLP's batch). Before each batch, `unchanged`
 * throws if the model trained since the call began (its rows would mix two sets of weights).
 */
export async function predictRowsAsync(model: PredictingModel, x: unknown, batchSize: number, unchanged: () => void): Promise<Matrix> {
  const slicer = makeSlicer();
  const { data, rows } = await runAsync(featuresWork(x, "x", model.inputShape, null, null, finiteCheckOf(model._kernels())), slicer);
  batchSize = passRows(batchSize, rows);
  const values = rows * model.inputSize;
  const guard = (): void => {
    unchanged();
    // Between batches JavaScript may have transferred or resized x's buffer.
    if (data.length !== values) {
      throw new Error(
        `predictAsync stopped: x holds ${data.length} values, but ${values} when it started (its ArrayBuffer was transferred, detached or resized): do not change, transfer or resize x until predictAsync settles`,
      );
    }
  };
  // Looked up after each pause, as the pass does: calls made meanwhile may have made or dropped plans.
  const plan = (): TrainPlan => model._plan(batchSize, false, false);
  if (rows > 0) await warmUpForward(plan, Math.min(rows, batchSize), slicer, guard);
  return runAsync(predictPass(model, data, rows, batchSize, guard), slicer);
}

/**
   * The prediction pass over raw inputs (rows, inputSize), pausing after each batch: predict runs it
   * straight through, predictAsync yields to the event loop at the pauses. Inputs are standardized
   * one batch at a time into a batch-sized buffer, never as a copy of the whole input.
   */
export function* predictPass(model: PredictingModel, data: Float32Array, rows: number, batchSize: number, guard: (() => void) | null): Work<Matrix> {
    const inF = model.inputSize;
    const outF = model.outputSize;
    const norm = model._normalization;
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
      model._plan(batchSize, false, false).forward(out, xs, b);
      toPredictions(model._kernels(), model.loss, out, b, outF, norm?.targetMean ?? null, norm?.targetStd ?? null);
      yield;
    }
    return result;
  }

export function classesOf(model: PredictingModel, p: Matrix): Int32Array {
    const out = new Int32Array(p.rows);
    if (model.loss?.name === "binaryCrossEntropy") {
      if (p.cols !== 1) throw new RangeError(`predictClasses on a ${p.cols}-output binaryCrossEntropy (multi-label) model is ambiguous: use predict and threshold each output`);
      for (let i = 0; i < p.rows; i++) out[i] = p.data[i]! > 0.5 ? 1 : 0;
      return out;
    }
    if (p.cols < 2) throw new RangeError("predictClasses needs a model with at least 2 outputs (one per class)");
    model._kernels().argmaxRows(out, p.data, p.rows, p.cols);
    return out;
  }

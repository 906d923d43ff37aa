/**
 * evaluate: the loss (on the scale the model trains on) and metrics (on predictions, raw units) of
 * raw inputs x against targets y, computed batch by batch with a yield to the event loop whenever a
 * slice has passed. The arrays are read and checked as fit reads them (lib/train/fit-data.ts).
 */
import type { Loss } from "../losses/index.js";
import { evaluatePrepared, prepareData } from "../train/fit.js";
import { checkMetrics } from "../train/metrics.js";
import { metricTask } from "../train/evaluate.js";
import type { TrainableModel } from "../train/model.js";
import { rowWeights } from "../train/sample-weights.js";
import { makeSlicer } from "../train/yield.js";
import type { EvaluateOptions } from "./model-spec.js";
import { passRows } from "./batch-limit.js";

/**
 * The work of model.evaluate once its options are checked: `loss` is the model's compiled loss,
 * `unchanged` throws if the model trained since the call began (called before each batch).
 */
export async function evaluateModel(
  model: TrainableModel,
  loss: Loss,
  x: unknown,
  y: unknown,
  batchSize: number,
  options: EvaluateOptions,
  unchanged: () => void,
): Promise<Record<string, number> & { loss: number }> {
  const metrics = checkMetrics(options.metrics, metricTask(loss), model.outputSize);
  const slicer = makeSlicer();
  const data = await prepareData(model, x, y, "x", "y", slicer);
  data.weights = rowWeights(options.sampleWeight, undefined, data.y, data.rows, model.outputSize, loss, "evaluate");
  return (await evaluatePrepared(model, data, passRows(batchSize, data.rows), metrics, model._kernels(), slicer, unchanged)) as Record<string, number> & { loss: number };
}

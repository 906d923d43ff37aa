/**
 * fit's and evaluate's row weights, with Keras' semantics (tfjs never shipped them):
 * `sampleWeight` gives one non-negative finite weight per row; `classWeight` ({ [class]: weight })
 * gives every row of a class the same weight, for classifiers (crossEntropy: the class index, or
 * the argmax of a one-hot row; binaryCrossEntropy with one output: the target, 0 or 1); given both,
 * they multiply. A batch's loss is then sum_i w_i loss_i / batchRows (divided by the rows, not by
 * the sum of the weights, as Keras does), and so is its gradient.
 */
import { describe } from "../core/matrix.js";
import type { Loss } from "../losses/index.js";
import type { Targets } from "./metrics.js";
import { isTypedArrayOf } from "../core/typed-arrays.js";

/** Per-row weights as fit and evaluate take them. */
export type SampleWeightInput = readonly number[] | Float32Array | Float64Array;
/** Weights by class index (`{ 0: 1, 1: 5 }`). */
export type ClassWeightInput = Readonly<Record<number | string, number>>;

/**
 * The row weights for `rows` rows with targets `y` (null when neither option is given). Throws,
 * naming what arrived and what is expected, for a wrong length, a negative, NaN or infinite weight,
 * classWeight on a regression model and a class the model does not have.
 */
export function rowWeights(
  sampleWeight: unknown,
  classWeight: unknown,
  y: Targets,
  rows: number,
  outputSize: number,
  loss: Loss,
  what: string,
): Float32Array | null {
  if (sampleWeight === undefined && classWeight === undefined) return null;
  const w = new Float32Array(rows).fill(1);
  if (sampleWeight !== undefined) {
    const isArray = Array.isArray(sampleWeight) || isTypedArrayOf(sampleWeight, ["Float32Array", "Float64Array"]);
    if (!isArray) {
      throw new TypeError(`Invalid sampleWeight for ${what}: expected an array of ${rows} non-negative numbers (one per row of y) but received ${describe(sampleWeight)}`);
    }
    const sw = sampleWeight as ArrayLike<unknown>;
    if (sw.length !== rows) {
      throw new RangeError(`Invalid sampleWeight for ${what}: it has ${sw.length} values but y has ${rows} rows; give one weight per row`);
    }
    for (let i = 0; i < rows; i++) {
      const v = sw[i];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new RangeError(`Invalid sampleWeight[${i}] for ${what}: ${describe(v)}; expected a finite number >= 0`);
      }
      w[i] = v;
    }
  }
  if (classWeight !== undefined) applyClassWeight(w, classWeight, y, rows, outputSize, loss, what);
  return w;
}

/** Multiply each row's weight by its class's weight (classes without an entry weigh 1). */
function applyClassWeight(w: Float32Array, classWeight: unknown, y: Targets, rows: number, outputSize: number, loss: Loss, what: string): void {
  if (classWeight === null || typeof classWeight !== "object" || Array.isArray(classWeight)) {
    throw new TypeError(`Invalid classWeight for ${what}: expected an object { [class index]: weight }, e.g. { 0: 1, 1: 5 }, but received ${describe(classWeight)}`);
  }
  const binary = loss.name === "binaryCrossEntropy";
  if (loss.name !== "crossEntropy" && !binary) {
    throw new TypeError(`classWeight is for classifiers (crossEntropy or binaryCrossEntropy) but this model's loss is ${loss.name}: give per-row weights as sampleWeight instead`);
  }
  if (binary && outputSize !== 1) {
    throw new TypeError(`classWeight with binaryCrossEntropy needs a model with one output (each row one class, 0 or 1) but this one has ${outputSize}: give per-row weights as sampleWeight instead`);
  }
  const classes = binary ? 2 : outputSize;
  const byClass = new Float64Array(classes).fill(1);
  for (const [key, v] of Object.entries(classWeight as Record<string, unknown>)) {
    const c = Number(key);
    if (!(key.trim() !== "" && Number.isInteger(c) && c >= 0 && c < classes)) {
      throw new RangeError(`Unknown class ${JSON.stringify(key)} in classWeight for ${what}: the model's classes are the indices 0 to ${classes - 1}`);
    }
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`Invalid classWeight[${key}] for ${what}: ${describe(v)}; expected a finite number >= 0`);
    }
    byClass[c] = v;
  }
  for (let i = 0; i < rows; i++) w[i] = w[i]! * byClass[classOf(y, i, outputSize, binary, what)]!;
}

/** Row i's class: its label, the argmax of its target row, or (binary) its 0/1 target. */
function classOf(y: Targets, i: number, cols: number, binary: boolean, what: string): number {
  if (y.kind === "index") return y.data[i]!;
  if (binary) {
    const t = y.data[i]!;
    if (t !== 0 && t !== 1) throw new RangeError(`classWeight for ${what} needs 0/1 targets, but row ${i}'s target is ${t}: give per-row weights as sampleWeight instead`);
    return t;
  }
  let best = 0;
  for (let j = 1; j < cols; j++) if (y.data[i * cols + j]! > y.data[i * cols + best]!) best = j;
  return best;
}

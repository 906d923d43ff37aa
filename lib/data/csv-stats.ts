/**
 * Standardization statistics (column means and standard deviations) of a dataset's features and
 * numeric targets, for `model.setNormalization`.
 */
import type { Matrix } from "../core/matrix.js";

/** Column means and standard deviations (population), for `model.setNormalization`. */
export interface Standardization {
  /** Mean of each feature column (features). */
  inputMean: Float32Array;
  /** Standard deviation of each feature column (features; 1 for a constant column). */
  inputStd: Float32Array;
  /** Mean of each numeric target column; absent for class targets. */
  targetMean?: Float32Array;
  /** Standard deviation of each numeric target column; absent for class targets. */
  targetStd?: Float32Array;
}

/**
 * Per-column mean and standard deviation of a matrix, in double precision. A constant column gets
 * std 1 (so standardizing it gives zeros instead of dividing by zero).
 */
export function columnStats(m: Matrix): { mean: Float32Array; std: Float32Array } {
  const { rows, cols, data } = m;
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j]! += data[i * cols + j]!;
  for (let j = 0; j < cols; j++) mean[j] = rows > 0 ? mean[j]! / rows : 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = data[i * cols + j]! - mean[j]!;
      sq[j]! += d * d;
    }
  }
  const std = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    const s = rows > 0 ? Math.sqrt(sq[j]! / rows) : 0;
    std[j] = s > 1e-12 && Number.isFinite(s) ? s : 1;
  }
  return { mean: Float32Array.from(mean), std };
}

/**
 * Standardization statistics of a training set: the features always, the targets too when they are
 * numeric (regression). Compute them on the training rows only and store them with the model
 * (`model.setNormalization(...)`), so `predict` applies the same transformation to new raw inputs.
 */
export function standardization(data: { x: Matrix; y?: Matrix | null; classNames?: string[] | null }): Standardization {
  const inp = columnStats(data.x);
  const out: Standardization = { inputMean: inp.mean, inputStd: inp.std };
  if (data.y && !data.classNames) {
    const t = columnStats(data.y);
    out.targetMean = t.mean;
    out.targetStd = t.std;
  }
  return out;
}

/**
 * Loss kernels: each returns the mean loss (in double precision) and, unless `grad` is null,
 * writes the gradient of that mean with respect to the prediction or logits.
 *
 * An empty batch (n = 0 or rows = 0) has no mean: the loss is NaN (0/0) and nothing is written.
 *
 * Optional per-row weights w (rows), Keras' sample weights: the loss is sum_r w_r loss_r / rows
 * (divided by the rows, not by the sum of the weights) and each row's gradient is scaled by w_r.
 * The element-wise losses (regression, binary cross-entropy) take n = rows * cols values, row r
 * being [r * cols, (r + 1) * cols) with rows = w.length.
 * Nothing is allocated, except that V8 boxes the returned double (16 bytes) when the call is not
 * inlined into its caller: one small allocation per loss call, i.e. per training step.
 */
import type { RegressionLoss } from "../backend.js";
import { sigmoid } from "../../ops/activations.js";
import { checkLength, checkSize, checksDisagree, isSize } from "./check.js";

/** mean_i e(pred_i - target_i) over n values, e = MSE d^2, MAE |d| or Huber; grad (n) = d mean / d pred. */
export function regressionLoss(
  kind: RegressionLoss,
  grad: Float32Array | null,
  pred: Float32Array,
  target: Float32Array,
  n: number,
  delta: number,
  weights: Float32Array | null = null,
): number {
  if (!(isSize(n) && pred.length >= n && target.length >= n && (grad === null || grad.length >= n))) regressionLossError(grad, pred, target, n);
  const cols = rowWidth(weights, n);
  switch (kind) {
    case "mse":
      return mse(grad, pred, target, n, weights, cols);
    case "mae":
      return mae(grad, pred, target, n, weights, cols);
    case "huber":
      return huber(grad, pred, target, n, delta, weights, cols);
    default:
      throw new RangeError(`Unknown regression loss ${JSON.stringify(kind)}; expected "mse", "mae" or "huber"`);
  }
}

/** Throws regressionLoss's error for its first argument out of range (it tests them in one condition: check.ts says why). */
function regressionLossError(grad: Float32Array | null, pred: Float32Array, target: Float32Array, n: number): never {
  checkSize("n", n);
  checkLength("pred (n)", pred.length, n);
  checkLength("target (n)", target.length, n);
  if (grad !== null) checkLength("grad (n)", grad.length, n);
  checksDisagree("regressionLoss");
}

/**
 * Values per row of an element-wise loss over n values with per-row `weights` (n / rows); without
 * weights the n values are one row of weight 1 (see weightOfRow). Throws unless n is a whole number
 * of rows.
 */
function rowWidth(weights: Float32Array | null, n: number): number {
  if (weights === null) return n;
  const rows = weights.length;
  if (rows === 0 ? n !== 0 : n % rows !== 0) {
    throw new RangeError(`Expected n (${n}) to be a whole number of rows of the ${rows} weights`);
  }
  return rows === 0 ? 1 : n / rows;
}

/**
 * The weight of the row of `cols` values that starts at element i: weights[i / cols], or 1 without
 * weights. The element-wise losses read it once per row, not per element (a training step's loss is
 * over a few values, where a check per element costs as much as the arithmetic).
 */
function weightOfRow(weights: Float32Array | null, cols: number, i: number): number {
  return weights === null ? 1 : weights[(i / cols) | 0];
}

/** mean d^2, d = pred - target; grad = 2 d / n. */
function mse(grad: Float32Array | null, pred: Float32Array, target: Float32Array, n: number, weights: Float32Array | null, cols: number): number {
  let total = 0;
  const g = 2 / n;
  for (let r = 0; r < n; r += cols) {
    const w = weightOfRow(weights, cols, r);
    for (let i = r; i < r + cols; i++) {
      const d = pred[i] - target[i];
      total += w * d * d;
      if (grad !== null) grad[i] = g * w * d;
    }
  }
  return total / n;
}

/** mean |d|; grad = sign(d) / n, 0 at d = 0. */
function mae(grad: Float32Array | null, pred: Float32Array, target: Float32Array, n: number, weights: Float32Array | null, cols: number): number {
  let total = 0;
  const g = 1 / n;
  for (let r = 0; r < n; r += cols) {
    const w = weightOfRow(weights, cols, r);
    for (let i = r; i < r + cols; i++) {
      const d = pred[i] - target[i];
      total += w * Math.abs(d);
      if (grad !== null) grad[i] = d > 0 ? g * w : d < 0 ? -g * w : 0;
    }
  }
  return total / n;
}

/** mean of d^2/2 for |d| <= delta, delta (|d| - delta/2) beyond; grad = clamp(d, -delta, delta) / n. */
function huber(grad: Float32Array | null, pred: Float32Array, target: Float32Array, n: number, delta: number, weights: Float32Array | null, cols: number): number {
  let total = 0;
  const g = 1 / n;
  for (let r = 0; r < n; r += cols) {
    const w = weightOfRow(weights, cols, r);
    for (let i = r; i < r + cols; i++) {
      const d = pred[i] - target[i];
      const ad = Math.abs(d);
      if (ad <= delta) {
        total += w * 0.5 * d * d;
        if (grad !== null) grad[i] = g * w * d;
      } else {
        total += w * delta * (ad - 0.5 * delta);
        if (grad !== null) grad[i] = d > 0 ? g * w * delta : -g * w * delta;
      }
    }
  }
  return total / n;
}

/**
 * log sum_j e^(z_j) over the row z[o, o + cols), as max + log sum_j e^(z_j - max): shifted by the
 * row max, every e^(...) is <= 1 and cannot overflow.
 */
function logSumExp(z: Float32Array, o: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) if (z[o + j] > max) max = z[o + j];
  let sumExp = 0;
  for (let j = 0; j < cols; j++) sumExp += Math.exp(z[o + j] - max);
  return max + Math.log(sumExp);
}

/**
 * mean over rows of logsumexp(z) - z[label], z = logits (rows,cols), labels (rows) in [0, cols).
 * grad (rows,cols) = (softmax(z) - onehot(label)) / rows. grad may be logits.
 */
export function softmaxCrossEntropy(
  grad: Float32Array | null,
  logits: Float32Array,
  labels: Int32Array,
  rows: number,
  cols: number,
  weights: Float32Array | null = null,
): number {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength("logits (rows,cols)", logits.length, rows * cols);
  checkLength("labels (rows)", labels.length, rows);
  if (grad !== null) checkLength("grad (rows,cols)", grad.length, rows * cols);
  if (weights !== null) checkLength("weights (rows)", weights.length, rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const w = weights === null ? 1 : weights[r];
    const g = w / rows;
    const label = labels[r];
    if (!(label >= 0 && label < cols)) {
      throw new RangeError(`Label ${label} at row ${r} is out of range; expected an integer in [0, ${cols})`);
    }
    const o = r * cols;
    const lse = logSumExp(logits, o, cols);
    const zLabel = logits[o + label]; // read before grad, which may alias logits, is written
    total += w * (lse - zLabel);
    if (grad !== null) {
      for (let j = 0; j < cols; j++) grad[o + j] = g * Math.exp(logits[o + j] - lse);
      // p - 1 in double, then rounded: exactly 0 when the row is certain of its label.
      grad[o + label] = g * (Math.exp(zLabel - lse) - 1);
    }
  }
  return total / rows;
}

/**
 * mean over rows of -sum_j t_j log softmax(z)_j = sum_j t_j (lse(z) - z_j), against target
 * distributions t (rows,cols). grad (rows,cols) = (softmax(z) - t) / rows. grad may be logits.
 */
export function softmaxCrossEntropyDense(
  grad: Float32Array | null,
  logits: Float32Array,
  targets: Float32Array,
  rows: number,
  cols: number,
  weights: Float32Array | null = null,
): number {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength("logits (rows,cols)", logits.length, rows * cols);
  checkLength("targets (rows,cols)", targets.length, rows * cols);
  if (grad !== null) checkLength("grad (rows,cols)", grad.length, rows * cols);
  if (weights !== null) checkLength("weights (rows)", weights.length, rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const w = weights === null ? 1 : weights[r];
    const g = w / rows;
    const o = r * cols;
    const lse = logSumExp(logits, o, cols);
    for (let j = 0; j < cols; j++) {
      const z = logits[o + j];
      const t = targets[o + j];
      // t = 0 contributes nothing, even where lse - z is huge.
      if (t !== 0) total += w * t * (lse - z);
      if (grad !== null) grad[o + j] = g * (Math.exp(z - lse) - t);
    }
  }
  return total / rows;
}

/**
 * mean over n of the binary cross-entropy from logits z and targets t in [0, 1], in the stable form
 * max(z,0) - z t + log(1 + e^-|z|); grad (n) = (σ(z) - t) / n. grad may be logits.
 */
export function bceWithLogits(grad: Float32Array | null, logits: Float32Array, targets: Float32Array, n: number, weights: Float32Array | null = null): number {
  checkSize("n", n);
  checkLength("logits (n)", logits.length, n);
  checkLength("targets (n)", targets.length, n);
  if (grad !== null) checkLength("grad (n)", grad.length, n);
  const cols = rowWidth(weights, n);
  let total = 0;
  const g = 1 / n;
  for (let r = 0; r < n; r += cols) {
    const w = weightOfRow(weights, cols, r);
    for (let i = r; i < r + cols; i++) {
      const z = logits[i];
      const t = targets[i];
      total += w * ((z > 0 ? z : 0) - z * t + Math.log1p(Math.exp(-Math.abs(z))));
      if (grad !== null) grad[i] = g * w * (sigmoid(z) - t);
    }
  }
  return total / n;
}

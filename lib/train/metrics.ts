/**
 * Metrics, accumulated in double precision over batches of predictions.
 *
 * Predictions are what `predict` returns: probabilities for classifiers (softmax for crossEntropy,
 * sigmoid for binaryCrossEntropy) and de-standardized values for regression. Targets are the raw ones
 * (de-standardized back when the model standardizes targets).
 *
 * - mse, mae, rmse: over all outputs.
 * - r2: coefficient of determination, 1 - SS_res / SS_tot per output column, averaged over columns
 *   (scikit-learn's "uniform_average"; a constant column scores 1 if predicted exactly, else 0).
 * - accuracy: crossEntropy: argmax of the prediction equals the label (or the target row's argmax);
 *   binaryCrossEntropy: (p > 0.5) equals (t >= 0.5), over all outputs. Classification losses only.
 */
import { describe } from "../core/matrix.js";

export type MetricName = "mse" | "mae" | "rmse" | "r2" | "accuracy";
export const METRIC_NAMES: readonly MetricName[] = ["mse", "mae", "rmse", "r2", "accuracy"];

/** Targets as the training code holds them: float rows, or one class index per row. */
export type Targets = { kind: "float"; data: Float32Array } | { kind: "index"; data: Int32Array };

export type MetricTask = "regression" | "crossEntropy" | "binaryCrossEntropy";

export function checkMetrics(metrics: unknown, task: MetricTask): MetricName[] {
  if (metrics === undefined) return [];
  if (!Array.isArray(metrics)) throw new TypeError(`Invalid metrics: expected an array of metric names but received ${describe(metrics)}`);
  const out: MetricName[] = [];
  for (const m of metrics) {
    if (typeof m !== "string" || !(METRIC_NAMES as readonly string[]).includes(m)) {
      throw new TypeError(`Invalid metric: ${describe(m)}; expected one of ${METRIC_NAMES.map((s) => `"${s}"`).join(", ")}`);
    }
    if (m === "accuracy" && task === "regression") {
      throw new TypeError(`The metric "accuracy" needs a classification loss (crossEntropy or binaryCrossEntropy); use "mae", "rmse" or "r2" for regression`);
    }
    if (!out.includes(m as MetricName)) out.push(m as MetricName);
  }
  return out;
}

/** Index of the largest of v[off, off + cols), the first on ties (as argmaxRows). */
function argmax(v: Float32Array, off: number, cols: number): number {
  let best = 0;
  for (let j = 1; j < cols; j++) if (v[off + j]! > v[off + best]!) best = j;
  return best;
}

/** Accumulates metrics over batches. */
export class MetricAccumulator {
  private n = 0; // rows seen
  private sumSq = 0;
  private sumAbs = 0;
  private correct = 0;
  private counted = 0;
  // r2 per column: sum of t, sum of t^2, residual sum of squares.
  private readonly st: Float64Array;
  private readonly st2: Float64Array;
  private readonly ssr: Float64Array;

  constructor(
    readonly names: readonly MetricName[],
    private readonly task: MetricTask,
    private readonly cols: number,
    /** Target de-standardization (regression with stored target statistics). */
    private readonly targetMean: Float32Array | null = null,
    private readonly targetStd: Float32Array | null = null,
  ) {
    this.st = new Float64Array(cols);
    this.st2 = new Float64Array(cols);
    this.ssr = new Float64Array(cols);
  }

  get active(): boolean {
    return this.names.length > 0;
  }

  /** pred (rows, cols) in prediction space; targets rows [rowStart, rowStart + rows). */
  update(pred: Float32Array, targets: Targets, rowStart: number, rows: number): void {
    const cols = this.cols;
    this.n += rows;
    if (targets.kind === "index") {
      const labels = targets.data;
      for (let i = 0; i < rows; i++) {
        const label = labels[rowStart + i]!;
        const off = i * cols;
        if (argmax(pred, off, cols) === label) this.correct++;
        this.counted++;
        for (let j = 0; j < cols; j++) this.addValue(j, pred[off + j]!, j === label ? 1 : 0);
      }
      return;
    }
    const t = targets.data;
    const mean = this.targetMean;
    const std = this.targetStd;
    for (let i = 0; i < rows; i++) {
      const off = i * cols;
      const toff = (rowStart + i) * cols;
      if (this.task === "crossEntropy") {
        if (argmax(pred, off, cols) === argmax(t, toff, cols)) this.correct++;
        this.counted++;
      }
      for (let j = 0; j < cols; j++) {
        let tv = t[toff + j]!;
        if (mean && std) tv = tv * std[j]! + mean[j]!;
        const p = pred[off + j]!;
        if (this.task === "binaryCrossEntropy") {
          if (p > 0.5 === tv >= 0.5) this.correct++;
          this.counted++;
        }
        this.addValue(j, p, tv);
      }
    }
  }

  private addValue(j: number, p: number, t: number): void {
    const d = p - t;
    this.sumSq += d * d;
    this.sumAbs += Math.abs(d);
    this.st[j]! += t;
    this.st2[j]! += t * t;
    this.ssr[j]! += d * d;
  }

  results(): Record<string, number> {
    const out: Record<string, number> = {};
    const count = this.n * this.cols;
    for (const name of this.names) {
      switch (name) {
        case "mse":
          out[name] = this.sumSq / count;
          break;
        case "mae":
          out[name] = this.sumAbs / count;
          break;
        case "rmse":
          out[name] = Math.sqrt(this.sumSq / count);
          break;
        case "accuracy":
          out[name] = this.correct / this.counted;
          break;
        case "r2": {
          let total = 0;
          for (let j = 0; j < this.cols; j++) {
            const sst = this.st2[j]! - (this.st[j]! * this.st[j]!) / this.n;
            const ssr = this.ssr[j]!;
            // SS_tot from sums can come out as a tiny negative or positive residue for a constant column.
            const constant = sst <= 1e-12 * Math.max(1, this.st2[j]!);
            total += constant ? (ssr <= 1e-12 * Math.max(1, this.st2[j]!) ? 1 : 0) : 1 - ssr / sst;
          }
          out[name] = total / this.cols;
          break;
        }
      }
    }
    return out;
  }
}

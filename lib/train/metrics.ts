/**
 * Metrics, accumulated in double precision over batches of predictions.
 *
 * Predictions are what `predict` returns: probabilities for classifiers (softmax for crossEntropy,
 * sigmoid for binaryCrossEntropy) and de-standardized values for regression. Targets are the raw ones
 * (de-standardized back when the model standardizes targets).
 *
 * Regression:
 * - mse, mae, rmse: over all outputs.
 * - r2: coefficient of determination, 1 - SS_res / SS_tot per output column, averaged over columns
 *   (scikit-learn's "uniform_average"; a constant column scores 1 if predicted exactly, else 0).
 *
 * Classification (crossEntropy: the predicted class is the argmax; binaryCrossEntropy: p > 0.5 is
 * the positive class and a target >= 0.5 is positive, counted over all outputs):
 * - accuracy: the share of predictions that are right.
 * - precision, recall, f1: of the positive class (binary: class 1 of a two-class crossEntropy
 *   model, or the positive label of binaryCrossEntropy), as scikit-learn's average="binary".
 * - macroPrecision, macroRecall, macroF1: the unweighted mean over classes (average="macro").
 * - auc: area under the ROC curve of the positive class's probability (binary only; ties count
 *   half, as scikit-learn's roc_auc_score).
 * - top<k>Accuracy (top2Accuracy, top5Accuracy, ...): the label is among the k most probable
 *   classes (crossEntropy only).
 * A ratio whose denominator is 0 (precision of a class never predicted) is 0, as scikit-learn's
 * default `zero_division` gives.
 */
import { describe } from "../core/matrix.js";

/** Metrics with a fixed name; see also `TopKAccuracy`. */
export type FixedMetricName =
  | "mse"
  | "mae"
  | "rmse"
  | "r2"
  | "accuracy"
  | "precision"
  | "recall"
  | "f1"
  | "macroPrecision"
  | "macroRecall"
  | "macroF1"
  | "auc";
/** Top-k accuracy for a k >= 1, e.g. "top5Accuracy". */
export type TopKAccuracy = `top${number}Accuracy`;
/** A metric by name: one of `METRIC_NAMES`, or "top<k>Accuracy". */
export type MetricName = FixedMetricName | TopKAccuracy;
/** Every metric with a fixed name; top-k accuracy is "top<k>Accuracy" for any k >= 1 ("top5Accuracy"). */
export const METRIC_NAMES: readonly FixedMetricName[] = ["mse", "mae", "rmse", "r2", "accuracy", "precision", "recall", "f1", "macroPrecision", "macroRecall", "macroF1", "auc"];

const CLASSIFICATION_ONLY: readonly string[] = ["accuracy", "precision", "recall", "f1", "macroPrecision", "macroRecall", "macroF1", "auc"];
const BINARY_ONLY: readonly string[] = ["precision", "recall", "f1", "auc"];

/** Other libraries' metric names (Keras, tfjs, scikit-learn), lower-cased without "_": blasnet's name. */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  acc: "accuracy",
  categoricalaccuracy: "accuracy",
  sparsecategoricalaccuracy: "accuracy",
  binaryaccuracy: "accuracy",
  meansquarederror: "mse",
  meanabsoluteerror: "mae",
  rootmeansquarederror: "rmse",
  r2score: "r2",
  f1score: "f1",
  fbetascore: "f1",
  rocauc: "auc",
  rocaucscore: "auc",
  topkcategoricalaccuracy: "top5Accuracy",
  sparsetopkcategoricalaccuracy: "top5Accuracy",
};

/** Targets as the training code holds them: float rows, or one class index per row. */
export type Targets = { kind: "float"; data: Float32Array } | { kind: "index"; data: Int32Array };

export type MetricTask = "regression" | "crossEntropy" | "binaryCrossEntropy";

/** k of "top<k>Accuracy", or 0 for any other name. */
function topK(name: string): number {
  const m = /^top([1-9]\d{0,5})Accuracy$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/**
 * Check a `metrics` option: known names, each fitting the task (and, when `outputs` is given, the
 * number of classes). Duplicates are dropped.
 */
export function checkMetrics(metrics: unknown, task: MetricTask, outputs?: number): MetricName[] {
  if (metrics === undefined) return [];
  if (!Array.isArray(metrics)) throw new TypeError(`Invalid metrics: expected an array of metric names but received ${describe(metrics)}`);
  const out: MetricName[] = [];
  for (const m of metrics) {
    const known = typeof m === "string" && ((METRIC_NAMES as readonly string[]).includes(m) || topK(m) > 0);
    if (!known) {
      const key = typeof m === "string" ? m.replace(/_/g, "").toLowerCase() : "";
      // Own keys only: "constructor" or "__proto__" must not find Object.prototype's.
      const other = Object.hasOwn(OTHER_NAMES, key) ? OTHER_NAMES[key] : undefined;
      throw new TypeError(
        `Invalid metric: ${describe(m)}; ` +
          (other ? `blasnet calls it "${other}". ` : "") +
          `expected one of ${METRIC_NAMES.map((s) => `"${s}"`).join(", ")} or "top<k>Accuracy" such as "top5Accuracy"`,
      );
    }
    if (task === "regression" && (CLASSIFICATION_ONLY.includes(m) || topK(m) > 0)) {
      throw new TypeError(`The metric "${m}" needs a classification loss (crossEntropy or binaryCrossEntropy); use "mae", "rmse" or "r2" for regression`);
    }
    if (topK(m) > 0 && task !== "crossEntropy") {
      throw new TypeError(`The metric "${m}" ranks classes, so it needs crossEntropy (one output per class); this model uses ${task}`);
    }
    if (BINARY_ONLY.includes(m) && task === "crossEntropy" && outputs !== undefined && outputs > 2) {
      const macro = m === "auc" ? "" : `; use "macro${m.charAt(0).toUpperCase()}${m.slice(1)}" for the mean over the ${outputs} classes`;
      throw new TypeError(`The metric "${m}" is for two classes (the positive class is class 1) but the model has ${outputs} outputs${macro}`);
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

/** Classes ranked above `label` (strictly more probable, or as probable and earlier), for top-k. */
function rankOf(v: Float32Array, off: number, cols: number, label: number): number {
  const p = v[off + label]!;
  let rank = 0;
  for (let j = 0; j < cols; j++) if (v[off + j]! > p || (v[off + j]! === p && j < label)) rank++;
  return rank;
}

/** Accumulates metrics over batches. */
export class MetricAccumulator {
  private n = 0; // rows seen
  private sumSq = 0;
  private sumAbs = 0;
  // r2 per column: sum of t, sum of t^2, residual sum of squares.
  private readonly st: Float64Array;
  private readonly st2: Float64Array;
  private readonly ssr: Float64Array;
  /** Classes counted by the confusion matrix: the outputs of crossEntropy, 2 for binaryCrossEntropy. */
  private readonly classes: number;
  /** counts[t * classes + p]: rows of true class t predicted as p. */
  private readonly counts: Float64Array;
  /** Rank of the label among the classes, counted: ranks[r] rows (top-k metrics only). */
  private readonly ranks: Float64Array;
  /** Scores of the positive class and whether the row is positive (auc only). */
  private readonly scores: number[] = [];
  private readonly positives: boolean[] = [];
  private readonly wantAuc: boolean;

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
    this.classes = task === "crossEntropy" ? cols : task === "binaryCrossEntropy" ? 2 : 0;
    this.counts = new Float64Array(this.classes * this.classes);
    const maxK = Math.max(0, ...names.map(topK));
    this.ranks = new Float64Array(maxK > 0 ? cols : 0);
    this.wantAuc = names.includes("auc");
    if (this.wantAuc && task === "crossEntropy" && cols !== 2) {
      throw new TypeError(`The metric "auc" is for two classes but the model has ${cols} outputs`);
    }
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
        this.addClass(label, argmax(pred, off, cols), pred, off, cols);
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
      if (this.task === "crossEntropy") this.addClass(argmax(t, toff, cols), argmax(pred, off, cols), pred, off, cols);
      for (let j = 0; j < cols; j++) {
        let tv = t[toff + j]!;
        if (mean && std) tv = tv * std[j]! + mean[j]!;
        const p = pred[off + j]!;
        if (this.task === "binaryCrossEntropy") {
          const truth = tv >= 0.5 ? 1 : 0;
          this.counts[truth * 2 + (p > 0.5 ? 1 : 0)]!++;
          if (this.wantAuc) {
            this.scores.push(p);
            this.positives.push(truth === 1);
          }
        }
        this.addValue(j, p, tv);
      }
    }
  }

  /** One crossEntropy row: true class `label`, predicted class `predicted`, probabilities pred[off, off + cols). */
  private addClass(label: number, predicted: number, pred: Float32Array, off: number, cols: number): void {
    this.counts[label * cols + predicted]!++;
    if (this.ranks.length > 0) this.ranks[rankOf(pred, off, cols, label)]!++;
    if (this.wantAuc) {
      this.scores.push(pred[off + 1]!);
      this.positives.push(label === 1);
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

  /** The confusion matrix so far: rows are true classes, columns predicted ones (classification only). */
  confusion(): number[][] {
    const k = this.classes;
    return Array.from({ length: k }, (_, t) => Array.from(this.counts.subarray(t * k, (t + 1) * k)));
  }

  results(): Record<string, number> {
    const out: Record<string, number> = {};
    const count = this.n * this.cols;
    const perClass = this.classes > 0 ? classScores(this.confusion()) : [];
    const positive = perClass[1];
    const macro = (key: "precision" | "recall" | "f1"): number => perClass.reduce((s, c) => s + c[key], 0) / perClass.length;
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
        case "accuracy": {
          let right = 0;
          let all = 0;
          for (let t = 0; t < this.classes; t++) {
            for (let p = 0; p < this.classes; p++) {
              all += this.counts[t * this.classes + p]!;
              if (p === t) right += this.counts[t * this.classes + p]!;
            }
          }
          out[name] = right / all;
          break;
        }
        case "precision":
        case "recall":
        case "f1":
          out[name] = positive![name];
          break;
        case "macroPrecision":
          out[name] = macro("precision");
          break;
        case "macroRecall":
          out[name] = macro("recall");
          break;
        case "macroF1":
          out[name] = macro("f1");
          break;
        case "auc":
          out[name] = rocAuc(this.scores, this.positives);
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
        default: {
          const k = topK(name);
          let hit = 0;
          for (let r = 0; r < Math.min(k, this.ranks.length); r++) hit += this.ranks[r]!;
          out[name] = hit / this.n;
        }
      }
    }
    return out;
  }
}

/** Precision, recall, F1 and support of one class. */
export interface ClassScores {
  /**
   * Of the rows predicted as this class, the fraction that are (0 when none is predicted, as scikit-
   * learn's zero_division=0).
   */
  precision: number;
  /** Of the rows of this class, the fraction predicted as it (0 when there are none). */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number;
  /** Rows whose true class this is. */
  support: number;
}

/** Per-class scores from a confusion matrix (rows true classes, columns predicted). */
export function classScores(confusion: readonly (readonly number[])[]): ClassScores[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c]!;
    const support = row.reduce((s, v) => s + v, 0);
    let predicted = 0;
    for (let t = 0; t < k; t++) predicted += confusion[t]![c]!;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative,
 * ties counting half (the Mann-Whitney U statistic over positives x negatives). NaN when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const n = scores.length;
  if (positive.length !== n) throw new RangeError(`rocAuc: ${n} scores but ${positive.length} labels; expected one label per score`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const rank = (i + j) / 2 + 1; // average 1-based rank of the tied run
    for (let r = i; r <= j; r++) {
      if (positive[order[r]!]) {
        nPos++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * The confusion matrix of class indices: `m[t][p]` counts rows of true class t predicted as p.
 * `classes` defaults to one more than the largest index seen.
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, classes?: number): number[][] {
  if (yTrue.length !== yPred.length) throw new RangeError(`confusionMatrix: ${yTrue.length} true labels but ${yPred.length} predictions; expected as many of each`);
  let k = classes ?? 0;
  if (classes === undefined) for (let i = 0; i < yTrue.length; i++) k = Math.max(k, yTrue[i]! + 1, yPred[i]! + 1);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    if (!Number.isInteger(t) || !Number.isInteger(p) || t < 0 || p < 0 || t >= k || p >= k) {
      throw new RangeError(`confusionMatrix: row ${i} has true class ${t} and predicted class ${p}; expected integers in [0, ${k})`);
    }
    m[t]![p]!++;
  }
  return m;
}

/**
 * `blasnet evaluate model/ data.csv`: loss and metrics of a saved model on labelled data; for a
 * classifier also the confusion matrix, per-class precision / recall / F1 with macro and weighted
 * averages, and ROC AUC for two classes. `--rows validation` scores exactly the rows `train --val`
 * held out (from <model>/split.json).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { Matrix } from "../core/matrix.js";
import { classScores, confusionMatrix, rocAuc, type ClassScores, type MetricName } from "../train/metrics.js";
import { addCsvReadingOptions, describeReading, loadForData, type CsvReadingFlags, type SplitFile } from "./model-data.js";
import { oneOf, UserError, userInput, userInputAsync } from "./errors.js";

export interface EvaluateFlags extends CsvReadingFlags {
  json?: boolean;
  rows?: "validation" | "training";
}

/** Precision, recall and F1 averaged over classes: unweighted (macro) and weighted by support. */
export interface Averages {
  precision: number;
  recall: number;
  f1: number;
}

/** A classifier's report: what `evaluate --json` adds for classification. */
export interface ClassificationReport {
  classes: string[];
  /** confusionMatrix[t][p]: rows of true class t predicted as p. */
  confusionMatrix: number[][];
  perClass: Record<string, ClassScores>;
  macroAvg: Averages;
  weightedAvg: Averages;
  /** ROC AUC of the second class's probability (two classes only). */
  rocAuc?: number;
}

function average(scores: readonly ClassScores[], weighted: boolean): Averages {
  const total = scores.reduce((s, c) => s + (weighted ? c.support : 1), 0);
  const mean = (key: keyof Averages): number => scores.reduce((s, c) => s + c[key] * (weighted ? c.support : 1), 0) / total;
  return { precision: mean("precision"), recall: mean("recall"), f1: mean("f1") };
}

/** The report of a classifier's predictions `p` (probabilities) against class indices `labels`. */
export function classificationReport(p: Matrix, labels: Int32Array, classes: readonly string[], binaryOutput: boolean): ClassificationReport {
  const k = classes.length;
  const predicted = new Int32Array(p.rows);
  const positive = new Float64Array(p.rows);
  for (let i = 0; i < p.rows; i++) {
    const row = p.row(i);
    if (binaryOutput) {
      predicted[i] = row[0]! > 0.5 ? 1 : 0;
      positive[i] = row[0]!;
    } else {
      let best = 0;
      for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
      predicted[i] = best;
      positive[i] = row.length === 2 ? row[1]! : NaN;
    }
  }
  const cm = confusionMatrix(labels, predicted, k);
  const scores = classScores(cm);
  const report: ClassificationReport = {
    classes: [...classes],
    confusionMatrix: cm,
    perClass: Object.fromEntries(classes.map((c, i) => [c, scores[i]!])),
    macroAvg: average(scores, false),
    weightedAvg: average(scores, true),
  };
  if (k === 2) report.rocAuc = rocAuc(positive, Array.from(labels, (l) => l === 1));
  return report;
}

/** The report as aligned text. */
function reportText(r: ClassificationReport): string[] {
  const names = r.classes;
  const w = Math.max(12, ...names.map((c) => c.length + 2));
  const cell = Math.max(7, ...names.map((c) => c.length + 1), ...r.confusionMatrix.flat().map((v) => String(v).length + 1));
  const lines = ["", "confusion matrix (rows: true class, columns: predicted class)", " ".repeat(w) + names.map((c) => c.padStart(cell)).join("")];
  r.confusionMatrix.forEach((row, t) => lines.push(names[t]!.padEnd(w) + row.map((v) => String(v).padStart(cell)).join("")));
  const f = (v: number): string => v.toFixed(4).padStart(10);
  lines.push("", `${"".padEnd(w)}${"precision".padStart(10)}${"recall".padStart(10)}${"f1".padStart(10)}${"support".padStart(10)}`);
  for (const c of names) {
    const s = r.perClass[c]!;
    lines.push(`${c.padEnd(w)}${f(s.precision)}${f(s.recall)}${f(s.f1)}${String(s.support).padStart(10)}`);
  }
  const support = names.reduce((s, c) => s + r.perClass[c]!.support, 0);
  for (const [label, a] of [["macro avg", r.macroAvg], ["weighted avg", r.weightedAvg]] as const) {
    lines.push(`${label.padEnd(w)}${f(a.precision)}${f(a.recall)}${f(a.f1)}${String(support).padStart(10)}`);
  }
  if (r.rocAuc !== undefined) lines.push("", `ROC AUC (${names[1]} vs ${names[0]}) ${r.rocAuc.toFixed(4)}`);
  return lines;
}

/** The rows of `split.json` named by --rows, checked against the data read. */
async function splitRows(modelDir: string, which: "validation" | "training", rows: number, file: string): Promise<Int32Array> {
  const path = join(modelDir, "split.json");
  let split: SplitFile;
  try {
    split = JSON.parse(await readFile(path, "utf8")) as SplitFile;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === "ENOENT"
        ? `--rows ${which}: ${path} not found; it is written by blasnet train --val <fraction> (without --no-save-split)`
        : `--rows ${which}: ${path} cannot be read (${(e as Error).message})`,
    );
  }
  const idx = split[which];
  if (!Array.isArray(idx) || typeof split.rows !== "number" || idx.some((i) => !Number.isInteger(i) || i < 0 || i >= split.rows)) {
    throw new UserError(`--rows ${which}: ${path} is not a split written by blasnet train (expected "rows" and "${which}" row indices)`);
  }
  if (split.rows !== rows) {
    throw new UserError(`--rows ${which}: ${path} is for ${split.rows} rows of ${split.data}, but ${file} has ${rows}; evaluate the file the model was trained on, read the same way (--missing, --skip-lines)`);
  }
  return Int32Array.from(idx);
}

function takeRows(m: Matrix, idx: Int32Array): Matrix {
  const out = Matrix.zeros(idx.length, m.cols);
  for (let i = 0; i < idx.length; i++) out.data.set(m.row(idx[i]!), i * m.cols);
  return out;
}

export async function runEvaluate(modelDir: string, file: string, opts: EvaluateFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { model, data, manifest } = await loadForData(modelDir, file, true, opts);
  if (!model.loss) throw new UserError(`${modelDir}/model.json has no loss (the model was saved uncompiled)`);
  const lossName = model.loss.name;
  const classification = lossName === "crossEntropy" || lossName === "binaryCrossEntropy";
  const metrics: MetricName[] = classification ? ["accuracy"] : ["mse", "mae", "rmse", "r2"];
  let x = data.x;
  let labels = data.labels;
  let yAll: Matrix | null = data.y;
  if (opts.rows) {
    const idx = await splitRows(modelDir, opts.rows, data.x.rows, file);
    x = takeRows(x, idx);
    if (labels) labels = Int32Array.from(idx, (i) => labels![i]!);
    if (yAll) yAll = takeRows(yAll, idx);
  }
  // crossEntropy trains on class indices; binaryCrossEntropy on the 0/1 column (also for two named classes).
  const y = lossName === "crossEntropy" && labels ? labels : yAll!;
  const r = await userInputAsync(file, () => model.evaluate(x, y, { metrics }));
  const binaryOutput = lossName === "binaryCrossEntropy" && model.outputSize === 1;
  let report: ClassificationReport | null = null;
  if (classification && (lossName === "crossEntropy" || binaryOutput)) {
    const classes = manifest.data?.classNames ?? Array.from({ length: binaryOutput ? 2 : model.outputSize }, (_, i) => String(i));
    const truth = labels ?? (binaryOutput ? Int32Array.from(yAll!.data, (v) => (v >= 0.5 ? 1 : 0)) : argmaxRows(yAll!));
    const p = userInput(file, () => model.predict(x));
    report = classificationReport(p, truth, classes, binaryOutput);
  }
  const result = { rows: x.rows, ...(opts.rows ? { subset: opts.rows } : {}), ...r, ...(report ?? {}) };
  if (opts.json) {
    out.write(JSON.stringify(result) + "\n");
    return;
  }
  const lossNote = model.normalization?.targetStd ? " (on standardized targets)" : "";
  const lines = [...describeReading(data), `rows      ${x.rows}${opts.rows ? ` (the ${opts.rows} rows of ${join(modelDir, "split.json")})` : ""}`, `loss      ${r.loss.toPrecision(6)}  ${lossName}${lossNote}`];
  for (const m of metrics) lines.push(`${m.padEnd(9)} ${r[m]!.toPrecision(6)}`);
  if (report) lines.push(...reportText(report));
  out.write(lines.join("\n") + "\n");
}

function argmaxRows(m: Matrix): Int32Array {
  const out = new Int32Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    const row = m.row(i);
    let best = 0;
    for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
    out[i] = best;
  }
  return out;
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command("evaluate")
    .description("evaluate a saved model on a CSV file with the model's feature and target columns (a classifier gets a confusion matrix, per-class precision/recall/F1 and, for two classes, ROC AUC)")
    .argument("<model-dir>", "directory written by blasnet train")
    .argument("<data.csv>", "labelled data")
    .option("--json", "print the results as one JSON line")
    .option("--rows <part>", "score only the validation (or training) rows of the split train --val saved in <model-dir>/split.json", oneOf(["validation", "training"] as const));
  addCsvReadingOptions(cmd).action(async (modelDir: string, file: string, opts: EvaluateFlags) => {
    await runEvaluate(modelDir, file, opts);
  });
}

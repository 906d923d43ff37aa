/**
 * CSV datasets: a header row, then one example per row. Parsing (quoting, delimiters, BOM, CRLF) is
 * done by csv-parse; this module picks the feature and target columns, converts cells to numbers,
 * one-hot encodes a categorical target, and reports every problem with the file, line and column.
 *
 * ```ts
 * const train = await readCsv("train.csv", { target: "price" });
 * model.setNormalization(standardization(train));   // statistics of the training rows
 * await model.fit(train.x, train.y, { epochs: 20 });
 * ```
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { parse } from "csv-parse";
import { Matrix } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";

export interface CsvReadOptions {
  /**
   * Target column name(s). Omit (or pass `[]`) to read features only, e.g. for `predict`.
   * A single target column that holds any non-numeric value is categorical (see `categorical`).
   */
  target?: string | readonly string[];
  /**
   * Feature columns, in the order the model takes them. Default: every column that is not a target
   * (after `ignore`).
   */
  features?: readonly string[];
  /** Columns to leave out when `features` is not given (e.g. an id column). */
  ignore?: readonly string[];
  /**
   * Treat the (single) target column as class labels and one-hot encode it. Default "auto":
   * categorical when most target cells are not numbers, or when `classNames` is given. A column
   * that is mostly numbers with a few other cells ("NaN", "?", a typo) is an error naming the first
   * such cell, not a silent switch to classification: fix the cells, or pass `categorical: true`.
   */
  categorical?: boolean | "auto";
  /**
   * The classes, in the order of the model's outputs (from a trained model). Labels are mapped to
   * these; a label not among them is an error. Default: the distinct labels, sorted.
   */
  classNames?: readonly string[];
  /** When a target column is absent: throw (default, `true`) or read features only (`false`). */
  requireTarget?: boolean;
  /** Field delimiter. Default ",". */
  delimiter?: string;
}

const CSV_READ_OPTIONS = ["target", "features", "ignore", "categorical", "classNames", "requireTarget", "delimiter"];

/** A dataset read from CSV. */
export interface CsvDataset {
  /** The file it came from. */
  file: string;
  /** Features (rows, features.length), as written in the file (not standardized). */
  x: Matrix;
  /**
   * Targets: (rows, targets.length) numbers for a numeric target, or one-hot (rows, classNames.length)
   * for a categorical one; null when no target was read.
   */
  y: Matrix | null;
  /** Class index of each row (categorical target only). */
  labels: Int32Array | null;
  featureNames: string[];
  targetNames: string[];
  /** The class of each one-hot column (categorical target only). */
  classNames: string[] | null;
  /** The 1-based file line of each row (for error messages about a row). */
  lines: Int32Array;
}

/** A problem in a CSV file; the message names the file, and the line and column when there is one. */
export class CsvError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: string | undefined;
  constructor(file: string, message: string, line?: number, column?: string) {
    const where = line !== undefined ? `:${line}` : "";
    const col = column !== undefined ? ` (column "${column}")` : "";
    super(`${file}${where}: ${message}${col}`);
    this.name = "CsvError";
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** A Float32Array that grows by doubling. */
class FloatBuilder {
  data = new Float32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  finish(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

/** A number from a cell: decimal or scientific notation, surrounding spaces allowed; finite only. */
function parseNumber(cell: string): number {
  const s = cell.trim();
  if (s === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return NaN;
  return Number(s);
}

/** The number in a feature or target cell, or a CsvError at that cell ending in `rule`. */
export function numericCell(cell: string, file: string, line: number, column: string | undefined, rule: string): number {
  const v = parseNumber(cell);
  if (!Number.isFinite(v)) {
    throw new CsvError(file, `${cell.trim() === "" ? "empty cell" : `non-numeric value ${JSON.stringify(cell)}`}; ${rule}`, line, column);
  }
  return v;
}

/** Check that `path` is a non-empty file before parsing it; a CsvError naming it otherwise. */
export async function checkCsvFile(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CsvError(path, code === "ENOENT" ? "file not found" : `cannot read the file (${code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new CsvError(path, "not a file");
  if (st.size === 0) throw new CsvError(path, "the file is empty; expected a header row and at least one data row");
}

/**
 * The records of CSV text from `source`, parsed by csv-parse (BOM, quoting, CRLF; blank lines
 * skipped; rows of any length, checked by the caller), each with its 1-based line. A malformed file
 * is a CsvError naming the file and line. The source is closed when the caller stops reading.
 */
export async function* csvRecords(source: Readable, file: string, delimiter = ","): AsyncGenerator<{ record: string[]; line: number }> {
  const parser = parse({ bom: true, delimiter, info: true, relax_column_count: true, skip_empty_lines: true });
  source.on("error", (e) => parser.destroy(e));
  source.pipe(parser);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { record, line: info.lines };
    }
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number };
    if (err.code === "ENOENT") throw new CsvError(file, "file not found");
    if (typeof err.code === "string" && err.code.startsWith("CSV_")) throw new CsvError(file, `malformed CSV: ${err.message}`, err.lines);
    throw e;
  } finally {
    source.destroy();
  }
}

function asList(v: string | readonly string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === "string" ? [v] : [...v];
}

/**
 * Read a CSV file with a header row. Rows are streamed through the parser, so the file's text is
 * never held in memory at once (the parsed numbers are).
 */
export async function readCsv(path: string, options: CsvReadOptions = {}): Promise<CsvDataset> {
  checkOptions(options, CSV_READ_OPTIONS, "readCsv");
  await checkCsvFile(path);
  return parseCsvStream(createReadStream(path), path, options);
}

/** Parse CSV text (same rules as `readCsv`); `file` names it in errors. */
export async function parseCsv(text: string, file: string, options: CsvReadOptions = {}): Promise<CsvDataset> {
  checkOptions(options, CSV_READ_OPTIONS, "parseCsv");
  return parseCsvStream(Readable.from([text]), file, options);
}

async function parseCsvStream(
  source: Readable,
  file: string,
  options: CsvReadOptions,
): Promise<CsvDataset> {
  const targetNames = asList(options.target);
  const requireTarget = options.requireTarget ?? true;
  let header: string[] | null = null;
  let featureIdx: number[] = [];
  let targetIdx: number[] = [];
  let featureNames: string[] = [];
  let categorical = false;
  const catOption = options.categorical ?? "auto";
  const x = new FloatBuilder();
  const yNum = new FloatBuilder();
  const yText: string[] = [];
  const lines: number[] = [];

  for await (const { record, line } of csvRecords(source, file, options.delimiter)) {
    if (header === null) {
      header = record.map((h) => h.trim());
      const seen = new Set<string>();
      header.forEach((h, i) => {
        if (h === "") throw new CsvError(file, `header column ${i + 1} has no name`, line);
        if (seen.has(h)) throw new CsvError(file, `header names column "${h}" twice`, line);
        seen.add(h);
      });
      const index = (name: string, what: string): number => {
        const i = header!.indexOf(name);
        if (i < 0) {
          throw new CsvError(file, `${what} column "${name}" not found; the header has: ${header!.join(", ")}`, line);
        }
        return i;
      };
      const present = targetNames.filter((t) => header!.includes(t));
      if (present.length < targetNames.length && (requireTarget || present.length > 0)) {
        targetNames.forEach((t) => index(t, "target"));
      }
      const readTargets = present.length === targetNames.length && targetNames.length > 0;
      targetIdx = readTargets ? targetNames.map((t) => index(t, "target")) : [];
      if (!readTargets) targetNames.length = 0;
      if (options.features !== undefined) {
        featureNames = [...options.features];
        featureIdx = featureNames.map((f) => index(f, "feature"));
        for (const f of featureNames) {
          if (targetNames.includes(f)) throw new CsvError(file, `column "${f}" is both a feature and a target`, line);
        }
      } else {
        const ignore = new Set(asList(options.ignore));
        for (const ig of ignore) index(ig, "ignored");
        featureNames = header.filter((h) => !targetNames.includes(h) && !ignore.has(h) && !asList(options.target).includes(h));
        featureIdx = featureNames.map((f) => header!.indexOf(f));
      }
      if (featureNames.length === 0) throw new CsvError(file, "no feature columns: every column is a target or ignored", line);
      if (targetIdx.length > 1 && (catOption === true || options.classNames)) {
        throw new CsvError(file, "a categorical target must be a single column", line);
      }
      categorical = targetIdx.length === 1 && (catOption === true || options.classNames !== undefined);
      continue;
    }
    if (record.length !== header.length) {
      throw new CsvError(file, `row has ${record.length} fields but the header has ${header.length}`, line);
    }
    for (let j = 0; j < featureIdx.length; j++) {
      x.push(numericCell(record[featureIdx[j]!]!, file, line, featureNames[j], "features must be numbers"));
    }
    for (let j = 0; j < targetIdx.length; j++) {
      const cell = record[targetIdx[j]!]!;
      if (categorical || (targetIdx.length === 1 && catOption === "auto")) {
        // Kept as text until we know whether the column is numeric.
        if (cell.trim() === "") throw new CsvError(file, "empty target cell", line, targetNames[j]);
        yText.push(cell.trim());
      } else {
        yNum.push(numericCell(cell, file, line, targetNames[j], "targets must be numbers (or a single categorical column)"));
      }
    }
    lines.push(line);
  }

  if (header === null) throw new CsvError(file, "the file is empty; expected a header row and at least one data row");
  const rows = lines.length;
  if (rows === 0) throw new CsvError(file, "the file has a header but no data rows");

  let y: Matrix | null = null;
  let labels: Int32Array | null = null;
  let classNames: string[] | null = null;
  if (targetIdx.length === 1 && yText.length > 0) {
    const numbers = yText.map(parseNumber);
    const numeric = numbers.reduce((c, v) => c + (Number.isFinite(v) ? 1 : 0), 0);
    if (!categorical && numeric < rows && catOption === "auto" && !options.classNames && 2 * numeric >= rows) {
      const i = numbers.findIndex((v) => !Number.isFinite(v));
      throw new CsvError(
        file,
        `non-numeric value ${JSON.stringify(yText[i])} in a target column whose other cells are mostly numbers (${numeric} of ${rows}); ` +
          `fix or remove the row, or treat the column as class labels (categorical: true; on the command line --loss crossEntropy)`,
        lines[i],
        targetNames[0],
      );
    }
    if (!categorical && numeric === rows) {
      y = new Matrix(Float32Array.from(numbers), rows, 1);
    } else {
      categorical = true;
      classNames = options.classNames ? [...options.classNames] : [...new Set(yText)].sort(compareLabels);
      const index = new Map(classNames.map((c, i) => [c, i]));
      labels = new Int32Array(rows);
      y = Matrix.zeros(rows, classNames.length);
      for (let i = 0; i < rows; i++) {
        const k = index.get(yText[i]!);
        if (k === undefined) {
          throw new CsvError(file, `unknown class ${JSON.stringify(yText[i])}; the model knows: ${classNames.join(", ")}`, lines[i], targetNames[0]);
        }
        labels[i] = k;
        y.data[i * classNames.length + k] = 1;
      }
    }
  } else if (targetIdx.length > 0) {
    y = new Matrix(yNum.finish(), rows, targetIdx.length);
  }

  return {
    file,
    x: new Matrix(x.finish(), rows, featureNames.length),
    y,
    labels,
    featureNames,
    targetNames: [...targetNames],
    classNames,
    lines: Int32Array.from(lines),
  };
}

/** Numeric labels in numeric order ("2" before "10"), others in string order. */
function compareLabels(a: string, b: string): number {
  const na = parseNumber(a);
  const nb = parseNumber(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Column means and standard deviations (population), for `model.setNormalization`. */
export interface Standardization {
  inputMean: Float32Array;
  inputStd: Float32Array;
  targetMean?: Float32Array;
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

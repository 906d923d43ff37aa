/**
 * CSV datasets: a header row (or none), then one example per row. Decoding (strict UTF-8, byte order
 * marks) is csv-text.ts's, parsing (quoting, delimiters, CRLF) csv-parse's; this module decides
 * whether the first row is a header, picks the feature and target columns (by name or position),
 * converts cells to numbers, handles missing cells, one-hot encodes a categorical target, and reports
 * every problem with the file, line and column.
 *
 * ```ts
 * const train = await readCsv("train.csv", { target: "price" });
 * model.setNormalization(standardization(train));   // statistics of the training rows
 * await model.fit(train.x, train.y, { epochs: 20 });
 * ```
 */
import { Readable } from "node:stream";
import { describe, Matrix } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { CsvError, FLOAT32_MAX, FloatBuilder, isMissingCell, nameList, numericCell, outOfFloat32, parseNumber, quoted } from "./csv-cells.js";
import { csvRecords, openCsvFile } from "./csv-records.js";

export { CsvError, cut, isMissingCell, nameList, numericCell, outOfFloat32, quoted } from "./csv-cells.js";
export { csvRecords, openCsvFile } from "./csv-records.js";
export { columnStats, standardization, type Standardization } from "./csv-stats.js";

/** What to do with a missing cell (empty, "NA", "NaN", "null", "?"...): see `CsvReadOptions.missing`. */
export type MissingPolicy = "error" | "drop" | "mean";
export const MISSING_POLICIES: readonly MissingPolicy[] = ["error", "drop", "mean"];

/** A column by name, or by 0-based position (negative counts from the end: -1 is the last column). */
export type ColumnRef = string | number;

/**
 * Options of readCsv and parseCsv: which columns are targets, header, delimiter, missing cells and
 * categorical targets.
 */
export interface CsvReadOptions {
  /**
   * Target column(s), by name or position (-1 is the last column; a string such as "-1" or "4" that
   * is not a column name is a position too). Omit (or pass `[]`) to read features only, e.g. for
   * `predict`. A single target column that holds any non-numeric value is categorical (see
   * `categorical`).
   */
  target?: ColumnRef | readonly ColumnRef[];
  /**
   * Whether the first row (after `skipLines`) names the columns. Default "auto": a first row whose
   * cells are all numbers is data (the file has no header; `header` in the result says so), one
   * with only names is the header, and one that mixes numbers and names is an error asking which.
   * Without a header, columns are named by position: "0", "1", ...
   */
  header?: boolean | "auto";
  /** Lines to skip before the table (a title or a line of counts, as in scikit-learn's CSV files). Default 0. */
  skipLines?: number;
  /**
   * Missing cells (empty, "NA", "N/A", "NaN", "null", "None", "?"): "error" (default) names the line
   * and column; "drop" leaves out rows with a missing feature or target; "mean" fills a missing
   * feature with its column's mean over the rows that have it (rows with a missing target are
   * still left out: a target is not made up). The result counts what was dropped and filled.
   */
  missing?: MissingPolicy;
  /**
   * Feature columns, in the order the model takes them. Default: every column that is not a target
   * (after `ignore`).
   */
  features?: readonly string[];
  /** Columns to leave out when `features` is not given (e.g. an id column), by name or position. */
  ignore?: readonly ColumnRef[];
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
  /** Field delimiter (one character, e.g. ";" or "\t"). Default ",". */
  delimiter?: string;
}

const CSV_READ_OPTIONS = ["target", "features", "ignore", "categorical", "classNames", "requireTarget", "delimiter", "header", "skipLines", "missing"];

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
  /** The feature columns' names, in the order of x's columns ("0", "1", ... without a header). */
  featureNames: string[];
  /** The target columns' names, in the order of y's columns for a numeric target. */
  targetNames: string[];
  /** The class of each one-hot column (categorical target only). */
  classNames: string[] | null;
  /** The 1-based file line of each row (for error messages about a row). */
  lines: Int32Array;
  /** Whether the first row was read as the header (false: columns are named "0", "1", ...). */
  header: boolean;
  /** Rows left out for a missing cell (`missing: "drop"`, or a missing target under "mean"). */
  droppedRows: number;
  /** Feature cells filled with their column's mean (`missing: "mean"`). */
  filledCells: number;
}

function asList<T extends ColumnRef>(v: T | readonly T[] | undefined): T[] {
  return v === undefined ? [] : typeof v === "string" || typeof v === "number" ? [v as T] : [...(v as readonly T[])];
}

/**
 * Read a CSV file with a header row. Rows are streamed through the parser, so the file's text is
 * never held in memory at once (the parsed numbers are).
 */
export async function readCsv(path: string, options: CsvReadOptions = {}): Promise<CsvDataset> {
  checkOptions(options, CSV_READ_OPTIONS, "readCsv");
  return parseCsvStream(await openCsvFile(path), path, options);
}

/** Parse CSV text (same rules as `readCsv`); `file` names it in errors. */
export async function parseCsv(text: string, file: string, options: CsvReadOptions = {}): Promise<CsvDataset> {
  if (typeof text !== "string") throw new TypeError(`parseCsv expects the CSV text as a string but received ${describe(text)}; to read a file use readCsv(path)`);
  if (typeof file !== "string") throw new TypeError(`parseCsv expects a name for the text (used in errors) but received ${describe(file)}`);
  checkOptions(options, CSV_READ_OPTIONS, "parseCsv");
  return parseCsvStream(Readable.from([text]), file, options);
}

/** The options' delimiter, skipLines, header and missing, checked. */
function readingOptions(options: CsvReadOptions): { delimiter: string; skipLines: number; header: boolean | "auto"; missing: MissingPolicy } {
  const { delimiter = ",", skipLines = 0, header = "auto", missing = "error" } = options;
  if (typeof delimiter !== "string" || [...delimiter].length !== 1 || delimiter === '"' || delimiter === "\n" || delimiter === "\r") {
    throw new TypeError(`Invalid delimiter: ${JSON.stringify(delimiter)}; expected one character other than a quote or a line break, such as ";" or "\\t"`);
  }
  if (!Number.isSafeInteger(skipLines) || skipLines < 0) throw new RangeError(`Invalid skipLines: ${String(skipLines)}; expected an integer >= 0`);
  if (header !== true && header !== false && header !== "auto") throw new TypeError(`Invalid header: ${JSON.stringify(header)}; expected true, false or "auto"`);
  if (!(MISSING_POLICIES as readonly unknown[]).includes(missing)) {
    throw new TypeError(`Invalid missing: ${JSON.stringify(missing)}; expected one of ${MISSING_POLICIES.map((m) => `"${m}"`).join(", ")}`);
  }
  return { delimiter, skipLines, header, missing };
}

/** Delimiters a file read with the wrong one is likely to use, for the hint in errors. */
const OTHER_DELIMITERS: readonly [string, string][] = [[";", ";"], ["\t", "\\t"], ["|", "|"], [" ", " "]];

/** The column names of a file's first record, or null when `header` (or "auto" detection) says it is data. */
function headerOf(record: string[], header: boolean | "auto", file: string, line: number, delimiter: string): string[] | null {
  const cells = record.map((h) => h.trim());
  if (record.length === 1 && delimiter === ",") {
    const other = OTHER_DELIMITERS.find(([d]) => d !== delimiter && record[0]!.includes(d));
    if (other) {
      throw new CsvError(file, `the first row is a single column, and it contains ${JSON.stringify(other[0])}: if that separates the fields, pass delimiter: ${JSON.stringify(other[0])} (on the command line --delimiter "${other[1]}")`, line);
    }
  }
  if (header === false) return null;
  const numeric = cells.filter((c) => Number.isFinite(parseNumber(c)));
  if (header === "auto" && numeric.length === cells.length) return null;
  if (header === "auto" && numeric.length > 0) {
    throw new CsvError(
      file,
      `the first row mixes numbers and names (${nameList(cells, 6)}), so it is not clear whether it is a header. ` +
        `If the file has no header row, pass header: false (--no-header; columns are then named 0..${cells.length - 1}); ` +
        `if the first line is not part of the table (a title, or counts as in scikit-learn's files), pass skipLines: 1 (--skip-lines 1); ` +
        `if it is the header, pass header: true (--header)`,
      line,
    );
  }
  const seen = new Set<string>();
  cells.forEach((h, i) => {
    if (h === "") throw new CsvError(file, `header column ${i + 1} has no name`, line);
    if (seen.has(h)) throw new CsvError(file, `header names column ${quoted(h)} twice`, line);
    seen.add(h);
  });
  return cells;
}

/** Column `ref` of `names`: by name, else by position (negative from the end). */
function columnName(ref: ColumnRef, names: readonly string[], what: string, file: string, line: number, named = true, position?: ReadonlyMap<string, number>): string {
  if (typeof ref === "string" && (position ? position.has(ref) : names.includes(ref))) return ref;
  const pos = typeof ref === "number" ? ref : /^[+-]?\d+$/.test(ref.trim()) ? Number(ref) : NaN;
  if (Number.isSafeInteger(pos) && pos >= -names.length && pos < names.length) return names[pos < 0 ? names.length + pos : pos]!;
  const shown = typeof ref === "string" ? quoted(ref) : String(ref);
  throw new CsvError(file, `${what} column ${shown} not found; ${named ? "the header has" : "the columns are"}: ${nameList(names)} (or a position from 0 to ${names.length - 1}, or -1 for the last)`, line);
}

async function parseCsvStream(
  source: Readable,
  file: string,
  options: CsvReadOptions,
): Promise<CsvDataset> {
  const { delimiter, skipLines, header: headerOption, missing } = readingOptions(options);
  const targetRefs = asList(options.target);
  const requireTarget = options.requireTarget ?? true;
  let header: string[] | null = null;
  let hasHeader = false;
  let featureIdx: number[] = [];
  let targetIdx: number[] = [];
  let featureNames: string[] = [];
  let targetNames: string[] = [];
  let categorical = false;
  const catOption = options.categorical ?? "auto";
  const x = new FloatBuilder();
  const yNum = new FloatBuilder();
  const yText: string[] = [];
  const lines: number[] = [];
  let droppedRows = 0;
  let filledCells = 0;
  const rowX: number[] = [];
  const rowY: number[] = [];

  for await (const { record, line } of csvRecords(source, file, delimiter, skipLines)) {
    if (header === null) {
      const names = headerOf(record, headerOption, file, line, delimiter);
      hasHeader = names !== null;
      header = names ?? record.map((_, i) => String(i));
      const cols = header;
      // Column positions by name: one lookup per column keeps a header of 10^6 columns linear.
      const position = new Map(cols.map((h, i) => [h, i]));
      const index = (name: string): number => position.get(name)!;
      // A target given by name must exist when required; by position it always resolves or fails.
      const present = targetRefs.filter((t) => typeof t === "number" || position.has(t) || /^[+-]?\d+$/.test(t.trim()));
      const readTargets = targetRefs.length > 0 && (present.length === targetRefs.length || requireTarget || present.length > 0);
      targetNames = readTargets ? targetRefs.map((t) => columnName(t, cols, "target", file, line, hasHeader, position)) : [];
      if (new Set(targetNames).size < targetNames.length) throw new CsvError(file, `a target column is named twice (${nameList(targetNames)})`, line);
      targetIdx = targetNames.map(index);
      if (options.features !== undefined) {
        featureNames = options.features.map((f) => columnName(f, cols, "feature", file, line, hasHeader, position));
        featureIdx = featureNames.map(index);
        for (const f of featureNames) {
          if (targetNames.includes(f)) throw new CsvError(file, `column ${quoted(f)} is both a feature and a target`, line);
        }
      } else {
        const ignore = new Set(asList(options.ignore).map((ig) => columnName(ig, cols, "ignored", file, line, hasHeader, position)));
        // Without the target columns (when not read, e.g. by predict), by name as given.
        const notFeatures = new Set([...targetNames, ...targetRefs.filter((t): t is string => typeof t === "string")]);
        featureNames = cols.filter((h) => !notFeatures.has(h) && !ignore.has(h));
        featureIdx = featureNames.map(index);
      }
      if (featureNames.length === 0) throw new CsvError(file, "no feature columns: every column is a target or ignored", line);
      if (targetIdx.length > 1 && (catOption === true || options.classNames)) {
        throw new CsvError(file, "a categorical target must be a single column", line);
      }
      categorical = targetIdx.length === 1 && (catOption === true || options.classNames !== undefined);
      if (hasHeader) continue;
    }
    if (record.length !== header.length) {
      throw new CsvError(file, `row has ${record.length} fields but the ${hasHeader ? "header has" : "first row has"} ${header.length}`, line);
    }
    rowX.length = 0;
    rowY.length = 0;
    let drop = false;
    const onMissing = (cell: string, column: string, target: boolean): void => {
      if (missing === "error") {
        throw new CsvError(
          file,
          `missing value (${cell.trim() === "" ? "empty cell" : JSON.stringify(cell.trim())}) in a ${target ? "target" : "feature"}; ` +
            `to leave out rows with missing cells pass missing: "drop" (--missing drop)${target ? "" : `, to fill features with their column's mean missing: "mean" (--missing mean)`}`,
          line,
          column,
        );
      }
      if (target || missing === "drop") drop = true;
    };
    for (let j = 0; j < featureIdx.length; j++) {
      const cell = record[featureIdx[j]!]!;
      if (isMissingCell(cell)) {
        onMissing(cell, featureNames[j]!, false);
        rowX.push(NaN);
      } else rowX.push(numericCell(cell, file, line, featureNames[j], "features must be numbers"));
    }
    const text = categorical || (targetIdx.length === 1 && catOption === "auto");
    for (let j = 0; j < targetIdx.length; j++) {
      const cell = record[targetIdx[j]!]!;
      if (isMissingCell(cell)) onMissing(cell, targetNames[j]!, true);
      // Kept as text until we know whether the column is numeric.
      else if (text) yText.push(cell.trim());
      else rowY.push(numericCell(cell, file, line, targetNames[j], "targets must be numbers (or a single categorical column)"));
    }
    if (drop) {
      if (text && targetIdx.length === 1 && yText.length > lines.length) yText.pop();
      droppedRows++;
      continue;
    }
    for (const v of rowX) x.push(v);
    for (const v of rowY) yNum.push(v);
    lines.push(line);
  }

  if (header === null) throw new CsvError(file, "the file is empty; expected a header row and at least one data row");
  const rows = lines.length;
  if (rows === 0) {
    throw new CsvError(file, droppedRows > 0 ? `every row (${droppedRows}) has a missing cell and was left out` : "the file has a header but no data rows");
  }

  const xData = x.finish();
  if (missing === "mean") filledCells = fillWithColumnMeans(xData, rows, featureNames, file);

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
        `non-numeric value ${quoted(yText[i]!)} in a target column whose other cells are mostly numbers (${numeric} of ${rows}); ` +
          `fix or remove the row, or treat the column as class labels (categorical: true; on the command line --loss crossEntropy)`,
        lines[i],
        targetNames[0],
      );
    }
    if (!categorical && numeric === rows) {
      const i = numbers.findIndex((v) => Math.abs(v) > FLOAT32_MAX);
      if (i >= 0) throw outOfFloat32(yText[i]!, file, lines[i]!, targetNames[0]);
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
          throw new CsvError(file, `unknown class ${quoted(yText[i]!)}; the model knows: ${nameList(classNames)}`, lines[i], targetNames[0]);
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
    x: new Matrix(xData, rows, featureNames.length),
    y,
    labels,
    featureNames,
    targetNames: [...targetNames],
    classNames,
    lines: Int32Array.from(lines),
    header: hasHeader,
    droppedRows,
    filledCells,
  };
}

/** Replace the NaN (missing) cells of x (rows, names.length) by their column's mean; returns how many. */
function fillWithColumnMeans(x: Float32Array, rows: number, names: readonly string[], file: string): number {
  const cols = names.length;
  let filled = 0;
  for (let j = 0; j < cols; j++) {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < rows; i++) {
      const v = x[i * cols + j]!;
      if (!Number.isNaN(v)) {
        sum += v;
        count++;
      }
    }
    if (count === rows) continue;
    if (count === 0) throw new CsvError(file, `every cell of feature column "${names[j]}" is missing, so it has no mean to fill in; leave the column out (ignore)`);
    const mean = sum / count;
    for (let i = 0; i < rows; i++) if (Number.isNaN(x[i * cols + j]!)) x[i * cols + j] = mean;
    filled += rows - count;
  }
  return filled;
}

/** Numeric labels in numeric order ("2" before "10"), others in string order. */
function compareLabels(a: string, b: string): number {
  const na = parseNumber(a);
  const nb = parseNumber(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

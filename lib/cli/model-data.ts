/**
 * Shared by train, evaluate and predict: how a CSV file is read (header, delimiter, skipped lines,
 * missing cells), and a saved model with a CSV read with the model's columns.
 */
import type { Command } from "commander";
import { Matrix } from "../core/matrix.js";
import { MISSING_POLICIES, readCsv, type CsvDataset, type CsvReadOptions, type MissingPolicy } from "../data/csv.js";
import { loadModelWithManifest, type ModelManifest } from "../io/model-file.js";
import type { Sequential } from "../nn/sequential.js";
import { oneOf, parseDelimiter, parseInteger, UserError } from "./errors.js";

/** The CSV flags every command that reads a CSV file takes. */
export interface CsvReadingFlags {
  /** true: --header, false: --no-header, undefined: detect. */
  header?: boolean;
  delimiter?: string;
  skipLines?: number;
  missing?: MissingPolicy;
}

/** Add --header / --no-header, --delimiter, --skip-lines and --missing to a command. */
export function addCsvReadingOptions(cmd: Command): Command {
  return cmd
    .option("--header", "the first row names the columns, even if it holds numbers (default: detected)")
    .option("--no-header", "the file has no header row: columns are named by position, 0, 1, ...")
    .option("--delimiter <char>", 'field delimiter: one character such as ";" or "\\t" (default ",")', parseDelimiter)
    .option("--skip-lines <n>", "lines before the table to skip (e.g. 1 for scikit-learn's CSV files)", parseInteger(0))
    .option("--missing <policy>", "missing cells (empty, NA, NaN, ?): error (default; names line and column), drop (the row), mean (fill features with their column's mean)", oneOf(MISSING_POLICIES));
}

/** readCsv options from the CSV flags. */
export function csvReading(flags: CsvReadingFlags): Pick<CsvReadOptions, "header" | "delimiter" | "skipLines" | "missing"> {
  return {
    ...(flags.header !== undefined ? { header: flags.header } : {}),
    ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
    ...(flags.skipLines !== undefined ? { skipLines: flags.skipLines } : {}),
    ...(flags.missing !== undefined ? { missing: flags.missing } : {}),
  };
}

/** Lines that say what reading the file decided: no header detected, rows dropped, cells filled. */
export function describeReading(data: CsvDataset): string[] {
  const out: string[] = [];
  if (!data.header) {
    out.push(`note: ${data.file} has no header row (its first row is numbers): columns are named by position, 0 to ${data.featureNames.length + data.targetNames.length - 1}; pass --header if that row names the columns`);
  }
  if (data.droppedRows > 0) out.push(`note: left out ${data.droppedRows} row(s) with missing cells`);
  if (data.filledCells > 0) out.push(`note: filled ${data.filledCells} missing feature cell(s) with their column's mean`);
  return out;
}

/** `<out>/split.json`: the training / validation split of `train --val`, for `evaluate --rows`. */
export interface SplitFile {
  /** The CSV file trained on, as given. */
  data: string;
  /** Data rows the file had (after dropped rows). */
  rows: number;
  /** 0-based data rows (in the order read, after dropped rows) of each part. */
  training: number[];
  validation: number[];
}

/** Class indices of a two-class target as a (rows, 1) column of 0/1, for binaryCrossEntropy. */
export function binaryTargets(labels: Int32Array): Matrix {
  return new Matrix(Float32Array.from(labels), labels.length, 1);
}

export async function loadForData(
  modelDir: string,
  file: string,
  needTarget: boolean,
  reading: CsvReadingFlags = {},
): Promise<{ model: Sequential; manifest: ModelManifest; data: CsvDataset }> {
  const { model, manifest } = await loadModelWithManifest(modelDir);
  const info = manifest.data ?? {};
  if (!info.featureNames) {
    throw new UserError(`${modelDir}/model.json has no feature column names (the model was not trained from a CSV file): use the library API for it`);
  }
  if (needTarget && !info.targetNames) throw new UserError(`${modelDir}/model.json has no target column names`);
  const data = await readCsv(file, {
    ...csvReading(reading),
    features: info.featureNames,
    target: info.targetNames ?? [],
    requireTarget: needTarget,
    ...(info.classNames ? { classNames: info.classNames } : { categorical: false }),
  });
  // A two-class label column trained with binaryCrossEntropy: one 0/1 target column.
  if (data.labels && model.loss?.name === "binaryCrossEntropy") data.y = binaryTargets(data.labels);
  return { model, manifest, data };
}

/**
 * Training from a stream of batches, for datasets larger than memory.
 *
 * `fitStream(model, source, { epochs })` runs one optimizer step per batch, in the order the source
 * yields them, through the model's own `fit` (each batch is a one-step fit with batchSize = the
 * batch's rows and no shuffling). So a stream trains exactly as `fit` would on the same rows in the
 * same order with the same batch boundaries: same updates, same optimizer state and step count
 * (learning-rate schedules continue across batches and epochs), same dropout stream. Only the
 * current batch is in memory.
 *
 * ```ts
 * // Any async iterable of { x, y } works; a function is called again for each epoch.
 * const source = () => csvBatches("big.csv", { target: "y", batchSize: 256, normalization });
 * const history = await fitStream(model, source, { epochs: 5 });
 * ```
 *
 * Shuffling is the source's job (e.g. shuffle file shards, or a buffer of rows). Standardization
 * statistics for a stream come from one pass over it: `streamStats(source)`.
 */
import { Matrix, describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import type { Sequential } from "../nn/sequential.js";
import type { FeaturesInput, TargetsInput } from "../train/data.js";
import type { EpochLogs } from "../train/callbacks.js";
import { Progress, type Verbosity } from "../train/progress.js";
import { csvRecords, openCsvFile, CsvError, nameList, numericCell, quoted, type Standardization } from "./csv.js";
import { isFloat32Array } from "../core/typed-arrays.js";

/** One batch: inputs and targets in any form `fit` accepts. */
export interface Batch {
  /** The batch's features (rows, inputSize), or images (rows, C, H, W). */
  x: FeaturesInput;
  /** The batch's targets: values (rows, outputs) or class indices (rows). */
  y: TargetsInput;
}

/** Batches: an (async) iterable, or a function returning a fresh one (needed for more than one epoch). */
export type BatchSource =
  | AsyncIterable<Batch>
  | Iterable<Batch>
  | (() => AsyncIterable<Batch> | Iterable<Batch>);

/** Options of fitStream. */
export interface FitStreamOptions {
  /** Epochs (passes over the source). Default 1. More than 1 needs a function source. */
  epochs?: number;
  /** 0-based epoch to start from (resuming). Default: 0. */
  initialEpoch?: number;
  /** 0 silent; 1 a live bar on a TTY when `stepsPerEpoch` is given, else one line per epoch; 2 one line per epoch. Default 1. */
  verbose?: Verbosity;
  /** Batches per epoch, if known (only for the progress bar). */
  stepsPerEpoch?: number;
  /** Called after each epoch with { loss } (the row-weighted mean batch loss). */
  onEpochEnd?: (epoch: number, logs: EpochLogs, model: Sequential) => void | Promise<void>;
  /** Where progress goes. Default process.stderr. */
  progressStream?: NodeJS.WritableStream;
}

/** What fitStream returns: one entry per epoch trained. */
export interface StreamHistory {
  /** The 0-based epoch numbers trained (from `initialEpoch`). */
  epochs: number[];
  /** Row-weighted mean of the batch losses (each computed before its update), per epoch. */
  loss: number[];
  /** Batches (= optimizer steps) per epoch. */
  steps: number[];
}

function rowsOf(x: FeaturesInput): number {
  if (x instanceof Matrix) return x.rows;
  if (Array.isArray(x)) return x.length;
  const s = (x as { shape?: readonly number[] }).shape;
  return Array.isArray(s) ? s[0]! : 0;
}

function iterate(source: BatchSource, epoch: number, first: boolean): AsyncIterable<Batch> | Iterable<Batch> {
  if (typeof source === "function") return source();
  if (!first) {
    throw new TypeError(
      `fitStream: epoch ${epoch + 1} needs the batches again, but the source is a one-shot iterable: pass a function that returns a new iterable for each epoch`,
    );
  }
  return source;
}

/** Train `model` (compiled) on a stream of batches; see the file comment. */
export async function fitStream(model: Sequential, source: BatchSource, options: FitStreamOptions = {}): Promise<StreamHistory> {
  checkOptions(options, ["epochs", "initialEpoch", "verbose", "stepsPerEpoch", "onEpochEnd", "progressStream"], "fitStream");
  const epochs = options.epochs ?? 1;
  const initialEpoch = options.initialEpoch ?? 0;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`Invalid epochs: ${describe(epochs)}; expected an integer >= 1`);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs) {
    throw new RangeError(`Invalid initialEpoch: ${describe(initialEpoch)}; expected an integer in [0, epochs)`);
  }
  const isSource =
    typeof source === "function" ||
    (source !== null && typeof source === "object" && (Symbol.asyncIterator in source || Symbol.iterator in source));
  if (!isSource) throw new TypeError(`fitStream: expected batches as an (async) iterable or a function returning one, but received ${describe(source)}`);
  const verbose = options.verbose ?? 1;
  const steps = options.stepsPerEpoch ?? 0;
  const progress = new Progress(verbose === 1 && steps === 0 ? 2 : verbose, epochs, Math.max(steps, 1), options.progressStream ?? process.stderr);
  const history: StreamHistory = { epochs: [], loss: [], steps: [] };
  model.stopTraining = false;
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    progress.epochBegin(epoch);
    let lossSum = 0;
    let rows = 0;
    let step = 0;
    try {
      for await (const batch of iterate(source, epoch, epoch === initialEpoch)) {
        if (batch === null || typeof batch !== "object" || !("x" in batch) || !("y" in batch)) {
          throw new TypeError(`fitStream: batch ${step} of epoch ${epoch + 1} is ${describe(batch)}; expected { x, y }`);
        }
        const n = rowsOf(batch.x);
        if (n === 0) continue;
        // One update on exactly this batch: batchSize = its rows, in order, at this epoch index.
        const h = await model.fit(batch.x, batch.y, { epochs: epoch + 1, initialEpoch: epoch, batchSize: n, shuffle: false, verbose: 0 });
        lossSum += h.loss[0]! * n;
        rows += n;
        step++;
        progress.update(step, lossSum / rows);
        if (model.stopTraining) break;
      }
    } catch (e) {
      progress.abort();
      if (e instanceof Error && !(e instanceof CsvError)) e.message = `fitStream, epoch ${epoch + 1}, batch ${step + 1}: ${e.message}`;
      throw e;
    }
    if (rows === 0) throw new RangeError(`fitStream: the source yielded no rows in epoch ${epoch + 1}`);
    const logs: EpochLogs = { loss: lossSum / rows };
    history.epochs.push(epoch);
    history.loss.push(logs["loss"]!);
    history.steps.push(step);
    progress.epochEnd(epoch, logs);
    await options.onEpochEnd?.(epoch, { ...logs }, model);
    if (model.stopTraining) break;
  }
  return history;
}

/**
 * Standardization statistics from one pass over a stream (Welford's algorithm, in double precision):
 * inputs always; targets too when `targets` is true (regression). Constant columns get std 1.
 */
export async function streamStats(source: BatchSource, options: { targets?: boolean } = {}): Promise<Standardization> {
  checkOptions(options, ["targets"], "streamStats");
  const acc = { x: new Welford(), y: new Welford() };
  let batch = 0;
  for await (const b of iterate(source, 0, true)) {
    batch++;
    acc.x.add(asMatrix(b.x, "x"), `batch ${batch} x`);
    if (options.targets) acc.y.add(asMatrix(b.y as FeaturesInput, "y"), `batch ${batch} y`);
  }
  const x = acc.x.result();
  const out: Standardization = { inputMean: x.mean, inputStd: x.std };
  if (options.targets) {
    const y = acc.y.result();
    out.targetMean = y.mean;
    out.targetStd = y.std;
  }
  return out;
}

function asMatrix(v: FeaturesInput, name: string): Matrix {
  if (v instanceof Matrix) return v;
  if (Array.isArray(v)) return Matrix.fromArray(v as number[][]);
  const s = v as { data?: unknown; shape?: readonly number[] };
  if (isFloat32Array(s.data) && Array.isArray(s.shape)) return new Matrix(s.data, s.shape[0]!, s.shape[1]!);
  throw new TypeError(`streamStats: batch ${name} must be a Matrix, number[][] or { data, shape }, received ${describe(v)}`);
}

class Welford {
  n = 0;
  mean: Float64Array | null = null;
  m2: Float64Array | null = null;
  add(m: Matrix, what: string): void {
    if (!this.mean) {
      this.mean = new Float64Array(m.cols);
      this.m2 = new Float64Array(m.cols);
    }
    if (m.cols !== this.mean.length) throw new RangeError(`streamStats: a batch has ${m.cols} columns, earlier batches ${this.mean.length}`);
    for (let i = 0; i < m.rows; i++) {
      this.n++;
      for (let j = 0; j < m.cols; j++) {
        const v = m.data[i * m.cols + j]!;
        if (!Number.isFinite(v)) {
          throw new RangeError(`streamStats: ${what}, row ${i + 1}, column ${j + 1} is ${v}; expected finite numbers (a value beyond the float32 range, about 3.4e38, becomes Infinity)`);
        }
        const d = v - this.mean[j]!;
        this.mean[j]! += d / this.n;
        this.m2![j]! += d * (v - this.mean[j]!);
      }
    }
  }
  result(): { mean: Float32Array; std: Float32Array } {
    if (!this.mean || this.n === 0) throw new RangeError("streamStats: the source yielded no rows");
    const std = new Float32Array(this.mean.length);
    for (let j = 0; j < std.length; j++) {
      const s = Math.sqrt(this.m2![j]! / this.n);
      std[j] = s > 1e-12 && Number.isFinite(s) ? s : 1;
    }
    return { mean: Float32Array.from(this.mean), std };
  }
}

/** Options of csvBatches: which columns, in what order, how many rows per batch. */
export interface CsvBatchOptions {
  /** Target column(s). Numeric, or a single categorical column when `classNames` is given. */
  target: string | readonly string[];
  /** Feature columns in model order. Default: every other column (minus `ignore`). */
  features?: readonly string[];
  /** Columns to leave out of the default feature list (ids, free text); unused when `features` is given. */
  ignore?: readonly string[];
  /** The classes of a categorical target, in output order: batches then carry class indices (Int32Array). */
  classNames?: readonly string[];
  /** Rows per batch. Default 32. */
  batchSize?: number;
  /** Cell separator; default ",". */
  delimiter?: string;
}

/**
 * Batches straight from a CSV file, parsed as it is read (csv-parse streaming): memory holds one
 * batch, not the file. Errors name the file, line and column, as `readCsv`'s do. Raw values: store
 * standardization on the model (`setNormalization`) and fit/predict apply it.
 */
export async function* csvBatches(path: string, options: CsvBatchOptions): AsyncGenerator<{ x: Matrix; y: Matrix | Int32Array }> {
  checkOptions(options, ["target", "features", "ignore", "classNames", "batchSize", "delimiter"], "csvBatches");
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`Invalid batchSize: ${describe(batchSize)}; expected an integer >= 1`);
  const targets = typeof options.target === "string" ? [options.target] : [...options.target];
  const classIndex = options.classNames ? new Map(options.classNames.map((c, i) => [c, i])) : null;
  if (classIndex && targets.length !== 1) throw new TypeError("csvBatches: a categorical target (classNames) must be a single column");
  const source = await openCsvFile(path);
  let header: string[] | null = null;
  let fIdx: number[] = [];
  let tIdx: number[] = [];
  let fNames: string[] = [];
  let x = new Float32Array(batchSize * 1);
  let y: Float32Array | Int32Array = new Float32Array(0);
  let n = 0;
  const flush = (): { x: Matrix; y: Matrix | Int32Array } => {
    const bx = new Matrix(x.slice(0, n * fIdx.length), n, fIdx.length);
    const by = classIndex ? (y as Int32Array).slice(0, n) : new Matrix((y as Float32Array).slice(0, n * tIdx.length), n, tIdx.length);
    n = 0;
    return { x: bx, y: by };
  };
  for await (const { record, line } of csvRecords(source, path, options.delimiter)) {
    if (header === null) {
      header = record.map((h) => h.trim());
      const position = new Map(header.map((h, i) => [h, i])); // linear in the number of columns
      const index = (name: string, what: string): number => {
        const i = position.get(name) ?? -1;
        if (i < 0) throw new CsvError(path, `${what} column ${quoted(name)} not found; the header has: ${nameList(header!)}`, line);
        return i;
      };
      tIdx = targets.map((t) => index(t, "target"));
      const ignore = new Set(options.ignore ?? []);
      fNames = options.features ? [...options.features] : header.filter((h) => !targets.includes(h) && !ignore.has(h));
      fIdx = fNames.map((f) => index(f, "feature"));
      x = new Float32Array(batchSize * fIdx.length);
      y = classIndex ? new Int32Array(batchSize) : new Float32Array(batchSize * tIdx.length);
      continue;
    }
    if (record.length !== header.length) throw new CsvError(path, `row has ${record.length} fields but the header has ${header.length}`, line);
    for (let j = 0; j < fIdx.length; j++) x[n * fIdx.length + j] = numericCell(record[fIdx[j]!]!, path, line, fNames[j], "features must be numbers");
    if (classIndex) {
      const label = record[tIdx[0]!]!.trim();
      const k = classIndex.get(label);
      if (k === undefined) throw new CsvError(path, `unknown class ${quoted(label)}; expected one of: ${nameList(options.classNames!)}`, line, targets[0]);
      y[n] = k;
    } else {
      for (let j = 0; j < tIdx.length; j++) y[n * tIdx.length + j] = numericCell(record[tIdx[j]!]!, path, line, targets[j], "targets must be numbers");
    }
    n++;
    if (n === batchSize) yield flush();
  }
  if (header === null) throw new CsvError(path, "the file is empty; expected a header row and at least one data row");
  if (n > 0) yield flush();
}

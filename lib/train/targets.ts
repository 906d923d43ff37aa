/**
 * Targets as fit and evaluate take them (see data.ts for the forms), turned into what the training
 * plan reads: float rows (rows, outFeatures), or class indices for crossEntropy with label targets;
 * checked (row and column counts, labels in range, probability rows, NaN / Infinity) before any
 * training starts.
 */
import { describe } from "../core/matrix.js";
import type { Loss } from "../losses/index.js";
import { as2D, checkFinite, rowsPerChunk, standardize, WORK_CHUNK, type FiniteCheck, type Work } from "./data.js";
import type { Targets } from "./metrics.js";
import { INTEGER_ARRAYS, isTypedArrayOf } from "../core/typed-arrays.js";

const FLOAT_ARRAYS = ["Float32Array", "Float64Array"] as const;

/**
 * Targets for `loss` as the plan reads them, as a pausable pass: float rows (rows, outFeatures) —
 * standardized when `mean`/`std` are given — or class indices (rows) for crossEntropy with label
 * targets. `check` scans float targets for NaN / Infinity, as in toFeatures.
 */
export function* targetsWork(
  y: unknown,
  name: string,
  loss: Loss,
  outFeatures: number,
  rows: number,
  mean: Float32Array | null,
  std: Float32Array | null,
  check: FiniteCheck,
): Work<Targets> {
  if (loss.name === "crossEntropy") {
    if (outFeatures < 2) {
      throw new RangeError(`crossEntropy needs a model with at least 2 outputs (one per class) but it has ${outFeatures}; for two classes with one output use binaryCrossEntropy`);
    }
    const isIntArray = isTypedArrayOf(y, INTEGER_ARRAYS);
    const flatNumbers = Array.isArray(y) && (y.length === 0 || !Array.isArray(y[0]));
    // A one-column matrix holds class indices (as a CSV label column would).
    const m1 = isIntArray || flatNumbers ? null : yield* as2D(y, name);
    if (isIntArray || flatNumbers || isTypedArrayOf(y, FLOAT_ARRAYS) || m1?.cols === 1) {
      const src = (m1?.cols === 1 ? m1.data : y) as ArrayLike<unknown>;
      checkRows(src.length, rows, name);
      const labels = isTypedArrayOf(y, ["Int32Array"]) ? (y as Int32Array) : new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= outFeatures) {
          throw new RangeError(
            `Class label ${typeof v === "number" ? v : describe(v)} at ${name}[${i}] is invalid for a model with ${outFeatures} outputs: labels must be integers in [0, ${outFeatures})`,
          );
        }
        labels[i] = v;
        if ((i + 1) % WORK_CHUNK === 0) yield;
      }
      return { kind: "index", data: labels };
    }
    const m = m1;
    if (m === null) throw targetsTypeError(name, y, loss);
    checkRows(m.rows, rows, name);
    checkCols(m.cols, outFeatures, name, "class probabilities per row (one-hot or soft labels)");
    yield* checkFinite(m.data, m.cols, name, check);
    const chunkRows = rowsPerChunk(m.cols);
    for (let i = 0; i < m.rows; i++) {
      let s = 0;
      for (let j = 0; j < m.cols; j++) {
        const v = m.data[i * m.cols + j]!;
        if (v < 0) throw new RangeError(`${name} has a negative class probability ${v} at row ${i}, column ${j}: rows must be one-hot or probabilities`);
        s += v;
      }
      if (Math.abs(s - 1) > 1e-3) {
        throw new RangeError(
          `${name} row ${i} sums to ${s}, not 1: crossEntropy targets must be one-hot or probability rows (or pass class indices)`,
        );
      }
      if ((i + 1) % chunkRows === 0) yield;
    }
    return { kind: "float", data: m.data };
  }

  let m = yield* as2D(y, name);
  if (m === null) {
    const flat = isTypedArrayOf(y, FLOAT_ARRAYS) || isTypedArrayOf(y, INTEGER_ARRAYS) || Array.isArray(y);
    if (!flat) throw targetsTypeError(name, y, loss);
    const src = y as ArrayLike<unknown>;
    if (outFeatures !== 1) {
      throw new RangeError(
        `${name} is a flat array but the model has ${outFeatures} outputs: pass targets as a Matrix, number[][] or { data, shape: [rows, ${outFeatures}] }`,
      );
    }
    const data = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (typeof v !== "number") throw new TypeError(`${name}[${i}] is ${describe(v)}; expected a number`);
      data[i] = v;
      if ((i + 1) % WORK_CHUNK === 0) yield;
    }
    m = { data, rows: src.length, cols: 1 };
  }
  checkRows(m.rows, rows, name);
  checkCols(m.cols, outFeatures, name, "target values per row");
  yield* checkFinite(m.data, m.cols, name, check);
  if (loss.name === "binaryCrossEntropy") {
    for (let i = 0; i < m.data.length; i++) {
      const v = m.data[i]!;
      if (!(v >= 0 && v <= 1)) {
        const row = Math.floor(i / m.cols);
        throw new RangeError(`${name} has ${v} at row ${row}, column ${i - row * m.cols}: binaryCrossEntropy targets must be in [0, 1]`);
      }
      if ((i + 1) % WORK_CHUNK === 0) yield;
    }
  }
  if (mean && std) return { kind: "float", data: yield* standardize(m.data, m.rows, m.cols, mean, std) };
  return { kind: "float", data: m.data };
}

function targetsTypeError(name: string, y: unknown, loss: Loss): TypeError {
  const forms =
    loss.name === "crossEntropy"
      ? "class indices (Int32Array or number[]) or one-hot rows (Matrix, number[][] or { data, shape })"
      : "a Matrix, number[][], { data: Float32Array, shape: [rows, cols] }, or a flat number[] / Float32Array for a single output";
  return new TypeError(`Expected ${name} as ${forms} but received ${describe(y)}`);
}

function checkRows(got: number, want: number, name: string): void {
  if (got !== want) {
    throw new RangeError(`${name} has ${got} rows but the inputs have ${want}: every input row needs exactly one target row`);
  }
}

function checkCols(got: number, want: number, name: string, what: string): void {
  if (got !== want) {
    throw new RangeError(`${name} has ${got} ${what} but the model has ${want} output${want === 1 ? "" : "s"}`);
  }
}

/** Rows [start, end) of targets, as views. */
export function sliceTargets(t: Targets, cols: number, start: number, end: number): Targets {
  return t.kind === "index"
    ? { kind: "index", data: t.data.subarray(start, end) }
    : { kind: "float", data: t.data.subarray(start * cols, end * cols) };
}

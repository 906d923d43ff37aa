/**
 * Turning what users pass to fit / evaluate / predict into the contiguous arrays a training plan
 * reads, with every check done before any training starts. This file: the input forms, the inputs
 * (features), and the pausable passes all of it runs as; the targets are read in targets.ts.
 *
 * Inputs x: (N, ...sampleShape) as `{ data: Float32Array, shape: [N, ...sampleShape] }` or nested
 * arrays (`number[][]` for samples of one dimension, `number[][][][]` for (N, C, H, W)), or a
 * `Matrix` (N, features) for samples of one dimension.
 * Targets y: the same forms (float rows); for regression or binaryCrossEntropy with one output, also
 * a flat `number[]` / `Float32Array` (one value per row); for crossEntropy, class indices as an
 * integer typed array (`Int32Array`, `Uint8Array`, ...), `number[]` or a one-column matrix, or rows
 * of class probabilities (one-hot or soft labels) in any matrix form.
 *
 * Every pass over the data is written as a generator that pauses every WORK_CHUNK values: `predict`
 * drives it straight through (runSync), `fit` and `evaluate` drive it with a yield to the event loop
 * whenever a 4 ms slice has passed (runAsync), so checking a large dataset does not block the loop.
 * The NaN / Infinity check runs on the model's backend (`firstNonFinite`), whose native scan is fast
 * enough to pause only every NATIVE_SCAN_CHUNK values.
 */
import type { Backend } from "../backend/backend.js";
import { Matrix, describe } from "../core/matrix.js";
import { yieldIfDue, type Slicer } from "./yield.js";
import { isFloat32Array } from "../core/typed-arrays.js";

/** Values processed between pauses (about 0.1-0.3 ms of checking). */
export const WORK_CHUNK = 1 << 16;

/** Rows of `cols` values per pause, for passes that go row by row. */
export function rowsPerChunk(cols: number): number {
  return Math.max(1, Math.floor(WORK_CHUNK / Math.max(cols, 1)));
}

/**
 * Values the native backend's firstNonFinite checks between pauses: about 0.3 ms (measured 0.34 ms
 * per 2^20 values on random data, 15 ms for all 47M of a 60,000 x 784 array, against about 100 ms
 * for the TypeScript scan).
 */
const NATIVE_SCAN_CHUNK = 1 << 20;

/** How the NaN / Infinity check scans: `scan` finds the first non-finite value of x[start, end), or -1. */
export interface FiniteCheck {
  scan: (x: Float32Array, start: number, end: number) => number;
  /** Values scanned between pauses. */
  chunk: number;
}

/** The check on `backend`'s own firstNonFinite; the native scan in larger chunks. */
export function finiteCheckOf(backend: Backend): FiniteCheck {
  return {
    scan: (x, start, end) => backend.firstNonFinite(x, start, end),
    chunk: backend.name === "native" ? NATIVE_SCAN_CHUNK : WORK_CHUNK,
  };
}

/** A pass over data that pauses (yields undefined) between chunks of work and returns T. */
export type Work<T> = Generator<void, T, void>;

/** Run a pass to completion without pausing. */
export function runSync<T>(work: Work<T>): T {
  let r = work.next();
  while (!r.done) r = work.next();
  return r.value;
}

/** Run a pass, yielding to the event loop at its pauses whenever a slice has passed. */
export async function runAsync<T>(work: Work<T>, slicer: Slicer): Promise<T> {
  let r = work.next();
  while (!r.done) {
    await yieldIfDue(slicer);
    r = work.next();
  }
  return r.value;
}

/**
 * A float32 array with its shape, samples first: how fit, evaluate and predict take images ({ data, shape:
 * [N, C, H, W] }) or any other tensor.
 */
export interface ShapedArray {
  /** The values, row-major; its length is the product of `shape`. */
  data: Float32Array;
  /** [rows, ...sample shape]: [rows, cols] for a matrix, [N, C, H, W] for images. */
  shape: readonly number[];
}
/** Nested arrays of numbers, one level per dimension. */
export type NestedArray = readonly (number | NestedArray)[];
/**
 * Inputs as fit, evaluate and predict take them: a Matrix (rows, features), nested arrays (number[][] or
 * deeper for images) or a ShapedArray; the sample shape must be the model's input shape.
 */
export type FeaturesInput = Matrix | NestedArray | ShapedArray;
/**
 * Targets as fit and evaluate take them: values shaped like the outputs (any FeaturesInput form), or, for
 * crossEntropy, one class index per row (number[] or an integer typed array).
 */
export type TargetsInput =
  | FeaturesInput
  | readonly number[]
  | Float32Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Int8Array
  | Int16Array
  | Uint32Array;

/** Rows of `cols` float values, contiguous. */
export interface Dense2D {
  data: Float32Array;
  rows: number;
  cols: number;
}

function isShaped(v: unknown): v is ShapedArray {
  return v !== null && typeof v === "object" && !ArrayBuffer.isView(v) && "data" in v && "shape" in v;
}

/**
 * Samples of shape `sample` from { data, shape: [N, ...sample] } (not copied) or nested arrays
 * (copied), as rows of their flat size; null for another form. A shape that does not match is an
 * error naming the expected and the given shape.
 */
function* asSamples(v: unknown, name: string, sample: readonly number[]): Work<Dense2D | null> {
  const size = sample.reduce((a, b) => a * b, 1);
  const expected = `[N, ${sample.join(", ")}]`;
  if (v instanceof Matrix) {
    throw new RangeError(`${name} is a (${v.rows}, ${v.cols}) matrix but the model takes samples of shape [${sample.join(", ")}]: pass { data, shape: ${expected} }`);
  }
  if (isShaped(v)) {
    const { data, shape } = v;
    if (!isFloat32Array(data)) throw new TypeError(`Expected a Float32Array for ${name}.data but received ${describe(data)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`Expected ${name}.shape to be ${expected} (non-negative integers) but received ${describe(shape)}`);
    }
    if (shape.length !== sample.length + 1 || sample.some((d, i) => shape[i + 1] !== d)) {
      throw new RangeError(`${name} has shape [${shape.join(", ")}] but the model takes ${expected}`);
    }
    const rows = shape[0]!;
    if (data.length !== rows * size) throw new RangeError(`${name}.data has ${data.length} values but ${name}.shape [${shape.join(", ")}] needs ${rows * size}`);
    return { data, rows, cols: size };
  }
  if (!Array.isArray(v)) return null;
  const rows = v.length;
  const data = new Float32Array(rows * size);
  let at = 0;
  // Depth-first over each sample, checking every level's length against the sample shape.
  const fill = (a: unknown, depth: number, path: string): void => {
    if (!Array.isArray(a) || a.length !== sample[depth]) {
      throw new RangeError(`${path} is ${Array.isArray(a) ? `an array of ${a.length}` : describe(a)} but the model takes ${expected}: expected an array of ${sample[depth]}`);
    }
    if (depth === sample.length - 1) {
      for (let j = 0; j < a.length; j++) {
        const x = a[j] as unknown;
        if (typeof x !== "number") throw new TypeError(`${path}[${j}] is ${describe(x)}; expected a number`);
        data[at++] = x;
      }
    } else {
      for (let j = 0; j < a.length; j++) fill(a[j], depth + 1, `${path}[${j}]`);
    }
  };
  const chunkRows = rowsPerChunk(size);
  for (let i = 0; i < rows; i++) {
    fill(v[i], 0, `${name}[${i}]`);
    if ((i + 1) % chunkRows === 0) yield;
  }
  return { data, rows, cols: size };
}

/** A 2-D float view of `v`, or null if `v` is a 1-D form. Does not copy a Matrix or shaped array. */
export function* as2D(v: unknown, name: string): Work<Dense2D | null> {
  if (v instanceof Matrix) {
    // Its data is a field JavaScript can replace after the Matrix was made.
    if (!isFloat32Array(v.data) || v.data.length !== v.rows * v.cols) {
      throw new TypeError(`${name} is a Matrix whose data is ${describe(v.data)}; expected a Float32Array of ${v.rows} x ${v.cols} values`);
    }
    return { data: v.data, rows: v.rows, cols: v.cols };
  }
  if (isShaped(v)) {
    const { data, shape } = v;
    if (!isFloat32Array(data)) {
      throw new TypeError(`Expected a Float32Array for ${name}.data but received ${describe(data)}`);
    }
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`Expected ${name}.shape to be [rows, cols] (two non-negative integers) but received ${JSON.stringify(shape)}`);
    }
    const [rows, cols] = shape;
    if (data.length !== rows * cols) {
      throw new RangeError(`${name}.data has ${data.length} values but ${name}.shape [${rows}, ${cols}] needs ${rows * cols}`);
    }
    return { data, rows, cols };
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return { data: new Float32Array(0), rows: 0, cols: 0 };
    if (!Array.isArray(v[0])) return null;
    const cols = (v[0] as unknown[]).length;
    const data = new Float32Array(v.length * cols);
    const chunkRows = rowsPerChunk(cols);
    for (let i = 0; i < v.length; i++) {
      const row = v[i] as unknown;
      if (!Array.isArray(row)) throw new TypeError(`${name}[${i}] is ${describe(row)}; expected an array of numbers like ${name}[0]`);
      if (row.length !== cols) {
        throw new RangeError(`${name}[${i}] has ${row.length} values but ${name}[0] has ${cols}: every row must have the same length`);
      }
      for (let j = 0; j < cols; j++) {
        const x = row[j] as unknown;
        if (typeof x !== "number") throw new TypeError(`${name}[${i}][${j}] is ${describe(x)}; expected a number`);
        data[i * cols + j] = x;
      }
      if ((i + 1) % chunkRows === 0) yield;
    }
    return { data, rows: v.length, cols };
  }
  return null;
}

/** Throws, naming the row and column, at the first NaN or Infinity of data (rows of cols values). */
export function* checkFinite(data: Float32Array, cols: number, name: string, check: FiniteCheck): Work<void> {
  const n = data.length;
  for (let start = 0; start < n; start += check.chunk) {
    // After a yield: JavaScript may have transferred or resized the array meanwhile.
    if (data.length !== n) {
      throw new Error(`${name} holds ${data.length} values, but ${n} when its check started (its ArrayBuffer was transferred, detached or resized): do not change, transfer or resize it until the call settles`);
    }
    const end = Math.min(n, start + check.chunk);
    const i = check.scan(data, start, end);
    if (i >= 0) {
      const v = data[i]!;
      const row = Math.floor(i / cols);
      throw new RangeError(
        `${name} contains ${v} at row ${row}, column ${i - row * cols}: remove or impute non-finite values before training`,
      );
    }
    if (end < n) yield;
  }
}

function checkNonEmpty(rows: number, name: string): void {
  if (rows === 0) throw new RangeError(`${name} is empty: expected at least one row`);
}

/**
 * Inputs as one contiguous (rows, inputSize) Float32Array, standardized by (x - mean) / std when
 * `mean` and `std` are given (always a copy then; otherwise a Matrix or shaped array is used as is).
 * `check` scans for NaN / Infinity (pass the model's backend's: finiteCheckOf).
 */
export function toFeatures(...args: Parameters<typeof featuresWork>): Dense2D {
  return runSync(featuresWork(...args));
}

/** toFeatures as a pausable pass. */
export function* featuresWork(
  x: unknown,
  name: string,
  sampleShape: readonly number[],
  mean: Float32Array | null,
  std: Float32Array | null,
  check: FiniteCheck,
): Work<Dense2D> {
  const m = sampleShape.length === 1 ? yield* as2D(x, name) : yield* asSamples(x, name, sampleShape);
  const expected = `[N, ${sampleShape.join(", ")}]`;
  if (m === null) {
    throw new TypeError(
      sampleShape.length === 1
        ? `Expected ${name} as a Matrix, number[][] or { data: Float32Array, shape: [rows, cols] } but received ${describe(x)}`
        : `Expected ${name} of shape ${expected} as { data: Float32Array, shape: ${expected} } or nested arrays but received ${describe(x)}`,
    );
  }
  checkNonEmpty(m.rows, name);
  const inputSize = sampleShape[0]!;
  if (sampleShape.length === 1 && m.cols !== inputSize) {
    throw new RangeError(
      `${name} has ${m.cols} column${m.cols === 1 ? "" : "s"} per row but the model expects inputSize ${inputSize} features`,
    );
  }
  yield* checkFinite(m.data, m.cols, name, check);
  if (mean && std) return { data: yield* standardize(m.data, m.rows, m.cols, mean, std), rows: m.rows, cols: m.cols };
  return m;
}

/** (x - mean) / std per column, into a new array. */
export function* standardize(data: Float32Array, rows: number, cols: number, mean: Float32Array, std: Float32Array): Work<Float32Array> {
  const out = new Float32Array(rows * cols);
  const chunkRows = rowsPerChunk(cols);
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    for (let j = 0; j < cols; j++) out[off + j] = (data[off + j]! - mean[j]!) / std[j]!;
    if ((i + 1) % chunkRows === 0) yield;
  }
  return out;
}

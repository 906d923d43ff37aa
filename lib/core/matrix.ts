import { Rng } from "./rng.js";
import { isFloat32Array, isProxy } from "./typed-arrays.js";

/**
 * A float32 matrix: `rows x cols` values stored row-major in one `Float32Array`.
 * Element (i, j) is `data[i * cols + j]`. Kernels read and write `data` in place; a Matrix never
 * copies unless a method says so.
 */
export class Matrix {
  /**
   * The values, row-major: element (i, j) is `data[i * cols + j]`. Shared, not copied, by views and
   * kernels.
   */
  readonly data: Float32Array;
  /** Number of rows (for data: samples, one per row). */
  readonly rows: number;
  /** Number of columns (for data: features or outputs per sample). */
  readonly cols: number;

  /** Wrap `data` (not copied) as a `rows x cols` matrix. */
  constructor(data: Float32Array, rows: number, cols: number) {
    checkDim("rows", rows);
    checkDim("cols", cols);
    if (!isFloat32Array(data)) {
      throw new TypeError(`Expected a Float32Array for data but received ${describe(data)}`);
    }
    if (data.length !== rows * cols) {
      throw new RangeError(
        `Matrix data has ${data.length} values but shape ${rows}x${cols} needs ${rows * cols}`,
      );
    }
    this.data = data;
    this.rows = rows;
    this.cols = cols;
  }

  /** A `rows x cols` matrix of zeros. */
  static zeros(rows: number, cols: number): Matrix {
    checkDim("rows", rows);
    checkDim("cols", cols);
    return new Matrix(new Float32Array(rows * cols), rows, cols);
  }

  /** A matrix filled with `value`. */
  static full(rows: number, cols: number, value: number): Matrix {
    const m = Matrix.zeros(rows, cols);
    m.data.fill(value);
    return m;
  }

  /** Copy a nested array (`number[][]`, every row the same length) into a new matrix. */
  static fromArray(values: readonly (readonly number[])[]): Matrix {
    if (!Array.isArray(values)) throw new TypeError(`Expected number[][] but received ${describe(values)}`);
    const rows = values.length;
    const cols = rows > 0 ? (values[0]?.length ?? 0) : 0;
    const m = Matrix.zeros(rows, cols);
    for (let i = 0; i < rows; i++) {
      const row = values[i];
      if (!Array.isArray(row)) throw new TypeError(`Row ${i} is ${describe(row)}, expected an array of numbers`);
      if (row.length !== cols) {
        throw new RangeError(`Row ${i} has ${row.length} values but row 0 has ${cols}: rows must all be the same length`);
      }
      for (let j = 0; j < cols; j++) {
        const v = row[j];
        if (typeof v !== "number") throw new TypeError(`Value at row ${i}, column ${j} is ${describe(v)}, expected a number`);
        m.data[i * cols + j] = v;
      }
    }
    return m;
  }

  /** Wrap (not copy) a Float32Array as a `rows x cols` matrix. */
  static fromFloat32(data: Float32Array, rows: number, cols: number): Matrix {
    return new Matrix(data, rows, cols);
  }

  /** A column vector (`n x 1`) from numbers. */
  static column(values: ArrayLike<number>): Matrix {
    return new Matrix(Float32Array.from(values), values.length, 1);
  }

  /** Normal(mean, std) entries from a seeded generator (a seed or an `Rng` to draw from). */
  static randomNormal(rows: number, cols: number, rng: Rng | number = 0, mean = 0, std = 1): Matrix {
    const r = typeof rng === "number" ? new Rng(rng) : rng;
    const m = Matrix.zeros(rows, cols);
    for (let i = 0; i < m.data.length; i++) m.data[i] = mean + std * r.normal();
    return m;
  }

  /** Uniform [lo, hi) entries from a seeded generator. */
  static randomUniform(rows: number, cols: number, rng: Rng | number = 0, lo = 0, hi = 1): Matrix {
    const r = typeof rng === "number" ? new Rng(rng) : rng;
    const m = Matrix.zeros(rows, cols);
    for (let i = 0; i < m.data.length; i++) m.data[i] = r.uniformRange(lo, hi);
    return m;
  }

  /** Number of values, rows x cols (the length of `data`). */
  get size(): number {
    return this.data.length;
  }

  /** [rows, cols]. */
  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  /** Element (i, j), 0-based; unchecked, like indexing `data` directly. */
  get(i: number, j: number): number {
    return this.data[i * this.cols + j]!;
  }

  /** Write element (i, j), 0-based; unchecked, like indexing `data` directly (float32 rounding applies). */
  set(i: number, j: number, value: number): void {
    this.data[i * this.cols + j] = value;
  }

  /** Row `i` as a view (no copy). */
  row(i: number): Float32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows) {
      throw new RangeError(`Row index ${i} out of range [0, ${this.rows})`);
    }
    return this.data.subarray(i * this.cols, (i + 1) * this.cols);
  }

  /** Rows [start, end) as a view (no copy). */
  sliceRows(start: number, end: number): Matrix {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.rows || start > end) {
      throw new RangeError(`Row range [${start}, ${end}) out of range for ${this.rows} rows`);
    }
    return new Matrix(this.data.subarray(start * this.cols, end * this.cols), end - start, this.cols);
  }

  /** A deep copy. */
  clone(): Matrix {
    return new Matrix(this.data.slice(), this.rows, this.cols);
  }

  /** The transpose, as a new matrix. */
  transpose(): Matrix {
    const t = Matrix.zeros(this.cols, this.rows);
    for (let i = 0; i < this.rows; i++) {
      for (let j = 0; j < this.cols; j++) t.data[j * this.rows + i] = this.data[i * this.cols + j]!;
    }
    return t;
  }

  /** Copy out as nested arrays. */
  toArray(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.rows; i++) out.push(Array.from(this.row(i)));
    return out;
  }

  /** "Matrix(rows x cols)": the shape only, never the values (a matrix may hold millions). */
  toString(): string {
    return `Matrix(${this.rows}x${this.cols})`;
  }
}

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`Invalid ${name}: ${v}; expected a non-negative integer`);
  }
}

/** A short description of a value for error messages: "Expected X but received <describe(v)>". */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  // A proxy's properties are whatever its handler says (or throws): not read.
  if (isProxy(v)) return "a Proxy object";
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as { length: number }).length}`;
  if (typeof v === "object") return `an object (${(v as object).constructor?.name ?? "Object"})`;
  return `a ${typeof v}`;
}

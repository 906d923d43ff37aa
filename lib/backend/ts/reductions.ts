/**
 * Reductions over float32 buffers: argmax per row, sum and sum of squares in double precision, and
 * the first non-finite value of a range.
 */
import { checkLength, checkSize } from "./check.js";

/**
 * out (rows) = index of the largest value in each row of x (rows,cols), the first on ties.
 * A row with no columns has no largest value: cols = 0 with rows > 0 is an error.
 */
export function argmaxRows(out: Int32Array, x: Float32Array, rows: number, cols: number): void {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength("x (rows,cols)", x.length, rows * cols);
  checkLength("out (rows)", out.length, rows);
  if (cols === 0 && rows > 0) {
    throw new RangeError(`Invalid cols: 0 with ${rows} rows; argmaxRows needs at least one column`);
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let best = 0;
    let max = x[o];
    // Strictly greater: a later equal value does not replace the first.
    for (let j = 1; j < cols; j++) {
      const v = x[o + j];
      if (v > max) {
        max = v;
        best = j;
      }
    }
    out[r] = best;
  }
}

/** sum of x (n), accumulated in double precision. */
export function sum(x: Float32Array, n: number): number {
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  return s;
}

/** sum of x_i^2 over x (n), accumulated in double precision (squared L2 norm of a gradient). */
export function sumSquares(x: Float32Array, n: number): number {
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    s += v * v;
  }
  return s;
}

/**
 * Index of the first NaN or ±Infinity in x[start, end), or -1 if there is none. `v - v` is 0 for
 * every finite v (±0, subnormals and ±FLT_MAX included) and NaN for NaN and ±Infinity.
 */
export function firstNonFinite(x: Float32Array, start: number, end: number): number {
  checkSize("start", start);
  checkSize("end", end);
  if (start > x.length) throw new RangeError(`Invalid start: ${start}; past the end of x (${x.length} values)`);
  if (end < start) throw new RangeError(`Invalid end: ${end}; expected end >= start (${start})`);
  if (end > x.length) throw new RangeError(`Invalid end: ${end}; past the end of x (${x.length} values)`);
  for (let i = start; i < end; i++) {
    const v = x[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Row-wise softmax and its Jacobian-vector product.
 *
 * Each row is shifted by its maximum before exponentiating, so that e^(x - max) <= 1 never
 * overflows and the largest term is exactly 1 (the sum is at least 1: no division by zero).
 */
import { checkLength, checkSize } from "./check.js";

/** y (rows,cols) = softmax of each row of x (rows,cols). y may be x. */
export function softmaxForward(y: Float32Array, x: Float32Array, rows: number, cols: number): void {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength("x (rows,cols)", x.length, rows * cols);
  checkLength("y (rows,cols)", y.length, rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j] - max);
      y[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) y[o + j] *= inv;
  }
}

/** dx (rows,cols) = y * (dy - rowsum(dy * y)), with y = softmax(x). dx may be dy. */
export function softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, cols: number): void {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength("dx (rows,cols)", dx.length, rows * cols);
  checkLength("dy (rows,cols)", dy.length, rows * cols);
  checkLength("y (rows,cols)", y.length, rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[o + j] * y[o + j];
    for (let j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
  }
}

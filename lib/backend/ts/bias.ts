/**
 * Bias of a dense layer: forward y = W x + b broadcasts b over the rows of the batch; backward
 * db = sum over the batch of dy.
 */
import { checkLength, checkSize, checksDisagree, isSize } from "./check.js";

/** Column sums in double precision, grown to the widest layer seen and reused. */
let columnSums = new Float64Array(256);

/** y (rows,cols) += bias (cols), broadcast over rows. */
export function biasAdd(y: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  if (!(isSize(rows) && isSize(cols) && y.length >= rows * cols && bias.length >= cols)) biasArgumentError(rows, cols, "y (rows,cols)", y.length, rows * cols, "bias (cols)", bias.length, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) y[o + j] += bias[j];
  }
}

/** db (cols) = beta db + column sums of dy (rows,cols); beta = 0 overwrites db, 1 accumulates. */
export function biasGrad(db: Float32Array, dy: Float32Array, rows: number, cols: number, beta: number): void {
  if (!(isSize(rows) && isSize(cols) && dy.length >= rows * cols && db.length >= cols)) biasArgumentError(rows, cols, "db (cols)", db.length, cols, "dy (rows,cols)", dy.length, rows * cols);
  if (columnSums.length < cols) columnSums = new Float64Array(cols);
  const sums = columnSums;
  sums.fill(0, 0, cols);
  // Row by row, so dy is read contiguously; the sums stay in double precision.
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) sums[j] += dy[o + j];
  }
  if (beta === 0) {
    for (let j = 0; j < cols; j++) db[j] = sums[j];
  } else {
    for (let j = 0; j < cols; j++) db[j] = beta * db[j] + sums[j];
  }
}

/** Throws the error of a bias kernel's first argument out of range, in checkSize / checkLength's words (see check.ts). */
function biasArgumentError(rows: number, cols: number, first: string, firstLength: number, firstNeeds: number, second: string, secondLength: number, secondNeeds: number): never {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength(first, firstLength, firstNeeds);
  checkLength(second, secondLength, secondNeeds);
  checksDisagree("biasAdd/biasGrad");
}

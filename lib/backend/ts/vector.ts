/** In-place element-wise updates of a float32 buffer: scaling and clipping (gradient clipping). */
import { checkLength, checkSize } from "./check.js";

/** x (n) *= s. */
export function scale(x: Float32Array, n: number, s: number): void {
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  for (let i = 0; i < n; i++) x[i] *= s;
}

/** x (n) = min(max(x, lo), hi). */
export function clip(x: Float32Array, n: number, lo: number, hi: number): void {
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    x[i] = v < lo ? lo : v > hi ? hi : v;
  }
}

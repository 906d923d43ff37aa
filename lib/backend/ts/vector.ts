/** Element-wise float32 vector kernels: scaling and clipping in place (gradient clipping), and the sum of two vectors (residual blocks). */
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

/** out (n) = a + b (n); out may be a or b (residual blocks). */
export function add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  checkSize("n", n);
  checkLength("a (n)", a.length, n);
  checkLength("b (n)", b.length, n);
  checkLength("out (n)", out.length, n);
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

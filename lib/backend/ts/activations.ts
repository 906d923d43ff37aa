/**
 * Element-wise activations and their derivatives: y = f(x), dx = dy * f'(x).
 *
 * Every function works on the first n values of float32 buffers, in place allowed (y may be x,
 * dx may be dy: each index is read before it is written). Arithmetic is in double precision,
 * rounded to float32 on store.
 */
import type { ElementwiseActivation } from "../backend.js";
import { checkLength, checkSize } from "./check.js";

/** sqrt(2 / pi), the GELU tanh-approximation constant. */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** y (n) = f(x) (n). `alpha` is leakyRelu's negative slope. */
export function activationForward(
  act: ElementwiseActivation,
  y: Float32Array,
  x: Float32Array,
  n: number,
  alpha: number,
): void {
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  checkLength("y (n)", y.length, n);
  switch (act) {
    case "linear":
      return linearForward(y, x, n);
    case "sigmoid":
      return sigmoidForward(y, x, n);
    case "relu":
      return reluForward(y, x, n);
    case "tanh":
      return tanhForward(y, x, n);
    case "leakyRelu":
      return leakyReluForward(y, x, n, alpha);
    case "gelu":
      return geluForward(y, x, n);
    default:
      throw unknownActivation(act);
  }
}

/** dx (n) = dy (n) * f'(x); sigmoid and tanh read the output y, the others the input x. */
export function activationBackward(
  act: ElementwiseActivation,
  dx: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  y: Float32Array,
  n: number,
  alpha: number,
): void {
  checkSize("n", n);
  checkLength("dx (n)", dx.length, n);
  checkLength("dy (n)", dy.length, n);
  switch (act) {
    case "linear":
      return linearBackward(dx, dy, n);
    case "sigmoid":
      checkLength("y (n)", y.length, n);
      return sigmoidBackward(dx, dy, y, n);
    case "relu":
      checkLength("x (n)", x.length, n);
      return reluBackward(dx, dy, x, n);
    case "tanh":
      checkLength("y (n)", y.length, n);
      return tanhBackward(dx, dy, y, n);
    case "leakyRelu":
      checkLength("x (n)", x.length, n);
      return leakyReluBackward(dx, dy, x, n, alpha);
    case "gelu":
      checkLength("x (n)", x.length, n);
      return geluBackward(dx, dy, x, n);
    default:
      throw unknownActivation(act);
  }
}

function unknownActivation(act: unknown): RangeError {
  return new RangeError(
    `Unknown activation ${JSON.stringify(act)}; expected one of "linear", "sigmoid", "relu", "tanh", "leakyRelu", "gelu"`,
  );
}

/** y = x (a plain loop: `set(subarray())` would allocate a view per call). */
function linearForward(y: Float32Array, x: Float32Array, n: number): void {
  if (y === x) return;
  for (let i = 0; i < n; i++) y[i] = x[i];
}

/** dx = dy. */
function linearBackward(dx: Float32Array, dy: Float32Array, n: number): void {
  if (dx === dy) return;
  for (let i = 0; i < n; i++) dx[i] = dy[i];
}

/**
 * y = σ(x) = 1 / (1 + e^-x), branching on the sign so that e^(...) never overflows:
 * for x < 0 it is e^x / (1 + e^x).
 */
function sigmoidForward(y: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]);
}

/** σ(z) in the stable form (shared with the BCE loss). */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** dx = dy σ(x)(1 - σ(x)) = dy y (1 - y). */
function sigmoidBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = y[i];
    dx[i] = dy[i] * s * (1 - s);
  }
}

/** y = max(x, 0) (NaN stays NaN). */
function reluForward(y: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = v < 0 ? 0 : v;
  }
}

/** dx = dy where x > 0, else 0 (the derivative at 0 is taken as 0, as in PyTorch). */
function reluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}

/** y = tanh(x). */
function tanhForward(y: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
}

/** dx = dy (1 - tanh(x)^2) = dy (1 - y^2). */
function tanhBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = y[i];
    dx[i] = dy[i] * (1 - t * t);
  }
}

/** y = x for x >= 0, alpha x below. */
function leakyReluForward(y: Float32Array, x: Float32Array, n: number, alpha: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = v < 0 ? alpha * v : v;
  }
}

/** dx = dy where x > 0, else alpha dy (alpha at 0, as in PyTorch). */
function leakyReluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, n: number, alpha: number): void {
  for (let i = 0; i < n; i++) {
    const g = dy[i];
    dx[i] = x[i] > 0 ? g : alpha * g;
  }
}

/** y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
function geluForward(y: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_K * v * v * v)));
  }
}

/** dx = dy [0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)], t = tanh(u). */
function geluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const v2 = v * v;
    const t = Math.tanh(GELU_C * (v + GELU_K * v2 * v));
    const dudx = GELU_C * (1 + 3 * GELU_K * v2);
    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dudx);
  }
}

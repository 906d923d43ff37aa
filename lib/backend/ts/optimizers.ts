/**
 * Optimizer updates, in place over flat parameter, gradient and state buffers (n values each),
 * with PyTorch's semantics (torch/optim/{sgd,adam,adamw,rmsprop}.py, single-tensor path). Each is
 * one loop: θ ← θ − η · (step direction). Arithmetic is in double precision per element, rounded
 * to float32 when stored.
 */
import { checkLength, checkSize } from "./check.js";

/**
 * SGD: g = grad + wd θ; with momentum, v = μ v + (1 - dampening) g (v = g on the first step) and
 * g = nesterov ? g + μ v : v; then θ ← θ − lr g. param, grad, velocity are (n).
 */
export function sgdUpdate(
  param: Float32Array,
  grad: Float32Array,
  velocity: Float32Array,
  n: number,
  lr: number,
  momentum: number,
  dampening: number,
  nesterov: boolean,
  weightDecay: number,
  firstStep: boolean,
): void {
  checkSize("n", n);
  checkLength("param (n)", param.length, n);
  checkLength("grad (n)", grad.length, n);
  if (momentum === 0) {
    for (let i = 0; i < n; i++) {
      const p = param[i];
      param[i] = p - lr * (grad[i] + weightDecay * p);
    }
    return;
  }
  checkLength("velocity (n)", velocity.length, n);
  const keep = 1 - dampening;
  for (let i = 0; i < n; i++) {
    const p = param[i];
    const g = grad[i] + weightDecay * p;
    const v = firstStep ? g : momentum * velocity[i] + keep * g;
    velocity[i] = v;
    param[i] = p - lr * (nesterov ? g + momentum * v : v);
  }
}

/**
 * Adam (decoupled = false: g = grad + wd θ) or AdamW (decoupled = true: θ ← θ (1 − lr wd) first):
 * m = β1 m + (1 − β1) g;  v = β2 v + (1 − β2) g²;
 * θ ← θ − (lr / (1 − β1^t)) m / (sqrt(v) / sqrt(1 − β2^t) + eps), t = `step` (1-based).
 * param, grad, m, v are (n).
 */
export function adamUpdate(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  step: number,
  decoupled: boolean,
): void {
  checkSize("n", n);
  checkLength("param (n)", param.length, n);
  checkLength("grad (n)", grad.length, n);
  checkLength("m (n)", m.length, n);
  checkLength("v (n)", v.length, n);
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const sqrtCorrection2 = Math.sqrt(1 - Math.pow(beta2, step));
  const coupledDecay = decoupled ? 0 : weightDecay;
  const shrink = decoupled ? 1 - lr * weightDecay : 1;
  for (let i = 0; i < n; i++) {
    const p = param[i];
    const g = grad[i] + coupledDecay * p;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p * shrink - (stepSize * mi) / (Math.sqrt(vi) / sqrtCorrection2 + eps);
  }
}

/**
 * RMSprop (not centered): g = grad + wd θ; sq = α sq + (1 − α) g²;
 * with momentum: buf = μ buf + g / (sqrt(sq) + eps), θ ← θ − lr buf;
 * without: θ ← θ − lr g / (sqrt(sq) + eps). param, grad, sq, buf are (n).
 */
export function rmspropUpdate(
  param: Float32Array,
  grad: Float32Array,
  sq: Float32Array,
  buf: Float32Array,
  n: number,
  lr: number,
  alpha: number,
  eps: number,
  weightDecay: number,
  momentum: number,
): void {
  checkSize("n", n);
  checkLength("param (n)", param.length, n);
  checkLength("grad (n)", grad.length, n);
  checkLength("sq (n)", sq.length, n);
  if (momentum > 0) checkLength("buf (n)", buf.length, n);
  for (let i = 0; i < n; i++) {
    const p = param[i];
    const g = grad[i] + weightDecay * p;
    const s = alpha * sq[i] + (1 - alpha) * g * g;
    sq[i] = s;
    const step = g / (Math.sqrt(s) + eps);
    if (momentum > 0) {
      const b = momentum * buf[i] + step;
      buf[i] = b;
      param[i] = p - lr * b;
    } else {
      param[i] = p - lr * step;
    }
  }
}

/**
 * Adam and AdamW, PyTorch's (torch/optim/adam.py, adamw.py), with t the 1-based step:
 *
 *   Adam:  g = grad + weightDecay θ            AdamW: θ ← θ (1 − lr weightDecay), g = grad
 *   m = β1 m + (1 − β1) g;   v = β2 v + (1 − β2) g²
 *   θ ← θ − (lr / (1 − β1^t)) m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 */
import { describe } from "../core/matrix.js";
import { decayed, nonNegative, Optimizer, unitInterval, type Hyper, type LearningRate, type OptimizerDef } from "./optimizer.js";

/** Options of adam() and adamw(); names and defaults are PyTorch's torch.optim.Adam / AdamW. */
export interface AdamOptions {
  /** Learning rate or schedule; default 1e-3. */
  lr?: LearningRate;
  /**
   * Decay rates [beta1, beta2] of the running averages of the gradient and its square, each in [0, 1);
   * default [0.9, 0.999].
   */
  betas?: readonly [number, number];
  /** Added to the denominator's square root for numerical stability, >= 0; default 1e-8. */
  eps?: number;
  /**
   * adam: L2 penalty added to the gradient; adamw: decoupled decay, parameters shrunk by lr x weightDecay
   * each step. >= 0; default 0 (adam), 0.01 (adamw).
   */
  weightDecay?: number;
}

const SLOTS = ["exp_avg", "exp_avg_sq"] as const;

function adamDef(name: "adam" | "adamw", code: number, defaultDecay: number, decoupled: boolean): OptimizerDef {
  return {
    name,
    code,
    hyper: ["beta1", "beta2", "eps", "weightDecay"],
    options: ["betas", "eps", "weightDecay"],
    defaultLr: 1e-3,
    parse(o) {
      const betas = o.betas ?? [0.9, 0.999];
      if (!Array.isArray(betas) || betas.length !== 2) {
        throw new TypeError(`Invalid betas: expected [beta1, beta2] but received ${describe(betas)}`);
      }
      const b1 = unitInterval("beta parameter at index 0", betas[0]);
      const b2 = unitInterval("beta parameter at index 1", betas[1]);
      return [b1, b2, nonNegative("epsilon", o.eps ?? 1e-8), nonNegative("weightDecay", o.weightDecay ?? defaultDecay)];
    },
    toOptions: (h) => ({ betas: [h[0], h[1]], eps: h[2], weightDecay: h[3] }),
    slots: () => SLOTS,
    update: (param, grad, state, n, lr, step, h) => adamUpdate(param, grad, state, n, lr, step, h, decoupled),
  };
}

function adamUpdate(param: Float32Array, grad: Float32Array, state: Float32Array, n: number, lr: number, step: number, h: Hyper, decoupled: boolean): void {
  const beta1 = h[0]!, beta2 = h[1]!, eps = h[2]!, wd = h[3]!;
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const sqrtCorrection2 = Math.sqrt(1 - Math.pow(beta2, step));
  const shrink = decoupled ? 1 - lr * wd : 1;
  const l2 = decoupled ? 0 : wd;
  for (let i = 0; i < n; i++) {
    const p = param[i]! * shrink;
    const g = decayed(grad[i]!, p, l2);
    const m = beta1 * state[i]! + (1 - beta1) * g;
    const v = beta2 * state[n + i]! + (1 - beta2) * g * g;
    state[i] = m;
    state[n + i] = v;
    param[i] = p - (stepSize * m) / (Math.sqrt(v) / sqrtCorrection2 + eps);
  }
}

export const ADAM = adamDef("adam", 1, 0, false);
export const ADAMW = adamDef("adamw", 2, 0.01, true);

/** Adam (PyTorch's: weight decay is L2 added to the gradient; lr default 1e-3). */
export function adam(options: AdamOptions = {}): Optimizer {
  return new Optimizer(ADAM, options as Record<string, unknown>);
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch). */
export function adamw(options: AdamOptions = {}): Optimizer {
  return new Optimizer(ADAMW, options as Record<string, unknown>);
}

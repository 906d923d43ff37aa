/**
 * RMSprop, PyTorch's (torch/optim/rmsprop.py, not centered):
 *
 *   g = grad + weightDecay θ;   sq = α sq + (1 − α) g²
 *   with momentum μ > 0: buf = μ buf + g / (sqrt(sq) + eps);  θ ← θ − lr buf
 *   without:             θ ← θ − lr g / (sqrt(sq) + eps)
 */
import { decayed, nonNegative, Optimizer, unitInterval, type LearningRate, type OptimizerDef } from "./optimizer.js";

/** Options of rmsprop(); names and defaults are PyTorch's torch.optim.RMSprop (not centered). */
export interface RmspropOptions {
  /** Learning rate or schedule; default 0.01. */
  lr?: LearningRate;
  /** Smoothing constant of the running average of squared gradients, in [0, 1]; default 0.99. */
  alpha?: number;
  /** Added to the denominator's square root for numerical stability, >= 0; default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient, >= 0; default 0. */
  weightDecay?: number;
  /** Momentum factor >= 0; default 0. */
  momentum?: number;
}

const SLOTS = ["square_avg", "momentum_buffer"] as const;

export const RMSPROP: OptimizerDef = {
  name: "rmsprop",
  code: 3,
  hyper: ["alpha", "eps", "weightDecay", "momentum"],
  options: ["alpha", "eps", "weightDecay", "momentum"],
  defaultLr: 0.01,
  parse(o) {
    const alpha = unitInterval("alpha value", nonNegative("alpha", o.alpha ?? 0.99));
    return [alpha, nonNegative("epsilon", o.eps ?? 1e-8), nonNegative("weightDecay", o.weightDecay ?? 0), nonNegative("momentum", o.momentum ?? 0)];
  },
  toOptions: (h) => ({ alpha: h[0], eps: h[1], weightDecay: h[2], momentum: h[3] }),
  // Two slots whatever the momentum, as saved files have always had them.
  slots: () => SLOTS,
  update(param, grad, state, n, lr, _step, h) {
    const alpha = h[0]!, eps = h[1]!, wd = h[2]!, momentum = h[3]!;
    for (let i = 0; i < n; i++) {
      const p = param[i]!;
      const g = decayed(grad[i]!, p, wd);
      const sq = alpha * state[i]! + (1 - alpha) * g * g;
      state[i] = sq;
      const direction = g / (Math.sqrt(sq) + eps);
      if (momentum > 0) {
        const buf = momentum * state[n + i]! + direction;
        state[n + i] = buf;
        param[i] = p - lr * buf;
      } else {
        param[i] = p - lr * direction;
      }
    }
  },
};

/** RMSprop (PyTorch's, not centered; lr default 0.01). */
export function rmsprop(options: RmspropOptions = {}): Optimizer {
  return new Optimizer(RMSPROP, options as Record<string, unknown>);
}

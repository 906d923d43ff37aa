/**
 * Adagrad, PyTorch's (torch/optim/adagrad.py), with t the 1-based step:
 *
 *   g = grad + weightDecay θ;   clr = lr / (1 + (t − 1) lrDecay)
 *   sum = sum + g²;             θ ← θ − clr g / (sqrt(sum) + eps)
 *
 * `sum` starts at initialAccumulatorValue.
 */
import { decayed, nonNegative, Optimizer, type LearningRate, type OptimizerDef } from "./optimizer.js";

/** Options of adagrad(); names and defaults are PyTorch's torch.optim.Adagrad. */
export interface AdagradOptions {
  /** Learning rate or schedule; default 0.01. */
  lr?: LearningRate;
  /** Learning-rate decay: step t (1-based) uses lr / (1 + (t - 1) lrDecay); >= 0, default 0. */
  lrDecay?: number;
  /** L2 penalty added to the gradient, >= 0; default 0. */
  weightDecay?: number;
  /** Added to the denominator's square root for numerical stability, >= 0; default 1e-10. */
  eps?: number;
  /** Starting value of each parameter's sum of squared gradients, >= 0; default 0. */
  initialAccumulatorValue?: number;
}

const SLOTS = ["sum"] as const;

export const ADAGRAD: OptimizerDef = {
  name: "adagrad",
  code: 4,
  hyper: ["lrDecay", "weightDecay", "eps", "initialAccumulatorValue"],
  options: ["lrDecay", "weightDecay", "eps", "initialAccumulatorValue"],
  defaultLr: 0.01,
  help: {
    lrDecay: "learning-rate decay: step t uses lr / (1 + (t - 1) lrDecay)",
    initialAccumulatorValue: "starting value of the sum of squared gradients",
  },
  parse: (o) => [
    nonNegative("lrDecay", o.lrDecay ?? 0),
    nonNegative("weightDecay", o.weightDecay ?? 0),
    nonNegative("epsilon", o.eps ?? 1e-10),
    nonNegative("initialAccumulatorValue", o.initialAccumulatorValue ?? 0),
  ],
  toOptions: (h) => ({ lrDecay: h[0], weightDecay: h[1], eps: h[2], initialAccumulatorValue: h[3] }),
  slots: () => SLOTS,
  initState(state, n, h) {
    state.fill(h[3]!, 0, n);
  },
  update(param, grad, state, n, lr, step, h) {
    const wd = h[1]!, eps = h[2]!;
    const clr = lr / (1 + (step - 1) * h[0]!);
    for (let i = 0; i < n; i++) {
      const p = param[i]!;
      const g = decayed(grad[i]!, p, wd);
      const sum = state[i]! + g * g;
      state[i] = sum;
      param[i] = p - (clr * g) / (Math.sqrt(sum) + eps);
    }
  },
};

/** Adagrad (PyTorch's; lr default 0.01, eps 1e-10). */
export function adagrad(options: AdagradOptions = {}): Optimizer {
  return new Optimizer(ADAGRAD, options as Record<string, unknown>);
}

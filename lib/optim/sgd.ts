/**
 * Stochastic gradient descent, PyTorch's SGD (torch/optim/sgd.py). Without momentum it is the
 * lecture's update θ ← θ − η g.
 *
 *   g = grad + weightDecay θ
 *   with momentum μ: v = μ v + (1 − dampening) g   (v = g on the first step)
 *                    g = nesterov ? g + μ v : v
 *   θ ← θ − lr g
 */
import { describe } from "../core/matrix.js";
import { decayed, nonNegative, Optimizer, type LearningRate, type OptimizerDef } from "./optimizer.js";

/** Options of sgd(); names and defaults are PyTorch's torch.optim.SGD. */
export interface SgdOptions {
  /** Learning rate or schedule; default 0.01. */
  lr?: LearningRate;
  /** Momentum factor >= 0; default 0 (plain SGD, no state). */
  momentum?: number;
  /** Dampening of the momentum buffer's gradient term, >= 0; default 0. Nesterov needs 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (weightDecay x parameter), >= 0; default 0. */
  weightDecay?: number;
}

const WITH_MOMENTUM = ["momentum_buffer"] as const;
const WITHOUT_MOMENTUM = [] as const;

export const SGD: OptimizerDef = {
  name: "sgd",
  code: 0,
  hyper: ["momentum", "dampening", "nesterov", "weightDecay"],
  options: ["momentum", "dampening", "nesterov", "weightDecay"],
  defaultLr: 0.01,
  parse(o) {
    const momentum = nonNegative("momentum", o.momentum ?? 0);
    const dampening = nonNegative("dampening", o.dampening ?? 0);
    const weightDecay = nonNegative("weightDecay", o.weightDecay ?? 0);
    const nesterov = o.nesterov ?? false;
    if (typeof nesterov !== "boolean") throw new TypeError(`Invalid nesterov value: expected a boolean but received ${describe(nesterov)}`);
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new RangeError("Nesterov momentum requires a momentum > 0 and zero dampening");
    }
    return [momentum, dampening, nesterov ? 1 : 0, weightDecay];
  },
  toOptions: (h) => ({ momentum: h[0], dampening: h[1], nesterov: h[2] === 1, weightDecay: h[3] }),
  slots: (h) => (h[0] !== 0 ? WITH_MOMENTUM : WITHOUT_MOMENTUM),
  update(param, grad, state, n, lr, step, h) {
    const momentum = h[0]!;
    const keep = 1 - h[1]!;
    const nesterov = h[2] === 1;
    const wd = h[3]!;
    if (momentum === 0) {
      for (let i = 0; i < n; i++) param[i] = param[i]! - lr * decayed(grad[i]!, param[i]!, wd);
      return;
    }
    const v = state; // slot 0: the momentum buffer
    for (let i = 0; i < n; i++) {
      const g = decayed(grad[i]!, param[i]!, wd);
      const vi = step === 1 ? g : momentum * v[i]! + keep * g;
      v[i] = vi;
      param[i] = param[i]! - lr * (nesterov ? g + momentum * vi : vi);
    }
  },
};

/** Stochastic gradient descent, optionally with momentum (PyTorch's SGD; lr default 0.01). */
export function sgd(options: SgdOptions = {}): Optimizer {
  return new Optimizer(SGD, options as Record<string, unknown>);
}

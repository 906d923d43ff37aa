/**
 * Hyperparameter settings each registered optimizer is tested with (parity, registry tests). Every
 * optimizer in lib/optim must have an entry: test/parity.test.ts fails for one without.
 */
import type { OptimizerName } from "../lib/optim/index.js";

export const OPTIMIZER_CASES: Record<OptimizerName, { label: string; options: Record<string, unknown> }[]> = {
  sgd: [
    { label: "sgd", options: { lr: 0.1, weightDecay: 0.01 } },
    { label: "sgd momentum dampening", options: { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.001 } },
    { label: "sgd nesterov", options: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 } },
  ],
  adam: [
    { label: "adam", options: { lr: 1e-2, weightDecay: 0.01 } },
    { label: "adam beta2=0.9999", options: { lr: 1e-3, betas: [0.95, 0.9999] } },
  ],
  adamw: [{ label: "adamw", options: { lr: 1e-2, weightDecay: 0.1 } }],
  rmsprop: [
    { label: "rmsprop", options: { lr: 1e-2, weightDecay: 0.01 } },
    // alpha = 0.999: 1 - alpha must be formed in double (0.001), not from a float32 alpha
    // (1 - 0.999f = 0.00099998713, 1.3e-5 off).
    { label: "rmsprop alpha=0.999", options: { lr: 1e-3, alpha: 0.999 } },
    { label: "rmsprop momentum", options: { lr: 1e-2, alpha: 0.9, eps: 1e-6, momentum: 0.9 } },
  ],
  adagrad: [
    { label: "adagrad", options: { lr: 0.05 } },
    { label: "adagrad lrDecay weightDecay initialAccumulatorValue", options: { lr: 0.05, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.1, eps: 1e-6 } },
  ],
};

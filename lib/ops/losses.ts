/**
 * The loss kinds a training plan computes, with the integer codes the native addon uses
 * (native/ops/losses.h). `crossEntropy` takes class indices, `crossEntropyDense` probability rows,
 * `bce` is binary cross-entropy from logits; the first three compare outputs to float targets.
 * The user-facing losses (lib/losses) map onto these.
 */
export const PLAN_LOSSES = { mse: 0, mae: 1, huber: 2, crossEntropy: 3, crossEntropyDense: 4, bce: 5 } as const;
export type PlanLossKind = keyof typeof PLAN_LOSSES;

/** The element-wise regression losses (the `regressionLoss` kernel's kinds), same codes. */
export const REGRESSION_LOSSES = { mse: PLAN_LOSSES.mse, mae: PLAN_LOSSES.mae, huber: PLAN_LOSSES.huber } as const;
/** An element-wise regression loss's kind: "mse", "mae" or "huber". */
export type RegressionLoss = keyof typeof REGRESSION_LOSSES;

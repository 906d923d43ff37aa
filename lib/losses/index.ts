/**
 * Losses, by name or as objects. Each is the mean over the batch (and, for regression, over outputs):
 *
 * - `mse()`:   mean (pred - y)^2                  (the lecture's L = 1/N sum e^2)
 * - `mae()`:   mean |pred - y|                    (the lecture's L = 1/N sum |e|)
 * - `huber({ delta = 1 })`: (d^2)/2 inside |d| <= delta, delta (|d| - delta/2) outside
 * - `crossEntropy()`: softmax cross-entropy. The model's last layer produces logits; softmax is fused
 *   into the loss. Targets are class indices (Int32Array / number[]) or rows of class probabilities
 *   (a one-hot or soft-label matrix). A trailing `softmax()` layer (or `dense(..., { activation:
 *   "softmax" })`) is left out of the training plan, so it is not applied twice; `predict` returns
 *   probabilities either way.
 * - `binaryCrossEntropy()`: from logits, per output (multi-label), targets in [0, 1]. A trailing
 *   sigmoid is likewise left out of the training plan; `predict` returns probabilities.
 */
import type { PlanLoss } from "../backend/plan.js";
import { describe } from "../core/matrix.js";
import { checkOptionKeys, checkOptions } from "../core/options.js";

/** A built-in loss's name, as compile({ loss }) and the CLI's --loss accept it. */
export type LossName = "mse" | "mae" | "huber" | "crossEntropy" | "binaryCrossEntropy";
export const LOSS_NAMES: readonly LossName[] = ["mse", "mae", "huber", "crossEntropy", "binaryCrossEntropy"];

/** A loss's JSON-able description. */
export type LossConfig =
  | { name: "mse" }
  | { name: "mae" }
  | { name: "huber"; delta: number }
  | { name: "crossEntropy" }
  | { name: "binaryCrossEntropy" };

/**
 * A loss as compile() takes it: made by mse(), mae(), huber(), crossEntropy() or binaryCrossEntropy(), or
 * named by a LossName string. Its value is the mean over the batch (and, for regression, over outputs).
 */
export class Loss {
  /** Which loss this is. */
  readonly name: LossName;
  /** Huber's threshold (0 for the others). */
  readonly delta: number;

  constructor(name: LossName, delta = 0) {
    this.name = name;
    this.delta = delta;
  }

  /** Regression losses compare outputs to float targets of the same shape. */
  get isRegression(): boolean {
    return this.name === "mse" || this.name === "mae" || this.name === "huber";
  }

  /** The loss in a training plan; `denseTargets` picks crossEntropyDense for probability targets. */
  toPlan(denseTargets: boolean): PlanLoss {
    switch (this.name) {
      case "mse":
      case "mae":
        return { kind: this.name, delta: 0 };
      case "huber":
        return { kind: "huber", delta: this.delta };
      case "crossEntropy":
        return denseTargets ? { kind: "crossEntropyDense" } : { kind: "crossEntropy" };
      case "binaryCrossEntropy":
        return { kind: "bce" };
    }
  }

  /** The JSON-able description (name, and huber's delta) saved in model.json. */
  config(): LossConfig {
    return this.name === "huber" ? { name: "huber", delta: this.delta } : { name: this.name };
  }
}

/** Mean squared error. */
export function mse(): Loss {
  return new Loss("mse");
}
/** Mean absolute error. */
export function mae(): Loss {
  return new Loss("mae");
}
/** Huber loss with threshold `delta` (default 1, as in PyTorch's HuberLoss). */
export function huber(options: { delta?: number } = {}): Loss {
  checkOptions(options, ["delta"], "huber");
  const delta = options.delta ?? 1;
  if (typeof delta !== "number" || !Number.isFinite(delta) || delta <= 0) {
    throw new RangeError(`Invalid huber delta: ${describe(delta)}; expected a finite number > 0`);
  }
  return new Loss("huber", delta);
}
/** Softmax cross-entropy from logits (class indices or probability rows as targets). */
export function crossEntropy(): Loss {
  return new Loss("crossEntropy");
}
/** Binary cross-entropy from logits, per output. */
export function binaryCrossEntropy(): Loss {
  return new Loss("binaryCrossEntropy");
}

/** Keras / tfjs / PyTorch loss names (lower case, without "_"), by blasnet's name for the same loss. */
const OTHER_LOSS_NAMES: Readonly<Record<string, LossName>> = {
  categoricalcrossentropy: "crossEntropy",
  sparsecategoricalcrossentropy: "crossEntropy",
  crossentropyloss: "crossEntropy",
  softmaxcrossentropy: "crossEntropy",
  binarycrossentropy: "binaryCrossEntropy",
  bcewithlogitsloss: "binaryCrossEntropy",
  sigmoidcrossentropy: "binaryCrossEntropy",
  meansquarederror: "mse",
  mseloss: "mse",
  meanabsoluteerror: "mae",
  l1loss: "mae",
  huberloss: "huber",
  smoothl1loss: "huber",
};

/** ' named "x"' for a loss config object with a string name (what describe() does not show), else "". */
function named(loss: unknown): string {
  const name = loss !== null && typeof loss === "object" ? (loss as { name?: unknown }).name : undefined;
  return typeof name === "string" ? ` named ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name)}` : "";
}

/** A loss from a name, an object or a config. */
export function resolveLoss(loss: unknown): Loss {
  if (loss instanceof Loss) return loss;
  if (typeof loss === "string") {
    if (loss === "huber") return huber();
    if ((LOSS_NAMES as readonly string[]).includes(loss)) return new Loss(loss as LossName);
  } else if (loss !== null && typeof loss === "object" && typeof (loss as { name?: unknown }).name === "string") {
    const c = loss as { name: string; delta?: number };
    if (c.name === "huber") {
      checkOptionKeys(c, ["name", "delta"], "huber loss config");
      return huber(c.delta === undefined ? {} : { delta: c.delta });
    }
    if ((LOSS_NAMES as readonly string[]).includes(c.name)) {
      checkOptionKeys(c, ["name"], `${c.name} loss config`);
      return new Loss(c.name as LossName);
    }
  }
  const key = typeof loss === "string" ? loss.replace(/_/g, "").toLowerCase() : "";
  // Own keys only: "constructor" or "__proto__" must not find Object.prototype's.
  const other = Object.hasOwn(OTHER_LOSS_NAMES, key) ? OTHER_LOSS_NAMES[key] : undefined;
  throw new TypeError(
    `Invalid loss: expected one of ${LOSS_NAMES.map((s) => `"${s}"`).join(", ")} or a loss object such as mse() but received ${describe(loss)}${named(loss)}` +
      (other ? `; blasnet calls it "${other}"` : ""),
  );
}

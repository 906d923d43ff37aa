/**
 * Optimizers, with PyTorch's defaults and semantics (the update math itself is the backend's
 * `sgdUpdate` / `adamUpdate` / `rmspropUpdate`, run by the training plan over the model's one flat
 * parameter buffer). An optimizer here is a validated description: kind, hyperparameters and a
 * learning rate that is a number or a schedule.
 *
 * - `sgd({ lr = 0.01, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 })`:
 *   with no momentum it is the lecture's update theta <- theta - eta g.
 * - `adam({ lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0 })` (L2 added to the gradient)
 * - `adamw({ lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 })` (decoupled decay)
 * - `rmsprop({ lr = 0.01, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0 })`
 */
import type { PlanOptimizer } from "../backend/plan.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { isSchedule, scheduleConfig, scheduleFromConfig, type Schedule, type ScheduleConfig } from "./schedules.js";

export type OptimizerName = "sgd" | "adam" | "adamw" | "rmsprop";
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ["sgd", "adam", "adamw", "rmsprop"];

export type LearningRate = number | Schedule;

export interface SgdOptions {
  lr?: LearningRate;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}
export interface AdamOptions {
  lr?: LearningRate;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}
export interface RmspropOptions {
  lr?: LearningRate;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
}

/** An optimizer's JSON-able description. */
export type OptimizerConfig =
  | { name: "sgd"; lr: number | ScheduleConfig; momentum: number; dampening: number; nesterov: boolean; weightDecay: number }
  | { name: "adam" | "adamw"; lr: number | ScheduleConfig; betas: [number, number]; eps: number; weightDecay: number }
  | { name: "rmsprop"; lr: number | ScheduleConfig; alpha: number; eps: number; weightDecay: number; momentum: number };

export class Optimizer {
  readonly name: OptimizerName;
  readonly lr: LearningRate;
  /** The plan's description of the update (hyperparameters other than the learning rate). */
  readonly plan: PlanOptimizer;

  constructor(name: OptimizerName, lr: LearningRate, plan: PlanOptimizer) {
    this.name = name;
    this.lr = lr;
    this.plan = plan;
  }

  /** Learning rate of the update after `step` updates (0-based), in 0-based epoch `epoch`. */
  lrAt(step: number, epoch: number): number {
    return typeof this.lr === "number" ? this.lr : this.lr.lrAt(step, epoch);
  }

  config(): OptimizerConfig {
    const lr = typeof this.lr === "number" ? this.lr : scheduleConfig(this.lr);
    const p = this.plan;
    switch (p.kind) {
      case "sgd":
        return { name: "sgd", lr, momentum: p.momentum, dampening: p.dampening, nesterov: p.nesterov, weightDecay: p.weightDecay };
      case "adam":
      case "adamw":
        return { name: p.kind, lr, betas: [p.beta1, p.beta2], eps: p.eps, weightDecay: p.weightDecay };
      case "rmsprop":
        return { name: "rmsprop", lr, alpha: p.alpha, eps: p.eps, weightDecay: p.weightDecay, momentum: p.momentum };
    }
  }
}

function checkLr(lr: unknown): LearningRate {
  if (isSchedule(lr)) return lr;
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
    throw new RangeError(`Invalid learning rate: ${typeof lr === "number" ? lr : describe(lr)}`);
  }
  return lr;
}

function nonNegative(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`Invalid ${what} value: ${typeof v === "number" ? v : describe(v)}`);
  }
  return v;
}

const SGD_OPTIONS = ["lr", "momentum", "dampening", "nesterov", "weightDecay"] as const;
const ADAM_OPTIONS = ["lr", "betas", "eps", "weightDecay"] as const;
const RMSPROP_OPTIONS = ["lr", "alpha", "eps", "weightDecay", "momentum"] as const;

/** Stochastic gradient descent, optionally with momentum (PyTorch's SGD). */
export function sgd(options: SgdOptions = {}): Optimizer {
  checkOptions(options, SGD_OPTIONS, "sgd");
  const lr = checkLr(options.lr ?? 0.01);
  const momentum = nonNegative("momentum", options.momentum ?? 0);
  const dampening = nonNegative("dampening", options.dampening ?? 0);
  const weightDecay = nonNegative("weightDecay", options.weightDecay ?? 0);
  const nesterov = options.nesterov ?? false;
  if (typeof nesterov !== "boolean") throw new TypeError(`Invalid nesterov value: expected a boolean but received ${describe(nesterov)}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new RangeError("Nesterov momentum requires a momentum > 0 and zero dampening");
  }
  return new Optimizer("sgd", lr, { kind: "sgd", momentum, dampening, nesterov, weightDecay });
}

function adamLike(name: "adam" | "adamw", options: AdamOptions, defaultDecay: number): Optimizer {
  checkOptions(options, ADAM_OPTIONS, name);
  const lr = checkLr(options.lr ?? 1e-3);
  const betas = options.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw new TypeError(`Invalid betas: expected [beta1, beta2] but received ${describe(betas)}`);
  }
  for (let i = 0; i < 2; i++) {
    const b = betas[i];
    if (typeof b !== "number" || !(b >= 0 && b < 1)) {
      throw new RangeError(`Invalid beta parameter at index ${i}: ${typeof b === "number" ? b : describe(b)}; expected a number in [0, 1)`);
    }
  }
  const eps = nonNegative("epsilon", options.eps ?? 1e-8);
  const weightDecay = nonNegative("weightDecay", options.weightDecay ?? defaultDecay);
  return new Optimizer(name, lr, { kind: name, beta1: betas[0], beta2: betas[1], eps, weightDecay });
}

/** Adam (PyTorch's Adam: weight decay is L2 added to the gradient). */
export function adam(options: AdamOptions = {}): Optimizer {
  return adamLike("adam", options, 0);
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch). */
export function adamw(options: AdamOptions = {}): Optimizer {
  return adamLike("adamw", options, 0.01);
}

/** RMSprop (PyTorch's, not centered). */
export function rmsprop(options: RmspropOptions = {}): Optimizer {
  checkOptions(options, RMSPROP_OPTIONS, "rmsprop");
  const lr = checkLr(options.lr ?? 0.01);
  const alpha = nonNegative("alpha", options.alpha ?? 0.99);
  if (alpha >= 1) throw new RangeError(`Invalid alpha value: ${alpha}; expected a number in [0, 1)`);
  const eps = nonNegative("epsilon", options.eps ?? 1e-8);
  const weightDecay = nonNegative("weightDecay", options.weightDecay ?? 0);
  const momentum = nonNegative("momentum", options.momentum ?? 0);
  return new Optimizer("rmsprop", lr, { kind: "rmsprop", alpha, eps, weightDecay, momentum });
}

/** An optimizer from a name (defaults), an object, or a config. */
export function resolveOptimizer(opt: unknown): Optimizer {
  if (opt instanceof Optimizer) return opt;
  if (typeof opt === "string") {
    switch (opt) {
      case "sgd":
        return sgd();
      case "adam":
        return adam();
      case "adamw":
        return adamw();
      case "rmsprop":
        return rmsprop();
    }
  } else if (opt !== null && typeof opt === "object" && typeof (opt as { name?: unknown }).name === "string") {
    return optimizerFromConfig(opt as OptimizerConfig);
  }
  throw new TypeError(
    `Invalid optimizer: expected one of ${OPTIMIZER_NAMES.map((s) => `"${s}"`).join(", ")} or an optimizer such as sgd({ lr: 0.01 }) but received ${describe(opt)}`,
  );
}

/** Rebuild an optimizer from `Optimizer.config()`. */
export function optimizerFromConfig(c: OptimizerConfig): Optimizer {
  // Everything but the name is the factory's options, so a key the factory does not know is an error.
  // A config without lr (e.g. { name: "adam" } written by hand) takes the factory's default.
  const { name: _name, lr: lrConfig, ...rest } = c;
  const options = lrConfig === undefined ? rest : { ...rest, lr: typeof lrConfig === "number" ? lrConfig : scheduleFromConfig(lrConfig) };
  switch (c.name) {
    case "sgd":
      return sgd(options);
    case "adam":
      return adam(options);
    case "adamw":
      return adamw(options);
    case "rmsprop":
      return rmsprop(options);
    default:
      throw new TypeError(`Unknown optimizer name: ${describe((c as { name?: unknown }).name)}`);
  }
}

export { stepDecay, exponentialDecay, cosineDecay, linearWarmup, type Schedule, type ScheduleConfig } from "./schedules.js";

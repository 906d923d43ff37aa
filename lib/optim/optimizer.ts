/**
 * What an optimizer is: a definition (one file per update rule: sgd.ts, adam.ts, rmsprop.ts,
 * adagrad.ts) and the `Optimizer` a user makes from it: the validated hyperparameters plus a
 * learning rate that is a number or a schedule.
 *
 * A definition holds everything about its rule, once: the options it takes and their PyTorch
 * defaults, their validation (PyTorch's messages, e.g. "Invalid learning rate: -1"), the state it
 * keeps per parameter (with PyTorch's names, for saved files), and the update itself, which is the
 * TypeScript reference the native twin (native/ops/optimizers.h, same code, same hyperparameter
 * order) is tested against. The TypeScript backend's `optimizerStep` kernel runs `update`; the
 * training plans carry only `{ kind, code, hyper }`.
 *
 * State layout: `slots` blocks of n values, slot s at state[s·n, (s+1)·n) (the model's state buffer
 * is slots blocks of P values).
 */
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { sharedFloat32 } from "../core/shared.js";
import { isSchedule, scheduleConfig, type Schedule, type ScheduleConfig } from "./schedules.js";

/** A fixed learning rate (a finite number >= 0) or a schedule giving one per step and epoch. */
export type LearningRate = number | Schedule;

/** Hyperparameters in the order the update (and the native addon) reads them. */
export type Hyper = ArrayLike<number>;

/**
 * One update rule, defined once (sgd.ts, adam.ts, ...): its options, PyTorch defaults and validation, its
 * state slots and its update; the TypeScript update is also the reference the native kernels are tested
 * against.
 */
export interface OptimizerDef {
  /** The name users and saved files use ("sgd", "adam", ...). */
  readonly name: string;
  /** The integer code the native addon uses (native/ops/optimizers.h). */
  readonly code: number;
  /** The hyperparameters after the learning rate, in update order (the native side's order too). */
  readonly hyper: readonly string[];
  /** Options the factory takes besides `lr`, in the order config() writes them. */
  readonly options: readonly string[];
  /**
   * The learning rate when `lr` is not given (PyTorch's: 1e-3 for Adam, 0.01 for SGD, RMSprop and
   * Adagrad).
   */
  readonly defaultLr: number;
  /** One line of help per option, for the CLI's flags (options without one are named only). */
  readonly help?: Readonly<Record<string, string>>;
  /** Validated hyperparameters from user options (lr excluded); throws PyTorch-style errors. */
  parse(options: Record<string, unknown>): number[];
  /** The JSON-able options that `parse` turns back into `hyper` (what config() stores). */
  toOptions(h: Hyper): Record<string, unknown>;
  /** State kept per parameter, by PyTorch's names (one slot per name). */
  slots(h: Hyper): readonly string[];
  /** Fill a fresh state buffer (n parameters per slot); zeros when absent. */
  initState?(state: Float32Array, n: number, h: Hyper): void;
  /**
   * One step over n parameters, in place: param, grad (n), state (slots·n). `step` is the 1-based
   * number of this update. Double precision per element, rounded to float32 when stored.
   */
  update(param: Float32Array, grad: Float32Array, state: Float32Array, n: number, lr: number, step: number, h: Hyper): void;
}

/** What a training plan carries of the optimizer. */
export interface PlanOptimizer {
  /** The rule's name ("sgd", "adam", ...). */
  kind: string;
  /** The rule's integer code in the native addon (OptimizerDef.code). */
  code: number;
  /** The validated hyperparameters, in the rule's `hyper` order (OptimizerDef.hyper). */
  hyper: number[];
}

/** An optimizer's JSON-able description: its name, learning rate and options. */
export type OptimizerConfig = { name: string; lr?: number | ScheduleConfig } & Record<string, unknown>;

/**
 * An optimizer as a model holds it: an update rule (`def`), its learning rate or schedule and its
 * validated hyperparameters. Made by sgd(), adam(), adamw(), rmsprop() or adagrad(), or named by a string
 * in compile(); the per-parameter state lives in the model (flat, one block per slot), so one Optimizer
 * can be given to one model.
 */
export class Optimizer {
  /** The update rule (name, options, state slots, update). */
  readonly def: OptimizerDef;
  /** The learning rate, or the schedule that gives it per step (default: the rule's `defaultLr`). */
  readonly lr: LearningRate;
  /** The validated hyperparameters, in `def.hyper` order. */
  readonly hyper: readonly number[];
  /** The plan's description of the update. */
  readonly plan: PlanOptimizer;

  constructor(def: OptimizerDef, options: Record<string, unknown>) {
    checkOptions(options, ["lr", ...def.options], def.name);
    this.def = def;
    this.lr = checkLr(options.lr ?? def.defaultLr);
    this.hyper = Object.freeze(def.parse(options));
    this.plan = { kind: def.name, code: def.code, hyper: [...this.hyper] };
  }

  /**
   * The rule's name as compile() and saved files spell it: "sgd", "adam", "adamw", "rmsprop" or "adagrad".
   */
  get name(): string {
    return this.def.name;
  }

  /** State slots per parameter (their PyTorch names). */
  slotNames(): readonly string[] {
    return this.def.slots(this.hyper);
  }

  /** A fresh state buffer for P parameters. */
  createState(P: number): Float32Array {
    const state = sharedFloat32(this.slotNames().length * P);
    this.def.initState?.(state, P, this.hyper);
    return state;
  }

  /** Learning rate of the update after `step` updates (0-based), in 0-based epoch `epoch`. */
  lrAt(step: number, epoch: number): number {
    return typeof this.lr === "number" ? this.lr : this.lr.lrAt(step, epoch);
  }

  /**
   * The JSON-able options (name, lr or its schedule's config, every hyperparameter) that
   * optimizerFromConfig turns back into an equal optimizer; saved in model.json.
   */
  config(): OptimizerConfig {
    const lr = typeof this.lr === "number" ? this.lr : scheduleConfig(this.lr);
    return { name: this.def.name, lr, ...this.def.toOptions(this.hyper) };
  }
}

function checkLr(lr: unknown): LearningRate {
  if (isSchedule(lr)) return lr;
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
    throw new RangeError(`Invalid learning rate: ${typeof lr === "number" ? lr : describe(lr)}`);
  }
  return lr;
}

/** A finite number >= 0 (PyTorch's "Invalid momentum value: -1"). */
export function nonNegative(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`Invalid ${what} value: ${typeof v === "number" ? v : describe(v)}`);
  }
  return v;
}

/** A number in [0, 1). */
export function unitInterval(what: string, v: unknown): number {
  if (typeof v !== "number" || !(v >= 0 && v < 1)) {
    throw new RangeError(`Invalid ${what}: ${typeof v === "number" ? v : describe(v)}; expected a number in [0, 1)`);
  }
  return v;
}

/** g = grad + wd·p, the L2 term every coupled weight decay adds (in double). */
export function decayed(grad: number, p: number, weightDecay: number): number {
  return grad + weightDecay * p;
}

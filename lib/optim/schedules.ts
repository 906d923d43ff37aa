/**
 * Learning-rate schedules. A schedule maps the 0-based global step (updates applied before this one)
 * and the 0-based epoch to a learning rate; the fit loop evaluates it for every step and hands the
 * plan one learning rate per step.
 *
 * - stepDecay({ initial, stepSize, gamma = 0.1, per = "epoch" }):
 *     initial * gamma^floor(t / stepSize), t the epoch (or step), as PyTorch's StepLR
 * - exponentialDecay({ initial, decayRate, decaySteps, staircase = false }):
 *     initial * decayRate^(step / decaySteps) (floored exponent when staircase), as Keras'
 * - cosineDecay({ initial, decaySteps, alpha = 0 }):
 *     initial * ((1 - alpha) * 0.5 (1 + cos(pi * min(step, decaySteps) / decaySteps)) + alpha), as Keras'
 * - linearWarmup(after, { warmupSteps, startFactor = 0 }):
 *     for step < warmupSteps: after(0) * (startFactor + (1 - startFactor) (step + 1) / warmupSteps);
 *     then after(step - warmupSteps): the wrapped schedule starts when warm-up ends.
 */
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";

/**
 * A built-in schedule as JSON (saved in model.json with the optimizer): its kind and its options with
 * defaults filled in; linearWarmup's `after` is the wrapped schedule's config or a fixed rate.
 */
export type ScheduleConfig =
  | { kind: "stepDecay"; initial: number; stepSize: number; gamma: number; per: "epoch" | "step" }
  | { kind: "exponentialDecay"; initial: number; decayRate: number; decaySteps: number; staircase: boolean }
  | { kind: "cosineDecay"; initial: number; decaySteps: number; alpha: number }
  | { kind: "linearWarmup"; warmupSteps: number; startFactor: number; after: ScheduleConfig | number };

/**
 * A learning-rate schedule: the rate for each update. Built-in ones come from stepDecay, exponentialDecay,
 * cosineDecay and linearWarmup; any object with `lrAt` works (but is not saved with the model unless it
 * has `config`).
 */
export interface Schedule {
  /** Learning rate for the update after `step` updates, in epoch `epoch` (both 0-based). */
  lrAt(step: number, epoch: number): number;
  /** A JSON-able description (built-in schedules only; custom ones may omit it and are not saved). */
  config?(): ScheduleConfig;
}

export function isSchedule(v: unknown): v is Schedule {
  return v !== null && typeof v === "object" && typeof (v as Schedule).lrAt === "function";
}

function positive(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`Invalid ${name}: ${describe(v)}; expected a finite number > 0`);
  }
  return v;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`Invalid ${name}: ${describe(v)}; expected an integer >= 1`);
  }
  return v;
}

function inUnit(name: string, v: unknown, closedTop: boolean): number {
  if (typeof v !== "number" || !(v >= 0 && (closedTop ? v <= 1 : v < 1))) {
    throw new RangeError(`Invalid ${name}: ${describe(v)}; expected a number in [0, 1${closedTop ? "]" : ")"}`);
  }
  return v;
}

/** Multiply the learning rate by `gamma` every `stepSize` epochs (or steps with per: "step"). */
export function stepDecay(options: { initial: number; stepSize: number; gamma?: number; per?: "epoch" | "step" }): Schedule {
  checkOptions(options, ["initial", "stepSize", "gamma", "per"], "stepDecay");
  const initial = positive("initial learning rate", options.initial);
  const stepSize = positiveInt("stepSize", options.stepSize);
  const gamma = positive("gamma", options.gamma ?? 0.1);
  const per = options.per ?? "epoch";
  if (per !== "epoch" && per !== "step") throw new TypeError(`Invalid per: ${describe(per)}; expected "epoch" or "step"`);
  return {
    lrAt: (step, epoch) => initial * gamma ** Math.floor((per === "epoch" ? epoch : step) / stepSize),
    config: () => ({ kind: "stepDecay", initial, stepSize, gamma, per }),
  };
}

/** initial * decayRate^(step / decaySteps), per step. */
export function exponentialDecay(options: {
  initial: number;
  decayRate: number;
  decaySteps: number;
  staircase?: boolean;
}): Schedule {
  checkOptions(options, ["initial", "decayRate", "decaySteps", "staircase"], "exponentialDecay");
  const initial = positive("initial learning rate", options.initial);
  const decayRate = positive("decayRate", options.decayRate);
  const decaySteps = positiveInt("decaySteps", options.decaySteps);
  const staircase = options.staircase ?? false;
  return {
    lrAt: (step) => initial * decayRate ** (staircase ? Math.floor(step / decaySteps) : step / decaySteps),
    config: () => ({ kind: "exponentialDecay", initial, decayRate, decaySteps, staircase }),
  };
}

/** Cosine from `initial` down to `alpha * initial` over `decaySteps` steps, then flat. */
export function cosineDecay(options: { initial: number; decaySteps: number; alpha?: number }): Schedule {
  checkOptions(options, ["initial", "decaySteps", "alpha"], "cosineDecay");
  const initial = positive("initial learning rate", options.initial);
  const decaySteps = positiveInt("decaySteps", options.decaySteps);
  const alpha = inUnit("alpha", options.alpha ?? 0, true);
  return {
    lrAt: (step) => {
      const c = 0.5 * (1 + Math.cos((Math.PI * Math.min(step, decaySteps)) / decaySteps));
      return initial * ((1 - alpha) * c + alpha);
    },
    config: () => ({ kind: "cosineDecay", initial, decaySteps, alpha }),
  };
}

/** Ramp linearly up to `after`'s first rate over `warmupSteps` steps, then follow `after`. */
export function linearWarmup(after: Schedule | number, options: { warmupSteps: number; startFactor?: number }): Schedule {
  checkOptions(options, ["warmupSteps", "startFactor"], "linearWarmup");
  const warmupSteps = positiveInt("warmupSteps", options.warmupSteps);
  const startFactor = inUnit("startFactor", options.startFactor ?? 0, false);
  const inner: Schedule = typeof after === "number" ? constant(positive("learning rate", after)) : checkSchedule(after);
  return {
    lrAt: (step, epoch) =>
      step < warmupSteps
        ? inner.lrAt(0, epoch) * (startFactor + ((1 - startFactor) * (step + 1)) / warmupSteps)
        : inner.lrAt(step - warmupSteps, epoch),
    config: () => ({
      kind: "linearWarmup",
      warmupSteps,
      startFactor,
      after: typeof after === "number" ? after : scheduleConfig(inner),
    }),
  };
}

function constant(lr: number): Schedule {
  return { lrAt: () => lr };
}

function checkSchedule(s: unknown): Schedule {
  if (!isSchedule(s)) throw new TypeError(`Expected a schedule (an object with lrAt(step, epoch)) but received ${describe(s)}`);
  return s;
}

/** A schedule's config; a custom schedule without config() cannot be saved. */
export function scheduleConfig(s: Schedule): ScheduleConfig {
  if (!s.config) throw new TypeError("This schedule has no config(): only built-in schedules can be saved");
  return s.config();
}

/** Rebuild a built-in schedule from its config. */
export function scheduleFromConfig(c: ScheduleConfig): Schedule {
  // Everything but kind (and linearWarmup's after) is the factory's options, so a key the factory
  // does not know is an error.
  switch (c?.kind) {
    case "stepDecay": {
      const { kind: _kind, ...options } = c;
      return stepDecay(options);
    }
    case "exponentialDecay": {
      const { kind: _kind, ...options } = c;
      return exponentialDecay(options);
    }
    case "cosineDecay": {
      const { kind: _kind, ...options } = c;
      return cosineDecay(options);
    }
    case "linearWarmup": {
      const { kind: _kind, after, ...options } = c;
      return linearWarmup(typeof after === "number" ? after : scheduleFromConfig(after), options);
    }
    default:
      throw new TypeError(`Unknown schedule kind: ${describe((c as { kind?: unknown })?.kind)}`);
  }
}

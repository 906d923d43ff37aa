/**
 * Optimizers, with PyTorch's defaults and semantics: the one list of them (`OPTIMIZERS`), and the
 * ways to name one (a factory call, a name, or a saved config). Each update rule is defined once,
 * in its own file (sgd.ts, adam.ts, rmsprop.ts, adagrad.ts), with its TypeScript reference math; the training
 * plan runs it over the model's one flat parameter buffer.
 *
 * Adding an optimizer: its file here, its entry below, and its native twin in
 * native/ops/optimizers.h (same code, same hyperparameter order).
 */
import { describe } from "../core/matrix.js";
import { ADAGRAD } from "./adagrad.js";
import { ADAM, ADAMW } from "./adam.js";
import { Optimizer, type OptimizerConfig, type OptimizerDef } from "./optimizer.js";
import { RMSPROP } from "./rmsprop.js";
import { scheduleFromConfig } from "./schedules.js";
import { SGD } from "./sgd.js";

/** Every optimizer, by name. */
export const OPTIMIZERS = { sgd: SGD, adam: ADAM, adamw: ADAMW, rmsprop: RMSPROP, adagrad: ADAGRAD } as const satisfies Record<string, OptimizerDef>;

/** A built-in optimizer's name, as compile({ optimizer }) and the CLI's --optimizer accept it. */
export type OptimizerName = keyof typeof OPTIMIZERS;
/** Every built-in optimizer's name: sgd, adam, adamw, rmsprop, adagrad. */
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

/**
 * The definitions by code: optimizerDef checks that what it found by name is one of them, which
 * refuses the names every object inherits ("toString", "__proto__", ...).
 */
const BY_CODE: OptimizerDef[] = [];
for (const def of Object.values(OPTIMIZERS)) BY_CODE[def.code] = def;

/**
 * The definition of `name`, or a TypeError listing the known names. The TypeScript optimizer kernel
 * looks one up on every step: a property read of the table plus an array read is a few nanoseconds,
 * a Map lookup or Object.hasOwn two to four times that.
 */
export function optimizerDef(name: string): OptimizerDef {
  const def = (OPTIMIZERS as Readonly<Record<string, OptimizerDef | undefined>>)[name];
  if (def === undefined || BY_CODE[def.code] !== def) {
    throw new TypeError(`Unknown optimizer name: ${describe(name)}; expected one of ${OPTIMIZER_NAMES.map((s) => `"${s}"`).join(", ")}`);
  }
  return def;
}

/** An optimizer from a name (defaults), an object, or a config. */
export function resolveOptimizer(opt: unknown): Optimizer {
  if (opt instanceof Optimizer) return opt;
  if (typeof opt === "string" && Object.hasOwn(OPTIMIZERS, opt)) return new Optimizer(optimizerDef(opt), {});
  if (opt !== null && typeof opt === "object" && typeof (opt as { name?: unknown }).name === "string") {
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
  const { name, lr: lrConfig, ...rest } = c;
  const options = lrConfig === undefined ? rest : { ...rest, lr: typeof lrConfig === "number" ? lrConfig : scheduleFromConfig(lrConfig) };
  return new Optimizer(optimizerDef(name), options);
}

export { Optimizer, type LearningRate, type OptimizerConfig, type OptimizerDef, type PlanOptimizer } from "./optimizer.js";
export { sgd, type SgdOptions } from "./sgd.js";
export { adam, adamw, type AdamOptions } from "./adam.js";
export { rmsprop, type RmspropOptions } from "./rmsprop.js";
export { adagrad, type AdagradOptions } from "./adagrad.js";
export { stepDecay, exponentialDecay, cosineDecay, linearWarmup, type Schedule, type ScheduleConfig } from "./schedules.js";

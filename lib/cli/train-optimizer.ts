/**
 * `blasnet train`'s optimizer and learning-rate flags: the optimizer and the schedule they describe,
 * and the errors for flags that belong to another optimizer or schedule.
 */
import { Optimizer, optimizerDef, OPTIMIZER_NAMES, OPTIMIZERS, type OptimizerName } from "../optim/index.js";
import { cosineDecay, exponentialDecay, linearWarmup, stepDecay, type Schedule } from "../optim/schedules.js";
import { UserError } from "./errors.js";

export const SCHEDULES = ["step", "exponential", "cosine"] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/** The flags of `blasnet train` that make its optimizer. */
export interface OptimizerFlags {
  optimizer: OptimizerName;
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  alpha?: number;
  schedule?: ScheduleName;
  stepSize?: number;
  gamma?: number;
  decayRate?: number;
  decaySteps?: number;
  minLrFactor?: number;
  warmupSteps?: number;
}

/** The optimizer options with a flag written out below (with its own help and parser). */
export const DOCUMENTED_OPTIMIZER_FLAGS = ["momentum", "dampening", "nesterov", "weightDecay", "betas", "eps", "alpha"];

/**
 * Each optimizer hyperparameter's flag, by the option name the optimizers take (OptimizerDef.options):
 * every registered optimizer's options, the flag named after the option (--lr-decay for lrDecay).
 */
export const OPTIMIZER_FLAGS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(OPTIMIZERS).flatMap((def) => def.options.map((o) => [o, o])),
);

export const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Which schedule each schedule flag belongs to. */
const SCHEDULE_FLAGS: Readonly<Record<string, { key: keyof OptimizerFlags; schedules: readonly ScheduleName[] }>> = {
  "--step-size": { key: "stepSize", schedules: ["step"] },
  "--gamma": { key: "gamma", schedules: ["step"] },
  "--decay-rate": { key: "decayRate", schedules: ["exponential"] },
  "--decay-steps": { key: "decaySteps", schedules: ["exponential", "cosine"] },
  "--min-lr-factor": { key: "minLrFactor", schedules: ["cosine"] },
};

/** The learning rate: a number, or the schedule the flags describe (`totalSteps` is cosine's default length). */
function learningRate(flags: OptimizerFlags, totalSteps: number): number | Schedule {
  for (const [flag, { key, schedules }] of Object.entries(SCHEDULE_FLAGS)) {
    if (flags[key] !== undefined && (!flags.schedule || !schedules.includes(flags.schedule))) {
      throw new UserError(`${flag} belongs to --schedule ${schedules.join(" or ")}${flags.schedule ? `, not ${flags.schedule}` : ""}; pass --schedule ${schedules[0]} or leave ${flag} out`);
    }
  }
  const initial = flags.lr;
  let lr: number | Schedule = initial;
  switch (flags.schedule) {
    case undefined:
      break;
    case "step":
      if (flags.stepSize === undefined) throw new UserError("--schedule step needs --step-size <epochs> (and optionally --gamma, default 0.1)");
      lr = stepDecay({ initial, stepSize: flags.stepSize, per: "epoch", ...(flags.gamma !== undefined ? { gamma: flags.gamma } : {}) });
      break;
    case "exponential":
      if (flags.decayRate === undefined || flags.decaySteps === undefined) throw new UserError("--schedule exponential needs --decay-rate <r> and --decay-steps <steps>");
      lr = exponentialDecay({ initial, decayRate: flags.decayRate, decaySteps: flags.decaySteps });
      break;
    case "cosine":
      lr = cosineDecay({ initial, decaySteps: flags.decaySteps ?? totalSteps, ...(flags.minLrFactor !== undefined ? { alpha: flags.minLrFactor } : {}) });
      break;
  }
  return flags.warmupSteps !== undefined ? linearWarmup(lr, { warmupSteps: flags.warmupSteps }) : lr;
}

/** The optimizer the flags describe; a hyperparameter flag the chosen optimizer does not take is an error. */
export function makeOptimizer(flags: OptimizerFlags, totalSteps: number): Optimizer {
  const def = optimizerDef(flags.optimizer);
  const options: Record<string, unknown> = { lr: learningRate(flags, totalSteps) };
  const given = flags as unknown as Record<string, unknown>;
  for (const [option, key] of Object.entries(OPTIMIZER_FLAGS)) {
    if (given[key] === undefined) continue;
    if (!def.options.includes(option)) {
      const takers = OPTIMIZER_NAMES.filter((n) => optimizerDef(n).options.includes(option));
      throw new UserError(`${flagName(option)} applies to --optimizer ${takers.join(" or ")}, not ${def.name}; leave it out or choose one of those`);
    }
    options[option] = given[key];
  }
  return new Optimizer(def, options);
}

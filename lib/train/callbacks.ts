/**
 * Training callbacks: plain objects with optional hooks, called by `fit` in this order:
 * onTrainBegin, then per epoch onEpochBegin, onBatchEnd for each step, onEpochEnd; then onTrainEnd
 * (not called when fit fails). Any hook may return a promise; fit awaits it. Set
 * `model.stopTraining = true` from a hook to end training: it takes effect after the current step
 * (TypeScript plans) or the current run of steps (the native fused plan, whose steps run in chunks
 * off the main thread), and at the latest at the end of the epoch.
 *
 * Epoch and step indices are 0-based (as in Keras); printed messages count from 1.
 */
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import type { TrainableModel } from "./model.js";
import { camelLogName } from "./keras-names.js";

/** Per-epoch logs: "loss", "valLoss", and each metric by name ("mae") and with "val" ("valMae"). */
export type EpochLogs = Record<string, number>;

/** What onBatchEnd receives about the step just taken. */
export interface BatchLogs {
  /** Mean loss of the step's batch. */
  loss: number;
  /** Rows in the batch (the last batch of an epoch may be smaller). */
  size: number;
  /** Learning rate used for the step. */
  lr: number;
}

/**
 * A training callback: an object with any of these hooks, given to fit({ callbacks }). Hooks may be async
 * (fit awaits them) and may set `model.stopTraining = true`; an unknown `on...` name is refused before
 * training, so a misspelled hook cannot silently never run. earlyStopping() and checkpoint() are
 * callbacks.
 */
export interface Callback {
  /** Before the first epoch (after fit has checked its data and options). */
  onTrainBegin?(model: TrainableModel): void | Promise<void>;
  /** Before each epoch; `epoch` is 0-based (counting from `initialEpoch` when resuming). */
  onEpochBegin?(epoch: number, model: TrainableModel): void | Promise<void>;
  /** `step` is the 0-based step within the epoch. */
  onBatchEnd?(step: number, logs: BatchLogs, model: TrainableModel): void | Promise<void>;
  /**
   * After each epoch, with its logs: "loss", "valLoss" with validation data, and each metric ("accuracy",
   * "valAccuracy", ...).
   */
  onEpochEnd?(epoch: number, logs: EpochLogs, model: TrainableModel): void | Promise<void>;
  /** After the last epoch (or the one training stopped in), with fit's History; not called when fit fails. */
  onTrainEnd?(history: unknown, model: TrainableModel): void | Promise<void>;
}

/** The hooks fit calls, in the order of a run. */
const CALLBACK_HOOKS = ["onTrainBegin", "onEpochBegin", "onBatchEnd", "onEpochEnd", "onTrainEnd"] as const;

/**
 * Check a callback object before training: a misspelled hook (`onEpochEnded`, another library's
 * `onBatchBegin`) would otherwise never run, silently. Any `on` + capital name, own or inherited, must
 * be one of CALLBACK_HOOKS, and a hook that is set must be a function. Other members (a callback's
 * own state) are free.
 */
export function checkCallback(c: object, index: number): void {
  const known: readonly string[] = CALLBACK_HOOKS;
  for (let o: object | null = c; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (!/^on[A-Z]/.test(key)) continue;
      if (!known.includes(key)) {
        throw new TypeError(`Unknown callback hook "${key}" in callbacks[${index}]; fit calls ${known.join(", ")}`);
      }
      const v = (c as Record<string, unknown>)[key];
      if (v !== undefined && typeof v !== "function") {
        throw new TypeError(`Invalid callbacks[${index}].${key}: expected a function but received ${describe(v)}`);
      }
    }
  }
}

/** Options of earlyStopping(); names and defaults are Keras' EarlyStopping. */
export interface EarlyStoppingOptions {
  /**
   * Log to watch: "valLoss" (default; falls back to "loss" without validation data), "loss",
   * "valAccuracy", ...; Keras' snake_case names ("val_loss") are accepted for the same logs.
   */
  monitor?: string;
  /** Stop after this many consecutive epochs without improvement (0 acts like 1). Default 0. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** "min" or "max"; default "auto": max for accuracy and r2, min otherwise. */
  mode?: "auto" | "min" | "max";
  /** At the end of training, put back the weights of the best epoch. Default false. */
  restoreBestWeights?: boolean;
}

/** What an `earlyStopping` callback found; read it after fit. */
export interface EarlyStopping extends Callback {
  /** 0-based epoch with the best monitored value, or -1 before any epoch ended. */
  readonly bestEpoch: number;
  /** The best value of the monitored log so far (NaN before any epoch ended). */
  readonly best: number;
  /** 0-based epoch after which training was stopped, or -1 if it ran to the end. */
  readonly stoppedEpoch: number;
  /** The monitored log actually used. */
  readonly monitored: string;
}

/** Stop when the monitored log has not improved for `patience` epochs; optionally restore the best weights. */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  checkOptions(options, ["monitor", "patience", "minDelta", "mode", "restoreBestWeights"], "earlyStopping");
  const { patience = 0, minDelta = 0, mode = "auto", restoreBestWeights = false } = options;
  if (typeof options.monitor !== "string" && options.monitor !== undefined) throw new TypeError(`Invalid monitor: ${JSON.stringify(options.monitor)}; expected a log name such as "valLoss"`);
  if (options.monitor === "") throw new TypeError(`Invalid monitor: ""; expected a log name such as "valLoss"`);
  // Keras' names ("val_loss", "val_accuracy") are the same logs as blasnet's "valLoss", "valAccuracy".
  const monitor = camelLogName(options.monitor ?? "valLoss");
  if (!Number.isInteger(patience) || patience < 0) throw new RangeError(`Invalid patience: ${patience}; expected an integer >= 0`);
  if (!Number.isFinite(minDelta) || minDelta < 0) throw new RangeError(`Invalid minDelta: ${minDelta}; expected a finite number >= 0`);
  if (mode !== "auto" && mode !== "min" && mode !== "max") throw new TypeError(`Invalid mode: ${JSON.stringify(mode)}; expected "auto", "min" or "max"`);

  let monitored = monitor;
  let wait = 0;
  let bestWeights: Float32Array | null = null;
  const state = { bestEpoch: -1, best: NaN, stoppedEpoch: -1 };
  const maximize = (): boolean => (mode === "auto" ? /accuracy|r2/i.test(monitored) : mode === "max");

  return {
    get bestEpoch() {
      return state.bestEpoch;
    },
    get best() {
      return state.best;
    },
    get stoppedEpoch() {
      return state.stoppedEpoch;
    },
    get monitored() {
      return monitored;
    },
    onTrainBegin() {
      wait = 0;
      bestWeights = null;
      state.bestEpoch = -1;
      state.best = NaN;
      state.stoppedEpoch = -1;
      monitored = monitor;
    },
    onEpochEnd(epoch, logs, model) {
      if (!(monitored in logs)) {
        // Without validation data there is no valLoss (or valAccuracy...): watch the training value.
        const fallback = monitored.startsWith("val") ? monitored.charAt(3).toLowerCase() + monitored.slice(4) : "";
        if (fallback in logs) monitored = fallback;
        else throw new RangeError(`earlyStopping monitors "${monitor}" but the epoch logs only have ${Object.keys(logs).map((k) => `"${k}"`).join(", ")}`);
      }
      const v = logs[monitored]!;
      const better = state.bestEpoch < 0 || (maximize() ? v > state.best + minDelta : v < state.best - minDelta);
      if (better) {
        state.best = v;
        state.bestEpoch = epoch;
        wait = 0;
        if (restoreBestWeights) {
          bestWeights ??= new Float32Array(model.params.length);
          bestWeights.set(model.params);
        }
        return;
      }
      wait++;
      if (wait >= patience) {
        state.stoppedEpoch = epoch;
        model.stopTraining = true;
      }
    },
    onTrainEnd(_history, model) {
      // Written in place: the params buffer is shared with the training plans.
      if (restoreBestWeights && bestWeights) model.params.set(bestWeights);
    },
  };
}

/**
 * fit's options and its result: what `Sequential.fit` accepts, the checks every option gets before
 * any data is read, and the History it returns.
 */
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import type { Loss } from "../losses/index.js";
import type { Optimizer } from "../optim/index.js";
import { checkCallback, type Callback } from "./callbacks.js";
import { metricTask } from "./evaluate.js";
import type { FeaturesInput, TargetsInput } from "./data.js";
import { checkMetrics, type MetricName } from "./metrics.js";
import type { TrainableModel } from "./model.js";
import type { Verbosity } from "./progress.js";
import type { ClassWeightInput, SampleWeightInput } from "./sample-weights.js";

/**
 * Options of model.fit (Keras' names, camelCase); unknown keys are refused, Keras' snake_case ones with
 * the blasnet name.
 */
export interface FitOptions {
  /** Epochs to train (the index of the last epoch + 1 when resuming with initialEpoch). Default 1. */
  epochs?: number;
  /** Rows per step. Default 32. A batch size above N trains on all N rows each step. */
  batchSize?: number;
  /** Shuffle the rows each epoch. Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default: the model's seed. */
  seed?: number;
  /** Fraction in (0, 1) of rows, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
  /** Validation data, as [x, y] or { x, y }. Takes precedence over validationSplit. */
  validationData?: readonly [FeaturesInput, TargetsInput] | { x: FeaturesInput; y: TargetsInput };
  /** Metrics computed each epoch on the training data (after the epoch) and the validation data. */
  metrics?: MetricName[];
  /** Objects whose hooks fit calls during training (see Callback), e.g. earlyStopping() and checkpoint(). */
  callbacks?: Callback[];
  /** 0 silent, 1 progress bar on a TTY (one line per epoch otherwise), 2 one line per epoch. Default 1. */
  verbose?: Verbosity;
  /** 0-based epoch to start from (resuming a checkpoint). Default 0. */
  initialEpoch?: number;
  /** Where progress goes. Default process.stderr. */
  progressStream?: NodeJS.WritableStream;
  /**
   * Per-row loss weights (N, finite, >= 0), Keras' sample_weight: a batch's loss is
   * sum_i w_i loss_i / batchRows. validationSplit's rows keep theirs for the validation loss.
   */
  sampleWeight?: SampleWeightInput;
  /** Weights by class index for classifiers (`{ 0: 1, 1: 5 }`), Keras' class_weight; multiplies sampleWeight. */
  classWeight?: ClassWeightInput;
}

/** What fit returns: per-epoch losses and metrics, one entry per epoch trained. */
export interface History {
  /** 0-based epoch indices trained. */
  epochs: number[];
  /** Mean training loss of each epoch (step losses weighted by batch rows). */
  loss: number[];
  /** Mean validation loss of each epoch; present with validationData or validationSplit. */
  valLoss?: number[];
  /** Training metrics by name, one value per epoch. */
  metrics: Record<string, number[]>;
  /** Validation metrics by name, one value per epoch; present with validation data. */
  valMetrics?: Record<string, number[]>;
  /** ceil(N / batchSize): optimizer updates per epoch. */
  stepsPerEpoch: number;
  /**
   * The same values as Keras' `History.history`: { loss, accuracy, val_loss, val_accuracy, ... }
   * (not enumerable, so JSON.stringify(history) leaves it out).
   */
  readonly history: Record<string, number[]>;
}

const FIT_OPTIONS = [
  "epochs",
  "batchSize",
  "shuffle",
  "seed",
  "validationSplit",
  "validationData",
  "metrics",
  "callbacks",
  "verbose",
  "initialEpoch",
  "progressStream",
  "sampleWeight",
  "classWeight",
] as const satisfies readonly (keyof FitOptions)[];

/** fit's options, checked, with their defaults filled in. */
export interface FitSettings {
  epochs: number;
  initialEpoch: number;
  /** As asked; fit trains with min(batchSize, rows). */
  batchSize: number;
  shuffle: boolean;
  seed: number;
  verbose: Verbosity;
  callbacks: Callback[];
  metrics: MetricName[];
  validationSplit: number | undefined;
}

function checkInt(name: string, v: unknown, min: number, hint: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`Invalid ${name}: ${typeof v === "number" ? v : describe(v)}; expected an integer >= ${min}${hint}`);
  }
  return v;
}

/** Check every option of fit (but the data), and that the model is compiled. */
export function fitSettings(options: FitOptions, model: TrainableModel): FitSettings & { loss: Loss; optimizer: Optimizer } {
  checkOptions(options, FIT_OPTIONS, "fit");
  const { loss, optimizer } = model;
  if (!loss || !optimizer) throw new Error("The model must be compiled before fit: call model.compile({ loss, optimizer }) first");
  const epochs = checkInt("epochs", options.epochs ?? 1, 1, " (the number of passes over the data)");
  const initialEpoch = checkInt("initialEpoch", options.initialEpoch ?? 0, 0, "");
  if (initialEpoch >= epochs) {
    throw new RangeError(`Invalid initialEpoch: ${initialEpoch}; it must be below epochs (${epochs}): epochs counts from 0, including the epochs already trained`);
  }
  const batchSize = checkInt("batchSize", options.batchSize ?? 32, 1, " (rows per training step)");
  const shuffle = options.shuffle ?? true;
  if (typeof shuffle !== "boolean") throw new TypeError(`Invalid shuffle: expected a boolean but received ${describe(shuffle)}`);
  const seed = options.seed ?? model.seed;
  if (typeof seed !== "number" || !Number.isInteger(seed)) throw new TypeError(`Invalid seed: expected an integer but received ${describe(seed)}`);
  const verbose = options.verbose ?? 1;
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new RangeError(`Invalid verbose: ${describe(verbose)}; expected 0, 1 or 2`);
  const callbacks = options.callbacks ?? [];
  if (!Array.isArray(callbacks) || callbacks.some((c) => c === null || typeof c !== "object")) {
    throw new TypeError(`Invalid callbacks: expected an array of callback objects but received ${describe(callbacks)}`);
  }
  callbacks.forEach((c, i) => checkCallback(c, i));
  const metrics = checkMetrics(options.metrics, metricTask(loss), model.outputSize);
  const split = options.validationSplit;
  if (split !== undefined && (typeof split !== "number" || !(split > 0 && split < 1))) {
    throw new RangeError(`Invalid validationSplit: ${describe(split)}; expected a fraction in (0, 1), e.g. 0.2 to hold out the last 20% of rows`);
  }
  return { loss, optimizer, epochs, initialEpoch, batchSize, shuffle, seed, verbose, callbacks, metrics, validationSplit: split };
}

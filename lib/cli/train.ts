/**
 * `blasnet train data.csv --target y ...`: read a CSV, build a fully connected network, train it
 * with a progress display, print per-epoch lines and final metrics, draw the loss curve in the
 * terminal, and save the model (model.json + model.safetensors), the loss curve (loss.svg) and the
 * history (history.json) into --out.
 */
import { access, constants } from "node:fs/promises";
import { atomicWriteFile, makeDirectory } from "../io/atomic-write.js";
import { join } from "node:path";
import type { Command } from "commander";
import { Matrix } from "../core/matrix.js";
import { Rng } from "../core/rng.js";
import { nameList, quoted, readCsv, standardization, type CsvDataset } from "../data/csv.js";
import { earlyStopping, type Callback } from "../train/callbacks.js";
import { checkpoint } from "../io/checkpoint.js";
import { loadModelWithManifest, saveModel, type DataInfo, type ModelManifest } from "../io/model-file.js";
import { dense, dropout, type ActivationName, type Layer } from "../nn/layers.js";
import { Sequential } from "../nn/sequential.js";
import { LOSS_NAMES, type LossName } from "../losses/index.js";
import { optimizerDef, OPTIMIZER_NAMES } from "../optim/index.js";
import { ACTIVATION_NAMES } from "../ops/activations.js";
import { METRIC_NAMES, type MetricName } from "../train/metrics.js";
import { oneOf, parseFraction, parseInteger, parseList, parseNonNegativeNumber, parsePair, parsePositiveNumber, parseSizes, UserError, userInput, userInputAsync } from "./errors.js";
import { DOCUMENTED_OPTIMIZER_FLAGS, flagName, makeOptimizer, OPTIMIZER_FLAGS, SCHEDULES, type OptimizerFlags } from "./train-optimizer.js";
import { addCsvReadingOptions, binaryTargets, csvReading, describeReading, type CsvReadingFlags, type SplitFile } from "./model-data.js";

export { OPTIMIZER_FLAGS } from "./train-optimizer.js";

/** The hidden activations the CLI offers: every element-wise activation, relu first (the default). */
const ACTIVATIONS: readonly ActivationName[] = ["relu", ...ACTIVATION_NAMES.filter((a) => a !== "relu")];

export interface TrainFlags extends CsvReadingFlags, OptimizerFlags {
  target: string[];
  features?: string[];
  ignore?: string[];
  hidden: number[];
  activation: ActivationName;
  loss?: LossName;
  epochs: number;
  batch: number;
  val: number;
  seed: number;
  out: string;
  standardize: boolean;
  checkpointEvery?: number;
  resume?: string;
  saveOptimizer?: boolean;
  plot: boolean;
  verbose: 0 | 1 | 2;
  patience?: number;
  monitor?: string;
  minDelta?: number;
  restoreBest: boolean;
  dropout?: number;
  metrics?: string[];
  clipNorm?: number;
  clipValue?: number;
  saveSplit: boolean;
}

/**
 * A note when a numeric target looks like class labels: a few distinct integer values. Training
 * it as a regression is a choice the user should see, with the flag that changes it.
 */
function classLabelHint(data: CsvDataset): string | null {
  if (!data.y || data.y.cols !== 1) return null;
  const distinct = new Set<number>();
  for (const v of data.y.data) {
    if (!Number.isInteger(v)) return null;
    distinct.add(v);
    if (distinct.size > 10) return null;
  }
  if (distinct.size < 2 || distinct.size > data.y.rows / 2) return null;
  const values = [...distinct].sort((a, b) => a - b);
  const binary = values.length === 2 && values[0] === 0 && values[1] === 1;
  return (
    `note: target "${data.targetNames[0]}" has only ${values.length} distinct integer values (${values.join(", ")}), so it may be class labels; ` +
    `training a regression (mse). For classes pass --loss crossEntropy${binary ? " (or binaryCrossEntropy)" : ""}.`
  );
}

/** Take rows `idx` of a matrix. */
function rowsOf(m: Matrix, idx: Int32Array): Matrix {
  const out = Matrix.zeros(idx.length, m.cols);
  for (let i = 0; i < idx.length; i++) out.data.set(m.row(idx[i]!), i * m.cols);
  return out;
}

export async function runTrain(file: string, flags: TrainFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const say = (s: string): void => void out.write(s + "\n");
  // Resuming: the checkpoint fixes the architecture, loss, optimizer, columns, standardization and seed.
  let resumed: { model: Sequential; manifest: ModelManifest } | null = null;
  if (flags.resume) {
    resumed = await loadModelWithManifest(flags.resume);
    if (!resumed.manifest.trainingState) {
      throw new UserError(`${flags.resume}: not a checkpoint (no optimizer state); use a <out>/checkpoint directory written with --checkpoint-every, or a model saved with --save-optimizer`);
    }
    if (resumed.model.epoch >= flags.epochs) {
      throw new UserError(`${flags.resume} has already trained ${resumed.model.epoch} epochs: pass --epochs above ${resumed.model.epoch} (the total, counting those)`);
    }
  }
  const saved = resumed?.manifest.data;
  const reading = csvReading(flags);
  const requestedLoss = resumed?.model.loss?.name ?? flags.loss;
  // Classification when asked for (crossEntropy; binaryCrossEntropy on a text column) or when the target is not numeric.
  const data: CsvDataset = await readCsv(
    file,
    resumed
      ? {
          ...reading,
          target: saved?.targetNames ?? flags.target,
          ...(saved?.featureNames ? { features: saved.featureNames } : {}),
          ...(saved?.classNames ? { classNames: saved.classNames } : { categorical: false }),
        }
      : {
          ...reading,
          target: flags.target,
          ...(flags.features ? { features: flags.features } : {}),
          ...(flags.ignore ? { ignore: flags.ignore } : {}),
          categorical: flags.loss === "crossEntropy" ? true : flags.loss === undefined || flags.loss === "binaryCrossEntropy" ? "auto" : false,
        },
  );
  const classes = data.classNames;
  const loss: LossName = requestedLoss ?? (classes ? "crossEntropy" : "mse");
  const seed = resumed ? resumed.model.seed : flags.seed;
  // binaryCrossEntropy on a two-class label column: one output, the probability of the second class.
  const binaryClasses = loss === "binaryCrossEntropy" && classes !== null;
  if (binaryClasses && classes.length !== 2) {
    throw new UserError(`${file}: binaryCrossEntropy needs a target with two classes, but ${quoted(data.targetNames[0]!)} has ${classes.length} (${nameList(classes, 5)}); use --loss crossEntropy`);
  }
  if (classes && !binaryClasses && loss !== "crossEntropy") {
    throw new UserError(`${file}: target ${quoted(data.targetNames.join(","))} holds class labels (${nameList(classes, 5)}); use --loss crossEntropy (the default for such a target) or, for two classes, binaryCrossEntropy, not ${loss}`);
  }
  if (classes && classes.length > Math.max(50, data.x.rows / 2)) {
    process.stderr.write(`blasnet: warning: target "${flags.target[0]}" has ${classes.length} distinct values in ${data.x.rows} rows; is it really a class label? (omit --loss crossEntropy for regression)\n`);
  }
  if (classes && classes.length < 2) throw new UserError(`${file}: target "${flags.target[0]}" has a single class (${classes[0]}); classification needs at least two`);
  if (binaryClasses) data.y = binaryTargets(data.labels!);
  if (loss === "binaryCrossEntropy") {
    const bad = data.y!.data.findIndex((v) => v !== 0 && v !== 1);
    if (bad >= 0) {
      const row = Math.floor(bad / data.y!.cols);
      throw new UserError(`${file}:${data.lines[row]}: binaryCrossEntropy needs 0/1 targets but found ${data.y!.data[bad]}`);
    }
  }

  // Seeded shuffle, then the last --val fraction is held out; statistics come from the training rows only.
  const n = data.x.rows;
  const order = new Int32Array(n).map((_, i) => i);
  new Rng(seed).shuffle(order);
  const nVal = Math.floor(n * flags.val);
  if (flags.val > 0 && (nVal < 1 || n - nVal < 1)) {
    throw new UserError(`--val ${flags.val} of ${n} rows leaves ${n - nVal} for training and ${nVal} for validation: both need at least one row`);
  }
  const trainIdx = order.subarray(0, n - nVal);
  const valIdx = order.subarray(n - nVal);
  // Classification trains on class indices: the one-hot matrix is not gathered.
  const indexTargets = classes !== null && !binaryClasses;
  const targetsOf = (idx: Int32Array): Matrix | Int32Array => (indexTargets ? Int32Array.from(idx, (i) => data.labels![i]!) : rowsOf(data.y!, idx));
  const xTrain = rowsOf(data.x, trainIdx);
  const yTrain = targetsOf(trainIdx);
  const xVal = nVal > 0 ? rowsOf(data.x, valIdx) : null;
  const yVal = nVal > 0 ? targetsOf(valIdx) : null;

  const outputs = indexTargets ? classes.length : data.y!.cols;
  const stepsPerEpoch = Math.ceil((n - nVal) / flags.batch);
  const model = resumed?.model ?? userInput("model", () => {
    const hidden: Layer[] = [];
    for (const units of flags.hidden) {
      hidden.push(dense(units, { activation: flags.activation }));
      if (flags.dropout) hidden.push(dropout(flags.dropout));
    }
    const m = new Sequential([...hidden, dense(outputs)], { inputSize: data.featureNames.length, seed: flags.seed });
    m.compile({
      loss,
      optimizer: makeOptimizer(flags, flags.epochs * stepsPerEpoch),
      ...(flags.clipNorm !== undefined ? { clipNorm: flags.clipNorm } : {}),
      ...(flags.clipValue !== undefined ? { clipValue: flags.clipValue } : {}),
    });
    return m;
  });
  if (flags.standardize && !resumed) {
    // Targets are standardized for regression only (class labels and 0/1 targets stay as they are).
    const regression = loss === "mse" || loss === "mae" || loss === "huber";
    model.setNormalization(standardization({ x: xTrain, y: regression ? (yTrain as Matrix) : null }));
  }
  const metrics: MetricName[] = flags.metrics ? (flags.metrics as MetricName[]) : loss === "crossEntropy" || loss === "binaryCrossEntropy" ? ["accuracy"] : ["mae", "r2"];
  const info: DataInfo = { featureNames: data.featureNames, targetNames: data.targetNames, ...(classes ? { classNames: classes } : {}) };

  say(
    `blasnet train: ${n} rows from ${file} (${n - nVal} training, ${nVal} validation), ${data.featureNames.length} features -> ` +
      (binaryClasses ? `2 classes (${classes[0]}, ${classes[1]}; one output: the probability of ${classes[1]})` : classes ? `${classes.length} classes` : `${outputs} target${outputs > 1 ? "s" : ""}`) +
      `; ${loss}, ${model.optimizer!.name}${typeof model.optimizer!.lr === "number" ? ` lr ${model.optimizer!.lr}` : ""}, ${model.parameterCount().toLocaleString("en-US")} parameters` +
      (resumed ? `; resuming from ${flags.resume} after epoch ${model.epoch}` : ""),
  );
  for (const line of describeReading(data)) say(line);
  const hint = !requestedLoss && !resumed ? classLabelHint(data) : null;
  if (hint) say(hint);
  // The output directory must be writable before training starts, not after: a bad --out would
  // otherwise throw the trained model away.
  await makeDirectory(flags.out);
  await access(flags.out, constants.W_OK);
  const callbacks: Callback[] = flags.checkpointEvery ? [checkpoint({ dir: join(flags.out, "checkpoint"), every: flags.checkpointEvery, data: info })] : [];
  const stopper =
    flags.patience !== undefined
      ? userInput("--monitor", () =>
          earlyStopping({
            patience: flags.patience!,
            restoreBestWeights: flags.restoreBest,
            ...(flags.monitor ? { monitor: flags.monitor } : {}),
            ...(flags.minDelta !== undefined ? { minDelta: flags.minDelta } : {}),
          }),
        )
      : null;
  if (stopper) callbacks.push(stopper);
  else if (flags.monitor !== undefined || flags.minDelta !== undefined) throw new UserError("--monitor and --min-delta belong to early stopping: pass --patience <epochs> as well");
  const history = await userInputAsync("fit", () =>
    model.fit(xTrain, yTrain, {
      epochs: flags.epochs,
      initialEpoch: model.epoch,
      batchSize: flags.batch,
      seed,
      metrics,
      verbose: flags.verbose,
      callbacks,
      ...(xVal && yVal ? { validationData: [xVal, yVal] as const } : {}),
    }),
  ).catch((e: Error) => {
    if (/^Training stopped: the loss became/.test(e.message)) throw new UserError(e.message);
    throw e;
  });

  await saveModel(model, flags.out, { data: info, includeOptimizer: flags.saveOptimizer === true });
  // Every output file is replaced atomically: never half-written, never written through a planted link.
  await atomicWriteFile(join(flags.out, "history.json"), JSON.stringify(history, null, 2) + "\n");
  // The held-out rows, as 0-based data rows of the file, for `evaluate --rows validation`.
  const splitSaved = nVal > 0 && flags.saveSplit;
  if (splitSaved) await writeSplit(flags.out, file, n, trainIdx, valIdx);

  const last = history.loss.length - 1;
  const fmt = (v: number | undefined): string => (v === undefined ? "-" : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(4) : v.toFixed(4));
  // The names of the epoch logs (and of fit's history): loss, accuracy, valLoss, valAccuracy.
  const parts = [`loss ${fmt(history.loss[last])}`];
  for (const m of metrics) parts.push(`${m} ${fmt(history.metrics[m]?.[last])}`);
  if (history.valLoss) {
    parts.push(`valLoss ${fmt(history.valLoss[last])}`);
    for (const m of metrics) parts.push(`${valName(m)} ${fmt(history.valMetrics?.[m]?.[last])}`);
  }
  say(`final (epoch ${history.epochs[last]! + 1}): ${parts.join(", ")}`);
  if (stopper && stopper.stoppedEpoch >= 0) {
    say(
      `early stopping: ${stopper.monitored} did not improve for ${flags.patience} epoch(s) after epoch ${stopper.bestEpoch + 1} (${fmt(stopper.best)})` +
        (flags.restoreBest ? `; the saved model has that epoch's weights` : ""),
    );
  }
  if (flags.plot) {
    // Loaded only here: the other commands do not draw.
    const { asciiLossChart, lossCurveSvg } = await import("./plot.js");
    say(asciiLossChart({ loss: history.loss, valLoss: history.valLoss }, { color: (out as { isTTY?: boolean }).isTTY === true }));
    const svg = await lossCurveSvg({ loss: history.loss, valLoss: history.valLoss, epochs: history.epochs.map((e) => e + 1) }, `blasnet: ${file}`);
    await atomicWriteFile(join(flags.out, "loss.svg"), svg);
  }
  say(`saved model to ${join(flags.out, "/")} (model.json, model.safetensors${flags.plot ? ", loss.svg" : ""}, history.json${splitSaved ? ", split.json" : ""})`);
}

/** A metric's validation log name: "accuracy" -> "valAccuracy" (as fit names it). */
function valName(m: string): string {
  return `val${m.charAt(0).toUpperCase()}${m.slice(1)}`;
}

async function writeSplit(dir: string, file: string, rows: number, trainIdx: Int32Array, valIdx: Int32Array): Promise<void> {
  const sorted = (idx: Int32Array): number[] => Array.from(idx).sort((a, b) => a - b);
  const split: SplitFile = { data: file, rows, training: sorted(trainIdx), validation: sorted(valIdx) };
  await atomicWriteFile(join(dir, "split.json"), JSON.stringify(split) + "\n");
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a fully connected network on a CSV file (header row, numeric features)")
    .argument("<data.csv>", "training data")
    .requiredOption("-t, --target <columns>", "target column(s), comma-separated, by name or position (-1: the last column); a non-numeric column is a class label", parseList)
    .option("--features <columns>", "feature columns in order (default: every other column)", parseList)
    .option("--ignore <columns>", "columns to leave out (e.g. an id)", parseList)
    .option("--hidden <sizes>", 'hidden layer sizes, e.g. "64,64" ("none" for a linear model)', parseSizes, [64, 64])
    .option("--activation <name>", `hidden activation: ${ACTIVATIONS.join(", ")}`, oneOf(ACTIVATIONS), "relu")
    .option("--dropout <rate>", "dropout after each hidden layer, e.g. 0.2", parseFraction)
    .option("--loss <name>", `${LOSS_NAMES.join(", ")} (default: crossEntropy for a class-label target, else mse)`, oneOf(LOSS_NAMES))
    .option("--optimizer <name>", OPTIMIZER_NAMES.join(", "), oneOf(OPTIMIZER_NAMES), "adam")
    .option("--lr <rate>", "learning rate (the initial one, with --schedule)", parsePositiveNumber, 1e-3)
    .option("--momentum <m>", "momentum (sgd, rmsprop)", parseNonNegativeNumber)
    .option("--dampening <d>", "momentum dampening (sgd)", parseNonNegativeNumber)
    .option("--nesterov", "Nesterov momentum (sgd, with --momentum)")
    .option("--weight-decay <wd>", "weight decay (L2 for sgd, adam, rmsprop; decoupled for adamw, default 0.01)", parseNonNegativeNumber)
    .option("--betas <b1,b2>", "Adam's betas, e.g. 0.9,0.999 (adam, adamw)", parsePair)
    .option("--eps <eps>", "epsilon added to the denominator (adam, adamw, rmsprop)", parseNonNegativeNumber)
    .option("--alpha <a>", "smoothing constant (rmsprop)", parseNonNegativeNumber)
    .option("--schedule <name>", `learning-rate schedule: ${SCHEDULES.join(", ")}`, oneOf(SCHEDULES))
    .option("--step-size <epochs>", "step schedule: multiply the rate by --gamma every this many epochs", parseInteger(1))
    .option("--gamma <g>", "step schedule: the factor (default 0.1)", parsePositiveNumber)
    .option("--decay-rate <r>", "exponential schedule: lr * r^(step / --decay-steps)", parsePositiveNumber)
    .option("--decay-steps <steps>", "exponential and cosine schedules: length in steps (cosine default: the whole run)", parseInteger(1))
    .option("--min-lr-factor <f>", "cosine schedule: end at this fraction of --lr (default 0)", parseFraction)
    .option("--warmup-steps <steps>", "ramp the rate up linearly over this many steps first", parseInteger(1))
    .option("--clip-norm <n>", "clip the gradient's global L2 norm to n", parsePositiveNumber)
    .option("--clip-value <v>", "clip each gradient value to [-v, v]", parsePositiveNumber)
    .option("--epochs <n>", "epochs", parseInteger(1, 1e7), 50)
    .option("--batch <n>", "batch size", parseInteger(1), 32)
    .option("--val <fraction>", "fraction of rows held out for validation (after a seeded shuffle)", parseFraction, 0)
    .option("--no-save-split", "do not write <out>/split.json (the held-out rows, for evaluate --rows validation)")
    .option("--patience <epochs>", "early stopping: stop when --monitor has not improved for this many epochs", parseInteger(0))
    .option("--monitor <log>", "early stopping: the log to watch (default valLoss, or loss without --val)")
    .option("--min-delta <d>", "early stopping: the smallest change that counts as an improvement", parseNonNegativeNumber)
    .option("--no-restore-best", "early stopping: keep the last epoch's weights instead of the best epoch's")
    .option("--metrics <names>", `metrics reported each epoch: ${METRIC_NAMES.join(", ")} (default: accuracy for classifiers, mae,r2 otherwise)`, parseList)
    .option("--seed <n>", "seed for weights, shuffling and the split", parseInteger(-(2 ** 31), 2 ** 31 - 1), 0)
    .option("-o, --out <dir>", "directory to save the model into", "model")
    .option("--no-standardize", "do not standardize features (and regression targets)")
    .option("--checkpoint-every <k>", "save a checkpoint (with optimizer state) to <out>/checkpoint every k epochs", parseInteger(1))
    .option("--resume <checkpoint-dir>", "continue a run from its checkpoint (same data, --batch and --val; --epochs is the total)")
    .option("--save-optimizer", "save the optimizer state with the final model (to continue training later)")
    .option("--no-plot", "skip the terminal chart and loss.svg")
    .option("--verbose <level>", "0 quiet, 1 progress bar on a terminal (else one line per epoch), 2 one line per epoch", parseInteger(0, 2), 1);
  // Every other registered optimizer option gets a flag too, with the help its definition gives.
  for (const option of Object.keys(OPTIMIZER_FLAGS)) {
    if (DOCUMENTED_OPTIMIZER_FLAGS.includes(option)) continue;
    const takers = OPTIMIZER_NAMES.filter((n) => optimizerDef(n).options.includes(option));
    const help = optimizerDef(takers[0]!).help?.[option] ?? option;
    cmd.option(`${flagName(option)} <value>`, `${help} (${takers.join(", ")})`, parseNonNegativeNumber);
  }
  addCsvReadingOptions(cmd)
    .addHelpText("after", "\nExample:\n  blasnet train data.csv --target y --hidden 64,64 --activation relu --loss mse --optimizer adam \\\n    --lr 1e-3 --epochs 50 --batch 32 --val 0.2 --out model/")
    .action(async (file: string, flags: TrainFlags) => {
      await runTrain(file, flags);
    });
}

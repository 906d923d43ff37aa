/**
 * `blasnet train data.csv --target y ...`: read a CSV, build a fully connected network, train it
 * with a progress display, print per-epoch lines and final metrics, draw the loss curve in the
 * terminal, and save the model (model.json + model.safetensors), the loss curve (loss.svg) and the
 * history (history.json) into --out.
 */
import { access, constants, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { Matrix } from "../core/matrix.js";
import { Rng } from "../core/rng.js";
import { readCsv, standardization, type CsvDataset } from "../data/csv.js";
import { checkpoint } from "../io/checkpoint.js";
import { loadModelWithManifest, saveModel, type DataInfo, type ModelManifest } from "../io/model-file.js";
import { dense, type ActivationName } from "../nn/layers.js";
import { Sequential } from "../nn/sequential.js";
import { LOSS_NAMES, type LossName } from "../losses/index.js";
import { Optimizer, optimizerDef, OPTIMIZER_NAMES, type OptimizerName } from "../optim/index.js";
import { ACTIVATION_NAMES } from "../ops/activations.js";
import type { MetricName } from "../train/metrics.js";
import { oneOf, parseFraction, parseInteger, parseList, parsePositiveNumber, parseSizes, UserError, userInput, userInputAsync } from "./errors.js";

/** The hidden activations the CLI offers: every element-wise activation, relu first (the default). */
const ACTIVATIONS: readonly ActivationName[] = ["relu", ...ACTIVATION_NAMES.filter((a) => a !== "relu")];

export interface TrainFlags {
  target: string[];
  features?: string[];
  ignore?: string[];
  hidden: number[];
  activation: ActivationName;
  loss?: LossName;
  optimizer: OptimizerName;
  lr: number;
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
}

/** The optimizer with its PyTorch defaults and the given learning rate. */
function makeOptimizer(name: OptimizerName, lr: number): Optimizer {
  return new Optimizer(optimizerDef(name), { lr });
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
  // Classification when asked for (crossEntropy) or when the target is not numeric.
  const data: CsvDataset = await readCsv(
    file,
    resumed
      ? {
          target: saved?.targetNames ?? flags.target,
          ...(saved?.featureNames ? { features: saved.featureNames } : {}),
          ...(saved?.classNames ? { classNames: saved.classNames } : { categorical: false }),
        }
      : {
          target: flags.target,
          ...(flags.features ? { features: flags.features } : {}),
          ...(flags.ignore ? { ignore: flags.ignore } : {}),
          categorical: flags.loss === "crossEntropy" ? true : flags.loss === undefined ? "auto" : false,
        },
  );
  const classes = data.classNames;
  const loss: LossName = resumed?.model.loss?.name ?? flags.loss ?? (classes ? "crossEntropy" : "mse");
  const seed = resumed ? resumed.model.seed : flags.seed;
  if (classes && loss !== "crossEntropy") {
    throw new UserError(`${file}: target "${flags.target.join(",")}" holds class labels (${classes.slice(0, 5).join(", ")}${classes.length > 5 ? ", ..." : ""}); use --loss crossEntropy (the default for such a target), not ${loss}`);
  }
  if (classes && classes.length > Math.max(50, data.x.rows / 2)) {
    process.stderr.write(`blasnet: warning: target "${flags.target[0]}" has ${classes.length} distinct values in ${data.x.rows} rows; is it really a class label? (omit --loss crossEntropy for regression)\n`);
  }
  if (classes && classes.length < 2) throw new UserError(`${file}: target "${flags.target[0]}" has a single class (${classes[0]}); classification needs at least two`);
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
  const targetsOf = (idx: Int32Array): Matrix | Int32Array => (classes ? Int32Array.from(idx, (i) => data.labels![i]!) : rowsOf(data.y!, idx));
  const xTrain = rowsOf(data.x, trainIdx);
  const yTrain = targetsOf(trainIdx);
  const xVal = nVal > 0 ? rowsOf(data.x, valIdx) : null;
  const yVal = nVal > 0 ? targetsOf(valIdx) : null;

  const outputs = classes ? classes.length : data.y!.cols;
  const model = resumed?.model ?? userInput("model", () => {
    const m = new Sequential(
      [...flags.hidden.map((units) => dense(units, { activation: flags.activation })), dense(outputs)],
      { inputSize: data.featureNames.length, seed: flags.seed },
    );
    m.compile({ loss, optimizer: makeOptimizer(flags.optimizer, flags.lr) });
    return m;
  });
  if (flags.standardize && !resumed) {
    // Targets are standardized for regression only (class labels and 0/1 targets stay as they are).
    const regression = loss === "mse" || loss === "mae" || loss === "huber";
    model.setNormalization(standardization({ x: xTrain, y: regression ? (yTrain as Matrix) : null }));
  }
  const metrics: MetricName[] = loss === "crossEntropy" || loss === "binaryCrossEntropy" ? ["accuracy"] : ["mae", "r2"];
  const info: DataInfo = { featureNames: data.featureNames, targetNames: data.targetNames, ...(classes ? { classNames: classes } : {}) };

  say(
    `blasnet train: ${n} rows from ${file} (${n - nVal} training, ${nVal} validation), ${data.featureNames.length} features -> ` +
      (classes ? `${classes.length} classes` : `${outputs} target${outputs > 1 ? "s" : ""}`) +
      `; ${loss}, ${model.optimizer!.name}${typeof model.optimizer!.lr === "number" ? ` lr ${model.optimizer!.lr}` : ""}, ${model.parameterCount().toLocaleString("en-US")} parameters` +
      (resumed ? `; resuming from ${flags.resume} after epoch ${model.epoch}` : ""),
  );
  // The output directory must be writable before training starts, not after: a bad --out would
  // otherwise throw the trained model away.
  await mkdir(flags.out, { recursive: true });
  await access(flags.out, constants.W_OK);
  const callbacks = flags.checkpointEvery ? [checkpoint({ dir: join(flags.out, "checkpoint"), every: flags.checkpointEvery, data: info })] : [];
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
  await writeFile(join(flags.out, "history.json"), JSON.stringify(history, null, 2) + "\n");

  const last = history.loss.length - 1;
  const fmt = (v: number | undefined): string => (v === undefined ? "-" : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(4) : v.toFixed(4));
  const parts = [`loss ${fmt(history.loss[last])}`];
  for (const m of metrics) parts.push(`${m} ${fmt(history.metrics[m]?.[last])}`);
  if (history.valLoss) {
    parts.push(`valLoss ${fmt(history.valLoss[last])}`);
    for (const m of metrics) parts.push(`val ${m} ${fmt(history.valMetrics?.[m]?.[last])}`);
  }
  say(`final (epoch ${history.epochs[last]! + 1}): ${parts.join(", ")}`);
  if (flags.plot) {
    // Loaded only here: vega is large, and the other commands do not need it.
    const { asciiLossChart, lossCurveSvg } = await import("./plot.js");
    say(asciiLossChart({ loss: history.loss, valLoss: history.valLoss }, { color: (out as { isTTY?: boolean }).isTTY === true }));
    const svg = await lossCurveSvg({ loss: history.loss, valLoss: history.valLoss, epochs: history.epochs.map((e) => e + 1) }, `blasnet: ${file}`);
    await writeFile(join(flags.out, "loss.svg"), svg);
  }
  say(`saved model to ${join(flags.out, "/")} (model.json, model.safetensors${flags.plot ? ", loss.svg" : ""}, history.json)`);
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("train a fully connected network on a CSV file (header row, numeric features)")
    .argument("<data.csv>", "training data")
    .requiredOption("-t, --target <columns>", "target column(s), comma-separated; a non-numeric column is a class label", parseList)
    .option("--features <columns>", "feature columns in order (default: every other column)", parseList)
    .option("--ignore <columns>", "columns to leave out (e.g. an id)", parseList)
    .option("--hidden <sizes>", 'hidden layer sizes, e.g. "64,64" ("none" for a linear model)', parseSizes, [64, 64])
    .option("--activation <name>", `hidden activation: ${ACTIVATIONS.join(", ")}`, oneOf(ACTIVATIONS), "relu")
    .option("--loss <name>", `${LOSS_NAMES.join(", ")} (default: crossEntropy for a class-label target, else mse)`, oneOf(LOSS_NAMES))
    .option("--optimizer <name>", OPTIMIZER_NAMES.join(", "), oneOf(OPTIMIZER_NAMES), "adam")
    .option("--lr <rate>", "learning rate", parsePositiveNumber, 1e-3)
    .option("--epochs <n>", "epochs", parseInteger(1, 1e7), 50)
    .option("--batch <n>", "batch size", parseInteger(1), 32)
    .option("--val <fraction>", "fraction of rows held out for validation (after a seeded shuffle)", parseFraction, 0)
    .option("--seed <n>", "seed for weights, shuffling and the split", parseInteger(-(2 ** 31), 2 ** 31 - 1), 0)
    .option("-o, --out <dir>", "directory to save the model into", "model")
    .option("--no-standardize", "do not standardize features (and regression targets)")
    .option("--checkpoint-every <k>", "save a checkpoint (with optimizer state) to <out>/checkpoint every k epochs", parseInteger(1))
    .option("--resume <checkpoint-dir>", "continue a run from its checkpoint (same data, --batch and --val; --epochs is the total)")
    .option("--save-optimizer", "save the optimizer state with the final model (to continue training later)")
    .option("--no-plot", "skip the terminal chart and loss.svg")
    .option("--verbose <level>", "0 quiet, 1 progress bar on a terminal (else one line per epoch), 2 one line per epoch", parseInteger(0, 2), 1)
    .addHelpText("after", "\nExample:\n  blasnet train data.csv --target y --hidden 64,64 --activation relu --loss mse --optimizer adam \\\n    --lr 1e-3 --epochs 50 --batch 32 --val 0.2 --out model/")
    .action(async (file: string, flags: TrainFlags) => {
      await runTrain(file, flags);
    });
}

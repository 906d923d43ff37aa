/**
 * Fashion-MNIST: 60,000 28x28 grey images of clothes in 10 classes, read from the IDX files (gzip) of
 * the Debian package dataset-fashion-mnist.
 *
 * Model: 784 → 256 relu → 128 relu → 10, loss crossEntropy (softmax fused) on integer labels, Adam
 * with learning rate 1e-3, batch 128, 10 epochs, pixels scaled to [0, 1]. After every epoch the model
 * is evaluated on the 10,000 test images. The example fails (exit code 1) below 88% test accuracy.
 *
 * Run: npx tsx examples/fashion-mnist.ts [--quick] [--epochs N] [--seed N] [--init glorotUniform]
 *      [--train-limit N] [--test-limit N] [--min-accuracy 0.88] [--batch-size N] [--lr X]
 */
import { pathToFileURL } from "node:url";
import { adam, backendInfo, dense, INITIALIZERS, Sequential, type BackendName, type BackendInfo, type Initializer } from "../lib/index.js";
import type { Backend } from "../lib/backend/backend.js";
import { nativeBackendIfAvailable, nativeUnavailableReason } from "../lib/backend/index.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { FASHION_MNIST_CLASSES, loadFashionMnist } from "../lib/data/fashion-mnist.js";

export interface FashionMnistOptions {
  /** The fast form (for tests): 2,000 training images, 2,000 test images, 1 epoch, pass at 60%. */
  quick?: boolean;
  /** Default 10 (1 quick). */
  epochs?: number;
  /** Default 128. */
  batchSize?: number;
  /** Adam's learning rate. Default 1e-3. */
  lr?: number;
  /** Seed of the initial weights and the shuffles. Default 0. */
  seed?: number;
  /** Train on the first n images. Default all 60,000 (2,000 quick). */
  trainLimit?: number;
  /** Test on the first n images. Default all 10,000 (2,000 quick). */
  testLimit?: number;
  /** Final test accuracy needed to pass. Default 0.88 (0.6 quick). */
  minAccuracy?: number;
  /** Weight initializer of every layer. Default: the library's (He uniform before ReLU, Glorot uniform otherwise). */
  init?: Initializer;
  /** Backend to train on ("native" or "js"). Default: the library's choice (native when it loads). */
  backend?: BackendName;
  /** Directory of the IDX files. Default: see loadFashionMnist. */
  dir?: string;
  /** Where the report goes (default console.log); `null` for silence. */
  log?: ((line: string) => void) | null;
}

export interface FashionMnistEpoch {
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  testLoss: number;
  testAccuracy: number;
  /** Seconds of training in this epoch (the test evaluation excluded). */
  trainSeconds: number;
}

export interface FashionMnistResult {
  epochs: FashionMnistEpoch[];
  finalAccuracy: number;
  /** Correct / total per class on the test images, after training. */
  perClassAccuracy: number[];
  trainCount: number;
  testCount: number;
  /** Seconds spent in fit (training and the per-epoch test evaluations). */
  fitSeconds: number;
  /** Of which training only. */
  trainSeconds: number;
  /** Training images processed per second of training. */
  samplesPerSecond: number;
  loadSeconds: number;
  backend: string;
  threads: number;
  params: number;
  minAccuracy: number;
  passed: boolean;
}

/** Load, train, evaluate after every epoch, report. Never exits the process: see `passed`. */
export async function runFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnistResult> {
  const quick = options.quick ?? false;
  const epochs = options.epochs ?? (quick ? 1 : 10);
  const batchSize = options.batchSize ?? 128;
  const lr = options.lr ?? 1e-3;
  const seed = options.seed ?? 0;
  const minAccuracy = options.minAccuracy ?? (quick ? 0.6 : 0.88);
  const log = options.log === undefined ? (line: string) => console.log(line) : (options.log ?? (() => {}));

  const init = options.init !== undefined ? { init: options.init } : {};
  const backend = options.backend ? resolveBackend(options.backend) : undefined;

  const tLoad = performance.now();
  const data = await loadFashionMnist({
    ...(options.dir !== undefined ? { dir: options.dir } : {}),
    ...(options.trainLimit !== undefined || quick ? { trainLimit: options.trainLimit ?? 2000 } : {}),
    ...(options.testLimit !== undefined || quick ? { testLimit: options.testLimit ?? 2000 } : {}),
  });
  const loadSeconds = (performance.now() - tLoad) / 1000;
  const { train, test } = data;

  const model = new Sequential(
    [
      dense(256, { activation: "relu", ...init }),
      dense(128, { activation: "relu", ...init }),
      dense(10, { ...init }),
    ],
    { inputSize: 784, seed, ...(backend ? { backend } : {}) },
  );
  model.compile({ loss: "crossEntropy", optimizer: adam({ lr }) });
  const info: BackendInfo = backend ? backend.info() : backendInfo();
  log(
    `Fashion-MNIST from ${data.dir}: ${train.labels.length.toLocaleString("en-US")} training and ${test.labels.length.toLocaleString("en-US")} test images ` +
      `(read and decompressed in ${loadSeconds.toFixed(1)} s).`,
  );
  log(
    `Model 784 → 256 relu → 128 relu → 10 (${model.parameterCount().toLocaleString("en-US")} parameters), crossEntropy, Adam lr ${lr}, ` +
      `batch ${batchSize} (${Math.ceil(train.labels.length / batchSize)} updates per epoch), ${epochs} epoch${epochs === 1 ? "" : "s"}, seed ${seed}; ` +
      `${info.backend} backend, ${info.threads} thread${info.threads === 1 ? "" : "s"}, BLAS: ${info.blas}.`,
  );

  const rows: FashionMnistEpoch[] = [];
  let epochStart = 0;
  let evalSeconds = 0;
  const tFit = performance.now();
  await model.fit(train.images, train.labels, {
    epochs,
    batchSize,
    shuffle: true,
    seed,
    verbose: 0,
    callbacks: [
      {
        onEpochBegin: () => {
          epochStart = performance.now();
        },
        onEpochEnd: async (epoch, logs, m) => {
          const trainSeconds = (performance.now() - epochStart) / 1000;
          const tEval = performance.now();
          const r = await m.evaluate(test.images, test.labels, { metrics: ["accuracy"], batchSize: 1000 });
          evalSeconds += (performance.now() - tEval) / 1000;
          const row: FashionMnistEpoch = {
            epoch: epoch + 1,
            loss: logs["loss"]!,
            testLoss: r.loss,
            testAccuracy: r["accuracy"]!,
            trainSeconds,
          };
          rows.push(row);
          log(
            `epoch ${String(row.epoch).padStart(2)}/${epochs}  train loss ${row.loss.toFixed(4)}  test loss ${row.testLoss.toFixed(4)}  ` +
              `test accuracy ${(100 * row.testAccuracy).toFixed(2)}%  (${trainSeconds.toFixed(1)} s, ` +
              `${Math.round(train.labels.length / trainSeconds).toLocaleString("en-US")} images/s)`,
          );
        },
      },
    ],
  });
  const fitSeconds = (performance.now() - tFit) / 1000;
  const trainSeconds = fitSeconds - evalSeconds;

  const predicted = model.predictClasses(test.images, { batchSize: 1000 });
  const correct = new Array<number>(10).fill(0);
  const total = new Array<number>(10).fill(0);
  for (let i = 0; i < predicted.length; i++) {
    const c = test.labels[i]!;
    total[c]!++;
    if (predicted[i] === c) correct[c]!++;
  }
  const perClassAccuracy = correct.map((k, c) => (total[c]! > 0 ? k / total[c]! : NaN));
  const finalAccuracy = rows.at(-1)!.testAccuracy;
  const passed = finalAccuracy >= minAccuracy;
  const samplesPerSecond = (train.labels.length * epochs) / trainSeconds;

  log(
    `Per class: ` +
      FASHION_MNIST_CLASSES.map((name, c) => `${name} ${Number.isNaN(perClassAccuracy[c]!) ? "-" : (100 * perClassAccuracy[c]!).toFixed(1) + "%"}`).join(", "),
  );
  log(
    `Total: ${fitSeconds.toFixed(1)} s in fit (${trainSeconds.toFixed(1)} s training at ${Math.round(samplesPerSecond).toLocaleString("en-US")} images/s, ` +
      `${evalSeconds.toFixed(1)} s evaluating the test set after each epoch).`,
  );
  log(
    `Final test accuracy ${(100 * finalAccuracy).toFixed(2)}%: ${passed ? "passes" : "FAILS"} the ${(100 * minAccuracy).toFixed(1)}% bar.`,
  );
  model.dispose();
  return {
    epochs: rows,
    finalAccuracy,
    perClassAccuracy,
    trainCount: train.labels.length,
    testCount: test.labels.length,
    fitSeconds,
    trainSeconds,
    samplesPerSecond,
    loadSeconds,
    backend: info.backend,
    threads: info.threads,
    params: model.parameterCount(),
    minAccuracy,
    passed,
  };
}

/** The Backend object for "native" or "js", leaving the library's global choice alone. */
export function resolveBackend(name: BackendName): Backend {
  if (name === "js") return createTsBackend();
  if (name === "native") {
    const b = nativeBackendIfAvailable();
    if (!b) throw new Error(`The native backend was requested but cannot be used.\n${nativeUnavailableReason()}`);
    return b;
  }
  throw new TypeError(`Invalid backend ${JSON.stringify(name)}; expected "native" or "js"`);
}

function parseArgs(argv: readonly string[]): FashionMnistOptions {
  const options: FashionMnistOptions = {};
  const numeric: Record<string, (v: number) => void> = {
    "--epochs": (v) => (options.epochs = v),
    "--seed": (v) => (options.seed = v),
    "--batch-size": (v) => (options.batchSize = v),
    "--lr": (v) => (options.lr = v),
    "--train-limit": (v) => (options.trainLimit = v),
    "--test-limit": (v) => (options.testLimit = v),
    "--min-accuracy": (v) => (options.minAccuracy = v),
  };
  const inits: readonly string[] = INITIALIZERS;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") options.quick = true;
    else if (a === "--init") {
      const v = argv[++i] ?? "";
      if (!inits.includes(v)) throw new Error(`Expected one of ${inits.join(", ")} after --init but received ${JSON.stringify(v)}`);
      options.init = v as Initializer;
    } else if (a in numeric) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`Expected a number after ${a} but received ${JSON.stringify(argv[i])}`);
      numeric[a]!(v);
    } else {
      throw new Error(`Unknown argument ${JSON.stringify(a)}; expected --quick, --init NAME, or one of ${Object.keys(numeric).join(", ")} followed by a number`);
    }
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFashionMnist(parseArgs(process.argv.slice(2))).then(
    (r) => {
      if (!r.passed) process.exitCode = 1;
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exitCode = 1;
    },
  );
}

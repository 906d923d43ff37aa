/**
 * Fashion-MNIST with a convolutional network, beside the fully connected one of fashion-mnist.ts.
 *
 * Model (the lecture's small CNN): conv 1→32 3x3 pad 1 relu, maxpool 2 → conv 32→64 3x3 pad 1 relu,
 * maxpool 2 → flatten (64·7·7 = 3136) → dense 128 relu → dense 10; loss crossEntropy (softmax fused)
 * on integer labels, Adam with learning rate 1e-3, batch 64, 5 epochs, pixels scaled to [0, 1]
 * (/255), seed 0. Images go in as (N, 1, 28, 28). After every epoch the model is evaluated on the
 * 10,000 test images. Then the MLP (examples/fashion-mnist.ts, its own defaults) trains on the same
 * data, and both are printed side by side with their parameter counts: the CNN has more parameters
 * than the MLP only because of its first dense layer, and most of its arithmetic is in the
 * convolutions, which share a few thousand weights across every position of the image.
 *
 * The example fails (exit code 1) below 91% test accuracy for the CNN.
 *
 * Run: npx tsx examples/fashion-mnist-cnn.ts [--demo] [--quick] [--epochs N] [--mlp-epochs N (0: no MLP)]
 *      [--seed N] [--train-limit N] [--test-limit N] [--min-accuracy 0.91] [--batch-size N] [--lr X]
 */
import { pathToFileURL } from "node:url";
import { adam, backendInfo, conv2d, dense, flatten, maxPool2d, Sequential, type BackendName, type BackendInfo } from "../lib/index.js";
import type { Backend } from "../lib/backend/backend.js";
import { loadFashionMnist } from "../lib/data/fashion-mnist.js";
import { resolveBackend, runFashionMnist, type FashionMnistResult } from "./fashion-mnist.js";

export interface FashionMnistCnnOptions {
  /** The fast form (for tests): 2,000 training images, 1,000 test images, 1 epoch each, pass at 50%. */
  quick?: boolean;
  /** The demo's form (`npm run demo`): all the data, 1 CNN epoch, 3 MLP epochs, pass at 85% (one epoch reaches 87.6%). */
  demo?: boolean;
  /** CNN epochs. Default 5 (1 quick or demo). */
  epochs?: number;
  /** MLP epochs for the comparison; 0 leaves the MLP out. Default 10, the MLP example's own (1 quick, 3 demo). */
  mlpEpochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** Adam's learning rate. Default 1e-3. */
  lr?: number;
  /** Seed of the initial weights and the shuffles. Default 0. */
  seed?: number;
  /** Train on the first n images. Default all 60,000 (2,000 quick). */
  trainLimit?: number;
  /** Test on the first n images. Default all 10,000 (1,000 quick). */
  testLimit?: number;
  /** The CNN's final test accuracy needed to pass. Default 0.91 (0.5 quick, 0.85 demo). */
  minAccuracy?: number;
  /** Backend to train on ("native" or "js"). Default: the library's choice (native when it loads). */
  backend?: BackendName;
  /** Directory of the IDX files. Default: see loadFashionMnist. */
  dir?: string;
  /** Where the report goes (default console.log); `null` for silence. */
  log?: ((line: string) => void) | null;
}

export interface CnnEpoch {
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  testLoss: number;
  testAccuracy: number;
  /** Seconds of training in this epoch (the test evaluation excluded). */
  trainSeconds: number;
}

export interface FashionMnistCnnResult {
  epochs: CnnEpoch[];
  finalAccuracy: number;
  trainCount: number;
  testCount: number;
  /** Seconds of training (the per-epoch test evaluations excluded). */
  trainSeconds: number;
  /** Training images processed per second of training. */
  samplesPerSecond: number;
  params: number;
  /** The layers' output shapes and parameters, as `model.summary()` prints them. */
  summary: string;
  backend: string;
  threads: number;
  minAccuracy: number;
  passed: boolean;
  /** The MLP's run on the same data (null with mlpEpochs 0). */
  mlp: FashionMnistResult | null;
}

/** The CNN of the file comment. */
export function fashionMnistCnn(options: { seed?: number; backend?: Backend } = {}): Sequential {
  return new Sequential(
    [
      conv2d(32, 3, { padding: 1, activation: "relu" }),
      maxPool2d(2),
      conv2d(64, 3, { padding: 1, activation: "relu" }),
      maxPool2d(2),
      flatten(),
      dense(128, { activation: "relu" }),
      dense(10),
    ],
    { inputShape: [1, 28, 28], seed: options.seed ?? 0, ...(options.backend ? { backend: options.backend } : {}) },
  );
}

/** Load, train the CNN (evaluating after every epoch), train the MLP, report both. Never exits the process: see `passed`. */
export async function runFashionMnistCnn(options: FashionMnistCnnOptions = {}): Promise<FashionMnistCnnResult> {
  const quick = options.quick ?? false;
  const demo = options.demo ?? false;
  const epochs = options.epochs ?? (quick || demo ? 1 : 5);
  const mlpEpochs = options.mlpEpochs ?? (quick ? 1 : demo ? 3 : 10);
  const batchSize = options.batchSize ?? 64;
  const lr = options.lr ?? 1e-3;
  const seed = options.seed ?? 0;
  const minAccuracy = options.minAccuracy ?? (quick ? 0.5 : demo ? 0.85 : 0.91);
  const trainLimit = options.trainLimit ?? (quick ? 2000 : undefined);
  const testLimit = options.testLimit ?? (quick ? 1000 : undefined);
  const log = options.log === undefined ? (line: string) => console.log(line) : (options.log ?? (() => {}));
  const backend = options.backend ? resolveBackend(options.backend) : undefined;

  const tLoad = performance.now();
  const data = await loadFashionMnist({
    layout: "nchw",
    ...(options.dir !== undefined ? { dir: options.dir } : {}),
    ...(trainLimit !== undefined ? { trainLimit } : {}),
    ...(testLimit !== undefined ? { testLimit } : {}),
  });
  const loadSeconds = (performance.now() - tLoad) / 1000;
  const { train, test } = data;
  const n = train.labels.length;

  const model = fashionMnistCnn({ seed, ...(backend ? { backend } : {}) });
  model.compile({ loss: "crossEntropy", optimizer: adam({ lr }) });
  const info: BackendInfo = backend ? backend.info() : backendInfo();
  const summary = model.summary({ print: false });
  log(
    `Fashion-MNIST from ${data.dir}: ${n.toLocaleString("en-US")} training and ${test.labels.length.toLocaleString("en-US")} test images ` +
      `as (N, 1, 28, 28), pixels / 255 (read in ${loadSeconds.toFixed(1)} s).`,
  );
  log(summary);
  log(
    `CNN: crossEntropy, Adam lr ${lr}, batch ${batchSize} (${Math.ceil(n / batchSize)} updates per epoch), ${epochs} epoch${epochs === 1 ? "" : "s"}, seed ${seed}; ` +
      `${info.backend} backend, ${info.threads} thread${info.threads === 1 ? "" : "s"}, BLAS: ${info.blas}.`,
  );

  const rows: CnnEpoch[] = [];
  let epochStart = 0;
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
          const r = await m.evaluate(test.images, test.labels, { metrics: ["accuracy"], batchSize: 500 });
          const row: CnnEpoch = { epoch: epoch + 1, loss: logs["loss"]!, testLoss: r.loss, testAccuracy: r["accuracy"]!, trainSeconds };
          rows.push(row);
          log(
            `epoch ${String(row.epoch).padStart(2)}/${epochs}  train loss ${row.loss.toFixed(4)}  test loss ${row.testLoss.toFixed(4)}  ` +
              `test accuracy ${(100 * row.testAccuracy).toFixed(2)}%  (${trainSeconds.toFixed(1)} s, ${Math.round(n / trainSeconds).toLocaleString("en-US")} images/s)`,
          );
        },
      },
    ],
  });
  const trainSeconds = rows.reduce((s, r) => s + r.trainSeconds, 0);
  const finalAccuracy = rows.at(-1)!.testAccuracy;
  const params = model.parameterCount();
  model.dispose();

  let mlp: FashionMnistResult | null = null;
  if (mlpEpochs > 0) {
    log(`The MLP of examples/fashion-mnist.ts on the same images (${mlpEpochs} epoch${mlpEpochs === 1 ? "" : "s"})...`);
    mlp = await runFashionMnist({
      epochs: mlpEpochs,
      seed,
      minAccuracy: 0,
      log: null,
      ...(options.backend ? { backend: options.backend } : {}),
      ...(options.dir !== undefined ? { dir: options.dir } : {}),
      ...(trainLimit !== undefined ? { trainLimit } : {}),
      ...(testLimit !== undefined ? { testLimit } : {}),
    });
  }

  const passed = finalAccuracy >= minAccuracy;
  const result: FashionMnistCnnResult = {
    epochs: rows,
    finalAccuracy,
    trainCount: n,
    testCount: test.labels.length,
    trainSeconds,
    samplesPerSecond: (n * epochs) / trainSeconds,
    params,
    summary,
    backend: info.backend,
    threads: info.threads,
    minAccuracy,
    passed,
    mlp,
  };
  for (const line of comparison(result)) log(line);
  log(`CNN test accuracy ${(100 * finalAccuracy).toFixed(2)}%: ${passed ? "passes" : "FAILS"} the ${(100 * minAccuracy).toFixed(1)}% bar.`);
  return result;
}

/** The two models side by side: parameters, epochs, test accuracy, training time and speed. */
export function comparison(r: FashionMnistCnnResult): string[] {
  const rows: string[][] = [["model", "parameters", "epochs", "test accuracy", "training", "images/s"]];
  const add = (name: string, params: number, epochs: number, acc: number, seconds: number, perSecond: number): void => {
    rows.push([name, params.toLocaleString("en-US"), String(epochs), `${(100 * acc).toFixed(2)}%`, `${seconds.toFixed(1)} s`, Math.round(perSecond).toLocaleString("en-US")]);
  };
  if (r.mlp) add("MLP 784 → 256 → 128 → 10", r.mlp.params, r.mlp.epochs.length, r.mlp.finalAccuracy, r.mlp.trainSeconds, r.mlp.samplesPerSecond);
  add("CNN conv32 → conv64 → 128 → 10", r.params, r.epochs.length, r.finalAccuracy, r.trainSeconds, r.samplesPerSecond);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
}

function parseArgs(argv: readonly string[]): FashionMnistCnnOptions {
  const options: FashionMnistCnnOptions = {};
  const numeric: Record<string, (v: number) => void> = {
    "--epochs": (v) => (options.epochs = v),
    "--mlp-epochs": (v) => (options.mlpEpochs = v),
    "--seed": (v) => (options.seed = v),
    "--batch-size": (v) => (options.batchSize = v),
    "--lr": (v) => (options.lr = v),
    "--train-limit": (v) => (options.trainLimit = v),
    "--test-limit": (v) => (options.testLimit = v),
    "--min-accuracy": (v) => (options.minAccuracy = v),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") options.quick = true;
    else if (a === "--demo") options.demo = true;
    else if (a in numeric) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`Expected a number after ${a} but received ${JSON.stringify(argv[i])}`);
      numeric[a]!(v);
    } else {
      throw new Error(`Unknown argument ${JSON.stringify(a)}; expected --quick, --demo, or one of ${Object.keys(numeric).join(", ")} followed by a number`);
    }
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFashionMnistCnn(parseArgs(process.argv.slice(2))).then(
    (r) => {
      if (!r.passed) process.exitCode = 1;
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exitCode = 1;
    },
  );
}

/**
 * The lecture's story, on data generated here (lib/data/synthetic.ts):
 *
 * 1. A linear model y = b + w x cannot bend: on a piecewise-linear curve its loss stays high however
 *    long it trains. That is model bias, not a training problem.
 * 2. A piecewise-linear curve is a constant plus a sum of steps, and each step is close to one
 *    sigmoid: y = b + Σ_i c_i σ(b_i + w_i x). 3 sigmoids fit better than the line and 10 better
 *    still, down to the noise; 100 fit no better than 10 (the curve has six kinks).
 * 3. Two ReLUs make one "hard sigmoid": a ReLU layer does the same job with the same parameters.
 * 4. With the same number of parameters, stack layers (deeper) or widen one (wider).
 *
 * Every model trains the same way: loss L = 1/N Σ e_n with e the squared error (MSE), mini-batches of
 * B rows (ceil(N / B) updates per epoch, the last partial batch included), Adam (gradient descent
 * θ ← θ − η g with a per-parameter step size) with η decaying along a cosine to 0. One row trains
 * 100 sigmoids by the plain rule θ ← θ − η g instead: when a bigger model ends with a higher training
 * loss than a smaller one, the problem is optimization, not model bias.
 *
 * Run: npx tsx examples/lecture.ts [--quick] [--epochs N]
 */
import { pathToFileURL } from "node:url";
import { adam, backendInfo, cosineDecay, dense, Matrix, Sequential, sgd, type BackendName, type Layer } from "../lib/index.js";
import { lectureCurve, LECTURE_DOMAIN } from "../lib/data/synthetic.js";

export interface LectureOptions {
  /** The fast form (for tests): 1,000 samples, batch 50, 250 epochs. Default false. */
  quick?: boolean;
  /** Epochs per model. Default 250 quick, 30 full. */
  epochs?: number;
  /** Samples. Default 1,000 quick, 10,000 full (the lecture's N). */
  n?: number;
  /** Rows per update. Default 50 quick, 10 full (the lecture's batch: 1,000 updates per epoch). */
  batchSize?: number;
  /** Adam's initial learning rate (decays along a cosine to 0). Default 0.03 quick, 0.01 full. */
  lr?: number;
  /** Seed of the data, the initial weights and the shuffles. Default 0. */
  seed?: number;
  /** Where the story goes (default console.log); `null` for silence. */
  log?: ((line: string) => void) | null;
  /** Backend to train on ("native" or "js"). Default: the library's choice (native when it loads). */
  backend?: BackendName;
  /** Only these rows (by key), e.g. ["linear", "sigmoid3", "sigmoid100"]. Default all. */
  only?: readonly LectureModelKey[];
}

export type LectureModelKey = "linear" | "sigmoid3" | "sigmoid10" | "sigmoid100" | "sigmoid100sgd" | "relu100" | "wide" | "deep";

export interface LectureRow {
  key: LectureModelKey;
  /** e.g. "3 sigmoids". */
  name: string;
  /** e.g. "1 → 3 sigmoid → 1". */
  architecture: string;
  params: number;
  /** Final training loss L (MSE), evaluated over all N samples after training. */
  mse: number;
  /** Final mean absolute error over all N samples. */
  mae: number;
  /** MSE against the noise-free curve on a grid of 1,001 points: how well the model found the curve. */
  curveMse: number;
  seconds: number;
  /** One sentence: what this row shows. */
  explanation: string;
}

export interface LectureResult {
  rows: LectureRow[];
  n: number;
  batchSize: number;
  epochs: number;
  stepsPerEpoch: number;
  /** The best any model can do on the noisy samples: noise² (the noise is Gaussian with this variance). */
  noiseFloor: number;
  backend: string;
  seconds: number;
}

interface ModelSpec {
  key: LectureModelKey;
  name: string;
  architecture: string;
  layers: () => Layer[];
  /** Plain gradient descent θ ← θ − η g with a constant η instead of the shared Adam schedule. */
  plainSgd?: boolean;
}

/** The constant learning rate of the plain gradient descent row. */
const SGD_LR = 0.03;

const MODELS: readonly ModelSpec[] = [
  { key: "linear", name: "linear", architecture: "y = b + w x", layers: () => [dense(1)] },
  { key: "sigmoid3", name: "3 sigmoids", architecture: "1 → 3 sigmoid → 1", layers: () => [dense(3, { activation: "sigmoid" }), dense(1)] },
  { key: "sigmoid10", name: "10 sigmoids", architecture: "1 → 10 sigmoid → 1", layers: () => [dense(10, { activation: "sigmoid" }), dense(1)] },
  { key: "sigmoid100", name: "100 sigmoids", architecture: "1 → 100 sigmoid → 1", layers: () => [dense(100, { activation: "sigmoid" }), dense(1)] },
  {
    key: "sigmoid100sgd",
    name: "100 sigmoids, SGD",
    architecture: "1 → 100 sigmoid → 1",
    layers: () => [dense(100, { activation: "sigmoid" }), dense(1)],
    plainSgd: true,
  },
  { key: "relu100", name: "100 ReLUs", architecture: "1 → 100 relu → 1", layers: () => [dense(100, { activation: "relu" }), dense(1)] },
  { key: "wide", name: "wider", architecture: "1 → 160 relu → 1", layers: () => [dense(160, { activation: "relu" }), dense(1)] },
  {
    key: "deep",
    name: "deeper",
    architecture: "1 → 20 relu → 20 relu → 1",
    layers: () => [dense(20, { activation: "relu" }), dense(20, { activation: "relu" }), dense(1)],
  },
];

/** Train every model of the story and return (and print) the table. */
export async function runLecture(options: LectureOptions = {}): Promise<LectureResult> {
  const quick = options.quick ?? false;
  const n = options.n ?? (quick ? 1000 : 10_000);
  const batchSize = options.batchSize ?? (quick ? 50 : 10);
  const epochs = options.epochs ?? (quick ? 250 : 30);
  const lr = options.lr ?? (quick ? 0.03 : 0.01);
  const seed = options.seed ?? 0;
  const log = options.log === undefined ? (line: string) => console.log(line) : (options.log ?? (() => {}));
  const specs = options.only ? MODELS.filter((m) => options.only!.includes(m.key)) : MODELS;

  const noise = 0.05;
  const data = lectureCurve({ n, seed, noise });
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const grid = curveGrid(data.target);
  // Every model gets the requested backend by name (leaving the library's global choice alone).
  const backendOption = options.backend ? { backend: options.backend } : {};
  const backend = options.backend ?? backendInfo().backend;

  log(`The lecture on generated data: ${n.toLocaleString("en-US")} noisy samples of a curve made of seven linear pieces and one gentle wave, x in [${LECTURE_DOMAIN.join(", ")}].`);
  log(
    `Every model: loss MSE, Adam with η = ${lr} decaying to 0 (the SGD row: plain θ ← θ − η g, η = ${SGD_LR}), batch ${batchSize} → ceil(${n} / ${batchSize}) = ` +
      `${stepsPerEpoch.toLocaleString("en-US")} updates per epoch, ${epochs} epochs (${totalSteps.toLocaleString("en-US")} updates), seed ${seed}, ${backend} backend.`,
  );

  const t0 = performance.now();
  const rows: LectureRow[] = [];
  for (const spec of specs) {
    const t = performance.now();
    const model = new Sequential(spec.layers(), { inputSize: 1, seed, ...backendOption });
    model.compile({
      loss: "mse",
      optimizer: spec.plainSgd ? sgd({ lr: SGD_LR }) : adam({ lr: cosineDecay({ initial: lr, decaySteps: totalSteps }) }),
    });
    const history = await model.fit(data.x, data.y, { epochs, batchSize, shuffle: true, seed, verbose: 0 });
    if (history.stepsPerEpoch !== stepsPerEpoch) {
      throw new Error(`fit made ${history.stepsPerEpoch} updates per epoch; expected ceil(${n} / ${batchSize}) = ${stepsPerEpoch}`);
    }
    const final = await model.evaluate(data.x, data.y, { metrics: ["mae"] });
    const pred = model.predict(new Matrix(grid.x, grid.x.length, 1));
    let curveMse = 0;
    for (let i = 0; i < grid.y.length; i++) curveMse += (pred.data[i]! - grid.y[i]!) ** 2;
    curveMse /= grid.y.length;
    rows.push({
      key: spec.key,
      name: spec.name,
      architecture: spec.architecture,
      params: model.parameterCount(),
      mse: final.loss,
      mae: final["mae"]!,
      curveMse,
      seconds: (performance.now() - t) / 1000,
      explanation: "",
    });
    model.dispose();
  }
  const noiseFloor = noise * noise;
  for (const row of rows) row.explanation = explain(row, rows, noiseFloor);
  const result: LectureResult = {
    rows,
    n,
    batchSize,
    epochs,
    stepsPerEpoch,
    noiseFloor,
    backend,
    seconds: (performance.now() - t0) / 1000,
  };
  log("");
  for (const line of formatLectureTable(result).split("\n")) log(line);
  const deep = specs.find((m) => m.key === "deep");
  if (deep) {
    // Where the deeper model's parameters are: each dense layer has inFeatures x outFeatures weights
    // plus one bias per output.
    const m = new Sequential(deep.layers(), { inputSize: 1, seed, ...backendOption });
    log("");
    log(`The deeper model, layer by layer (weights in x out + one bias per output):`);
    for (const line of m.summary({ print: false }).split("\n")) log(line);
    m.dispose();
  }
  return result;
}

/** The noise-free curve on 1,001 evenly spaced points of the domain. */
function curveGrid(target: (x: number) => number): { x: Float32Array; y: Float32Array } {
  const [lo, hi] = LECTURE_DOMAIN;
  const m = 1001;
  const x = new Float32Array(m);
  const y = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    x[i] = lo + ((hi - lo) * i) / (m - 1);
    y[i] = target(x[i]!);
  }
  return { x, y };
}

function fmt(v: number): string {
  return v.toFixed(4);
}

function ratio(a: number, b: number): string {
  const r = a / b;
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(1)}x`;
}

/** "lower than", "about the same as" (within 10%) or "higher than": a's loss against b's. */
function compare(a: LectureRow, b: LectureRow): string {
  if (Math.abs(a.mse - b.mse) <= 0.1 * Math.min(a.mse, b.mse)) return "about the same as";
  return a.mse < b.mse ? "lower than" : "higher than";
}

/** "4.2x below" or "1.3x above": a's loss relative to b's. */
function relative(a: LectureRow, b: LectureRow): string {
  return a.mse <= b.mse ? `${ratio(b.mse, a.mse)} below` : `${ratio(a.mse, b.mse)} above`;
}

/** One sentence per row, built from the measured numbers (so it never claims what did not happen). */
function explain(row: LectureRow, rows: readonly LectureRow[], floor: number): string {
  const get = (k: LectureModelKey): LectureRow | undefined => rows.find((r) => r.key === k);
  const atFloor = (r: LectureRow): boolean => r.mse < 1.5 * floor;
  const vs = (a: LectureRow, b: LectureRow): string => `${fmt(a.mse)} vs ${fmt(b.mse)}`;
  switch (row.key) {
    case "linear":
      return `Model bias: a straight line cannot bend, so its loss stays ${ratio(row.mse, floor)} the noise floor however long it trains.`;
    case "sigmoid3": {
      const lin = get("linear");
      return (
        `Three sigmoid steps bend towards the curve's outline` +
        (lin ? ` (loss ${relative(row, lin)} the line's)` : "") +
        `, but the curve has six kinks: three steps cannot make them all.`
      );
    }
    case "sigmoid10": {
      const s3 = get("sigmoid3");
      if (!s3) return atFloor(row) ? `Ten steps are enough for six kinks and the wave, down to the noise floor.` : `Ten steps follow more of the kinks.`;
      const c = compare(row, s3);
      if (c !== "lower than") return `Loss ${c} with 3 sigmoids (${vs(row, s3)}): in this training budget the extra steps did not find the kinks.`;
      return atFloor(row)
        ? `Loss ${relative(row, s3)} 3 sigmoids' (${vs(row, s3)}): ten steps are enough for six kinks and the wave, down to the noise floor.`
        : `Loss ${relative(row, s3)} 3 sigmoids' (${vs(row, s3)}): more steps follow more of the kinks.`;
    }
    case "sigmoid100": {
      const s3 = get("sigmoid3");
      const s10 = get("sigmoid10");
      const head = s3 ? `Loss ${relative(row, s3)} 3 sigmoids'` : `Loss ${ratio(row.mse, floor)} the noise floor`;
      if (s10 && atFloor(row) && atFloor(s10)) {
        return `${head}; like 10 sigmoids it reaches the noise floor (${ratio(row.mse, floor)}): the curve needs about one step per kink, and the others have nothing left to fit.`;
      }
      if (s10 && compare(row, s10) !== "lower than") {
        return `${head}, ${compare(row, s10)} 10 sigmoids' (${vs(row, s10)}): more sigmoids can follow any curve, but each must also be trained into place.`;
      }
      return `${head}${s10 ? `, ${relative(row, s10)} 10 sigmoids' (${vs(row, s10)})` : ""}: with enough sigmoids any continuous curve can be followed.`;
    }
    case "sigmoid100sgd": {
      const s3 = get("sigmoid3");
      const s100 = get("sigmoid100");
      if (s3 && row.mse > s3.mse && compare(row, s3) === "higher than") {
        return (
          `The same 100 sigmoids trained by plain θ ← θ − η g end above 3 sigmoids (${vs(row, s3)}) although they can make every curve 3 can: ` +
          `a bigger model with a higher training loss is an optimization problem, not model bias.`
        );
      }
      return s100
        ? `Plain θ ← θ − η g with one η for every parameter: loss ${compare(row, s100)} Adam's on the same model (${vs(row, s100)}).`
        : `Plain θ ← θ − η g with one η for every parameter.`;
    }
    case "relu100": {
      const s = get("sigmoid100");
      return s
        ? `Two ReLUs make one hard sigmoid: with the same ${row.params} parameters the ReLU layer's loss is ${compare(row, s)} the sigmoids' (${vs(row, s)}).`
        : `Two ReLUs make one hard sigmoid, so a ReLU layer fits the curve too.`;
    }
    case "wide":
      return `One wide layer with ${row.params} parameters: the same count as the deeper model below.`;
    case "deep": {
      const w = get("wide");
      if (!w) return `Two stacked ReLU layers with ${row.params} parameters.`;
      if (atFloor(row) && atFloor(w)) {
        return `Same ${row.params} parameters in two layers: both reach the noise floor (${vs(row, w)}); this curve has too few kinks to need depth.`;
      }
      const c = compare(row, w);
      return (
        `Same ${row.params} parameters in two layers: loss ${c} the wide layer's (${vs(row, w)})` +
        (c === "lower than" ? `: a second layer folds the first layer's pieces into more pieces per parameter.` : `.`)
      );
    }
  }
}

/** The table: one row per model, then its sentence. */
export function formatLectureTable(result: LectureResult): string {
  const header = ["Model", "Architecture", "Params", "MSE", "MAE", "Curve MSE", "Time"];
  const body = result.rows.map((r) => [r.name, r.architecture, String(r.params), fmt(r.mse), fmt(r.mae), fmt(r.curveMse), `${r.seconds < 1 ? r.seconds.toFixed(2) : r.seconds.toFixed(1)} s`]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const right = new Set([2, 3, 4, 5, 6]);
  const line = (cells: string[]): string => cells.map((v, c) => (right.has(c) ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join("  ");
  const rule = "-".repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const out = [line(header), rule];
  result.rows.forEach((r, i) => {
    out.push(line(body[i]!));
    out.push(`    ${r.explanation}`);
  });
  out.push(rule);
  out.push(
    `MSE and MAE: final training loss over all ${result.n.toLocaleString("en-US")} samples. Curve MSE: against the noise-free curve. ` +
      `Noise floor (the best possible MSE on noisy samples): ${fmt(result.noiseFloor)}. Total ${result.seconds.toFixed(1)} s on the ${result.backend} backend.`,
  );
  return out.join("\n");
}

function parseArgs(argv: readonly string[]): LectureOptions {
  const options: LectureOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") options.quick = true;
    else if (a === "--epochs" || a === "--seed" || a === "--n" || a === "--batch-size" || a === "--lr") {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`Expected a number after ${a} but received ${JSON.stringify(argv[i])}`);
      if (a === "--epochs") options.epochs = v;
      else if (a === "--seed") options.seed = v;
      else if (a === "--n") options.n = v;
      else if (a === "--batch-size") options.batchSize = v;
      else options.lr = v;
    } else throw new Error(`Unknown argument ${JSON.stringify(a)}; expected --quick, --epochs N, --n N, --batch-size N, --lr X, --seed N`);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runLecture(parseArgs(process.argv.slice(2))).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}

/**
 * One measurement in a fresh process, spawned by bench/run.ts. The job arrives as JSON in argv[2];
 * the result is printed as one line `BENCH_RESULT <json>` on stdout (systems may print their own
 * chatter around it).
 *
 * Jobs:
 * - "train": one (system, workload, threads). A warm-up call and calibration calls first (excluded),
 *   then up to `runs` timed `fit` calls of about `targetRunSeconds` each, within `budgetSeconds`
 *   (a system slower than that gets one step per call); the result counts only if the loss on the
 *   first rows (model.evaluate) fell from before training to after the last run.
 * - "bound": the GEMM-only bound of one training step per workload, with the native gemm kernel.
 */
import path from "node:path";
import { makeDataset, denseShapes, flopsPerStep, type Workload } from "./workloads.js";
import { loadSystem } from "./systems/index.js";
import { loadNativeBackend, median, nowSeconds } from "./util.js";

export interface TrainJob {
  kind: "train";
  system: string;
  workload: Workload;
  threads: number;
  targetRunSeconds: number;
  runs: number;
  budgetSeconds: number;
}

export interface BoundJob {
  kind: "bound";
  workloads: Workload[];
  threads: number;
  seconds: number;
}

export type Job = TrainJob | BoundJob;

export interface RunSample {
  seconds: number;
  steps: number;
  samples: number;
}

export interface TrainResult {
  kind: "train";
  system: string;
  workload: string;
  threads: number;
  ok: boolean;
  /** Why the result does not count (error, loss did not fall), when !ok. */
  error?: string;
  notes: string[];
  batchSize: number;
  samplesPerStep: number;
  /** Loss over the first `probeRows` rows (model.evaluate) before training and after the last run. */
  lossStart: number;
  lossEnd: number;
  probeRows?: number;
  /** What fit reported: the first calibration call's loss and the last timed call's. */
  fitLossFirst?: number;
  fitLossLast?: number;
  /** Rows and epochs of each timed fit call. */
  rowsPerRun: number;
  epochsPerRun: number;
  stepsPerRun: number;
  runs: RunSample[];
  samplesPerSec: number;
  /** Microseconds per step of `batchSize` samples (batchSize / samplesPerSec). */
  usPerStep: number;
  gflops: number;
  /** Whole data set's epoch not measured: a fixed number of steps on a prefix of the data. */
  partialEpoch: boolean;
  wallSeconds: number;
  /** 1-minute load average when the job started (set by run.ts). */
  loadAvg?: number;
}

export interface BoundEntry {
  workload: string;
  batchSize: number;
  /** Seconds for the GEMMs of one training step (the fastest of 5 timed batches of reps). */
  stepSeconds: number;
  samplesPerSec: number;
  /** GFLOPS the GEMMs ran at (their exact FLOPs). */
  gemmGflops: number;
  /** FLOPs of those GEMMs per step (2 m n k each; the first layer's dX is not computed). */
  gemmFlops: number;
}

export interface BoundResult {
  kind: "bound";
  threads: number;
  ok: boolean;
  error?: string;
  backend?: unknown;
  entries: BoundEntry[];
}

function emit(result: TrainResult | BoundResult): void {
  process.stdout.write(`\nBENCH_RESULT ${JSON.stringify(result)}\n`);
}

/** A training result with nothing measured yet (ok: false): filled in as a job runs, or a skip / failure record. */
export function emptyTrainResult(system: string, w: Workload, threads: number, error?: string): TrainResult {
  return {
    kind: "train",
    system,
    workload: w.id,
    threads,
    ok: false,
    ...(error !== undefined ? { error } : {}),
    notes: [],
    batchSize: w.batchSize,
    samplesPerStep: w.batchSize,
    lossStart: NaN,
    lossEnd: NaN,
    rowsPerRun: 0,
    epochsPerRun: 0,
    stepsPerRun: 0,
    runs: [],
    samplesPerSec: NaN,
    usPerStep: NaN,
    gflops: NaN,
    partialEpoch: false,
    wallSeconds: 0,
  };
}

async function trainJob(job: TrainJob): Promise<TrainResult> {
  const t0 = nowSeconds();
  const w = job.workload;
  const base = emptyTrainResult(job.system, w, job.threads);
  const entry = await loadSystem(job.system);
  const supported = entry.supports(w);
  if (supported !== true) return { ...base, error: `skipped: ${supported}` };

  const data = makeDataset(w);
  const session = await entry.create(w, data, job.threads);
  base.notes = session.notes;
  base.samplesPerStep = session.samplesPerStep;
  const sps = session.samplesPerStep;
  const N = data.rows;
  const epochSteps = session.stepsPerEpoch(N);

  /** Rows and epochs for a fit call of about `steps` steps. */
  const shape = (steps: number): { rows: number; epochs: number; steps: number } => {
    if (steps < epochSteps) {
      const rows = Math.min(N, steps * sps);
      return { rows, epochs: 1, steps: session.stepsPerEpoch(rows) };
    }
    const epochs = Math.max(1, Math.round(steps / epochSteps));
    return { rows: N, epochs, steps: epochs * epochSteps };
  };
  const timed = async (s: { rows: number; epochs: number }): Promise<{ seconds: number; loss: number }> => {
    await session.prepare(s.rows);
    const a = nowSeconds();
    const loss = await session.fit(s.rows, s.epochs);
    return { seconds: nowSeconds() - a, loss };
  };

  // The "loss fell" check evaluates the same probe rows (the first batch, at least 64 rows; always
  // inside the rows every fit call trains on) before any training and after the last timed run.
  const probeRows = Math.min(N, Math.max(w.batchSize, 64));
  base.lossStart = await session.evaluate(probeRows);

  // Warm-up (excluded): one step on a partial batch of at most 32 rows compiles the system's code
  // paths at a fraction of a full step's cost (which matters where one step takes a minute).
  await timed({ rows: Math.min(N, sps === 1 ? w.batchSize : Math.min(w.batchSize, 32)), epochs: 1 });

  // Calibration: one full batch first, then growing calls until one takes half a run.
  let steps = Math.max(1, Math.ceil(w.batchSize / sps));
  let s = shape(steps);
  let r = await timed(s);
  base.fitLossFirst = r.loss;
  let perStep = r.seconds / s.steps;
  for (;;) {
    const elapsed = nowSeconds() - t0;
    if (r.seconds >= job.targetRunSeconds / 2 || elapsed > job.budgetSeconds / 3) break;
    const next = Math.max(steps * 2, Math.ceil((job.targetRunSeconds / 2 / Math.max(perStep, 1e-9)) * 1.2));
    if (next === steps) break;
    steps = next;
    s = shape(steps);
    r = await timed(s);
    perStep = r.seconds / s.steps;
  }

  // Timed runs. A slow system's last calibration call already has the timed shape and runs after
  // the warm-up: it counts as the first timed run (so a one-minute step is not paid for twice).
  const samples: RunSample[] = [];
  const calib = s;
  s = shape(Math.max(1, Math.round(job.targetRunSeconds / Math.max(perStep, 1e-9))));
  if (s.rows === calib.rows && s.epochs === calib.epochs) {
    samples.push({ seconds: r.seconds, steps: s.steps, samples: s.epochs * s.rows });
  }
  const runSeconds = perStep * s.steps;
  const remaining = job.budgetSeconds - (nowSeconds() - t0);
  const runs = Math.max(1, Math.min(job.runs - samples.length, Math.floor(remaining / Math.max(runSeconds, 1e-9))));
  for (let i = 0; i < runs; i++) {
    r = await timed(s);
    samples.push({ seconds: r.seconds, steps: s.steps, samples: s.epochs * s.rows });
  }
  base.fitLossLast = r.loss;
  const lossEnd = await session.evaluate(probeRows);
  base.probeRows = probeRows;
  session.dispose();

  const samplesPerSec = median(samples.map((x) => x.samples / x.seconds));
  const usPerStep = (1e6 * w.batchSize) / samplesPerSec;
  const fell = Number.isFinite(lossEnd) && Number.isFinite(base.lossStart) && lossEnd < base.lossStart;
  return {
    ...base,
    ok: fell,
    ...(fell ? {} : { error: `loss did not fall: ${base.lossStart} -> ${lossEnd}` }),
    lossEnd,
    rowsPerRun: s.rows,
    epochsPerRun: s.epochs,
    stepsPerRun: s.steps,
    runs: samples,
    samplesPerSec,
    usPerStep,
    gflops: (flopsPerStep(w) / w.batchSize) * samplesPerSec / 1e9,
    partialEpoch: s.rows < N,
    wallSeconds: nowSeconds() - t0,
  };
}

async function boundJob(job: BoundJob): Promise<BoundResult> {
  const { native, reason } = await loadNativeBackend();
  if (!native) {
    return { kind: "bound", threads: job.threads, ok: false, error: `native backend unavailable: ${reason}`, entries: [] };
  }
  native.setThreads(job.threads);
  const entries: BoundEntry[] = [];
  for (const w of job.workloads) {
    const B = w.batchSize;
    const layers = denseShapes(w).map(([inF, outF], l) => {
      const fill = (n: number, seed: number): Float32Array => {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * 0.5;
        return a;
      };
      return {
        inF,
        outF,
        first: l === 0,
        x: fill(B * inF, 1),
        w: fill(outF * inF, 2),
        y: new Float32Array(B * outF),
        dy: fill(B * outF, 3),
        dw: new Float32Array(outF * inF),
        dx: new Float32Array(B * inF),
      };
    });
    let gemmFlops = 0;
    for (const L of layers) gemmFlops += 2 * B * L.inF * L.outF * (L.first ? 2 : 3);
    // One training step's GEMMs: forward Y = X·Wᵀ; backward dW = dYᵀ·X and dX = dY·W (not for the
    // first layer: nothing needs the gradient of the input data).
    const step = (): void => {
      for (const L of layers) native.gemm(false, true, B, L.outF, L.inF, 1, L.x, L.w, 0, L.y);
      for (let l = layers.length - 1; l >= 0; l--) {
        const L = layers[l]!;
        native.gemm(true, false, L.outF, L.inF, B, 1, L.dy, L.x, 0, L.dw);
        if (!L.first) native.gemm(false, false, B, L.inF, L.outF, 1, L.dy, L.w, 0, L.dx);
      }
    };
    // Verify one forward entry against a float64 dot product before timing.
    step();
    const L0 = layers[0]!;
    let ref = 0;
    for (let k = 0; k < L0.inF; k++) ref += L0.x[k]! * L0.w[k]!;
    if (Math.abs(ref - L0.y[0]!) > 1e-3 * (1 + Math.abs(ref))) {
      return { kind: "bound", threads: job.threads, ok: false, error: `gemm check failed for ${w.id}: ${L0.y[0]} vs ${ref}`, entries };
    }
    // Batches of reps, each longer than seconds/10, timed 5 times.
    let reps = 1;
    for (;;) {
      const a = nowSeconds();
      for (let i = 0; i < reps; i++) step();
      const t = nowSeconds() - a;
      if (t > job.seconds / 10 || reps > 1e6) break;
      reps *= 2;
    }
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = nowSeconds();
      for (let j = 0; j < reps; j++) step();
      times.push((nowSeconds() - a) / reps);
    }
    // The fastest of the timed batches: a bound is what the GEMMs can do, not what they usually do.
    const t = Math.min(...times);
    entries.push({ workload: w.id, batchSize: B, stepSeconds: t, samplesPerSec: B / t, gemmGflops: gemmFlops / t / 1e9, gemmFlops });
  }
  return { kind: "bound", threads: job.threads, ok: true, backend: native.info(), entries };
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: worker.ts '<job json>' (spawned by bench/run.ts)");
  const job = JSON.parse(raw) as Job;
  if (job.kind === "train") {
    try {
      emit(await trainJob(job));
    } catch (e) {
      const err = e instanceof Error ? (e.stack ?? e.message) : String(e);
      emit(emptyTrainResult(job.system, job.workload, job.threads, err.split("\n").slice(0, 4).join(" | ")));
    }
  } else {
    try {
      emit(await boundJob(job));
    } catch (e) {
      emit({ kind: "bound", threads: job.threads, ok: false, error: e instanceof Error ? e.message : String(e), entries: [] });
    }
  }
  // tfjs and the native plan may hold handles open; this process is done.
  process.exit(0);
}

// run.ts imports this module for emptyTrainResult: only a spawned worker runs a job.
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  await main();
}

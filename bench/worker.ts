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
 * - "bound": the GEMM-only bound of one training step per workload (bound.ts).
 */
import path from "node:path";
import { boundJob, type BoundJob, type BoundResult } from "./bound.js";
import { makeDataset, flopsPerStep, type Workload } from "./workloads.js";
import { loadSystem } from "./systems/index.js";
import { median, nowSeconds } from "./util.js";

export type { BoundEntry, BoundJob, BoundResult } from "./bound.js";

export interface TrainJob {
  kind: "train";
  system: string;
  workload: Workload;
  threads: number;
  targetRunSeconds: number;
  runs: number;
  budgetSeconds: number;
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

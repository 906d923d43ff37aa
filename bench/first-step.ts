/**
 * How long the first training step, the first prediction and the first evaluation of a fresh model
 * block the event loop on the TypeScript backend, against a warm step or batch: cold (before V8 has
 * compiled the kernels), the first call of a kernel runs far slower than later ones.
 *
 *   npx tsx bench/first-step.ts [--models mlp,cnn,t3] [--ops fit,predict,evaluate] [--repeat N] [--no-warm-up] [--clock wall|cpu]
 *
 * Models: mlp (784-128-10, batch 64, crossEntropy, Adam), cnn (the Fashion-MNIST CNN of
 * examples/fashion-mnist-cnn.ts, batch 64) and t3 (the T3 network of bench/workloads.ts,
 * 1024-4096-4096-1024, batch 256, mse, SGD), on seeded random data of their shapes. Every (model,
 * op) runs in a fresh process, so every measurement starts cold. For each it reports:
 * - block: the longest turn of the event loop from the call until its first real step (fit) or
 *   first batch (predictAsync, evaluate) is done, as seen by a setImmediate chain;
 * - first: that first real step's (or batch forward's) own time;
 * - median: the median step (or batch forward) after it;
 * - block / median; the time spent in the plan's warm-up slices; the whole call's wall time.
 * With --repeat N (default 1) each (model, op) runs in N fresh processes and every column is the
 * smallest of the N: on a busy machine the other jobs only ever add time, so the minimum is the
 * closest to what the call itself costs.
 * Steps and forwards are timed by wrapping PlanExecutor's runStepsSync and forward (the real
 * batch size only: the warm-up's small calls are not steps). --no-warm-up measures the same without
 * the plan's warm-up (as the library was before it had one), for comparison. --clock cpu times
 * everything (steps, warm-up, wall) in the process's CPU time (process.cpuUsage, user + system)
 * instead of wall time, and each turn of the event loop as the lesser of its wall and CPU time: on a
 * machine shared with other jobs, wall time counts their time too, and process CPU time counts V8's
 * compiler and GC threads beside the main one; each is an upper bound of the main thread's time.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { dense } from "../lib/nn/layers.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { Sequential } from "../lib/nn/sequential.js";
import type { StepRun } from "../lib/backend/plan.js";
import { fmt, median, table } from "./util.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { fashionMnistCnn } from "../examples/fashion-mnist-cnn.js";

type ModelId = "mlp" | "cnn" | "t3";
type Op = "fit" | "predict" | "evaluate";
type Clock = "wall" | "cpu";

interface Case {
  make(): Sequential;
  batchSize: number;
  classes: number | null;
  /** Rows for fit (a few real steps) and for predict / evaluate (a few batches of 256). */
  fitRows: number;
  inferRows: number;
}

const INFER_BATCH = 256;

const CASES: Record<ModelId, Case> = {
  mlp: {
    make: () => {
      const m = new Sequential([dense(128, { activation: "relu" }), dense(10)], { inputSize: 784, seed: 0, backend: "js" });
      m.compile({ loss: "crossEntropy", optimizer: "adam" });
      return m;
    },
    batchSize: 64,
    classes: 10,
    fitRows: 64 * 40,
    inferRows: INFER_BATCH * 8,
  },
  cnn: {
    make: () => {
      const m = fashionMnistCnn({ seed: 0, backend: createTsBackend() });
      m.compile({ loss: "crossEntropy", optimizer: "adam" });
      return m;
    },
    batchSize: 64,
    classes: 10,
    fitRows: 64 * 8,
    inferRows: INFER_BATCH * 3,
  },
  t3: {
    make: () => {
      const m = new Sequential([dense(4096, { activation: "relu" }), dense(4096, { activation: "relu" }), dense(1024)], { inputSize: 1024, seed: 0, backend: "js" });
      m.compile({ loss: "mse", optimizer: "sgd" });
      return m;
    },
    batchSize: 256,
    classes: null,
    fitRows: 256 * 3,
    inferRows: INFER_BATCH * 3,
  },
};

/** The clock every column is read from (see --clock): wall time, or this process's CPU time. */
let now = (): number => performance.now();
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Measure {
  model: ModelId;
  op: Op;
  /** Longest event-loop turn until the first real step / batch was done (ms). */
  block: number;
  /** Longest event-loop turn over the whole call (ms). */
  blockAll: number;
  first: number;
  median: number;
  /** Time spent in the plan's warm-up slices (ms). */
  warmUp: number;
  wall: number;
}

/**
 * The gaps between turns of the event loop, recorded as [start, end] pairs on the clock `now`;
 * with --clock cpu a gap lasts the lesser of its CPU and wall time (see the file comment).
 */
function gapTracker(): { stop(): Array<[number, number]> } {
  const gaps: Array<[number, number]> = [];
  let last = now();
  let lastWall = performance.now();
  let on = true;
  const close = (): void => {
    const t = now();
    const wall = performance.now();
    gaps.push([last, last + Math.min(t - last, wall - lastWall)]);
    last = t;
    lastWall = wall;
  };
  const tick = (): void => {
    close();
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      on = false;
      close();
      return gaps;
    },
  };
}

/** Total time spent in PlanExecutor's warm-up slices (those it has), as a running sum in `total.ms`. */
function timeWarmUp(): { ms: number } {
  const total = { ms: 0 };
  const proto = PlanExecutor.prototype as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>;
  for (const method of ["warmUpSync", "warmUpForwardSync"]) {
    const original = proto[method];
    if (!original) continue;
    proto[method] = function (this: unknown, ...args: unknown[]): unknown {
      const t0 = now();
      try {
        return original.apply(this, args);
      } finally {
        total.ms += now() - t0;
      }
    };
  }
  return total;
}

/** Times of PlanExecutor calls at `rows` rows: [end time, ms per step]. */
function timeCalls(method: "runStepsSync" | "forward", rows: number): Array<[number, number]> {
  const calls: Array<[number, number]> = [];
  const proto = PlanExecutor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const original = proto[method]!;
  proto[method] = function (this: unknown, ...args: unknown[]): unknown {
    const t0 = now();
    const r = original.apply(this, args);
    const t1 = now();
    if (method === "runStepsSync") {
      const run = args[0] as StepRun;
      if (run.batchSize === rows && (r as number) > 0) calls.push([t1, (t1 - t0) / (r as number)]);
    } else if ((args[2] as number) === rows) calls.push([t1, t1 - t0]);
    return r;
  };
  return calls;
}

async function child(id: ModelId, op: Op, warmUp: boolean, clock: Clock): Promise<Measure> {
  if (clock === "cpu") now = cpuNow;
  // --no-warm-up: as before any warm-up (for comparison): plans without warmUpSync / warmUpForwardSync.
  if (!warmUp) for (const k of ["warmUpSync", "warmUpForwardSync"]) delete (PlanExecutor.prototype as unknown as Record<string, unknown>)[k];
  const c = CASES[id];
  const model = c.make();
  const rows = op === "fit" ? c.fitRows : c.inferRows;
  const x = Matrix.randomNormal(rows, model.inputSize, new Rng(1));
  const yc = c.classes !== null ? Int32Array.from({ length: rows }, (_, i) => i % c.classes!) : null;
  const yr = c.classes === null ? Matrix.randomNormal(rows, model.outputSize, new Rng(2)) : null;
  const y = yc ?? yr!;
  const warmTime = timeWarmUp();
  const calls = op === "fit" ? timeCalls("runStepsSync", c.batchSize) : timeCalls("forward", INFER_BATCH);
  const xin = id === "cnn" ? { data: x.data, shape: [rows, 1, 28, 28] } : x;
  const tracker = gapTracker();
  const t0 = now();
  if (op === "fit") await model.fit(xin, y, { epochs: 1, batchSize: c.batchSize, verbose: 0, shuffle: false });
  else if (op === "predict") await model.predictAsync(xin, { batchSize: INFER_BATCH });
  else await model.evaluate(xin, y, { batchSize: INFER_BATCH, metrics: c.classes !== null ? ["accuracy"] : [] });
  const wall = now() - t0;
  const gaps = tracker.stop();
  if (calls.length === 0) throw new Error(`${id} ${op}: no call at the real batch size was seen`);
  const firstEnd = calls[0]![0];
  const before = gaps.filter(([s]) => s <= firstEnd);
  const longest = (g: Array<[number, number]>): number => Math.max(0, ...g.map(([s, e]) => e - s));
  return {
    model: id,
    op,
    block: longest(before),
    blockAll: longest(gaps),
    first: calls[0]![1],
    median: median(calls.slice(1).map((c) => c[1])),
    warmUp: warmTime.ms,
    wall,
  };
}

function parseList<T extends string>(flag: string, all: readonly T[]): T[] {
  const i = process.argv.indexOf(flag);
  if (i < 0) return [...all];
  const list = (process.argv[i + 1] ?? "").split(",").filter(Boolean);
  for (const v of list) {
    if (!all.includes(v as T)) throw new Error(`${flag}: unknown value ${JSON.stringify(v)}; expected some of ${all.join(", ")}`);
  }
  return list as T[];
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf("--child");
  if (ci >= 0) {
    const m = await child(process.argv[ci + 1] as ModelId, process.argv[ci + 2] as Op, !process.argv.includes("--no-warm-up"), process.argv[ci + 3] as Clock);
    process.stdout.write(JSON.stringify(m) + "\n");
    return;
  }
  const models = parseList<ModelId>("--models", ["mlp", "cnn", "t3"]);
  const ops = parseList<Op>("--ops", ["fit", "predict", "evaluate"]);
  const warmUp = !process.argv.includes("--no-warm-up");
  const clock = process.argv.includes("--clock") ? parseList<Clock>("--clock", ["wall", "cpu"]) : ["wall"];
  if (clock.length !== 1) throw new Error(`--clock: expected one of wall, cpu but received ${clock.join(",") || "nothing"}`);
  const ri = process.argv.indexOf("--repeat");
  const repeat = ri < 0 ? 1 : Number(process.argv[ri + 1]);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: expected a positive integer but received ${process.argv[ri + 1]}`);
  const rows: string[][] = [];
  for (const id of models) {
    for (const op of ops) {
      const runs: Measure[] = [];
      for (let r = 0; r < repeat; r++) {
        const p = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", id, op, clock[0]!, ...(warmUp ? [] : ["--no-warm-up"])], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        if (p.status !== 0) throw new Error(`${id} ${op}: the child process exited with ${p.status}`);
        runs.push(JSON.parse(p.stdout.trim().split("\n").at(-1)!) as Measure);
      }
      const least = (k: keyof Measure): number => Math.min(...runs.map((m) => m[k] as number));
      const m = { block: least("block"), blockAll: least("blockAll"), first: least("first"), median: least("median"), warmUp: least("warmUp"), wall: least("wall") };
      const what = op === "fit" ? `fit (batch ${CASES[id].batchSize})` : `${op === "predict" ? "predictAsync" : "evaluate"} (batch ${INFER_BATCH})`;
      rows.push([id, what, fmt(m.block), fmt(m.blockAll), fmt(m.first), fmt(m.median), `${(m.block / m.median).toFixed(2)}x`, fmt(m.warmUp), fmt(m.wall)]);
      process.stderr.write(`${id} ${op}: done\n`);
    }
  }
  console.log(
    `TypeScript backend${warmUp ? "" : " without the warm-up"}, each row ${repeat === 1 ? "a fresh process" : `the least of ${repeat} fresh processes`}; ${clock[0] === "cpu" ? "process CPU " : ""}times in ms (step = one training step, batch = one forward).`,
  );
  console.log(table(["model", "call", "longest block to 1st", "longest block", "1st step/batch", "median", "block / median", "warm-up", "wall"], rows));
}

await main();

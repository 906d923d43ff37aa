/**
 * The benchmark suite: `npm run bench` / `npx tsx bench/run.ts [flags]`.
 *
 *   --quick              smoke run (well under a minute): tiny time budgets, no big TypeScript GEMMs,
 *                        T3 and T5 skipped for the systems that take seconds per step
 *   --only T2[,T5]       only these training workloads, of T1-T5 (and, unless --suite says otherwise,
 *                        only the training suite)
 *   --suite a,b          kernels, training, scaling (default: all three); cnn-scaling: only the
 *                        T5 part of scaling
 *   --threads N          BLAS threads for the native systems (default: all logical CPUs); 1-thread
 *                        figures are measured too unless N is 1 or --no-single-thread
 *   --no-single-thread   skip the extra 1-thread pass (--quick skips it too)
 *   --no-competitors     blasnet's systems only (no TensorFlow.js, no brain.js)
 *   --systems a,b        only these systems (blasnet-fused, blasnet-kernels, blasnet-ts, tfjs-cpu,
 *                        tfjs-wasm, brain.js)
 *   --budget S           wall-time cap in seconds for one (system, workload) measurement (default 60)
 *   --json path          where to write the JSON (default bench/results/bench-<date>.json)
 *   --md path            also write the tables as Markdown to this file
 *
 * Every (system, workload) runs in a fresh child process (bench/worker.ts); the kernel benchmark
 * runs in one too (bench/kernels.ts). Children run one at a time.
 *
 * Exit code 1 when a measurement failed (an error, a loss that did not fall, a kernel result that
 * did not check out); skipped entries do not count. `--quick` is meant as a CI smoke step.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { WORKLOADS, cnnScalingWorkload, flopsPerStep, scalingWorkload, type Workload } from "./workloads.js";
import { BLASNET_IDS, SYSTEM_IDS, THREADED_IDS } from "./systems/index.js";
import { emptyTrainResult, type BoundResult, type Job, type TrainResult } from "./worker.js";
import type { KernelBenchResult } from "./kernels.js";
import { kernelTables } from "./kernels.js";
import { boundTable, cnnScalingTable, lossPair, ratioTable, scalingTables, status, targetTable, trainingTable } from "./tables.js";
import {
  BENCH_DIR,
  REPO_DIR,
  RESULTS_DIR,
  fmt,
  intFlag,
  loadAvgString,
  machineInfo,
  parseArgs,
  stamp,
  writeJson,
} from "./util.js";

type Suite = "kernels" | "training" | "scaling" | "cnn-scaling";

interface Options {
  quick: boolean;
  suites: Set<Suite>;
  workloads: Workload[];
  threads: number;
  singleThread: boolean;
  systems: string[];
  budget: number;
  targetRun: number;
  runs: number;
  json: string;
  md?: string;
}

function parseOptions(argv: string[]): Options {
  const args = parseArgs(argv);
  const known = new Set(["quick", "only", "suite", "threads", "no-single-thread", "no-competitors", "systems", "budget", "json", "md", "help"]);
  for (const k of args.keys()) {
    if (!known.has(k)) throw new Error(`Unknown flag --${k}; expected one of ${[...known].map((x) => `--${x}`).join(", ")}`);
  }
  if (args.has("help")) {
    const src = fs.readFileSync(path.join(BENCH_DIR, "run.ts"), "utf8");
    console.log(src.slice(src.indexOf("/**") + 3, src.indexOf("*/")).replace(/^ \* ?/gm, ""));
    process.exit(0);
  }
  const quick = args.has("quick");
  const str = (name: string): string | undefined => {
    const v = args.get(name);
    if (v === true) throw new Error(`Expected a value for --${name}`);
    return v;
  };
  const only = str("only")?.split(",").map((s) => s.trim().toUpperCase());
  for (const id of only ?? []) {
    if (!(id in WORKLOADS)) throw new Error(`Expected a workload id (${Object.keys(WORKLOADS).join(", ")}) for --only but received ${JSON.stringify(id)}`);
  }
  const suiteArg = str("suite")?.split(",").map((s) => s.trim());
  for (const s of suiteArg ?? []) {
    if (!["kernels", "training", "scaling", "cnn-scaling"].includes(s)) {
      throw new Error(`Expected kernels, training, scaling or cnn-scaling for --suite but received ${JSON.stringify(s)}`);
    }
  }
  const suites = new Set<Suite>((suiteArg as Suite[] | undefined) ?? (only ? ["training"] : ["kernels", "training", "scaling"]));
  let systems: string[] = str("systems")?.split(",").map((s) => s.trim()) ?? [...SYSTEM_IDS];
  for (const s of systems) {
    if (!(SYSTEM_IDS as readonly string[]).includes(s)) {
      throw new Error(`Expected one of ${SYSTEM_IDS.join(", ")} for --systems but received ${JSON.stringify(s)}`);
    }
  }
  if (args.has("no-competitors")) systems = systems.filter((s) => (BLASNET_IDS as readonly string[]).includes(s));
  const threads = intFlag(args, "threads", os.cpus().length);
  const budget = intFlag(args, "budget", quick ? 4 : 60);
  return {
    quick,
    suites,
    workloads: (only ?? Object.keys(WORKLOADS)).map((id) => WORKLOADS[id as keyof typeof WORKLOADS]),
    threads,
    // --quick skips the 1-thread pass: it exercises no code the main pass does not.
    singleThread: threads !== 1 && !quick && !args.has("no-single-thread"),
    systems,
    budget,
    targetRun: quick ? 0.05 : 1.0,
    runs: quick ? 2 : 5,
    json: str("json") ?? path.join(RESULTS_DIR, `bench-${stamp()}.json`),
    ...(str("md") ? { md: str("md")! } : {}),
  };
}

/** Run a TypeScript script in a fresh Node process; resolves with its stdout (stderr passes through). */
function child(script: string, args: string[], threads: number, timeoutSeconds: number): Promise<{ stdout: string; timedOut: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", path.join(BENCH_DIR, script), ...args], {
      cwd: REPO_DIR,
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, timeoutSeconds * 1000);
    p.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0 && stderr.trim()) process.stderr.write(stderr.split("\n").slice(-12).join("\n") + "\n");
      resolve({ stdout, timedOut, code });
    });
  });
}

function parseResult<T>(stdout: string): T | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  return line ? (JSON.parse(line.slice("BENCH_RESULT ".length)) as T) : undefined;
}

/** Systems that take seconds or more per T3 or T5 step (skipped on those in --quick). */
const SLOW_SYSTEMS = new Set(["blasnet-ts", "tfjs-cpu", "tfjs-wasm"]);
const SLOW_WORKLOADS: Readonly<Record<string, string>> = { T3: "10+ seconds", T5: "0.4 s (TypeScript) to 50 s (TensorFlow.js cpu)" };

async function runTrain(opts: Options, system: string, w: Workload, threads: number): Promise<TrainResult> {
  const slow = SLOW_WORKLOADS[w.id.startsWith("S-T5") ? "T5" : w.id];
  if (opts.quick && slow && SLOW_SYSTEMS.has(system)) {
    return emptyTrainResult(system, w, threads, `skipped in --quick: one ${w.id} step takes ${slow}`);
  }
  const job: Job = {
    kind: "train",
    system,
    workload: opts.quick ? { ...w, rows: Math.min(w.rows, 16 * w.batchSize) } : w,
    threads,
    targetRunSeconds: opts.targetRun,
    runs: opts.runs,
    budgetSeconds: opts.budget,
  };
  const load = os.loadavg()[0]!;
  // Generous wall cap: a slow system's single step can exceed the budget (it always gets one).
  const r = await child("worker.ts", [JSON.stringify(job)], threads, opts.budget * 3 + 120);
  const res = parseResult<TrainResult>(r.stdout);
  if (!res) {
    return emptyTrainResult(system, w, threads, r.timedOut ? `timed out after ${opts.budget * 3 + 120} s` : `worker exited ${r.code} without a result`);
  }
  res.loadAvg = Math.round(load * 100) / 100;
  return res;
}

async function runBound(opts: Options, workloads: Workload[], threads: number): Promise<BoundResult> {
  const job: Job = { kind: "bound", workloads, threads, seconds: opts.quick ? 0.1 : 1 };
  const r = await child("worker.ts", [JSON.stringify(job)], threads, 300);
  return parseResult<BoundResult>(r.stdout) ?? { kind: "bound", threads, ok: false, error: `worker exited ${r.code} without a result`, entries: [] };
}

// ---- scaling ----

const SCALING_WIDTHS = [64, 256, 1024, 4096];
const SCALING_BATCHES = [16, 64, 256, 1024];
/**
 * T5's batch sizes in the CNN scaling table. --quick: batch 64 only, native only: its few steps
 * then train on the very rows the "loss fell" check evaluates (at least 64), which the 4 steps of a
 * batch of 16 do not (measured: its loss on those 64 rows rose, 3.12 -> 4.56).
 */
const CNN_SCALING_BATCHES = [16, 32, 64, 128, 256];
const CNN_SCALING_BATCHES_QUICK = [64];
/** The TypeScript backend skips grid points above this many FLOPs per step (over 5 s a step). */
const SCALING_TS_MAX_FLOPS = 30e9;

function scalingGrid(quick: boolean): Workload[] {
  if (quick) return [scalingWorkload(64, 16), scalingWorkload(256, 64)];
  return SCALING_WIDTHS.flatMap((width) => SCALING_BATCHES.map((b) => scalingWorkload(width, b)));
}

/** "commit <hash> (<n> files modified)" for the record, or why it is unknown. */
function gitDescribe(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_DIR, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO_DIR, encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim()).length;
    return `commit ${head}${dirty ? ` (+ ${dirty} modified tracked file${dirty === 1 ? "" : "s"})` : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

// ---- main ----

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const t0 = Date.now();
  const machine = machineInfo();
  const code = gitDescribe();
  const out: string[] = [];
  const say = (s = ""): void => {
    console.log(s);
    out.push(s);
  };
  say(`# blasnet benchmark${opts.quick ? " (--quick smoke run: figures are not meaningful)" : ""}`);
  say();
  say(`- date: ${machine.date}`);
  say(`- machine: ${machine.cpu}, ${machine.logicalCpus} logical CPUs, ${machine.totalMemGiB} GiB, ${machine.platform}, Node ${machine.node}`);
  say(`- code: ${code}`);
  say(`- load average at start: ${loadAvgString()}`);
  say(`- threads: ${opts.threads} (native systems; OPENBLAS_NUM_THREADS and setThreads)${opts.singleThread && opts.suites.has("training") ? ", plus a 1-thread training pass" : ""}`);
  say();

  /** Measurements that failed (not skipped): the exit code is 1 if there are any (for CI smoke runs). */
  const failures: string[] = [];
  const json: Record<string, unknown> = { machine, code, options: { ...opts, suites: [...opts.suites], workloads: opts.workloads.map((w) => w.id) } };

  if (opts.suites.has("kernels")) {
    const kernelsJson = path.join(path.dirname(opts.json), `kernels-${stamp()}.json`);
    const r = await child("kernels.ts", ["--threads", String(opts.threads), "--json", kernelsJson, ...(opts.quick ? ["--quick"] : [])], opts.threads, 900);
    if (fs.existsSync(kernelsJson)) {
      const k = JSON.parse(fs.readFileSync(kernelsJson, "utf8")) as KernelBenchResult;
      json["kernels"] = k;
      for (const g of k.gemm) if (g.check.startsWith("FAIL")) failures.push(`kernels: gemm ${g.shape} ${g.backend} ${g.threads}T ${g.check}`);
      for (const e of k.elementwise) if (e.check.startsWith("FAIL")) failures.push(`kernels: ${e.kernel} (${e.elements}) ${e.check}`);
      console.error(`  kernel JSON: ${path.relative(process.cwd(), kernelsJson)}`);
      say("## Kernels (issue 2, item 10)");
      say();
      say(`native backend: ${"unavailable" in k.native ? `unavailable (${k.native.unavailable.split("\n")[0]})` : `${k.native.blas}; ${k.native.cpu}`}`);
      say();
      say(kernelTables(k));
      say();
    } else {
      say(`## Kernels: FAILED (exit ${r.code})`);
      failures.push(`kernels: exited ${r.code} without results`);
      say();
    }
  }

  if (opts.suites.has("training")) {
    const passes = opts.singleThread ? [opts.threads, 1] : [opts.threads];
    const results: TrainResult[] = [];
    const bounds: BoundResult[] = [];
    for (const threads of passes) {
      // The 1-thread pass re-measures only the systems that use threads: the others are
      // single-threaded JavaScript / WASM, and their figures stand for both passes.
      const systems = threads === opts.threads ? opts.systems : opts.systems.filter((s) => (THREADED_IDS as readonly string[]).includes(s));
      for (const w of opts.workloads) {
        // The bound is measured right before the workload's systems, under the same conditions.
        bounds.push(await runBound(opts, [w], threads));
        for (const s of systems) {
          const r = await runTrain(opts, s, w, threads);
          results.push(r);
          const line = r.ok
            ? `${fmt(r.samplesPerSec)} samples/s, ${fmt(r.usPerStep)} us/step, loss ${lossPair(r)}`
            : status(r);
          console.error(`  [${((Date.now() - t0) / 1000).toFixed(0)} s] ${w.id} ${s} ${threads}T: ${line}`);
        }
      }
    }
    json["training"] = { results, bounds };
    for (const r of results) if (!r.ok && !r.error?.startsWith("skipped")) failures.push(`${r.workload} ${r.system} ${r.threads}T: ${status(r)}`);
    say("## Training throughput (issue 5, item 4; T5: issue 10)");
    say();
    say("Workloads: " + opts.workloads.map((w) => `${w.id} ${w.name} (batch ${w.batchSize}, N ${w.rows}, ${fmt(flopsPerStep(w))} FLOP/step)`).join("; ") + ".");
    say();
    say(
      "Each (system, workload) in a fresh process; `fit` end to end on seeded synthetic data in memory; warm-up and calibration calls excluded; " +
        "median of the timed runs. GFLOPS = FLOPs of a step / time, the FLOPs counted from the layer shapes (3 x the forward GEMMs' FLOPs: 6 x weights x batch for dense networks; conv2d by its im2col GEMM; bench/workloads.ts). " +
        "% GEMM bound = samples/s over the samples/s of the GEMMs alone of one training step (native gemm, same batch, measured in this run). " +
        "us/step = time per batch of the workload's batch size (brain.js trains per sample). " +
        "A result counts only if the loss on the first rows (at least 64; each system's own evaluate) fell from before training to after the last run. " +
        "Slow systems measure a fixed number of steps on a prefix of the data (partial epoch) rather than full epochs, and fewer timed runs (the budget caps each job's wall time). " +
        "load = 1-minute load average when the job started (2 logical CPUs).",
    );
    say();
    const nb = bounds.find((b) => b.ok)?.backend as { blas?: string; cpu?: string } | undefined;
    say(nb ? `Native backend (backendInfo()): ${nb.blas}; ${nb.cpu}.` : `Native backend unavailable: ${bounds[0]?.error ?? "?"}.`);
    say();
    say("GEMM-only bound of one training step (forward X·Wᵀ, dW = dYᵀ·X, dX = dY·W per dense layer; for conv2d the im2col GEMMs W·cols, dY'·colsᵀ, Wᵀ·dY' with the same shapes; no dX for the first layer; each GEMM checked against float64 before timing; the fastest of 5 timings; bench/bound.ts). " +
        "For T1 this \"bound\" is the cost of 5 tiny gemm calls through N-API, not arithmetic: its % column says little.");
    say();
    say(boundTable(bounds));
    for (const threads of passes) {
      const b = bounds.filter((x) => x.threads === threads).flatMap((x) => x.entries);
      say();
      say(`### ${threads} thread${threads === 1 ? "" : "s"}${threads === 1 ? " (native systems re-measured; the others are single-threaded, see above)" : ""}`);
      say();
      say(trainingTable(results.filter((r) => r.threads === threads), b, threads));
      if (threads === opts.threads) {
        say();
        say("Ratios (samples/s):");
        say();
        say(ratioTable(results, opts.workloads, threads));
        say();
        say(targetTable(results, b, threads));
      }
    }
    const notes = [...new Set(results.flatMap((r) => r.notes.map((n) => `${r.system}: ${n}`)))];
    if (notes.length) {
      say();
      say("System notes: " + notes.join("; ") + ".");
    }
    say();
  }

  if (opts.suites.has("scaling") || opts.suites.has("cnn-scaling")) {
    const dense = opts.suites.has("scaling");
    const systems = ["blasnet-fused", "blasnet-ts"].filter((s) => opts.systems.includes(s));
    const scalingOpts = { ...opts, budget: opts.quick ? opts.budget : Math.min(opts.budget, 30), runs: opts.quick ? opts.runs : 3 };
    const runGrid = async (grid: Workload[]): Promise<TrainResult[]> => {
      const results: TrainResult[] = [];
      for (const w of grid) {
        for (const s of systems) {
          let r: TrainResult;
          if (s === "blasnet-ts" && flopsPerStep(w) > SCALING_TS_MAX_FLOPS) {
            r = emptyTrainResult(s, w, opts.threads, "skipped: over the TypeScript step budget");
          } else {
            r = await runTrain(scalingOpts, s, w, opts.threads);
          }
          results.push(r);
          console.error(`  [${((Date.now() - t0) / 1000).toFixed(0)} s] ${w.id} ${s}: ${r.ok ? `${fmt(r.samplesPerSec)} samples/s` : status(r)}`);
        }
      }
      for (const r of results) if (!r.ok && !r.error?.startsWith("skipped")) failures.push(`${r.workload} ${r.system}: ${status(r)}`);
      return results;
    };
    const grid = dense ? scalingGrid(opts.quick) : [];
    const results = await runGrid(grid);
    const cnnGrid = (opts.quick ? CNN_SCALING_BATCHES_QUICK : CNN_SCALING_BATCHES).map(cnnScalingWorkload);
    const cnnResults = await runGrid(cnnGrid);
    json["scaling"] = { grid, results, cnnGrid, cnnResults };
    say(`## Scaling (issue 5, item 5; issue 10)`);
    say();
    say(
      `${dense ? "Network width -> width relu -> width relu -> 10, softmax cross-entropy, SGD 0.01, batch and width as shown; " : ""}` +
        `native fused at ${opts.threads} threads vs the TypeScript backend; each point a fresh process, median of up to ${scalingOpts.runs} timed fit calls.`,
    );
    say();
    if (dense) {
      say(scalingTables(grid, results, SCALING_TS_MAX_FLOPS));
      say();
    }
    say(`T5 (${WORKLOADS.T5.name}, Adam 1e-3, N ${WORKLOADS.T5.rows}) by batch size, native fused at ${opts.threads} threads vs the TypeScript backend:`);
    say();
    say(cnnScalingTable(cnnGrid, cnnResults));
    say();
  }

  say(`Load average at end: ${loadAvgString()}; wall time ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
  json["loadAvgEnd"] = os.loadavg();
  json["wallSeconds"] = (Date.now() - t0) / 1000;
  json["failures"] = failures;
  writeJson(opts.json, json);
  console.log(`JSON: ${path.relative(process.cwd(), opts.json)}`);
  if (opts.md) {
    fs.mkdirSync(path.dirname(opts.md), { recursive: true });
    fs.writeFileSync(opts.md, out.join("\n") + "\n");
    console.log(`Markdown: ${path.relative(process.cwd(), opts.md)}`);
  }
  if (failures.length) {
    console.error(`\n${failures.length} measurement${failures.length === 1 ? "" : "s"} failed (exit code 1):\n  ${failures.join("\n  ")}`);
    process.exitCode = 1;
  }
}

await main();

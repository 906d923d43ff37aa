/**
 * Two (or more) checkouts of blasnet side by side in ONE process: the same workload and data set,
 * their fits alternated in ABBA order round after round, each fit timed in process CPU time and in
 * wall time per training step. Drift of a shared machine (other jobs, clock, memory) then hits every
 * checkout alike, which separate bench/run.ts processes cannot promise. For "is the new commit
 * slower than the old one", e.g. against a checkout of an older commit in another folder:
 *
 *   npx tsx bench/pair-fit.ts --workload T2 --system blasnet-fused --epochs 1 --rounds 10 ../old .
 *
 * Options: --rows N (default: the workload's), --threads N (default: the number of CPUs),
 * --shared (the data set over SharedArrayBuffers, which blasnet's fused plan reads in place instead
 * of copying each run's rows). Prints each checkout's median CPU and wall ms per step, and each
 * checkout's per-round ratio to the first (median and quartiles; below 1 means faster).
 * One untimed fit per checkout first, so every timed fit runs warm. Loading order biases the
 * checkouts by a few percent (whichever loads first is faster here): run both orders.
 */
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import type { TrainSession } from "./systems/types.js";
import type { Dataset, Workload } from "./workloads.js";

type WorkloadsModule = typeof import("./workloads.js");
type SystemsModule = typeof import("./systems/index.js");

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: "string", default: "T1" },
    system: { type: "string", default: "blasnet-fused" },
    epochs: { type: "string", default: "1" },
    rounds: { type: "string", default: "10" },
    rows: { type: "string" },
    threads: { type: "string", default: String(os.cpus().length) },
    shared: { type: "boolean", default: false },
  },
});

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer but received ${JSON.stringify(v)}`);
  return n;
}

const epochs = positiveInt("epochs", values.epochs);
const rounds = positiveInt("rounds", values.rounds);
const threads = positiveInt("threads", values.threads);
if (positionals.length < 2) throw new Error("Give at least two checkout folders to compare, e.g. `../old .`");

/** A copy of `a` over a SharedArrayBuffer. */
function shared<T extends Float32Array | Int32Array>(a: T): T {
  const copy = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  copy.set(a);
  return copy;
}

let workload: Workload | undefined;
let data: Dataset | undefined;
let rows = 0;
const sessions: TrainSession[] = [];
for (const checkout of positionals) {
  const root = pathToFileURL(path.resolve(checkout) + "/").href;
  const { WORKLOADS, makeDataset } = (await import(new URL("bench/workloads.ts", root).href)) as WorkloadsModule;
  const { loadSystem } = (await import(new URL("bench/systems/index.ts", root).href)) as SystemsModule;
  if (!workload) {
    if (!Object.hasOwn(WORKLOADS, values.workload!)) throw new Error(`Unknown workload ${JSON.stringify(values.workload)}; expected one of ${Object.keys(WORKLOADS).join(", ")}`);
    workload = WORKLOADS[values.workload as keyof typeof WORKLOADS];
    rows = values.rows === undefined ? workload.rows : positiveInt("rows", values.rows);
    data = makeDataset(workload, rows);
    if (values.shared) data = { ...data, x: shared(data.x), y: shared(data.y) };
  }
  const session = await (await loadSystem(values.system!)).create(workload, data!, threads);
  await session.prepare(rows);
  await session.fit(rows, 1);
  sessions.push(session);
}

const steps = sessions[0]!.stepsPerEpoch(rows) * epochs;
const cpu: number[][] = sessions.map(() => []);
const wall: number[][] = sessions.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < sessions.length; k++) {
    const i = r % 2 === 0 ? k : sessions.length - 1 - k; // ABBA
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await sessions[i]!.fit(rows, epochs);
    const c = process.cpuUsage(c0);
    cpu[i]!.push((c.user + c.system) / 1e3 / steps);
    wall[i]!.push((performance.now() - t0) / steps);
  }
}

const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
const quantile = (a: number[], f: number) => {
  const b = sorted(a);
  const at = f * (b.length - 1);
  const lo = Math.floor(at);
  return b[lo]! + (b[Math.min(lo + 1, b.length - 1)]! - b[lo]!) * (at - lo);
};
const ms = (v: number) => v.toPrecision(4);
console.log(`${values.workload} ${values.system}, ${rows} rows, ${epochs} epoch(s) a fit, ${rounds} rounds, ${threads} threads${values.shared ? ", data over SharedArrayBuffers" : ""}`);
positionals.forEach((checkout, i) => {
  console.log(`${checkout}: median ms per step, CPU ${ms(quantile(cpu[i]!, 0.5))}, wall ${ms(quantile(wall[i]!, 0.5))}`);
});
for (let i = 1; i < positionals.length; i++) {
  const rc = cpu[i]!.map((v, r) => v / cpu[0]![r]!);
  const rw = wall[i]!.map((v, r) => v / wall[0]![r]!);
  const q = (a: number[]) => `${quantile(a, 0.5).toFixed(3)} [q25 ${quantile(a, 0.25).toFixed(3)}, q75 ${quantile(a, 0.75).toFixed(3)}]`;
  console.log(`${positionals[i]} / ${positionals[0]} per round: CPU ${q(rc)}, wall ${q(rw)}`);
}
for (const s of sessions) s.dispose();

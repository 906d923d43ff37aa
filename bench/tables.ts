/**
 * The benchmark's tables (Markdown), from the results bench/run.ts collected: training throughput,
 * the GEMM-only bound, ratios between systems, the issues' targets, and the scaling matrices.
 */
import { fmt, fmtRatio, table } from "./util.js";
import type { BoundEntry, BoundResult, TrainResult } from "./worker.js";
import type { Workload } from "./workloads.js";

export function status(r: TrainResult): string {
  if (r.ok) return "ok";
  const e = (r.error ?? "?").split(" | ")[0]!.split("\n")[0]!;
  const short = e.length > 90 ? `${e.slice(0, 87)}...` : e;
  return short.startsWith("skipped") ? short : `NOT COUNTED: ${short}`;
}

/** "first -> last" with just enough digits to show that they differ. */
export function lossPair(r: TrainResult): string {
  if (!Number.isFinite(r.lossStart)) return "-";
  let p = 3;
  while (p < 7 && r.lossStart.toPrecision(p) === r.lossEnd.toPrecision(p)) p++;
  return `${r.lossStart.toPrecision(p)} -> ${r.lossEnd.toPrecision(p)}`;
}

function runsNote(r: TrainResult): string {
  if (!r.runs.length) return "";
  const per = r.epochsPerRun > 1 ? `${r.epochsPerRun} epochs` : r.partialEpoch ? `${r.stepsPerRun} steps (partial epoch)` : "1 epoch";
  return `${r.runs.length} x ${per}`;
}

export function trainingTable(results: TrainResult[], bounds: BoundEntry[], threads: number): string {
  const rows = results.map((r) => {
    const b = bounds.find((x) => x.workload === r.workload);
    const ok = r.ok;
    return [
      r.workload,
      r.system,
      String(threads),
      ok ? fmt(r.samplesPerSec) : "-",
      ok ? fmt(r.usPerStep) : "-",
      ok ? fmt(r.gflops) : "-",
      ok && b ? `${((100 * r.samplesPerSec) / b.samplesPerSec).toFixed(1)}%` : "-",
      lossPair(r),
      runsNote(r),
      r.loadAvg !== undefined ? r.loadAvg.toFixed(1) : "-",
      status(r),
    ];
  });
  return table(
    ["workload", "system", "threads", "samples/s", "us/step", "GFLOPS", "% GEMM bound", "loss before -> after", "timed runs", "load", "status"],
    rows,
  );
}

export function boundTable(bounds: BoundResult[]): string {
  const rows: string[][] = [];
  for (const b of bounds) {
    if (!b.ok) {
      const row = ["-", String(b.threads), "-", "-", "-", `unavailable: ${b.error?.split("\n")[0] ?? "?"}`];
      if (!rows.some((r) => r.join() === row.join())) rows.push(row);
      continue;
    }
    for (const e of b.entries) {
      rows.push([e.workload, String(b.threads), fmt(e.stepSeconds * 1e6), fmt(e.samplesPerSec), fmt(e.gemmGflops), "ok"]);
    }
  }
  return table(["workload", "threads", "GEMM-only us/step", "bound samples/s", "GEMM GFLOPS", "status"], rows);
}

function get(results: TrainResult[], system: string, workload: string, threads: number): number {
  const r = results.find((x) => x.system === system && x.workload === workload && x.threads === threads && x.ok);
  return r ? r.samplesPerSec : NaN;
}

export function ratioTable(results: TrainResult[], workloads: Workload[], threads: number): string {
  const rows = workloads.map((w) => {
    const f = get(results, "blasnet-fused", w.id, threads);
    const k = get(results, "blasnet-kernels", w.id, threads);
    const ts = get(results, "blasnet-ts", w.id, threads);
    const cpu = get(results, "tfjs-cpu", w.id, threads);
    const wasm = get(results, "tfjs-wasm", w.id, threads);
    const brain = get(results, "brain.js", w.id, threads);
    return [
      w.id,
      fmtRatio(f / ts),
      fmtRatio(f / k),
      fmtRatio(f / cpu),
      fmtRatio(f / wasm),
      fmtRatio(ts / cpu),
      fmtRatio(ts / wasm),
      w.id === "T1" ? fmtRatio(f / brain) : "-",
      w.id === "T1" ? fmtRatio(ts / brain) : "-",
    ];
  });
  return table(
    ["workload", "fused / TS", "fused / per-kernel", "fused / tfjs-cpu", "fused / tfjs-wasm", "TS / tfjs-cpu", "TS / tfjs-wasm", "fused / brain.js", "TS / brain.js"],
    rows,
  );
}

/** Issue 5's targets: measured value, target, met or missed by how much. */
export function targetTable(results: TrainResult[], bounds: BoundEntry[], threads: number): string {
  const rows: string[][] = [];
  const abs = (label: string, value: number, target: number, unit = "samples/s"): void => {
    const met = value >= target;
    rows.push([
      label,
      Number.isFinite(value) ? `${fmt(value)} ${unit}` : "not measured",
      `>= ${fmt(target)} ${unit}`,
      !Number.isFinite(value) ? "-" : met ? "met" : `MISSED (${((100 * value) / target).toFixed(0)}% of target)`,
    ]);
  };
  abs("T1 native fused", get(results, "blasnet-fused", "T1", threads), 20e6);
  abs("T1 TypeScript backend", get(results, "blasnet-ts", "T1", threads), 6e6);
  abs("T2 native fused", get(results, "blasnet-fused", "T2", threads), 100e3);
  abs("T3 native fused", get(results, "blasnet-fused", "T3", threads), 1200);
  abs("T4 native fused", get(results, "blasnet-fused", "T4", threads), 18e3);
  for (const id of ["T2", "T3", "T4"]) {
    abs(`${id} native fused / TS`, get(results, "blasnet-fused", id, threads) / get(results, "blasnet-ts", id, threads), 30, "x");
  }
  for (const id of ["T2", "T4"]) {
    abs(`${id} TS / tfjs-cpu`, get(results, "blasnet-ts", id, threads) / get(results, "tfjs-cpu", id, threads), 4, "x");
  }
  const t5 = get(results, "blasnet-fused", "T5", threads);
  const t5Bound = bounds.find((b) => b.workload === "T5");
  abs("T5 native fused (issue 10)", t5, 5000);
  abs("T5 native fused, % of GEMM-only bound", t5Bound ? (100 * t5) / t5Bound.samplesPerSec : NaN, 80, "%");
  abs("T5 native fused / TS", t5 / get(results, "blasnet-ts", "T5", threads), 30, "x");
  return table(["target (issues 5, 10)", `measured (${threads} threads)`, "target", "verdict"], rows);
}

/** Width x batch matrices: fused samples/s, TypeScript samples/s, their ratio, and fused GFLOPS. */
export function scalingTables(grid: Workload[], results: TrainResult[], tsMaxFlops: number): string {
  const widths = [...new Set(grid.map((w) => w.inFeatures))];
  const batches = [...new Set(grid.map((w) => w.batchSize))];
  const find = (system: string, width: number, batch: number): TrainResult | undefined => {
    const w = grid.find((g) => g.inFeatures === width && g.batchSize === batch);
    return w && results.find((r) => r.workload === w.id && r.system === system);
  };
  const cell = (r: TrainResult | undefined, f: (r: TrainResult) => string): string =>
    !r ? "." : r.ok ? f(r) : r.error?.startsWith("skipped") ? "skip" : "FAIL";
  const matrix = (title: string, f: (width: number, batch: number) => string): string =>
    [
      title,
      "",
      table(["width \\ batch", ...batches.map(String)], widths.map((wd) => [String(wd), ...batches.map((b) => f(wd, b))])),
    ].join("\n");
  const out = [
    matrix("Native fused, samples/s:", (wd, b) => cell(find("blasnet-fused", wd, b), (r) => fmt(r.samplesPerSec))),
    matrix("TypeScript backend, samples/s:", (wd, b) => cell(find("blasnet-ts", wd, b), (r) => fmt(r.samplesPerSec) + (r.partialEpoch ? "*" : ""))),
    matrix("Native fused / TypeScript:", (wd, b) => {
      const f = find("blasnet-fused", wd, b);
      const t = find("blasnet-ts", wd, b);
      return f?.ok && t?.ok ? fmtRatio(f.samplesPerSec / t.samplesPerSec) : "-";
    }),
    matrix("Native fused, achieved GFLOPS (6 x weights x batch per step):", (wd, b) => cell(find("blasnet-fused", wd, b), (r) => fmt(r.gflops))),
    matrix("TypeScript backend, achieved GFLOPS:", (wd, b) => cell(find("blasnet-ts", wd, b), (r) => fmt(r.gflops))),
  ];
  const failed = results.filter((r) => !r.ok && !r.error?.startsWith("skipped"));
  const notes = [
    "`*`: a fixed number of steps on a prefix of the data (slow point). `skip`: the TypeScript backend is not run where one step " +
      `exceeds ${fmt(tsMaxFlops)} FLOPs (over 5 s a step; its GFLOPS are flat from width 1024 on).`,
    ...failed.map((r) => `${r.workload} ${r.system}: ${status(r)}`),
  ];
  return [...out, ...notes].join("\n\n");
}

/** T5 by batch size: native fused and TypeScript samples/s and GFLOPS, and their ratio. */
export function cnnScalingTable(grid: Workload[], results: TrainResult[]): string {
  const find = (system: string, w: Workload): TrainResult | undefined => results.find((r) => r.workload === w.id && r.system === system);
  const cell = (r: TrainResult | undefined, f: (r: TrainResult) => string): string =>
    !r ? "." : r.ok ? f(r) : r.error?.startsWith("skipped") ? "skip" : "FAIL";
  const rows = grid.map((w) => {
    const f = find("blasnet-fused", w);
    const t = find("blasnet-ts", w);
    return [
      String(w.batchSize),
      cell(f, (r) => fmt(r.samplesPerSec)),
      cell(f, (r) => fmt(r.gflops)),
      cell(t, (r) => fmt(r.samplesPerSec) + (r.partialEpoch ? "*" : "")),
      cell(t, (r) => fmt(r.gflops)),
      f?.ok && t?.ok ? fmtRatio(f.samplesPerSec / t.samplesPerSec) : "-",
    ];
  });
  const failed = results.filter((r) => !r.ok && !r.error?.startsWith("skipped"));
  return [
    table(["batch", "native fused samples/s", "native fused GFLOPS", "TypeScript samples/s", "TypeScript GFLOPS", "fused / TypeScript"], rows),
    "`*`: a fixed number of steps on a prefix of the data.",
    ...failed.map((r) => `${r.workload} ${r.system}: ${status(r)}`),
  ].join("\n\n");
}

/**
 * Kernel benchmark (issue 2, item 10): GEMM GFLOPS and element-wise kernel throughput, native vs
 * TypeScript, with the ratios, in one process.
 *
 *   npx tsx bench/kernels.ts [--threads N] [--quick] [--json path]
 *
 * GEMM is timed in the dense layer's forward form, C (m,n) = A (m,k) · B (n,k)ᵀ (transB), labelled
 * m x k x n: 128x784x256 is a batch of 128 through a 784 -> 256 layer. FLOPs = 2 m n k. Native runs at
 * --threads (default: all cores) and at 1 thread; the TypeScript backend is single-threaded.
 * Element-wise kernels run single-threaded on both backends (native: vectorized loops, no BLAS);
 * throughput is elements/s and GB/s, counting each element's bytes read and written once.
 *
 * Results are checked before they count: every GEMM against float64 dot products on sampled
 * entries, every element-wise kernel native against TypeScript (NMSE of every output).
 */
import os from "node:os";
import path from "node:path";
import type { Backend, Kernels } from "../lib/backend/backend.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { Rng } from "../lib/core/rng.js";
import {
  RESULTS_DIR,
  fmt,
  fmtRatio,
  intFlag,
  loadAvgString,
  loadNativeBackend,
  machineInfo,
  median,
  nowSeconds,
  parseArgs,
  stamp,
  table,
  writeJson,
} from "./util.js";
import { CASES, type Case, uniform } from "./kernel-cases.js";

export interface GemmRow {
  shape: string;
  m: number;
  k: number;
  n: number;
  backend: "native" | "js";
  threads: number;
  /** Median seconds per call. */
  seconds: number;
  gflops: number;
  runs: number;
  check: string;
  note?: string;
}

export interface ElementwiseRow {
  kernel: string;
  /** Elements processed per call. */
  elements: number;
  bytesPerElement: number;
  backend: "native" | "js";
  seconds: number;
  elementsPerSec: number;
  gbPerSec: number;
  check: string;
}

export interface KernelBenchResult {
  machine: ReturnType<typeof machineInfo>;
  loadAvgEnd: number[];
  native: ReturnType<Backend["info"]> | { unavailable: string };
  threads: number;
  quick: boolean;
  gemm: GemmRow[];
  elementwise: ElementwiseRow[];
}

const GEMM_SHAPES: [number, number, number][] = [
  [128, 784, 256],
  [256, 4096, 4096],
  [2048, 2048, 2048],
];


/** Check C = A·Bᵀ on 32 sampled entries against float64 dot products. */
function checkGemm(c: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number): string {
  const rng = new Rng(99);
  let worst = 0;
  for (let s = 0; s < 32; s++) {
    const i = Math.floor(rng.uniform() * m);
    const j = Math.floor(rng.uniform() * n);
    let ref = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      ref += a[i * k + p]! * b[j * k + p]!;
      mag += Math.abs(a[i * k + p]! * b[j * k + p]!);
    }
    worst = Math.max(worst, Math.abs(c[i * n + j]! - ref) / mag);
  }
  return worst <= 1e-5 ? "ok" : `FAIL (rel. error ${worst.toExponential(2)})`;
}

function benchGemm(
  b: Backend,
  threads: number,
  [m, k, n]: [number, number, number],
  target: number,
): GemmRow {
  const rng = new Rng(m * 7 + k * 3 + n);
  const A = uniform(m * k, rng);
  const B = uniform(n * k, rng);
  const C = new Float32Array(m * n);
  const call = (): void => b.gemm(false, true, m, n, k, 1, A, B, 0, C);
  const t0 = nowSeconds();
  call();
  const first = nowSeconds() - t0;
  const check = checkGemm(C, A, B, m, k, n);
  const shape = `${m}x${k}x${n}`;
  const flops = 2 * m * n * k;
  if (first > target) {
    // Too slow to repeat (the TypeScript backend on the big shapes): the single first call, with the
    // GEMM code already compiled hot by the smaller shapes run before it.
    return { shape, m, k, n, backend: b.name, threads, seconds: first, gflops: flops / first / 1e9, runs: 1, check, note: "single run" };
  }
  const reps = Math.max(1, Math.round(target / 5 / Math.max(first, 1e-7)));
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const a = nowSeconds();
    for (let i = 0; i < reps; i++) call();
    times.push((nowSeconds() - a) / reps);
  }
  const t = median(times);
  return { shape, m, k, n, backend: b.name, threads, seconds: t, gflops: flops / t / 1e9, runs: 5 * reps, check };
}

function nmse(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return den === 0 ? num : num / den;
}

function timeCase(k: Kernels, inst: ReturnType<Case["make"]>, batchSeconds: number): number {
  let reps = 1;
  for (;;) {
    const a = nowSeconds();
    for (let i = 0; i < reps; i++) inst.run(k);
    const t = nowSeconds() - a;
    if (t >= batchSeconds || reps >= 1 << 24) break;
    reps = t <= 0 ? reps * 16 : Math.min(reps * 16, Math.max(reps * 2, Math.ceil((reps * batchSeconds * 1.2) / t)));
  }
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const a = nowSeconds();
    for (let i = 0; i < reps; i++) inst.run(k);
    times.push((nowSeconds() - a) / reps);
  }
  return median(times);
}

export async function runKernelBench(opts: { threads: number; quick: boolean }): Promise<KernelBenchResult> {
  const machine = machineInfo();
  const ts = createTsBackend();
  const { native, reason } = await loadNativeBackend();
  const gemm: GemmRow[] = [];
  const gemmTarget = opts.quick ? 0.05 : 0.6;

  // GEMM: TypeScript (1 thread), then native at --threads and at 1 thread. Smaller shapes first, so
  // that the TypeScript GEMM is compiled hot before the big single runs.
  for (const shape of GEMM_SHAPES) {
    const big = shape[0] * shape[1] * shape[2] > 1e8;
    if (opts.quick && big) {
      gemm.push({
        shape: shape.join("x"), m: shape[0], k: shape[1], n: shape[2], backend: "js", threads: 1,
        seconds: NaN, gflops: NaN, runs: 0, check: "-", note: "skipped in --quick",
      });
    } else {
      gemm.push(benchGemm(ts, 1, shape, gemmTarget));
    }
    if (native) {
      for (const t of opts.threads === 1 ? [1] : [opts.threads, 1]) {
        native.setThreads(t);
        gemm.push(benchGemm(native, t, shape, gemmTarget));
      }
      native.setThreads(opts.threads);
    }
  }

  // Element-wise kernels at a large size (memory-bound) and a small one (call overhead shows).
  const sizes = opts.quick ? [65_536] : [1 << 20, 4096];
  const batchSeconds = opts.quick ? 0.002 : 0.02;
  const elementwise: ElementwiseRow[] = [];
  for (const c of CASES) {
    for (const n of sizes) {
      const tsInst = c.make(n);
      let check = "reference";
      let nativeInst: ReturnType<Case["make"]> | undefined;
      if (native) {
        // Same seeds: identical inputs. One call each, then every output compared.
        nativeInst = c.make(n);
        const r1 = tsInst.run(ts);
        const r2 = nativeInst.run(native);
        let worst = 0;
        const o1 = tsInst.outputs();
        const o2 = nativeInst.outputs();
        for (let i = 0; i < o1.length; i++) worst = Math.max(worst, nmse(o2[i]!, o1[i]!));
        if (typeof r1 === "number" && typeof r2 === "number") {
          worst = Math.max(worst, ((r1 - r2) / (Math.abs(r1) + 1e-30)) ** 2);
        }
        check = worst <= 1e-8 ? "ok" : `FAIL (nmse ${worst.toExponential(2)})`;
      }
      const elements = tsInst.elements;
      const tTs = timeCase(ts, tsInst, batchSeconds);
      elementwise.push({
        kernel: c.name, elements, bytesPerElement: c.bytesPerElement, backend: "js", seconds: tTs,
        elementsPerSec: elements / tTs, gbPerSec: (elements * c.bytesPerElement) / tTs / 1e9, check,
      });
      if (native && nativeInst) {
        const tN = timeCase(native, nativeInst, batchSeconds);
        elementwise.push({
          kernel: c.name, elements, bytesPerElement: c.bytesPerElement, backend: "native", seconds: tN,
          elementsPerSec: elements / tN, gbPerSec: (elements * c.bytesPerElement) / tN / 1e9, check,
        });
      }
    }
  }
  return {
    machine,
    loadAvgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    native: native ? native.info() : { unavailable: reason ?? "unknown" },
    threads: opts.threads,
    quick: opts.quick,
    gemm,
    elementwise,
  };
}

/** The GEMM and element-wise tables, with native/TypeScript ratios. */
export function kernelTables(r: KernelBenchResult): string {
  const out: string[] = [];
  const shapes = [...new Set(r.gemm.map((g) => g.shape))];
  const threadsN = r.threads;
  const find = (shape: string, backend: string, threads: number): GemmRow | undefined =>
    r.gemm.find((g) => g.shape === shape && g.backend === backend && g.threads === threads);
  const headN = `native ${threadsN}T GFLOPS`;
  const gemmRows = shapes.map((s) => {
    const js = find(s, "js", 1);
    const n = find(s, "native", threadsN);
    const n1 = threadsN === 1 ? undefined : find(s, "native", 1);
    const checks = [js, n, n1].filter((x): x is GemmRow => !!x).map((x) => x.check);
    const bad = checks.find((c) => c.startsWith("FAIL"));
    return [
      s,
      fmt(js?.gflops),
      fmt(n?.gflops),
      ...(threadsN === 1 ? [] : [fmt(n1?.gflops)]),
      fmtRatio(n && js ? n.gflops / js.gflops : NaN),
      ...(threadsN === 1 ? [] : [fmtRatio(n1 && js ? n1.gflops / js.gflops : NaN)]),
      bad ?? (checks.every((c) => c === "-") ? "-" : checks.every((c) => c === "ok" || c === "-") ? "ok" : checks.join(",")),
      js?.note ?? "",
    ];
  });
  out.push(
    "GEMM C = A·Bᵀ (m x k x n), GFLOPS = 2mnk / time",
    "",
    table(
      [
        "m x k x n",
        "TS 1T GFLOPS",
        headN,
        ...(threadsN === 1 ? [] : ["native 1T GFLOPS"]),
        `native ${threadsN}T / TS`,
        ...(threadsN === 1 ? [] : ["native 1T / TS"]),
        "check",
        "TS note",
      ],
      gemmRows,
    ),
  );
  const kernels = [...new Set(r.elementwise.map((e) => `${e.kernel}\u0000${e.elements}`))];
  const ewRows = kernels.map((key) => {
    const [kernel, el] = key.split("\u0000") as [string, string];
    const elements = Number(el);
    const js = r.elementwise.find((e) => e.kernel === kernel && e.elements === elements && e.backend === "js");
    const n = r.elementwise.find((e) => e.kernel === kernel && e.elements === elements && e.backend === "native");
    return [
      kernel,
      fmt(elements),
      fmt(js?.elementsPerSec),
      fmt(n?.elementsPerSec),
      js ? js.gbPerSec.toFixed(2) : "-",
      n ? n.gbPerSec.toFixed(2) : "-",
      fmtRatio(n && js ? n.elementsPerSec / js.elementsPerSec : NaN),
      (n ?? js)?.check ?? "-",
    ];
  });
  out.push(
    "",
    "Element-wise kernels, 1 thread (elements/s; GB/s counts each element's bytes read + written once)",
    "",
    table(["kernel", "elements", "TS elem/s", "native elem/s", "TS GB/s", "native GB/s", "native / TS", "check"], ewRows),
  );
  return out.join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const threads = intFlag(args, "threads", os.cpus().length);
  const quick = args.has("quick");
  const jsonPath = typeof args.get("json") === "string" ? (args.get("json") as string) : path.join(RESULTS_DIR, `kernels-${stamp()}.json`);
  console.log(`Kernel benchmark: ${machineInfo().cpu}, ${os.cpus().length} logical CPUs, load ${loadAvgString()}`);
  const { native, reason } = await loadNativeBackend();
  console.log(native ? `native: ${JSON.stringify(native.info())}` : `native: unavailable (${reason?.split("\n")[0]})`);
  const r = await runKernelBench({ threads, quick });
  console.log("");
  console.log(kernelTables(r));
  writeJson(jsonPath, r);
  console.log(`\nload at end ${loadAvgString()}; JSON: ${path.relative(process.cwd(), jsonPath)}`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  await main();
}

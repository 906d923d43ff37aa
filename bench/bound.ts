/**
 * The GEMM-only bound of one training step: the GEMMs a step of the workload performs, with the
 * same shapes, timed alone through the native backend's gemm (cblas_sgemm). A system's samples/s
 * over the bound's is the "% GEMM bound" of the training tables.
 *
 * Dense layer (in -> out), batch B: forward Y = X·Wᵀ (B, out, in); dW = dYᵀ·X (out, in, B); dX = dY·W
 * (B, in, out). Conv layer by im2col (C -> outC, K = C·kH·kW, P = B·outH·outW output positions):
 * forward Y' = W·cols (outC, P, K); dW = dY'·colsᵀ (outC, K, P); dcols = Wᵀ·dY' (K, P, outC). The
 * first layer has no dX / dcols (nothing needs the gradient of the input data). im2col, col2im,
 * bias, activations, pooling and the optimizer are not in the bound.
 */
import { convShapes, denseShapes, type Workload } from "./workloads.js";
import { loadNativeBackend, nowSeconds } from "./util.js";
import type { Kernels } from "../lib/backend/backend.js";

export interface BoundJob {
  kind: "bound";
  workloads: Workload[];
  threads: number;
  seconds: number;
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


/** One GEMM of the step: C (m, n) = op(A) (m, k) · op(B) (k, n), with its operands. */
interface Gemm {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
}

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * 0.5;
  return a;
}

function gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array): Gemm {
  return { transA, transB, m, n, k, a, b, c: new Float32Array(m * n) };
}

/** The GEMMs of one training step of `w`, in the order a step runs them (forward, then backward from the last layer). */
export function stepGemms(w: Workload): Gemm[] {
  const B = w.batchSize;
  const forward: Gemm[] = [];
  const backward: Gemm[][] = [];
  let first = true;
  for (const s of convShapes(w)) {
    const K = s.inC * s.kernel * s.kernel;
    const P = B * s.outH * s.outW;
    const W = fill(s.outC * K, 2);
    const cols = fill(K * P, 1);
    const dY = fill(s.outC * P, 3);
    forward.push(gemm(false, false, s.outC, P, K, W, cols));
    backward.push([gemm(false, true, s.outC, K, P, dY, cols), ...(first ? [] : [gemm(true, false, K, P, s.outC, W, dY)])]);
    first = false;
  }
  for (const [inF, outF] of denseShapes(w)) {
    const X = fill(B * inF, 1);
    const W = fill(outF * inF, 2);
    const dY = fill(B * outF, 3);
    forward.push(gemm(false, true, B, outF, inF, X, W));
    backward.push([gemm(true, false, outF, inF, B, dY, X), ...(first ? [] : [gemm(false, false, B, inF, outF, dY, W)])]);
    first = false;
  }
  return [...forward, ...backward.reverse().flat()];
}

/**
 * Check every GEMM on sampled entries of C against float64 dot products; an error message, or null.
 */
function checkGemms(gemms: readonly Gemm[], id: string): string | null {
  for (const [i, g] of gemms.entries()) {
    for (const [r, col] of [[0, 0], [g.m - 1, g.n - 1], [g.m >> 1, g.n >> 1]] as const) {
      let ref = 0;
      for (let p = 0; p < g.k; p++) {
        const av = g.transA ? g.a[p * g.m + r]! : g.a[r * g.k + p]!;
        const bv = g.transB ? g.b[col * g.k + p]! : g.b[p * g.n + col]!;
        ref += av * bv;
      }
      const got = g.c[r * g.n + col]!;
      if (!(Math.abs(ref - got) <= 1e-3 * (1 + Math.sqrt(g.k) + Math.abs(ref)))) {
        return `gemm check failed for ${id}, GEMM ${i} (${g.m}x${g.n}x${g.k}) at (${r}, ${col}): ${got} vs ${ref}`;
      }
    }
  }
  return null;
}

function runStep(native: Kernels, gemms: readonly Gemm[]): void {
  for (const g of gemms) native.gemm(g.transA, g.transB, g.m, g.n, g.k, 1, g.a, g.b, 0, g.c);
}

export async function boundJob(job: BoundJob): Promise<BoundResult> {
  const { native, reason } = await loadNativeBackend();
  if (!native) {
    return { kind: "bound", threads: job.threads, ok: false, error: `native backend unavailable: ${reason}`, entries: [] };
  }
  native.setThreads(job.threads);
  const entries: BoundEntry[] = [];
  for (const w of job.workloads) {
    const B = w.batchSize;
    const gemms = stepGemms(w);
    const gemmFlops = gemms.reduce((s, g) => s + 2 * g.m * g.n * g.k, 0);
    // Every GEMM checked against float64 dot products before timing.
    runStep(native, gemms);
    const bad = checkGemms(gemms, w.id);
    if (bad) return { kind: "bound", threads: job.threads, ok: false, error: bad, entries };
    // Batches of reps, each longer than seconds/10, timed 5 times.
    let reps = 1;
    for (;;) {
      const a = nowSeconds();
      for (let i = 0; i < reps; i++) runStep(native, gemms);
      const t = nowSeconds() - a;
      if (t > job.seconds / 10 || reps > 1e6) break;
      reps *= 2;
    }
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = nowSeconds();
      for (let j = 0; j < reps; j++) runStep(native, gemms);
      times.push((nowSeconds() - a) / reps);
    }
    // The fastest of the timed batches: a bound is what the GEMMs can do, not what they usually do.
    const t = Math.min(...times);
    entries.push({ workload: w.id, batchSize: B, stepSeconds: t, samplesPerSec: B / t, gemmGflops: gemmFlops / t / 1e9, gemmFlops });
  }
  return { kind: "bound", threads: job.threads, ok: true, backend: native.info(), entries };
}

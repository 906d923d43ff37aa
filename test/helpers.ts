/**
 * Shared test helpers: the backends under test, tolerances, reference math, and test plumbing
 * (errors, temporary directories, child processes).
 *
 * Native tests run whenever the addon loads. Under CI (CI=true) the addon MUST load: a CI run where
 * the native build silently failed would otherwise pass on the TypeScript backend alone.
 */
import type { ChildProcessByStdio } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, expect } from "vitest";
import type { Backend } from "../lib/backend/backend.js";
import { nativeBackendIfAvailable, nativeUnavailableReason } from "../lib/backend/index.js";
import { hasFusedPlan, type NativeFusedPlanBinding, type NativePlanTestHooks } from "../lib/backend/native/fused-plan.js";
import { loadAddon } from "../lib/backend/native/loader.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import type { Rng } from "../lib/core/rng.js";
import { ModelFileError } from "../lib/io/safetensors.js";

export const tsBackend: Backend = createTsBackend();

/** The native backend, or undefined locally when it is not built. Throws under CI if it cannot load. */
export function nativeOrSkip(): Backend | undefined {
  const native = nativeBackendIfAvailable();
  if (!native && process.env["CI"]) {
    throw new Error(`CI requires the native backend, but it did not load:\n${nativeUnavailableReason()}`);
  }
  return native;
}

const PLAN_TEST_HOOKS: ReadonlyArray<keyof NativePlanTestHooks> = ["planFastMath", "planActivation", "planCopyPace"];

/**
 * The addon with its fused plan and the plan's test hooks, or undefined when the native backend is
 * not built (as nativeOrSkip). Every build of ours registers the hooks (native/plan_binding.cc), so
 * one missing is an error, never a skipped test.
 */
export function planTestHooks(): (NativeFusedPlanBinding & NativePlanTestHooks) | undefined {
  if (!nativeOrSkip()) return undefined;
  const addon: object = loadAddon();
  const missing = [...(hasFusedPlan(addon) ? [] : ["FusedPlan"]), ...PLAN_TEST_HOOKS.filter((k) => typeof (addon as Record<string, unknown>)[k] !== "function")];
  if (missing.length > 0) throw new Error(`the addon loaded but has no ${missing.join(", ")} export (a stale build? run npm run build:native)`);
  return addon as NativeFusedPlanBinding & NativePlanTestHooks;
}

/** Normalized mean squared error between two arrays (ggml's comparison metric). */
export function nmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return den === 0 ? num : num / den;
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Calls `fn` and returns the Error it threw (failing the test if it returned, or threw a non-Error). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error(`threw a non-Error: ${String(e)}`);
  }
  throw new Error("did not throw");
}

/** `fn` throws a ModelFileError whose message starts with `file: ` and matches `pattern`. */
export function expectModelFileError(fn: () => unknown, file: string, pattern: RegExp): void {
  const err = thrown(fn);
  expect(err, err.message).toBeInstanceOf(ModelFileError);
  expect(err.message.startsWith(`${file}: `), err.message).toBe(true);
  expect(err.message).toMatch(pattern);
}

/** A new directory under the system's temporary directory, removed after the calling test file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** n values uniform in [lo, hi) from `rng`, in float32. */
export function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.uniformRange(lo, hi);
  return x;
}

/** Divides each row of t (rows, cols) by its sum, in place (soft targets from positive values); returns t. */
export function normalizeRows<T extends Float32Array | Float64Array>(t: T, rows: number, cols: number): T {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += t[r * cols + j]!;
    for (let j = 0; j < cols; j++) t[r * cols + j] = t[r * cols + j]! / s;
  }
  return t;
}

/**
 * C = alpha op(A) op(B) + beta C in float64 (beta = 0 ignores C, as BLAS does); also returns
 * S = |alpha| |op(A)| |op(B)| + |beta C|, the scale of each element's rounding error.
 */
export function refGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): { c: Float64Array; scale: Float64Array } {
  const out = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * m + i]! : a[i * k + p]!;
        const bpj = transB ? b[j * k + p]! : b[p * n + j]!;
        s += aip * bpj;
        abs += Math.abs(aip * bpj);
      }
      const prior = beta === 0 ? 0 : beta * c[i * n + j]!;
      out[i * n + j] = alpha * s + prior;
      scale[i * n + j] = Math.abs(alpha) * abs + Math.abs(prior);
    }
  }
  return { c: out, scale };
}

/** A child process's exit code (-1 if killed by a signal) and output. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Collects a spawned child's output until it exits. */
export function finished(child: ChildProcessByStdio<null, Readable, Readable>): Promise<Run> {
  return new Promise((res, rej) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", rej);
    child.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

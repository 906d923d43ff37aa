/**
 * Shared test helpers: the backends under test, and tolerances.
 *
 * Native tests run whenever the addon loads. Under CI (CI=true) the addon MUST load: a CI run where
 * the native build silently failed would otherwise pass on the TypeScript backend alone.
 */
import type { Backend } from "../lib/backend/backend.js";
import { nativeBackendIfAvailable, nativeUnavailableReason } from "../lib/backend/index.js";
import { createTsBackend } from "../lib/backend/ts/index.js";

export const tsBackend: Backend = createTsBackend();

/** The native backend, or undefined locally when it is not built. Throws under CI if it cannot load. */
export function nativeOrSkip(): Backend | undefined {
  const native = nativeBackendIfAvailable();
  if (!native && process.env["CI"]) {
    throw new Error(`CI requires the native backend, but it did not load:\n${nativeUnavailableReason()}`);
  }
  return native;
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

/**
 * The per-epoch shuffle of row indices, as fast as the generator allows: for a small network the
 * shuffle is a sizeable part of an epoch (measured: `Rng.shuffle`, a method call and a rejection
 * loop per element, took 0.65-0.8 ms for 10,000 rows, as long as the native fused plan needs to train
 * on them). This is the same xoshiro128** stream as core/rng.ts, inlined into the Fisher-Yates loop,
 * with the bound taken by multiply-and-floor (bias at most n / 2^32, irrelevant for a shuffle):
 * 60-150 us for 10,000 rows against 460-860 us for `Rng.shuffle`, measured side by side.
 */
import { Rng } from "../core/rng.js";
import type { Work } from "./data.js";

/** Swaps between pauses of `permutationWork` (a few hundred microseconds of work). */
const PERMUTE_CHUNK = 1 << 16;

/** order = a permutation of 0..n-1 determined by `seed` alone (overwrites order's contents). */
export function seededPermutation(order: Int32Array, seed: number): void {
  const st = start(order, seed);
  swaps(order, st, order.length - 1, 0);
}

/**
 * `seededPermutation` as a pass that pauses every PERMUTE_CHUNK elements (same result), so that
 * shuffling millions of rows on the main thread does not block the event loop (data.ts `runAsync`).
 */
export function* permutationWork(order: Int32Array, seed: number): Work<void> {
  const st = start(order, seed);
  for (let hi = order.length - 1; hi > 0; hi -= PERMUTE_CHUNK) {
    swaps(order, st, hi, Math.max(0, hi - PERMUTE_CHUNK));
    yield;
  }
}

/** Fill `order` with 0..n-1 and return the generator state for `seed`. */
function start(order: Int32Array, seed: number): Int32Array {
  for (let i = 0; i < order.length; i++) order[i] = i;
  return Int32Array.from(new Rng(seed).getState());
}

/** The Fisher-Yates swaps for i = hi down to lo + 1, drawing from (and advancing) the state `st`. */
function swaps(order: Int32Array, st: Int32Array, hi: number, lo: number): void {
  let s0 = st[0]!;
  let s1 = st[1]!;
  let s2 = st[2]!;
  let s3 = st[3]!;
  for (let i = hi; i > lo; i--) {
    // xoshiro128**: result = rotl(s1 * 5, 7) * 9, then the state update.
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    // j uniform in [0, i]; the product is exact below 2^53 (n up to 2^21), and min() guards rounding above.
    const j = Math.min(i, Math.floor((r * (i + 1)) / 4294967296));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  st[0] = s0;
  st[1] = s1;
  st[2] = s2;
  st[3] = s3;
}

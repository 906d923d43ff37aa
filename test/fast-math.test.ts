/**
 * The fused plan's fast float32 math (native/fast_math.h) against Math.exp / Math.tanh in double
 * precision, through the addon's planFastMath test export (the dispatched ISA version on this CPU).
 * Bounds are the ones stated in fast_math.h.
 */
import { describe, expect, it } from "vitest";
import { planTestHooks } from "./helpers.js";

const addon = planTestHooks();

const EXP = 0;
const SIGMOID = 1;
const TANH = 2;
const FLT_MIN = 1.1754943508222875e-38;

function grid(lo: number, hi: number, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = lo + ((hi - lo) * i) / (n - 1);
  return x;
}

function apply(fn: 0 | 1 | 2, x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  addon!.planFastMath(fn, out, x);
  return out;
}

/** Largest relative error of f(x) against ref over the inputs whose reference is a normal float. */
function maxRelError(fn: 0 | 1 | 2, x: Float32Array, ref: (v: number) => number): { err: number; at: number } {
  const out = apply(fn, x);
  let err = 0;
  let at = NaN;
  for (let i = 0; i < x.length; i++) {
    const r = ref(x[i]!);
    if (Math.abs(r) < FLT_MIN) continue;
    const e = Math.abs(out[i]! - r) / Math.abs(r);
    if (!(e <= err)) {
      err = e;
      at = x[i]!;
    }
  }
  return { err, at };
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Every float32 within `ulps` ulps either side of x (consecutive bit patterns; x > 0 or x < 0). */
function around(x: number, ulps: number): Float32Array {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  const u = Uint32Array.from({ length: 2 * ulps + 1 }, (_, i) => bits - ulps + i);
  return new Float32Array(u.buffer);
}

/** n float32 values drawn uniformly over bit patterns in [lo, hi] (every binade, not just the big ones). */
function overBits(lo: number, hi: number, n: number, seed: number): Float32Array {
  const toBits = (f: number): number => new Uint32Array(new Float32Array([f]).buffer)[0]!;
  const out = new Uint32Array(n);
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  // Positive floats' bit patterns run 0 .. toBits(hi); negative ones 0x80000000 .. toBits(lo).
  const pos = hi > 0 ? toBits(hi) : 0;
  const neg = lo < 0 ? toBits(lo) - 0x80000000 : 0;
  for (let i = 0; i < n; i++) {
    const r = Math.floor(next() * (pos + neg));
    out[i] = r < pos ? r : 0x80000000 + (r - pos);
  }
  return new Float32Array(out.buffer);
}

// The bounds stated in native/fast_math.h (measured there over every float32 of each range).
const EXP_BOUND = 1.15e-7;
const SIGMOID_BOUND = 1.7e-7;
const TANH_BOUND = 1.6e-7;

/**
 * The worst inputs found by those exhaustive sweeps, per version (FMA: the x86-64-v3 / v4 clones;
 * baseline: x86-64 without FMA) with the error there. Each window of 2^17 floats around them is
 * checked against the bound; the one of the version running here must reach its recorded worst
 * (so the window really holds the worst case).
 */
const WORST: Record<"exp" | "sigmoid" | "tanh", { fma: [number, number]; baseline: [number, number] }> = {
  exp: { fma: [5.201181411743164, 8.9e-8], baseline: [-5.19526672, 1.12e-7] },
  sigmoid: { fma: [-16.98472023010254, 1.65e-7], baseline: [-16.8587646, 1.6e-7] },
  tanh: { fma: [0.6308496594429016, 1.57e-7], baseline: [0.634717584, 1.53e-7] },
};
const isa: "fma" | "baseline" | undefined = (() => {
  if (!addon) return undefined;
  const level = (addon as unknown as { simdLevel(): string }).simdLevel();
  return /^avx/.test(level) ? "fma" : /baseline/.test(level) ? "baseline" : undefined;
})();

function checkWorst(fn: 0 | 1 | 2, name: keyof typeof WORST, ref: (v: number) => number, bound: number): void {
  // Otherwise the recorded worst case of the running version would go unchecked.
  expect(isa, "simdLevel() names neither an FMA (avx*) nor the baseline version").toBeDefined();
  for (const version of ["fma", "baseline"] as const) {
    const [x, recorded] = WORST[name][version];
    const { err } = maxRelError(fn, around(x, 1 << 16), ref);
    expect(err, `${name} around ${x}`).toBeLessThan(bound);
    if (version === isa) expect(err, `${name}: the ${version} worst case at ${x}`).toBeGreaterThanOrEqual(recorded);
  }
}

describe.skipIf(!addon)("fast math (native/fast_math.h)", () => {
  it("exp: relative error < 1.15e-7 over the whole normal range, in every binade, and at its worst case", () => {
    expect(maxRelError(EXP, grid(-87.33, 88.72, 2_000_001), Math.exp).err).toBeLessThan(EXP_BOUND);
    expect(maxRelError(EXP, grid(-1, 1, 500_001), Math.exp).err).toBeLessThan(EXP_BOUND);
    expect(maxRelError(EXP, overBits(-87.33, 88.72, 2_000_000, 1), Math.exp).err).toBeLessThan(EXP_BOUND);
    checkWorst(EXP, "exp", Math.exp, EXP_BOUND);
    // Every float in one binade around the reduction boundaries (|r| = ln2 / 2).
    const x = new Float32Array(1 << 16);
    for (let i = 0; i < x.length; i++) x[i] = 0.3 + (i * 0.1) / x.length;
    expect(maxRelError(EXP, x, Math.exp).err).toBeLessThan(EXP_BOUND);
  });

  it("exp: overflow to +inf, gradual underflow to 0, NaN and infinities", () => {
    const x = Float32Array.from([88.72, 88.73, 89, 100, 3e38, Infinity, -103.98, -104, -200, -3e38, -Infinity, NaN, 0, -0]);
    const out = apply(EXP, x);
    // 88.72: the top of the range, still finite and accurate.
    expect(Math.abs(out[0]! / Math.exp(Math.fround(88.72)) - 1)).toBeLessThan(EXP_BOUND);
    expect(Array.from(out.subarray(1, 6))).toEqual([Infinity, Infinity, Infinity, Infinity, Infinity]);
    expect(Array.from(out.subarray(6, 11))).toEqual([0, 0, 0, 0, 0]);
    expect(out[11]).toBeNaN();
    expect(out[12]).toBe(1);
    expect(out[13]).toBe(1);
    // Subnormal results: within one subnormal step (2^-149) of the correctly rounded value.
    const sub = grid(-103.9, -87.34, 200_001);
    const s = apply(EXP, sub);
    let worst = 0;
    for (let i = 0; i < sub.length; i++) worst = Math.max(worst, Math.abs(s[i]! - Math.fround(Math.exp(sub[i]!))));
    expect(worst).toBeLessThanOrEqual(2 ** -149);
    expect(s[0]).toBeGreaterThan(0);
  });

  it("sigmoid: relative error < 1.7e-7 wherever the result is normal, and at its worst case; saturates to exactly 0 and 1", () => {
    expect(maxRelError(SIGMOID, grid(-87.3, 30, 2_000_001), sigmoid).err).toBeLessThan(SIGMOID_BOUND);
    expect(maxRelError(SIGMOID, grid(-2, 2, 400_001), sigmoid).err).toBeLessThan(SIGMOID_BOUND);
    expect(maxRelError(SIGMOID, overBits(-87.33, 30, 2_000_000, 2), sigmoid).err).toBeLessThan(SIGMOID_BOUND);
    checkWorst(SIGMOID, "sigmoid", sigmoid, SIGMOID_BOUND);
    const out = apply(SIGMOID, Float32Array.from([-1000, -Infinity, 20, 1000, Infinity, 0, NaN]));
    expect(Array.from(out.subarray(0, 6))).toEqual([0, 0, 1, 1, 1, 0.5]);
    expect(out[6]).toBeNaN();
  });

  it("tanh: relative error < 1.6e-7 for all x, including tiny inputs and its worst case", () => {
    expect(maxRelError(TANH, grid(-12, 12, 2_000_001), Math.tanh).err).toBeLessThan(TANH_BOUND);
    expect(maxRelError(TANH, grid(-1, 1, 1_000_001), Math.tanh).err).toBeLessThan(TANH_BOUND);
    expect(maxRelError(TANH, overBits(-12, 12, 2_000_000, 3), Math.tanh).err).toBeLessThan(TANH_BOUND);
    checkWorst(TANH, "tanh", Math.tanh, TANH_BOUND);
    const tiny = Float32Array.from([1e-30, -1e-30, 1e-10, -3e-5, 1e-3, 0.6249, 0.6251, -0.6251]);
    expect(maxRelError(TANH, tiny, Math.tanh).err).toBeLessThan(TANH_BOUND);
    const out = apply(TANH, Float32Array.from([10, -10, 1e30, -Infinity, Infinity, 0, NaN]));
    expect(Array.from(out.subarray(0, 6))).toEqual([1, -1, 1, -1, 1, 0]);
    expect(out[6]).toBeNaN();
  });

  it("rejects bad arguments with errors that name them", () => {
    const x = new Float32Array(4);
    expect(() => addon!.planFastMath(3 as 0, x, x)).toThrow(RangeError);
    expect(() => addon!.planFastMath(EXP, new Float32Array(2), x)).toThrow(/out/);
    expect(() => addon!.planFastMath(EXP, x, new Float64Array(4) as unknown as Float32Array)).toThrow(TypeError);
  });
});

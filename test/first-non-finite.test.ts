/**
 * firstNonFinite, the scan behind the NaN / Infinity check of fit, evaluate and predict: the native
 * block-OR bit scan against the TypeScript `v - v !== 0` loop and against an oracle written here
 * (Number.isFinite), on random lengths around the native block of 4096 values, with NaN / +Inf /
 * -Inf planted at random positions and on block boundaries, over random [start, end) subranges.
 * Every float that is not NaN or ±Inf must count as finite: ±0, subnormals, ±FLT_MIN, ±FLT_MAX.
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../lib/backend/backend.js";
import { Rng } from "../lib/core/rng.js";
import { nativeOrSkip, tsBackend } from "./helpers.js";

const native = nativeOrSkip();
const BLOCK = 4096; // the native scan's block (native/kernels.cc)

/** Float bit patterns: finite extremes, and non-finite values with several NaN payloads. */
const FINITE_BITS = [
  0x00000000, // +0
  0x80000000, // -0
  0x00000001, // smallest subnormal
  0x80000001,
  0x007fffff, // largest subnormal
  0x807fffff,
  0x00800000, // FLT_MIN
  0x80800000,
  0x7f7fffff, // FLT_MAX
  0xff7fffff, // -FLT_MAX
  0x7f000000, // 2^127
  0x3f800000, // 1
];
const NON_FINITE_BITS = [
  0x7f800000, // +Inf
  0xff800000, // -Inf
  0x7fc00000, // quiet NaN
  0xffc00000, // negative quiet NaN
  0x7f800001, // signalling NaN, smallest payload
  0x7fbfffff, // signalling NaN, largest payload
  0xffffffff, // all ones
];

/** Sets x[i] to the float with these bits (through a Uint32Array view, so NaN payloads survive). */
function setBits(x: Float32Array, i: number, bits: number): void {
  new Uint32Array(x.buffer, x.byteOffset, x.length)[i] = bits >>> 0;
}

/** The oracle: the first i in [start, end) whose value is NaN or ±Infinity, or -1. */
function oracle(x: Float32Array, start: number, end: number): number {
  for (let i = start; i < end; i++) if (!Number.isFinite(x[i]!)) return i;
  return -1;
}

/** Random finite data with the finite extremes sprinkled in. */
function finiteData(rng: Rng, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.uniformRange(-3, 3);
  for (let k = 0; k < Math.min(n, 64); k++) setBits(x, rng.int(n), FINITE_BITS[rng.int(FINITE_BITS.length)]!);
  return x;
}

/** Positions worth planting at: the ends, every block boundary (each side), and random ones. */
function positions(rng: Rng, n: number): number[] {
  if (n === 0) return [];
  const at = new Set<number>([0, n - 1]);
  for (let b = BLOCK; b < n && at.size < 40; b += BLOCK) {
    at.add(b - 1);
    at.add(b);
  }
  for (let k = 0; k < 8; k++) at.add(rng.int(n));
  return [...at].filter((i) => i >= 0 && i < n).sort((a, b) => a - b);
}

/** Subranges [start, end) of [0, n): the whole, empty ones, block-aligned and random ones. */
function ranges(rng: Rng, n: number): [number, number][] {
  const out: [number, number][] = [
    [0, n],
    [0, 0],
    [n, n],
  ];
  if (n > 1) out.push([1, n], [0, n - 1]);
  if (n > BLOCK + 1) out.push([BLOCK, n], [BLOCK - 1, BLOCK + 1], [1, BLOCK]);
  for (let k = 0; k < 6; k++) {
    const a = rng.int(n + 1);
    const b = rng.int(n + 1);
    out.push([Math.min(a, b), Math.max(a, b)]);
  }
  return out;
}

const LENGTHS = [0, 1, 2, 15, 16, 17, 4095, 4096, 4097, 8191, 8192, 8193, 3 * 4096 + 5, 100_003, 1 << 20];

/** Every (start, end, oracle) result of one backend over the planted cases of one length. */
function runCases(b: Backend, n: number, seed: number): { found: number[]; want: number[] } {
  const rng = new Rng(seed);
  const found: number[] = [];
  const want: number[] = [];
  const check = (x: Float32Array, start: number, end: number): void => {
    found.push(b.firstNonFinite(x, start, end));
    want.push(oracle(x, start, end));
  };
  const x = finiteData(rng, n);
  for (const [s, e] of ranges(rng, n)) check(x, s, e);
  for (const p of positions(rng, n)) {
    const bits = NON_FINITE_BITS[rng.int(NON_FINITE_BITS.length)]!;
    const y = x.slice();
    setBits(y, p, bits);
    check(y, 0, n);
    check(y, p, n); // starts on it
    check(y, 0, p + 1); // ends on it
    check(y, 0, p); // ends just before it
    check(y, p + 1, n); // starts just after it
    for (const [s, e] of ranges(rng, n)) check(y, s, e);
    // A second one later: the first still wins, and a range starting past the first finds the second.
    if (p + 1 < n) {
      const q = p + 1 + rng.int(n - p - 1);
      setBits(y, q, NON_FINITE_BITS[rng.int(NON_FINITE_BITS.length)]!);
      check(y, 0, n);
      check(y, p + 1, n);
    }
  }
  return { found, want };
}

describe("firstNonFinite (TypeScript) against the oracle", () => {
  it.each(LENGTHS)("n = %i", (n) => {
    const { found, want } = runCases(tsBackend, n, 4000 + n);
    expect(found).toEqual(want);
  });
});

describe.skipIf(!native)("firstNonFinite: native against TypeScript and the oracle", () => {
  it.each(LENGTHS)("n = %i: same index for every planted value and subrange", (n) => {
    const ts = runCases(tsBackend, n, 5000 + n);
    const nat = runCases(native!, n, 5000 + n);
    expect(ts.want).toEqual(nat.want); // the same cases on both sides
    expect(nat.found).toEqual(ts.found);
    expect(nat.found).toEqual(nat.want);
  });

  it("random lengths and positions (seeded)", () => {
    const rng = new Rng(61);
    for (let t = 0; t < 40; t++) {
      const n = 1 + rng.int(t < 20 ? 3 * BLOCK : 300_000);
      const x = finiteData(rng, n);
      const p = rng.int(n);
      setBits(x, p, NON_FINITE_BITS[rng.int(NON_FINITE_BITS.length)]!);
      const start = rng.int(n + 1);
      const end = start + rng.int(n - start + 1);
      for (const [s, e] of [[0, n], [start, end]] as const) {
        const want = oracle(x, s, e);
        expect(native!.firstNonFinite(x, s, e), `n ${n}, NaN at ${p}, [${s}, ${e})`).toBe(want);
        expect(tsBackend.firstNonFinite(x, s, e), `n ${n}, NaN at ${p}, [${s}, ${e})`).toBe(want);
      }
    }
  });

  it("classifies every sign and exponent exactly: only exponent 0xff is non-finite", () => {
    const rng = new Rng(62);
    // One value per (sign, exponent, mantissa) case, each alone in a block-sized buffer at a random place.
    const x = new Float32Array(BLOCK + 3);
    for (let sign = 0; sign < 2; sign++) {
      for (let exp = 0; exp < 256; exp++) {
        for (const mant of [0, 1, 0x400000, 0x7fffff, rng.int(0x800000)]) {
          const bits = ((sign << 31) | (exp << 23) | mant) >>> 0;
          x.fill(0.5);
          const at = rng.int(x.length);
          setBits(x, at, bits);
          const want = exp === 0xff ? at : -1;
          expect(native!.firstNonFinite(x, 0, x.length), `bits 0x${bits.toString(16)}`).toBe(want);
          expect(tsBackend.firstNonFinite(x, 0, x.length), `bits 0x${bits.toString(16)}`).toBe(want);
        }
      }
    }
  });

  it("reads a subarray view at its own offset and returns indices into the view", () => {
    const base = new Float32Array(3 * BLOCK).fill(1);
    base[5] = NaN; // before the view: never seen
    base[2 * BLOCK + 7] = Infinity;
    const view = base.subarray(9, 2 * BLOCK + 100);
    for (const b of [native!, tsBackend]) {
      expect(b.firstNonFinite(view, 0, view.length)).toBe(2 * BLOCK + 7 - 9);
      expect(b.firstNonFinite(view, 0, 2 * BLOCK + 7 - 9)).toBe(-1);
      expect(b.firstNonFinite(base, 0, base.length)).toBe(5);
    }
  });

  it("rejects bad ranges like the TypeScript kernel, with a RangeError naming the argument", () => {
    const x = new Float32Array(10);
    for (const [start, end, name] of [
      [-1, 3, "start"],
      [0.5, 3, "start"],
      [11, 11, "start"],
      [4, 3, "end"],
      [0, 11, "end"],
      [0, NaN, "end"],
    ] as const) {
      for (const b of [native!, tsBackend]) {
        expect(() => b.firstNonFinite(x, start, end), `${b.name} [${start}, ${end})`).toThrow(RangeError);
        expect(() => b.firstNonFinite(x, start, end), `${b.name} [${start}, ${end})`).toThrow(name);
      }
    }
  });
});

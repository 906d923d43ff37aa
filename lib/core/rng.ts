/**
 * A seeded random number generator shared, bit for bit, by the TypeScript and native backends.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna), seeded by four rounds of splitmix32. It uses only
 * 32-bit integer operations, so TypeScript (Math.imul, >>> 0) and C++ (uint32_t) produce the same
 * stream, and a dropout mask drawn natively equals the one drawn in TypeScript.
 * The C++ twin lives in native/rng.h; keep the two in step.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Spare normal deviate from the last Box-Muller pair. */
  private spare = NaN;

  constructor(seed: number = 0) {
    this.reseed(seed);
  }

  /** Restart the stream from `seed` (any finite number; only its low 32 bits and sign matter). */
  reseed(seed: number): void {
    if (!Number.isFinite(seed)) throw new RangeError(`Invalid seed: ${seed}; expected a finite number`);
    let x = (Math.trunc(seed) | 0) >>> 0;
    const next = (): number => {
      // splitmix32: spreads a small seed over all 128 bits of state.
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spare = NaN;
  }

  /** The generator state, for checkpoints: [s0, s1, s2, s3]. */
  getState(): [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /**
   * Restore a state from getState() (four 32-bit words, not all zero), so a resumed run draws the same
   * numbers.
   */
  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.every((v) => v === 0)) {
      throw new RangeError("Invalid RNG state: expected four 32-bit words, not all zero");
    }
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v >>> 0) as [number, number, number, number];
    this.spare = NaN;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 24 bits of precision: exactly representable in float32, same in C++. */
  uniform(): number {
    return (this.nextUint32() >>> 8) * 5.9604644775390625e-8; // 2^-24
  }

  /** Uniform in [lo, hi). */
  uniformRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Standard normal deviate (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    // 1 - u keeps the log argument in (0, 1].
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in [0, n). Unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new RangeError(`Invalid bound: ${n}; expected an integer in [1, 2^32]`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher-Yates shuffle of `a` in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

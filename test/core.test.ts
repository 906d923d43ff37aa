/**
 * lib/core: the Matrix helpers a user needs (zeros, from number[][], from a Float32Array plus shape,
 * seeded random normal / uniform) and the shared seeded RNG (xoshiro128**), checked against the
 * reference C implementation's output and for the moments of its distributions.
 */
import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";

describe("Matrix", () => {
  it("zeros: rows x cols of 0, row-major", () => {
    const m = Matrix.zeros(2, 3);
    expect(m.shape).toEqual([2, 3]);
    expect(m.data).toBeInstanceOf(Float32Array);
    expect(Array.from(m.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Matrix.zeros(0, 4).size).toBe(0);
    expect(() => Matrix.zeros(-1, 2)).toThrow(/Invalid rows: -1/);
    expect(() => Matrix.zeros(2, 1.5)).toThrow(/Invalid cols: 1.5/);
  });

  it("fromArray copies number[][] row-major and rejects ragged or non-numeric rows", () => {
    const src = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const m = Matrix.fromArray(src);
    expect(m.shape).toEqual([2, 3]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(m.get(1, 0)).toBe(4);
    src[0]![0] = 99;
    expect(m.get(0, 0)).toBe(1); // a copy
    expect(m.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(() => Matrix.fromArray([[1, 2], [3]])).toThrow(/Row 1 has 1 values but row 0 has 2/);
    expect(() => Matrix.fromArray([[1, "2" as unknown as number]])).toThrow(/row 0, column 1 is the string "2"/);
    expect(() => Matrix.fromArray("x" as unknown as number[][])).toThrow(TypeError);
  });

  it("fromFloat32 wraps the array without copying; the shape must match its length", () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const m = Matrix.fromFloat32(data, 3, 2);
    expect(m.data).toBe(data);
    data[5] = 7;
    expect(m.get(2, 1)).toBe(7);
    // Views are views too.
    expect(m.sliceRows(1, 3).data.buffer).toBe(data.buffer);
    expect(() => Matrix.fromFloat32(data, 4, 2)).toThrow(/has 6 values but shape 4x2 needs 8/);
    expect(() => Matrix.fromFloat32(new Float64Array(6) as unknown as Float32Array, 3, 2)).toThrow(/Expected a Float32Array/);
  });

  it("randomNormal and randomUniform are reproducible from a seed, with the requested moments", () => {
    const a = Matrix.randomNormal(200, 100, 7, 2, 0.5);
    const b = Matrix.randomNormal(200, 100, 7, 2, 0.5);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(Matrix.randomNormal(200, 100, 8, 2, 0.5).data)).not.toEqual(Array.from(a.data));
    const [mean, sd] = moments(a.data);
    // 20,000 draws: standard error of the mean 0.0035, of the sd about 0.0025.
    expect(Math.abs(mean - 2)).toBeLessThan(0.02);
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.015);

    const u = Matrix.randomUniform(200, 100, 9, -3, 1);
    expect(Array.from(u.data)).toEqual(Array.from(Matrix.randomUniform(200, 100, 9, -3, 1).data));
    expect(Math.min(...u.data)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...u.data)).toBeLessThan(1);
    const [um, us] = moments(u.data);
    expect(Math.abs(um - -1)).toBeLessThan(0.04); // sd 4/sqrt(12) = 1.15; SE 0.008
    expect(Math.abs(us - 4 / Math.sqrt(12))).toBeLessThan(0.02);

    // An Rng continues its stream: two draws from one generator differ.
    const rng = new Rng(3);
    const first = Matrix.randomUniform(1, 10, rng);
    const second = Matrix.randomUniform(1, 10, rng);
    expect(Array.from(first.data)).not.toEqual(Array.from(second.data));
  });
});

describe("Rng (xoshiro128**, shared with native/rng.h)", () => {
  it("matches the reference C implementation (Blackman & Vigna) from state {1, 2, 3, 4}", () => {
    const rng = new Rng();
    rng.setState([1, 2, 3, 4]);
    // Printed by xoshiro128starstar.c's next() from s = {1, 2, 3, 4}.
    const want = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849];
    expect(Array.from({ length: 8 }, () => rng.nextUint32())).toEqual(want);
  });

  it("the same seed gives the same stream; nearby seeds give unrelated ones", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 1000 }, () => a.nextUint32());
    expect(Array.from({ length: 1000 }, () => b.nextUint32())).toEqual(xa);
    const xc = Array.from({ length: 1000 }, () => c.nextUint32());
    // Unrelated: about half of the bits differ between the two streams.
    let differing = 0;
    for (let i = 0; i < 1000; i++) differing += popcount((xa[i]! ^ xc[i]!) >>> 0);
    expect(differing / 32000).toBeGreaterThan(0.48);
    expect(differing / 32000).toBeLessThan(0.52);
  });

  it("uniform() is in [0, 1) with mean 1/2 and variance 1/12; each bit of the output is fair", () => {
    const rng = new Rng(5);
    const n = 100_000;
    const u = new Float64Array(n);
    for (let i = 0; i < n; i++) u[i] = rng.uniform();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const [mean, sd] = moments(u);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005); // SE 0.0009
    expect(Math.abs(sd * sd - 1 / 12)).toBeLessThan(0.002);
    const bits = new Array(32).fill(0);
    for (let i = 0; i < n; i++) {
      const x = rng.nextUint32();
      for (let k = 0; k < 32; k++) bits[k] += (x >>> k) & 1;
    }
    for (let k = 0; k < 32; k++) expect(Math.abs(bits[k] / n - 0.5), `bit ${k}`).toBeLessThan(0.01); // SE 0.0016
  });

  it("int(n) is uniform over [0, n): chi-square over 10 cells", () => {
    const rng = new Rng(11);
    const counts = new Array(10).fill(0);
    const n = 50_000;
    for (let i = 0; i < n; i++) counts[rng.int(10)]++;
    const e = n / 10;
    const chi2 = counts.reduce((s: number, c: number) => s + ((c - e) * (c - e)) / e, 0);
    expect(chi2).toBeLessThan(27.9); // the 99.9th percentile of chi-square with 9 degrees of freedom
    expect(() => rng.int(0)).toThrow(/Invalid bound: 0/);
  });

  it("normal() has mean 0, variance 1 and normal tails", () => {
    const rng = new Rng(12);
    const n = 100_000;
    const x = new Float64Array(n);
    let beyond2 = 0;
    for (let i = 0; i < n; i++) {
      x[i] = rng.normal();
      if (Math.abs(x[i]!) > 2) beyond2++;
    }
    const [mean, sd] = moments(x);
    expect(Math.abs(mean)).toBeLessThan(0.015);
    expect(Math.abs(sd - 1)).toBeLessThan(0.01);
    // P(|Z| > 2) = 0.0455.
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
  });

  it("rejects a non-finite seed and an all-zero state", () => {
    expect(() => new Rng(NaN)).toThrow(/Invalid seed: NaN/);
    expect(() => new Rng().setState([0, 0, 0, 0])).toThrow(/not all zero/);
  });
});

function moments(x: ArrayLike<number>): [number, number] {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2;
  return [mean, Math.sqrt(v / (x.length - 1))];
}

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

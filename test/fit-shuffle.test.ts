import { describe, expect, it } from "vitest";
import { seededPermutation } from "../lib/train/shuffle.js";

describe("the per-epoch shuffle", () => {
  it("is a permutation determined by the seed alone", () => {
    const a = new Int32Array(1000);
    const b = new Int32Array(1000).fill(7);
    seededPermutation(a, 42);
    seededPermutation(b, 42);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(a).sort((p, q) => p - q)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const c = new Int32Array(1000);
    seededPermutation(c, 43);
    expect(Array.from(c)).not.toEqual(Array.from(a));
    // Not the identity, nor a near-identity.
    expect(a.filter((v, i) => v === i).length).toBeLessThan(10);
  });

  it("puts every element in every position about equally often (chi-square over 24,000 shuffles of 4)", () => {
    const counts = new Float64Array(16);
    const order = new Int32Array(4);
    const trials = 24_000;
    for (let s = 0; s < trials; s++) {
      seededPermutation(order, s);
      for (let pos = 0; pos < 4; pos++) counts[order[pos]! * 4 + pos]!++;
    }
    const expected = trials / 4;
    let chi2 = 0;
    for (const c of counts) chi2 += (c - expected) ** 2 / expected;
    // 9 degrees of freedom: P(chi2 > 27.9) = 0.001.
    expect(chi2).toBeLessThan(27.9);
    // All 24 orderings occur.
    const seen = new Set<string>();
    for (let s = 0; s < 2000; s++) {
      seededPermutation(order, s);
      seen.add(order.join(""));
    }
    expect(seen.size).toBe(24);
  });

  it("handles 0 and 1 rows", () => {
    const empty = new Int32Array(0);
    seededPermutation(empty, 1);
    const one = new Int32Array([5]);
    seededPermutation(one, 1);
    expect(Array.from(one)).toEqual([0]);
  });
});

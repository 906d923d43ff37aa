/**
 * The benchmark's FLOP counts and GEMM-only bound (bench/workloads.ts, bench/bound.ts): counted from
 * the layer shapes, checked here against the counts written out by hand.
 */
import { describe, expect, it } from "vitest";
import { cnnScalingWorkload, convShapes, denseShapes, flopsPerStep, WORKLOADS } from "../bench/workloads.js";
import { stepGemms } from "../bench/bound.js";

describe("bench workloads", () => {
  it("T1-T4: 6 x weights x batch FLOPs a step, as issue 5 counts them", () => {
    expect(flopsPerStep(WORKLOADS.T1)).toBe(6 * (1 * 3 + 3 * 1) * 10);
    expect(flopsPerStep(WORKLOADS.T2)).toBe(6 * (784 * 256 + 256 * 128 + 128 * 10) * 128);
    expect(flopsPerStep(WORKLOADS.T3)).toBe(6 * (1024 * 4096 + 4096 * 4096 + 4096 * 1024) * 256);
    expect(flopsPerStep(WORKLOADS.T4)).toBe(6 * (16 * 256 * 256 + 256 * 10) * 64);
  });

  it("T5: the CNN's shapes, and 3 x 2 x its forward multiply-adds a sample (about 25 MFLOP)", () => {
    const t5 = WORKLOADS.T5;
    expect(convShapes(t5).map((c) => [c.inC, c.h, c.outC, c.outH, c.pooledH])).toEqual([
      [1, 28, 32, 28, 14],
      [32, 14, 64, 14, 7],
    ]);
    expect(denseShapes(t5)).toEqual([
      [3136, 128],
      [128, 10],
    ]);
    const macs = 32 * 1 * 9 * 28 * 28 + 64 * 32 * 9 * 14 * 14 + 3136 * 128 + 128 * 10;
    expect(flopsPerStep(t5)).toBe(6 * macs * 64);
    expect(flopsPerStep(t5) / 64 / 1e6).toBeCloseTo(25.45, 2);
    expect(flopsPerStep(cnnScalingWorkload(256))).toBe(6 * macs * 256);
  });

  it("the GEMM-only bound of T5 runs the im2col GEMMs of a step: forward, dW, and dcols but for the first layer", () => {
    const gemms = stepGemms(WORKLOADS.T5);
    const P1 = 64 * 28 * 28;
    const P2 = 64 * 14 * 14;
    expect(gemms.map((g) => [g.m, g.n, g.k])).toEqual([
      [32, P1, 9], // conv1 forward: W (32, 9) x cols (9, P1)
      [64, P2, 288], // conv2 forward
      [64, 128, 3136], // dense forward: X (64, 3136) x W^T
      [64, 10, 128],
      [10, 128, 64], // dense 2: dW, dX
      [64, 128, 10],
      [128, 3136, 64], // dense 1: dW, dX
      [64, 3136, 128],
      [64, 288, P2], // conv2: dW = dY' x cols^T, dcols = W^T x dY'
      [288, P2, 64],
      [32, 9, P1], // conv1: dW only
    ]);
    const flops = gemms.reduce((s, g) => s + 2 * g.m * g.n * g.k, 0);
    expect(flops).toBe(flopsPerStep(WORKLOADS.T5) - 2 * 64 * 32 * 9 * 28 * 28);
  });
});

/**
 * PlanSpec.frozen in the native fused plan: frozen parameters keep their values and optimizer
 * state (as PyTorch's requires_grad=False), their gradients are zeroed before clipping (so they do
 * not count in clipNorm), and every other parameter trains exactly as without them. The reference
 * is PlanExecutor over the TypeScript kernels, run step by step with the frozen values and state put
 * back after each step (equivalent when nothing clips by norm), and for clipNorm the update written
 * out from the reference's gradients.
 */
import { describe, expect, it } from "vitest";
import type { PlanBuffers, PlanSpec } from "../lib/backend/plan.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { act, adam, CE, cloneBuffers, fused, makeBuffers, makeData, makeRun, makeSpec, MSE, native, type Net, sgd } from "./fused-plan-fixtures.js";
import { maxAbsDiff } from "./helpers.js";

const ts = createTsBackend();

type Range = [number, number];

function withFrozen(spec: PlanSpec, frozen: Range[]): PlanSpec {
  return { ...spec, frozen } as PlanSpec;
}

function dense(spec: PlanSpec, i: number): { weightOffset: number; biasOffset: number; inFeatures: number; outFeatures: number } {
  return spec.layers.filter((l) => l.kind === "dense")[i] as never;
}

/** Values of every slot of `b` inside the ranges (params, grads, each P-sized state slot). */
function inRanges(b: PlanBuffers, P: number, ranges: Range[]): { params: number[]; state: number[]; grads: number[] } {
  const params: number[] = [];
  const state: number[] = [];
  const grads: number[] = [];
  for (const [begin, end] of ranges) {
    params.push(...b.params.subarray(begin, end));
    grads.push(...b.grads.subarray(begin, end));
    for (let s = 0; s * P < b.state.length; s++) state.push(...b.state.subarray(s * P + begin, s * P + end));
  }
  return { params, state, grads };
}

function restore(to: PlanBuffers, from: PlanBuffers, P: number, ranges: Range[]): void {
  for (const [begin, end] of ranges) {
    to.params.set(from.params.subarray(begin, end), begin);
    for (let s = 0; s * P < to.state.length; s++) to.state.set(from.state.subarray(s * P + begin, s * P + end), s * P + begin);
  }
}

describe.skipIf(!native?.createFusedPlan)("native fused plan: frozen parameters", () => {
  const cases: { name: string; net: Net; frozen: (s: PlanSpec) => Range[]; lr: number; tol: number }[] = [
    {
      name: "one update over the trainable ranges (adam + weight decay; a whole weight, part of a bias, a gap)",
      net: { inFeatures: 5, hidden: [7, 6], between: [act("tanh")], outFeatures: 3, batchSize: 8, rows: 45, loss: CE, optimizer: adam("adam", 0.01), gap: 2 },
      frozen: (s) => {
        const [l0, l1] = [dense(s, 0), dense(s, 1)];
        return [
          [l0.weightOffset, l0.weightOffset + l0.inFeatures * l0.outFeatures],
          [l0.biasOffset + l0.outFeatures, l0.biasOffset + l0.outFeatures + 2], // the gap after layer 0
          [l1.biasOffset + 1, l1.biasOffset + 4],
        ];
      },
      lr: 0.01,
      tol: 2e-4,
    },
    {
      name: "per-layer update during backward (P >= 65536; sgd momentum + weight decay + clip value; part of the big weight)",
      net: { inFeatures: 64, hidden: [512], between: [act("relu")], outFeatures: 64, batchSize: 16, rows: 70, loss: MSE, optimizer: sgd({ momentum: 0.9, weightDecay: 0.01 }), clipValue: 0.05, gap: 3 },
      frozen: (s) => {
        const [l0, l1] = [dense(s, 0), dense(s, 1)];
        return [
          [l0.weightOffset + 100, l0.weightOffset + 20_000],
          [l0.biasOffset + l0.outFeatures, l0.biasOffset + l0.outFeatures + 3],
          [l1.weightOffset, l1.biasOffset + l1.outFeatures],
        ];
      },
      lr: 0.02,
      tol: 2e-5,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const base = makeSpec(c.net);
      const frozen = c.frozen(base);
      const spec = withFrozen(base, frozen);
      const P = spec.paramCount;
      const init = makeBuffers(spec, 7);
      init.state.forEach((_, i) => (init.state[i] = (i % 7) * 0.01)); // non-zero state: must stay as it is
      const data = makeData(spec, c.net.rows, 11);
      const ref = cloneBuffers(init);
      const nat = cloneBuffers(init);
      const executor = new PlanExecutor(ts, base, ref);
      const plan = fused(spec, nat);
      const steps = Math.ceil(c.net.rows / spec.batchSize);
      const run = makeRun(data, spec.batchSize, 0, steps, 1, c.lr);
      expect(await plan.runSteps(run)).toBe(steps);
      for (let s = 0; s < steps; s++) {
        const one = makeRun(data, spec.batchSize, s * spec.batchSize, 1, 1 + s, c.lr);
        expect(await executor.runSteps(one)).toBe(1);
        restore(ref, init, P, frozen);
        expect(Math.abs(run.losses[s]! - one.losses[0]!)).toBeLessThanOrEqual(c.tol * Math.max(1, Math.abs(one.losses[0]!)));
      }
      const kept = inRanges(nat, P, frozen);
      const before = inRanges(init, P, frozen);
      expect(kept.params).toEqual(before.params);
      expect(kept.state).toEqual(before.state);
      expect(kept.grads.every((g) => g === 0)).toBe(true);
      expect(maxAbsDiff(nat.params, ref.params)).toBeLessThanOrEqual(c.tol);
      expect(maxAbsDiff(nat.state, ref.state)).toBeLessThanOrEqual(c.tol);
      expect(maxAbsDiff(nat.params, init.params)).toBeGreaterThan(10 * c.tol); // the others trained
      plan.dispose();
    });
  }

  it("leaves frozen gradients out of clipNorm", async () => {
    const base = makeSpec({ inFeatures: 6, hidden: [8], between: [act("sigmoid")], outFeatures: 4, batchSize: 10, rows: 10, loss: MSE, optimizer: sgd() });
    const l0 = dense(base, 0);
    const frozen: Range[] = [[l0.weightOffset, l0.biasOffset + l0.outFeatures]]; // the first layer
    const spec = withFrozen({ ...base, clipNorm: 1e-3 }, frozen);
    const init = makeBuffers(spec, 3);
    const data = makeData(spec, 10, 4);
    // Reference: the batch's gradients, frozen ones zeroed, clipped by the norm of the rest.
    const ref = cloneBuffers(init);
    const executor = new PlanExecutor(ts, base, ref);
    const x = new Float32Array(10 * spec.inFeatures);
    const y = new Float32Array(10 * spec.outFeatures);
    data.order.forEach((r, i) => {
      x.set(data.x.subarray(r * spec.inFeatures, (r + 1) * spec.inFeatures), i * spec.inFeatures);
      y.set((data.y as Float32Array).subarray(r * spec.outFeatures, (r + 1) * spec.outFeatures), i * spec.outFeatures);
    });
    executor.lossAndGradients(x, y, 10);
    const g = Float64Array.from(ref.grads);
    g.fill(0, frozen[0]![0], frozen[0]![1]);
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    const coef = Math.min(1, 1e-3 / (norm + 1e-6));
    expect(coef).toBeLessThan(0.1); // clipping is in play
    const lr = 0.5;
    const expected = Float64Array.from(init.params, (p, i) => p - lr * coef * g[i]!);

    const nat = cloneBuffers(init);
    const plan = fused(spec, nat);
    expect(await plan.runSteps(makeRun(data, 10, 0, 1, 1, lr))).toBe(1);
    expect(maxAbsDiff(nat.params, expected)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(nat.params, init.params)).toBeGreaterThan(1e-5);
    plan.dispose();
  });

  describe("validation", () => {
    const base = (): PlanSpec => makeSpec({ inFeatures: 4, hidden: [6], between: [act("relu")], outFeatures: 3, batchSize: 8, rows: 20, loss: MSE, optimizer: sgd() });
    const bad: [string, unknown, ErrorConstructor, RegExp][] = [
      ["not an array", 3, TypeError, /spec\.frozen/],
      ["a range that is not a pair", [[1, 2, 3]], TypeError, /spec\.frozen\[0\]/],
      ["a non-integer bound", [[0, 1.5]], RangeError, /spec\.frozen\[0\]\[1\]/],
      ["end before begin", [[4, 2]], RangeError, /spec\.frozen\[0\]/],
      ["a range past paramCount", [[0, 1000]], RangeError, /spec\.frozen\[0\].*paramCount/],
      ["a negative begin", [[-1, 2]], RangeError, /spec\.frozen\[0\]/],
      ["overlapping ranges", [[0, 5], [4, 8]], RangeError, /spec\.frozen\[1\].*non-overlapping/],
      ["descending ranges", [[6, 8], [0, 2]], RangeError, /spec\.frozen\[1\].*ascending/],
    ];
    for (const [name, frozen, type, message] of bad) {
      it(`rejects ${name}`, () => {
        const spec = { ...base(), frozen } as PlanSpec;
        const buffers = makeBuffers(spec, 1);
        expect(() => fused(spec, buffers)).toThrow(type);
        expect(() => fused(spec, buffers)).toThrow(message);
      });
    }
  });
});

/**
 * A run's x and y over SharedArrayBuffers: the fused plan's worker reads them in place (no copy on
 * the calling thread; native/plan_binding.cc), copying only the class labels, which it indexes
 * with. The results equal those of the same run over plain arrays, and labels rewritten while the
 * run is in flight neither reach the worker nor crash it.
 */
import { describe, expect, it } from "vitest";
import type { NativeFusedPlan } from "../lib/backend/native/fused-plan.js";
import type { PlanSpec, StepRun } from "../lib/backend/plan.js";
import { act, adam, CE, cloneBuffers, fused, makeBuffers, makeData, makeRun, makeSpec, MSE, native, sgd } from "./fused-plan-fixtures.js";

function shared<T extends Float32Array | Int32Array>(a: T): T {
  const out = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

describe.skipIf(!native?.createFusedPlan)("native fused plan: run data over SharedArrayBuffers", () => {
  const specs: [string, PlanSpec][] = [
    ["class labels (crossEntropy)", makeSpec({ inFeatures: 12, hidden: [9], between: [act("relu")], outFeatures: 4, batchSize: 8, rows: 100, loss: CE, optimizer: adam("adam") })],
    ["float targets (mse)", makeSpec({ inFeatures: 12, hidden: [9], between: [act("tanh")], outFeatures: 3, batchSize: 8, rows: 100, loss: MSE, optimizer: sgd({ momentum: 0.9 }) })],
  ];
  for (const [name, spec] of specs) {
    it(`trains on them in place as on copies: ${name}`, async () => {
      const init = makeBuffers(spec, 5);
      const data = makeData(spec, 100, 6);
      const plain = cloneBuffers(init);
      const inPlace = cloneBuffers(init);
      const a = fused(spec, plain);
      const b = fused(spec, inPlace);
      // A run over all rows (the binding would copy x whole) and one over a few (it would gather).
      for (const [start, steps] of [[0, 13], [16, 2]] as const) {
        const runA = makeRun(data, 8, start, steps, 1, 0.01);
        const runB: StepRun = { ...makeRun(data, 8, start, steps, 1, 0.01), x: shared(data.x), y: shared(data.y) };
        expect(await a.runSteps(runA)).toBe(steps);
        expect(await b.runSteps(runB)).toBe(steps);
        expect((a as NativeFusedPlan).copiedRows).toBe(start === 0 ? 100 : 16);
        expect((b as NativeFusedPlan).copiedRows).toBe(0); // read in place
        expect(runB.losses).toEqual(runA.losses);
      }
      expect(inPlace.params).toEqual(plain.params);
      a.dispose();
      b.dispose();
    });
  }

  it("copies the class labels: labels rewritten while the run is in flight do not reach the worker", async () => {
    const spec = specs[0]![1];
    const init = makeBuffers(spec, 5);
    const data = makeData(spec, 100, 6);
    const ref = cloneBuffers(init);
    const nat = cloneBuffers(init);
    const a = fused(spec, ref);
    expect(await a.runSteps(makeRun(data, 8, 0, 13, 1, 0.01))).toBe(13);
    const y = shared(data.y as Int32Array);
    const b = fused(spec, nat);
    const run: StepRun = { ...makeRun(data, 8, 0, 13, 1, 0.01), x: shared(data.x), y };
    const pending = b.runSteps(run);
    y.fill(1 << 30); // far outside [0, 4): an index the worker must never use
    expect(await pending).toBe(13);
    expect(nat.params).toEqual(ref.params);
    // The next run checks the rewritten labels before anything runs.
    await expect(b.runSteps(run)).rejects.toThrow(/run\.y\[\d+\]: class 1073741824/);
    a.dispose();
    b.dispose();
  });
});

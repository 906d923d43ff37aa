/**
 * The fused plan's copy of a run's rows (native/plan_binding.cc): runSteps queues the worker first,
 * then copies the rows of x and y the run uses, in step order, while the worker trains on the first
 * batches; each step waits until its rows are written. These tests hold the copy back behind the
 * worker (the planCopyPace hook) and check that every step still trains on its own rows (bit for bit
 * the result of the same runs over SharedArrayBuffers, which the worker reads in place), that only
 * the rows a run uses are copied, and that nothing JavaScript does to x, y, the labels or the
 * plan's buffers once runSteps has returned reaches the worker.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { NativeFusedPlan } from "../lib/backend/native/fused-plan.js";
import { planTestHooks } from "./helpers.js";
import type { PlanSpec, StepRun } from "../lib/backend/plan.js";
import { act, adam, CE, cloneBuffers, fused, fusedRun, makeBuffers, makeData, makeRun, makeSpec, MSE, sgd } from "./fused-plan-fixtures.js";

const addon = planTestHooks();

function shared<T extends Float32Array | Int32Array>(a: T): T {
  const out = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

const ROWS = 101;
const specs: [string, PlanSpec][] = [
  ["class labels (crossEntropy)", makeSpec({ inFeatures: 13, hidden: [9], between: [act("relu")], outFeatures: 4, batchSize: 13, rows: ROWS, loss: CE, optimizer: adam("adam") })],
  ["float targets (mse)", makeSpec({ inFeatures: 11, hidden: [7], between: [act("tanh")], outFeatures: 3, batchSize: 13, rows: ROWS, loss: MSE, optimizer: sgd({ momentum: 0.9 }) })],
];

describe.skipIf(!addon)("native fused plan: the copy of a run's rows runs beside the worker", () => {
  afterEach(() => {
    addon!.planCopyPace(0);
  });

  for (const [name, spec] of specs) {
    it(`every step trains on its own rows, however far the copy lags behind the worker: ${name}`, async () => {
      // 3 ms before each batch is copied: without its wait, the worker would train on what the plan's
      // memory held before (zeros, or the rows of the run before), and the results would differ.
      expect(addon!.planCopyPace(3000)).toBe(0);
      const init = makeBuffers(spec, 11);
      const data = makeData(spec, ROWS, 12);
      const copied = cloneBuffers(init);
      const inPlace = cloneBuffers(init);
      const a = fused(spec, copied) as NativeFusedPlan;
      const b = fused(spec, inPlace) as NativeFusedPlan;
      const sx = shared(data.x);
      const sy = shared(data.y);
      let firstStep = 1;
      // Odd batch sizes, partial last batches (101 rows), runs over all rows, a few, and one row.
      const runs: [batchSize: number, start: number, steps: number][] = [
        [7, 0, 15], [13, 0, 8], [5, 20, 9], [3, 0, 34], [11, 88, 2], [13, 26, 6], [1, 40, 1], [9, 0, 12], [7, 70, 5], [13, 91, 1],
      ];
      for (const [batchSize, start, steps] of runs) {
        const runA = makeRun(data, batchSize, start, steps, firstStep, 0.01);
        const runB: StepRun = { ...makeRun(data, batchSize, start, steps, firstStep, 0.01), x: sx, y: sy };
        expect(await a.runSteps(runA)).toBe(steps);
        expect(await b.runSteps(runB)).toBe(steps);
        expect(b.copiedRows).toBe(0); // the reference reads x and y in place
        expect(Array.from(runA.losses)).toEqual(Array.from(runB.losses));
        expect(copied.params).toEqual(inPlace.params);
        firstStep += steps;
      }
      expect(copied.state).toEqual(inPlace.state);
      a.dispose();
      b.dispose();
    });
  }

  it("copies only the rows a run uses, never the whole of x", async () => {
    const spec = specs[0]![1];
    const data = makeData(spec, ROWS, 3);
    const plan = fused(spec, makeBuffers(spec, 4)) as NativeFusedPlan;
    // [batchSize, start, steps, rows used]: a third of the rows, half, all but a few, all of them
    // (a partial last batch), a single partial batch.
    const runs: [number, number, number, number][] = [
      [13, 13, 3, 39],
      [10, 0, 5, 50],
      [13, 0, 7, 91],
      [13, 0, 8, 101],
      [13, 91, 1, 10],
    ];
    for (const [batchSize, start, steps, used] of runs) {
      expect(await plan.runSteps(makeRun(data, batchSize, start, steps, 1, 0.01))).toBe(steps);
      expect(plan.copiedRows).toBe(used);
    }
    plan.dispose();
  });

  it("nothing done to x, y, its labels or the plan's arrays after runSteps returns reaches the worker", async () => {
    const spec = makeSpec({ inFeatures: 64, hidden: [48], between: [act("relu")], outFeatures: 5, batchSize: 32, rows: 2000, loss: CE, optimizer: adam("adam") });
    const init = makeBuffers(spec, 21);
    const data = makeData(spec, 2000, 22);
    const steps = 60;
    const ref = await fusedRun(spec, init, makeRun(data, 32, 0, steps, 1, 0.01));
    expect(ref.completed).toBe(steps);

    // The same run over copies of the data, which are then transferred away, overwritten with
    // out-of-range labels and garbage, while the worker is still training.
    const x = data.x.slice();
    const y = (data.y as Int32Array).slice();
    const order = data.order.slice();
    const hit = cloneBuffers(init);
    const plan = fused(spec, hit) as NativeFusedPlan;
    const run: StepRun = { ...makeRun(data, 32, 0, steps, 1, 0.01), x, y, order };
    addon!.planCopyPace(200); // a longer run, so the worker is surely still in flight below
    const pending = plan.runSteps(run);
    addon!.planCopyPace(0);
    expect(plan.busy).toBe(true);
    y.fill(1 << 30);
    order.fill(-7);
    const moved = structuredClone(x.buffer, { transfer: [x.buffer] });
    new Float32Array(moved).fill(Number.NaN);
    expect(x.length).toBe(0); // detached
    const after = new Float32Array(data.x.length).fill(123); // may reuse freed memory: must stay as written
    expect(await pending).toBe(steps);
    expect(after.every((v) => v === 123)).toBe(true);
    expect(Array.from(run.losses)).toEqual(Array.from(ref.run.losses));
    expect(hit.params).toEqual(ref.buffers.params);
    // The next run sees what JavaScript did: x is empty now.
    await expect(plan.runSteps(run)).rejects.toThrow(/run\.x/);
    plan.dispose();
  });

  it("float targets and the plan's parameters transferred away while the worker trains: the run rejects naming params, nothing else is written", async () => {
    const spec = makeSpec({ inFeatures: 64, hidden: [48], between: [act("tanh")], outFeatures: 6, batchSize: 32, rows: 2000, loss: MSE, optimizer: sgd({ momentum: 0.9 }) });
    const data = makeData(spec, 2000, 31);
    const buffers = makeBuffers(spec, 32);
    const plan = fused(spec, buffers) as NativeFusedPlan;
    const y = (data.y as Float32Array).slice();
    const run: StepRun = { ...makeRun(data, 32, 0, 60, 1, 0.01), y };
    addon!.planCopyPace(200);
    const pending = plan.runSteps(run);
    addon!.planCopyPace(0);
    expect(plan.copiedRows).toBe(1920);
    structuredClone(y.buffer, { transfer: [y.buffer as ArrayBuffer] });
    structuredClone(buffers.params.buffer, { transfer: [buffers.params.buffer as ArrayBuffer] });
    const after = Array.from({ length: 8 }, () => new Float32Array(buffers.grads.length).fill(-5));
    await expect(pending).rejects.toThrow(/^Cannot write back the results of runSteps: buffers\.params was detached/);
    expect(after.every((a) => a.every((v) => v === -5))).toBe(true);
    expect(plan.busy).toBe(false);
    await expect(plan.runSteps(run)).rejects.toThrow(/buffers\.params was detached/);
    plan.dispose();
  });

  it("planCopyPace takes whole microseconds in [0, 1000000]", () => {
    expect(() => addon!.planCopyPace(-1)).toThrow(RangeError);
    expect(() => addon!.planCopyPace(1.5)).toThrow(/micros/);
    expect(() => addon!.planCopyPace("5" as unknown as number)).toThrow(/received "5"|received '5'|string/);
    expect(addon!.planCopyPace(0)).toBe(0);
  });
});

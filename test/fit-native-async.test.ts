/**
 * `Sequential.fit` on the native fused plan runs its steps on a libuv worker: timers keep firing
 * while a run of steps is in flight (observed from inside a timer callback, not inferred from
 * timing), and while it is, the model refuses a second fit, weight and state mutations, and
 * inference that would read half-updated weights, each with a clear error. Generous bounds, not a
 * benchmark. Skipped locally when the addon is not built; required under CI.
 */
import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam } from "../lib/optim/index.js";
import { nativeOrSkip } from "./helpers.js";

const native = nativeOrSkip();

describe.skipIf(!native || !native.createFusedPlan)("native fit off the main thread", () => {
  it("keeps timers firing during native steps and refuses concurrent use of the model with clear errors", async () => {
    const rows = 4096;
    const x = Matrix.randomNormal(rows, 256, 31);
    const rng = new Rng(32);
    const labels = Int32Array.from({ length: rows }, () => rng.int(10));
    const model = new Sequential([dense(512, { activation: "relu" }), dense(512, { activation: "relu" }), dense(10)], {
      inputSize: 256,
      backend: native!,
    });
    model.compile({ loss: "crossEntropy", optimizer: adam({ lr: 1e-3 }) });

    let ticks = 0;
    let ticksInFlight = 0;
    const refusals: Record<string, string> = {};
    const attempt = (name: string, f: () => unknown): void => {
      try {
        const r = f();
        if (r instanceof Promise) {
          r.then(
            () => (refusals[name] = "accepted"),
            (e: Error) => (refusals[name] = e.message),
          );
        } else refusals[name] = "accepted";
      } catch (e) {
        refusals[name] = (e as Error).message;
      }
    };
    const weightsBefore = model.getWeights();
    const stateBefore = model.getTrainingState();
    const timer = setInterval(() => {
      ticks++;
      if (!model._stepsRunning) return;
      // This callback runs while the worker is in the middle of a run of steps.
      ticksInFlight++;
      if (ticksInFlight === 1) {
        attempt("fit", () => model.fit(x, labels, { epochs: 1, verbose: 0 }));
        attempt("setWeights", () => model.setWeights(weightsBefore));
        attempt("setTrainingState", () => model.setTrainingState(stateBefore));
        attempt("getWeights", () => model.getWeights());
        attempt("getTrainingState", () => model.getTrainingState());
        attempt("compile", () => model.compile({ loss: "crossEntropy", optimizer: "sgd" }));
        attempt("predict", () => model.predict(x.sliceRows(0, 2)));
        attempt("evaluate", () => model.evaluate(x.sliceRows(0, 2), labels.subarray(0, 2)));
      }
    }, 5);
    const t0 = performance.now();
    let history;
    try {
      history = await model.fit(x, labels, { epochs: 2, batchSize: 128, verbose: 0 });
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - t0;

    expect(history.stepsPerEpoch).toBe(32);
    expect(model.step).toBe(64);
    // The event loop turned while native steps were running: timers fired mid-run.
    expect(ticksInFlight, `ticks ${ticks}, in flight ${ticksInFlight}, ${elapsed.toFixed(0)} ms`).toBeGreaterThan(0);
    // And they kept firing (a quarter of the ideal count of a 5 ms timer).
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 5 / 4) - 2);
    await new Promise((r) => setImmediate(r));
    expect(refusals["fit"]).toMatch(/Cannot start fit\(\): this model is already training/);
    expect(refusals["setWeights"]).toMatch(/Cannot setWeights while fit\(\) is running/);
    expect(refusals["setTrainingState"]).toMatch(/Cannot setTrainingState while fit\(\) is running/);
    // Copies taken while the worker writes the weights would mix two steps.
    expect(refusals["getWeights"]).toMatch(/Cannot read the weights while training steps are running off the main thread/);
    expect(refusals["getTrainingState"]).toMatch(/Cannot read the training state while training steps are running/);
    expect(refusals["compile"]).toMatch(/Cannot compile while fit\(\) is running/);
    expect(refusals["predict"]).toMatch(/Cannot predict while training steps are running off the main thread/);
    expect(refusals["evaluate"]).toMatch(/Cannot evaluate while training steps are running off the main thread/);
    // Idle again: everything is allowed.
    model.setWeights(model.getWeights());
    expect(model.predict(x.sliceRows(0, 2)).shape).toEqual([2, 10]);
  }, 60_000);
});

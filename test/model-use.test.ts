/**
 * What a model lets start while its evaluate, predictAsync or fit runs (the table in
 * lib/nn/model-use.ts). evaluate and predictAsync read the weights, normalization, loss and plans
 * batch by batch across turns of the event loop: a call that changes them meanwhile is refused with
 * an error naming what runs and what to do, instead of a result that mixes two models (a
 * setNormalization or setWeights between batches), an internal plan's complaint (dispose:
 * "Cannot call forward: this training plan was disposed"), or a fit that trains under them. Each
 * call is made right after evaluate or predictAsync is called, while its promise is pending.
 */
import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import type { Backend } from "../lib/backend/backend.js";
import { nativeOrSkip, thrown, tsBackend } from "./helpers.js";

const native = nativeOrSkip();

function setUp(backend: Backend = tsBackend) {
  const model = new Sequential([dense(16, { activation: "relu" }), dense(2)], { inputSize: 4, seed: 1, backend });
  model.compile({ loss: "mse", optimizer: "sgd" });
  model.setNormalization({ inputMean: [0, 0, 0, 0], inputStd: [1, 1, 1, 1], targetMean: [0, 0], targetStd: [1, 1] });
  const x = Matrix.randomNormal(4000, 4, 1);
  const y = Matrix.randomNormal(4000, 2, 2);
  return { model, x, y };
}

/** Every call that changes what a running evaluate or predictAsync reads, made once. */
function changes(model: Sequential, x: Matrix, y: Matrix): Record<string, () => unknown> {
  const weights = model.getWeights();
  const state = model.getTrainingState();
  return {
    fit: () => model.fit(x, y, { epochs: 1, verbose: 0 }),
    compile: () => model.compile({ loss: "mae", optimizer: "sgd" }),
    setWeights: () => model.setWeights(weights),
    setNormalization: () => model.setNormalization({ inputMean: [100, 0, 0, 0], inputStd: [1, 1, 1, 1], targetMean: [5, 5], targetStd: [1, 1] }),
    setTrainingState: () => model.setTrainingState(state),
    dispose: () => model.dispose(),
  };
}

/** The error of a call (thrown, or the rejection of the promise it returned), or null when it was accepted. */
async function refusal(call: () => unknown): Promise<string | null> {
  try {
    await call();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

// On the native backend a fit started during evaluate ran its steps off the main thread, and
// evaluate rejected with "Cannot evaluate while training steps are running off the main thread:
// call it from a callback or after fit() resolves", advice for a call made during fit.
const runs = (["evaluate", "predictAsync"] as const).flatMap((run) => [
  { run, backend: tsBackend },
  ...(native ? [{ run, backend: native }] : []),
]);

describe.each(runs)("while $run runs ($backend.name backend)", ({ run, backend }) => {
  const start = (model: Sequential, x: Matrix, y: Matrix): Promise<unknown> =>
    run === "evaluate" ? model.evaluate(x, y, { batchSize: 10 }) : model.predictAsync(x, { batchSize: 10 });

  it("each call that changes the model is refused, naming what runs and what to do, and the result is the unchanged model's", async () => {
    const { model, x, y } = setUp(backend);
    const want = run === "evaluate" ? await model.evaluate(x, y, { batchSize: 10 }) : model.predict(x, { batchSize: 10 });
    const pending = start(model, x, y);
    const errors: Record<string, string | null> = {};
    for (const [name, call] of Object.entries(changes(model, x, y))) errors[name] = await refusal(call);
    expect(errors).toEqual({
      fit: `Cannot start fit() while ${run}() is running on this model: await the ${run}() promise first`,
      compile: `Cannot compile while ${run}() is running on this model: await the ${run}() promise first`,
      setWeights: `Cannot setWeights while ${run}() is running on this model: await the ${run}() promise first`,
      setNormalization: `Cannot setNormalization while ${run}() is running on this model: await the ${run}() promise first`,
      setTrainingState: `Cannot setTrainingState while ${run}() is running on this model: await the ${run}() promise first`,
      dispose: `Cannot dispose while ${run}() is running on this model: await the ${run}() promise first`,
    });
    expect(await pending).toEqual(want);
    // Settled: every change is allowed again.
    for (const [name, call] of Object.entries(changes(model, x, y))) expect(await refusal(call), name).toBeNull();
  });

  it("predicts of a dozen batch sizes in each of its pauses do not take away the plan it runs on (the model keeps 8)", async () => {
    const { model } = setUp(backend);
    const [bigX, bigY] = [Matrix.randomNormal(200_000, 4, 5), Matrix.randomNormal(200_000, 2, 6)];
    let settled = false;
    const pending = (run === "evaluate" ? model.evaluate(bigX, bigY, { batchSize: 10 }) : model.predictAsync(bigX, { batchSize: 10 })).finally(() => (settled = true));
    let turns = 0;
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      // Rows 1, 2, 4, ..., 2048 run in plans for as many rows: 12 plans, more than the model keeps.
      for (let rows = 1; rows <= 2048; rows *= 2) model.predict(bigX.sliceRows(0, rows), { batchSize: 4096 });
      turns++;
    }
    expect(await refusal(() => pending)).toBeNull();
    expect(turns).toBeGreaterThan(1);
  });

  it("reading calls run beside it: predict, getWeights, another evaluate and predictAsync", async () => {
    const { model, x, y } = setUp(backend);
    const pending = start(model, x, y);
    expect(model.predict(x.sliceRows(0, 2)).shape).toEqual([2, 2]);
    expect(model.getWeights()).toHaveLength(2);
    const [a, b] = await Promise.all([model.evaluate(x, y), model.predictAsync(x.sliceRows(0, 3)), pending]);
    expect(Number.isFinite(a.loss)).toBe(true);
    expect(b.shape).toEqual([3, 2]);
  });
});

describe("a reader started while fit runs", () => {
  it.each(["evaluate", "predictAsync"] as const)(
    "%s started from a fit callback and not awaited stops when fit trains between its batches (evaluate scored two sets of weights before)",
    async (run) => {
      const { model, x, y } = setUp();
      const [bigX, bigY] = [Matrix.randomNormal(40_000, 4, 3), Matrix.randomNormal(40_000, 2, 4)];
      let racing: Promise<string | null> | null = null;
      // From the second epoch's onEpochBegin: fit's steps follow in the same turn, before the reader's first batch.
      const onEpochBegin = (epoch: number): void => {
        if (epoch === 1) racing = refusal(() => (run === "evaluate" ? model.evaluate(bigX, bigY, { batchSize: 10 }) : model.predictAsync(bigX, { batchSize: 10 })));
      };
      await model.fit(x.sliceRows(0, 200), y.sliceRows(0, 200), { epochs: 50, batchSize: 10, verbose: 0, callbacks: [{ onEpochBegin }] });
      const rows = run === "evaluate" ? "batches" : "rows";
      expect(await racing).toBe(
        `The model trained while ${run}() ran, so its ${rows} would mix two sets of weights: await fit() before calling ${run}(), or await ${run}() inside the callback that started it`,
      );
      // Awaited inside the callback, it sees one set of weights, and fit goes on after it.
      const seen: number[] = [];
      const onEpochEnd = async (): Promise<void> => {
        seen.push(run === "evaluate" ? (await model.evaluate(x, y)).loss : (await model.predictAsync(x)).rows);
      };
      await model.fit(x.sliceRows(0, 200), y.sliceRows(0, 200), { epochs: 2, verbose: 0, callbacks: [{ onEpochEnd }] });
      expect(seen).toHaveLength(2);
    },
  );

  it("a change refused while fit runs still names fit", () => {
    const { model, x, y } = setUp();
    const pending = model.fit(x, y, { epochs: 1, verbose: 0 });
    expect(thrown(() => model.dispose()).message).toBe("Cannot dispose while fit() is running on this model: await the fit() promise first (or set model.stopTraining = true to end it early)");
    return pending;
  });
});

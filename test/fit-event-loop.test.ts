/**
 * The TypeScript backend's fit keeps the event loop responsive from its first step: the data
 * checks, the shuffle and the first training step run in separate turns (a timer set as training
 * begins fires before the first step), and shuffling millions of rows pauses for timers. Times are
 * not asserted (measure them with bench/); the order of events is.
 */
import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import type { Callback } from "../lib/train/callbacks.js";

function model(inputs: number): Sequential {
  const m = new Sequential([dense(1)], { inputSize: inputs, seed: 1, backend: "js" });
  m.compile({ loss: "mse", optimizer: "sgd" });
  return m;
}

describe("fit on the TypeScript backend does not block the event loop", () => {
  it("a timer set as training begins fires before the first training step", async () => {
    const x = Matrix.randomNormal(64, 3, new Rng(1), 0, 1);
    const y = Matrix.randomNormal(64, 1, new Rng(2), 0, 1);
    const events: string[] = [];
    const cb: Callback = {
      onTrainBegin: () => void setImmediate(() => events.push("timer")),
      onBatchEnd: (step) => void events.push(`step ${step}`),
    };
    await model(3).fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, callbacks: [cb] });
    expect(events[0]).toBe("timer");
    expect(events.filter((e) => e.startsWith("step"))).toHaveLength(4);
  });

  it("shuffling 4,000,000 rows pauses: a timer set at an epoch's start fires before its first step", async () => {
    const rows = 4_000_000;
    const x = new Matrix(new Float32Array(rows).fill(1), rows, 1);
    const y = new Matrix(new Float32Array(rows).fill(2), rows, 1);
    const events: string[] = [];
    const cb: Callback = {
      onEpochBegin: (epoch) => void setImmediate(() => events.push(`timer ${epoch}`)),
      onBatchEnd: () => void events.push("step"),
      onEpochEnd: (epoch) => void events.push(`end ${epoch}`),
    };
    await model(1).fit(x, y, { epochs: 2, batchSize: rows, verbose: 0, callbacks: [cb] });
    // The second epoch's shuffle runs after its onEpochBegin: the timer fires during it.
    expect(events.slice(events.indexOf("end 0"))).toEqual(["end 0", "timer 1", "step", "end 1"]);
  }, 60_000);
});

/**
 * The TypeScript backend's warm-up before fit's first step (PlanExecutor.warmUpSync): small steps
 * on private copies, one slice per turn of the event loop, so that V8 has compiled the kernels
 * before the first real step (cold, that step blocked the event loop 4-9x as long as a warm one).
 * Times are not asserted (measure them with bench/); the turns, and that no number changes, are.
 */
import { describe, expect, it } from "vitest";
import type { StepRun } from "../lib/backend/plan.js";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { batchNorm, conv2d, dense, dropout, flatten, maxPool2d } from "../lib/nn/layers.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { Sequential } from "../lib/nn/sequential.js";
import type { Callback } from "../lib/train/callbacks.js";
import { tsBackend } from "./helpers.js";

/** A small CNN with every kind of step the warm-up cuts in phases: conv, pool, batch norm (frozen statistics), dropout, dense. */
function cnn(): Sequential {
  const m = new Sequential([conv2d(3, 3, { padding: 1, activation: "relu" }), batchNorm(), maxPool2d(2), flatten(), dropout(0.2), dense(5)], {
    inputShape: [1, 6, 6],
    seed: 3,
    backend: "js",
  });
  m.compile({ loss: "crossEntropy", optimizer: "adam" });
  return m;
}

function data(rows: number): { x: { data: Float32Array; shape: number[] }; y: Int32Array } {
  const x = Matrix.randomNormal(rows, 36, new Rng(5), 0, 1).data;
  return { x: { data: x, shape: [rows, 1, 6, 6] }, y: Int32Array.from({ length: rows }, (_, i) => i % 5) };
}

describe("fit's warm-up on the TypeScript backend", () => {
  it("runs in many turns of the event loop before the first training step", async () => {
    const { x, y } = data(32);
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    let turnsBeforeFirstStep = -1;
    const cb: Callback = {
      onTrainBegin: () => {
        turns = 0;
        setImmediate(tick);
      },
      onBatchEnd: () => {
        if (turnsBeforeFirstStep < 0) turnsBeforeFirstStep = turns;
      },
    };
    await cnn().fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [cb] });
    ticking = false;
    // 16 warm-up steps, the first one cut into phases (2 per layer + 3), each in its own turn.
    expect(turnsBeforeFirstStep).toBeGreaterThanOrEqual(16);
  });

  it("changes no number: parameters, optimizer state, random state and losses (row weights too) are those of steps without it", () => {
    const m = cnn();
    const spec = m.buildSpec(8, false);
    const P = spec.paramCount;
    expect(spec.frozen?.length).toBeGreaterThan(0);
    const { x, y } = data(24);
    const make = (): { exec: PlanExecutor; params: Float32Array; state: Float32Array; rngState: Uint32Array } => {
      const params = m.params.slice();
      const state = new Float32Array(2 * P);
      const rngState = m.rngState.slice();
      return { exec: new PlanExecutor(tsBackend, spec, { params, grads: new Float32Array(P), state, rngState }), params, state, rngState };
    };
    const runOf = (): StepRun => ({
      x: x.data,
      y,
      rows: 24,
      order: Int32Array.from([5, 3, 7, 1, 0, 2, 4, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]),
      start: 0,
      steps: 3,
      batchSize: 8,
      lr: new Float32Array(3).fill(0.01),
      firstStep: 1,
      training: true,
      losses: new Float32Array(3),
      weights: Float32Array.from({ length: 24 }, (_, i) => 0.5 + (i % 4) / 4),
    });
    const plain = make();
    const plainRun = runOf();
    expect(plain.exec.runStepsSync(plainRun)).toBe(3);

    const warmed = make();
    const run = runOf();
    const before = { ...run };
    let slices = 1;
    while (warmed.exec.warmUpSync(run)) slices++;
    expect(warmed.exec.warmUpSync(run)).toBe(false);
    // 15 whole steps and the first one in 2 * 6 layers + 3 phases.
    expect(slices).toBe(15 + 15);
    expect(run).toEqual(before);
    expect(warmed.params).toEqual(m.params);
    expect(warmed.exec.runStepsSync(run)).toBe(3);

    expect(run.losses).toEqual(plainRun.losses);
    expect(warmed.params).toEqual(plain.params);
    expect(warmed.state).toEqual(plain.state);
    expect(warmed.rngState).toEqual(plain.rngState);
  });
});

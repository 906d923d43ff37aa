/**
 * The native fused plan's conv and pooling steps on two threads of their own (native/plan_threads.h,
 * native/plan_region.h): each thread takes a fixed share of the batch's samples with its own
 * workspaces, and the weight and bias gradients are added up in thread order. So a plan built at
 * setThreads(2) must
 * - match the same plan at setThreads(1) (the single-threaded path) within float tolerance: losses,
 *   parameters, optimizer state and an inference pass, over odd batch sizes (1, 3, 45 with
 *   conv chunks of 18 samples: partial chunks on each thread), one channel, strides, padding,
 *   convolutions with and without bias, max and average pooling, and a partial last batch;
 * - give bit-identical results run after run (the split does not depend on timing);
 * - own one worker thread while it exists (a plan of dense layers only, or one built at one thread,
 *   owns none), joined when the plan is disposed (Linux: threads counted in /proc/self/task).
 */
import { existsSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlanBuffers, StepRun } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import { avgPool2d, conv2d, dense, flatten, maxPool2d, type Layer } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adam, optimizerDef } from "../lib/optim/index.js";
import { maxAbsDiff, nativeOrSkip, tsBackend } from "./helpers.js";

const native = nativeOrSkip();

interface Case {
  name: string;
  inputShape: number[];
  layers: () => Layer[];
  batchSize: number;
  rows: number;
}

const CASES: Case[] = [
  {
    // conv 1: 9 x 784 unrolled values a sample, chunks of 37 (one per thread); conv 2: 72 x 196, chunks of 18
    name: "1 channel, batch 45 (conv chunks of 18), relu, max pooling, 97 rows",
    inputShape: [1, 28, 28],
    layers: () => [conv2d(8, 3, { padding: 1, activation: "relu" }), maxPool2d(2), conv2d(16, 3, { padding: 1, activation: "relu" }), maxPool2d(2), flatten(), dense(10)],
    batchSize: 45,
    rows: 97,
  },
  {
    name: "batch 3, strides, padding, no bias, average and max pooling, a last batch of 1",
    inputShape: [3, 13, 11],
    layers: () => [
      conv2d(5, [3, 2], { stride: 2, padding: [1, 0] }),
      avgPool2d(2, { padding: 1 }),
      conv2d(4, 3, { padding: "same", activation: "tanh", useBias: false }),
      maxPool2d(3, { stride: 2, padding: 1 }),
      flatten(),
      dense(3),
    ],
    batchSize: 3,
    rows: 10,
  },
  {
    name: "batch 1 (one thread whatever the setting)",
    inputShape: [2, 9, 9],
    layers: () => [conv2d(4, 3, { activation: "relu" }), maxPool2d(2), flatten(), dense(3)],
    batchSize: 1,
    rows: 4,
  },
];

interface Result {
  params: Float32Array;
  state: Float32Array;
  losses: number[];
  out: Float32Array;
}

/** Builds the case's plan at `threads`, trains it over every row twice (two runs) and runs a forward pass. */
async function train(c: Case, threads: number): Promise<Result> {
  const model = new Sequential(c.layers(), { inputShape: c.inputShape, seed: 3, backend: tsBackend });
  model.compile({ loss: "crossEntropy", optimizer: adam({ lr: 3e-3 }) });
  const spec = model.buildSpec(c.batchSize);
  const rng = new Rng(11);
  for (let i = 0; i < model.params.length; i++) model.params[i] = model.params[i]! + 0.05 * (rng.uniform() - 0.5);
  const slots = optimizerDef(spec.optimizer.kind).slots(spec.optimizer.hyper).length;
  const buffers: PlanBuffers = { params: model.params.slice(), grads: new Float32Array(spec.paramCount), state: new Float32Array(slots * spec.paramCount), rngState: model.rngState.slice() };
  native!.setThreads(threads);
  const plan = native!.createFusedPlan!(spec, buffers);
  const x = Float32Array.from({ length: c.rows * model.inputSize }, () => rng.uniformRange(-1, 1));
  const y = Int32Array.from({ length: c.rows }, () => rng.int(model.outputSize));
  const order = rng.shuffle(Int32Array.from({ length: c.rows }, (_, i) => i));
  const steps = Math.ceil(c.rows / c.batchSize);
  const losses: number[] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    const run: StepRun = {
      x, y, rows: c.rows, order, start: 0, steps, batchSize: c.batchSize, lr: new Float32Array(steps).fill(3e-3), firstStep: 1 + epoch * steps, training: true, losses: new Float32Array(steps),
    };
    expect(await plan.runSteps(run)).toBe(steps);
    losses.push(...run.losses);
  }
  const out = new Float32Array(c.batchSize * model.outputSize);
  plan.forward(out, x, c.batchSize);
  plan.dispose();
  return { params: buffers.params, state: buffers.state, losses, out };
}

describe.skipIf(!native?.createFusedPlan)("native fused plan: conv and pooling steps on two threads", () => {
  let before = 1;
  beforeAll(() => {
    before = native!.getThreads();
  });
  afterAll(() => native!.setThreads(before));

  for (const c of CASES) {
    it(`${c.name}: 2 threads match 1 thread, and repeat bit for bit`, async () => {
      const one = await train(c, 1);
      const two = await train(c, 2);
      const again = await train(c, 2);
      for (let s = 0; s < one.losses.length; s++) expect(Math.abs(two.losses[s]! - one.losses[s]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(one.losses[s]!)));
      expect(maxAbsDiff(two.params, one.params)).toBeLessThanOrEqual(2e-4);
      expect(maxAbsDiff(two.state, one.state)).toBeLessThanOrEqual(2e-4);
      expect(maxAbsDiff(two.out, one.out)).toBeLessThanOrEqual(1e-4);
      expect(Buffer.from(again.params.buffer).equals(Buffer.from(two.params.buffer))).toBe(true);
      expect(Buffer.from(again.state.buffer).equals(Buffer.from(two.state.buffer))).toBe(true);
      expect(Buffer.from(again.out.buffer).equals(Buffer.from(two.out.buffer))).toBe(true);
    });
  }

  const linux = existsSync("/proc/self/task");
  it.skipIf(!linux)("a conv plan built at 2 threads owns one worker thread, joined by dispose; dense-only and 1-thread plans own none", () => {
    const tasks = () => readdirSync("/proc/self/task").length;
    const make = (layers: Layer[], inputShape: number[]) => {
      const model = new Sequential(layers, { inputShape, seed: 1, backend: tsBackend });
      model.compile({ loss: "crossEntropy", optimizer: adam() });
      const spec = model.buildSpec(8);
      return native!.createFusedPlan!(spec, { params: model.params.slice(), grads: new Float32Array(spec.paramCount), state: new Float32Array(2 * spec.paramCount), rngState: model.rngState.slice() });
    };
    const conv = () => [conv2d(4, 3), maxPool2d(2), flatten(), dense(3)];
    native!.setThreads(2);
    const start = tasks();
    const plan = make(conv(), [1, 8, 8]);
    expect(tasks()).toBe(start + 1);
    plan.dispose();
    expect(tasks()).toBe(start);
    const mlp = make([flatten(), dense(5), dense(3)], [1, 8, 8]);
    expect(tasks()).toBe(start);
    mlp.dispose();
    native!.setThreads(1);
    const single = make(conv(), [1, 8, 8]);
    expect(tasks()).toBe(start);
    single.dispose();
  });
});

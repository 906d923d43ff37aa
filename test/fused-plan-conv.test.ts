/**
 * Convolutional models on the native fused plan against the reference, PlanExecutor over the
 * TypeScript kernels: the same spec (Sequential.buildSpec), data, initial parameters and RNG state,
 * two runs (the second continuing the first and ending on a partial batch), then the loss of every
 * step, the parameters (batch norm's running statistics included) and optimizer state, and an
 * inference forward pass compared.
 *
 * The first model's convolution runs in several chunks of samples (native/steps/conv2d.h: its unrolled input
 * is over 100 KB a sample), with a partial last chunk; the second has every image step: strided and
 * padded convolutions, batch norm in training mode, max and average pooling, a residual block with
 * layer norm inside, dropout, global average pooling; the third, max pooling fused into the conv
 * step before it and kept apart from it.
 *
 * The plans are built at 2 threads (the conv and pooling steps then split each batch over two).
 *
 * Tolerance 2e-4 (Adam; as test/fused-plan.test.ts explains) on parameters, relative on losses.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlanBuffers, StepRun } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import {
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  globalAvgPool2d,
  layerNorm,
  maxPool2d,
  residual,
  type Layer,
} from "../lib/nn/layers.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
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
    name: "conv 3 -> 8 on 32x32 in chunks (relu), maxpool, conv 8 -> 16 (relu), maxpool, dense",
    inputShape: [3, 32, 32],
    layers: () => [
      conv2d(8, 3, { padding: 1, activation: "relu" }),
      maxPool2d(2),
      conv2d(16, 3, { padding: 1, activation: "relu" }),
      maxPool2d(2),
      flatten(),
      dense(10),
    ],
    batchSize: 24,
    rows: 53,
  },
  {
    name: "every image step: strided conv, batch norm (training), residual with layer norm, dropout, pools",
    inputShape: [2, 11, 9],
    layers: () => [
      conv2d(6, 3, { stride: 2, padding: 1, useBias: false }), // (a bias before batch norm has no gradient: Adam would amplify rounding noise)
      batchNorm({ momentum: 0.2 }),
      residual([conv2d(6, 3, { padding: "same", activation: "tanh" }), layerNorm({ dims: 2 }), conv2d(6, [2, 3], { padding: "same", dilation: 1 })]),
      dropout(0.25),
      maxPool2d(3, { stride: 2, padding: 1 }),
      conv2d(8, 1, { activation: "gelu", useBias: false }),
      avgPool2d(2, { padding: 1 }),
      batchNorm(),
      globalAvgPool2d(),
      dense(4),
    ],
    batchSize: 8,
    rows: 21,
  },
  {
    // native/steps/conv2d.h runs a max pooling step inside the conv step before it when the conv's
    // activation is linear or relu: odd planes (a row and a column no 2x2 window reaches), no bias,
    // overlapping padded windows (the generic pooling path), chunks ending mid-batch; after a sigmoid
    // the two steps stay apart.
    name: "conv + max pooling fused (linear, relu) on odd sizes and padded windows, and apart (sigmoid)",
    inputShape: [2, 9, 7],
    layers: () => [
      conv2d(4, 3, { padding: 1, useBias: false }),
      maxPool2d(2),
      conv2d(5, 3, { padding: 1, activation: "relu" }),
      maxPool2d(3, { stride: 2, padding: 1 }),
      conv2d(6, 1, { activation: "sigmoid" }),
      maxPool2d(2),
      flatten(),
      dense(3),
    ],
    batchSize: 8,
    rows: 21,
  },
];

describe.skipIf(!native?.createFusedPlan)("native fused plan: convolutional models", () => {
  // At 2 threads: the conv and pooling steps split each batch over the plan's own threads
  // (test/fused-plan-threads.test.ts compares 2 threads with 1).
  let threads = 1;
  beforeAll(() => {
    threads = native!.getThreads();
    native!.setThreads(2);
  });
  afterAll(() => native!.setThreads(threads));
  for (const c of CASES) {
    it(c.name, async () => {
      const model = new Sequential(c.layers(), { inputShape: c.inputShape, seed: 5, backend: tsBackend });
      model.compile({ loss: "crossEntropy", optimizer: adam({ lr: 3e-3 }) });
      const spec = model.buildSpec(c.batchSize);
      const rng = new Rng(9);
      // Move every parameter off its initial value (biases, beta and running statistics too).
      for (let i = 0; i < model.params.length; i++) model.params[i] = model.params[i]! + 0.05 * (rng.uniform() - 0.5);
      const slots = optimizerDef(spec.optimizer.kind).slots(spec.optimizer.hyper).length;
      const init: PlanBuffers = { params: model.params.slice(), grads: new Float32Array(spec.paramCount), state: new Float32Array(slots * spec.paramCount), rngState: model.rngState.slice() };
      const copy = (): PlanBuffers => ({ params: init.params.slice(), grads: init.grads.slice(), state: init.state.slice(), rngState: init.rngState.slice() });
      const ref = copy();
      const nat = copy();
      const executor = new PlanExecutor(tsBackend, spec, ref);
      const plan = native!.createFusedPlan!(spec, nat);
      const x = Float32Array.from({ length: c.rows * model.inputSize }, () => rng.uniformRange(-1, 1));
      const y = Int32Array.from({ length: c.rows }, () => rng.int(model.outputSize));
      const order = rng.shuffle(Int32Array.from({ length: c.rows }, (_, i) => i));
      const steps = Math.ceil(c.rows / c.batchSize);
      const run = (start: number, n: number, firstStep: number): StepRun => ({
        x, y, rows: c.rows, order, start, steps: n, batchSize: c.batchSize, lr: new Float32Array(n).fill(3e-3), firstStep, training: true, losses: new Float32Array(n),
      });
      for (const [start, n, firstStep] of [[0, 1, 1], [c.batchSize, steps - 1, 2]] as const) {
        const a = run(start, n, firstStep);
        const b = run(start, n, firstStep);
        expect(await executor.runSteps(a)).toBe(n);
        expect(await plan.runSteps(b)).toBe(n);
        for (let s = 0; s < n; s++) expect(Math.abs(b.losses[s]! - a.losses[s]!)).toBeLessThanOrEqual(2e-4 * Math.max(1, Math.abs(a.losses[s]!)));
        expect(maxAbsDiff(nat.params, ref.params)).toBeLessThanOrEqual(2e-4);
        expect(maxAbsDiff(nat.state, ref.state)).toBeLessThanOrEqual(2e-4);
        expect(Array.from(nat.rngState)).toEqual(Array.from(ref.rngState));
      }
      expect(maxAbsDiff(nat.params, init.params)).toBeGreaterThan(2e-3); // trained: the comparison is not vacuous
      for (const [b, e] of spec.frozen ?? []) expect(maxAbsDiff(nat.params.subarray(b, e), init.params.subarray(b, e))).toBeGreaterThan(0); // running statistics moved
      const outRef = new Float32Array(c.batchSize * model.outputSize);
      const outNat = new Float32Array(c.batchSize * model.outputSize);
      executor.forward(outRef, x, c.batchSize);
      plan.forward(outNat, x, c.batchSize);
      expect(maxAbsDiff(outNat, outRef)).toBeLessThanOrEqual(1e-4);
      plan.dispose();
    });
  }
});

describe.skipIf(!native?.createFusedPlan)("native fused plan: validation of the image steps", () => {
  /** conv -> batchNorm -> residual(conv) -> maxPool -> avgPool -> layerNorm -> dense, as buildSpec gives it. */
  const base = () => {
    const model = new Sequential(
      [conv2d(4, 3, { padding: 1 }), batchNorm(), residual([conv2d(4, 3, { padding: 1 })]), maxPool2d(2), avgPool2d(2), layerNorm(), flatten(), dense(3)],
      { inputShape: [2, 8, 8], seed: 1, backend: tsBackend },
    );
    model.compile({ loss: "crossEntropy", optimizer: adam() });
    const spec = model.buildSpec(4);
    const buffers: PlanBuffers = { params: model.params.slice(), grads: new Float32Array(spec.paramCount), state: new Float32Array(2 * spec.paramCount), rngState: model.rngState.slice() };
    return { spec, buffers };
  };
  type L = Record<string, unknown> & { window: Record<string, number> };
  const at = (spec: { layers: unknown[] }, kind: string, nth = 0): L => spec.layers.filter((l) => (l as { kind: string }).kind === kind)[nth] as L;
  const bad: [string, (s: ReturnType<typeof base>["spec"]) => void, ErrorConstructor, RegExp][] = [
    ["a window that is not an object", (s) => void (at(s, "conv2d").window = 3 as never), TypeError, /spec\.layers\[0\]\.window/],
    ["a non-integer kernel", (s) => void (at(s, "conv2d").window.kernelH = 2.5), RangeError, /spec\.layers\[0\]\.window\.kernelH/],
    ["stride 0", (s) => void (at(s, "conv2d").window.strideW = 0), RangeError, /spec\.layers\[0\]\.window\.strideW/],
    ["negative padding", (s) => void (at(s, "conv2d").window.padTop = -1), RangeError, /spec\.layers\[0\]\.window\.padTop/],
    ["a window over the wrong sample size", (s) => void (at(s, "conv2d").window.channels = 3), RangeError, /spec\.layers\[0\]\.window: \(channels, height, width\) = \(3, 8, 8\)/],
    ["outH the geometry does not give", (s) => void (at(s, "conv2d").window.outH = 10), RangeError, /spec\.layers\[0\]\.window\.outH: 10; .*\[7, 9\]/],
    ["a huge kernel (overflow)", (s) => void (at(s, "conv2d").window.kernelW = 2 ** 40), RangeError, /kernelW/],
    ["a conv weight past paramCount", (s) => void (at(s, "conv2d").weightOffset = s.paramCount - 10), RangeError, /spec\.layers\[0\]\.weightOffset/],
    ["overlapping conv weights", (s) => void (at(s, "conv2d", 1).weightOffset = 0), RangeError, /overlap/],
    ["outChannels 0", (s) => void (at(s, "conv2d").outChannels = 0), RangeError, /outChannels/],
    ["pool padding beyond half the kernel", (s) => void Object.assign(at(s, "maxPool2d").window, { padTop: 2 }), RangeError, /padTop: 2; pooling padding/],
    ["average pooling with dilation", (s) => void Object.assign(at(s, "avgPool2d").window, { dilationH: 2 }), RangeError, /dilation 1/],
    ["batch norm channels x spatial off", (s) => void (at(s, "batchNorm").spatial = 63), RangeError, /channels x spatial/],
    ["batch norm eps 0", (s) => void (at(s, "batchNorm").eps = 0), RangeError, /\.eps/],
    ["batch norm momentum 2", (s) => void (at(s, "batchNorm").momentum = 2), RangeError, /\.momentum/],
    ["running statistics past paramCount", (s) => void (at(s, "batchNorm").runningVarOffset = s.paramCount), RangeError, /runningVarOffset/],
    ["layer norm size not dividing the width", (s) => void (at(s, "layerNorm").size = 3), RangeError, /\.size: 3/],
    ["layer norm eps -1", (s) => void (at(s, "layerNorm").eps = -1), RangeError, /spec\.layers\[\d+\]\.eps: -1; expected a finite number > 0/],
    ["a layer norm beta past paramCount", (s) => void (at(s, "layerNorm").biasOffset = s.paramCount), RangeError, /spec\.layers\[\d+\]\.biasOffset/],
    ["a batch norm gamma overlapping another range", (s) => void (at(s, "batchNorm").weightOffset = at(s, "conv2d").weightOffset as unknown as number), RangeError, /overlap/],
    ["a residualEnd without a start", (s) => void s.layers.splice(s.layers.findIndex((l) => l.kind === "residualStart"), 1), RangeError, /residualEnd without a residualStart/],
    ["a residualStart without its end", (s) => void s.layers.splice(s.layers.findIndex((l) => l.kind === "residualEnd"), 1), RangeError, /residualStart without its residualEnd/],
    ["a residual body changing the width", (s) => void s.layers.splice(s.layers.findIndex((l) => l.kind === "residualEnd"), 0, ...s.layers.splice(s.layers.findIndex((l) => l.kind === "maxPool2d"), 1)), RangeError, /a residual body must keep the width/],
  ];
  for (const [name, mutate, type, message] of bad) {
    it(`rejects ${name}`, () => {
      const { spec, buffers } = base();
      expect(() => native!.createFusedPlan!(spec, buffers)).not.toThrow();
      mutate(spec);
      expect(() => native!.createFusedPlan!(spec, buffers)).toThrow(type);
      expect(() => native!.createFusedPlan!(spec, buffers)).toThrow(message);
    });
  }
});

/**
 * The native fused training plan (native/plan_steps.cc) against the reference: PlanExecutor over the
 * TypeScript kernels, run on the same spec, data, initial parameters and RNG state.
 *
 * Tolerances (max |difference| of parameters after every step of the runs): 2e-5 for SGD-family
 * rows, 2e-4 for Adam / RMSprop (they divide by sqrt of tiny second moments, amplifying float32
 * rounding differences). Native float32 arithmetic, fast exp and a different summation order are
 * the only sources of difference; dropout masks are bit-identical (same xoshiro128** stream).
 */
import { describe, expect, it } from "vitest";
import type { PlanBuffers, PlanLoss, PlanOptimizer, PlanSpec, StepRun, TrainPlan } from "../lib/backend/plan.js";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { rmsprop } from "../lib/optim/index.js";
import { act, adam, CE, cloneBuffers, fused, fusedRun, makeBuffers, makeData, makeRun, makeSpec, MSE, native, type Net, sgd } from "./fused-plan-fixtures.js";
import { maxAbsDiff } from "./helpers.js";

const ts = createTsBackend();

interface Case {
  name: string;
  net: Net;
  lr: number;
  steps: number;
  tol: number;
}

const small = { inFeatures: 5, hidden: [7, 6], outFeatures: 3, batchSize: 8, rows: 45 };
const CASES: Case[] = [
  { name: "linear, mse, sgd", net: { ...small, between: [act("linear")], loss: MSE, optimizer: sgd() }, lr: 0.05, steps: 6, tol: 2e-5 },
  { name: "sigmoid, mse, sgd", net: { ...small, between: [act("sigmoid")], loss: MSE, optimizer: sgd() }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "relu, mae, sgd", net: { ...small, between: [act("relu")], loss: { kind: "mae", delta: 1 }, optimizer: sgd() }, lr: 0.05, steps: 6, tol: 2e-5 },
  { name: "tanh, huber, sgd", net: { ...small, between: [act("tanh")], loss: { kind: "huber", delta: 0.5 }, optimizer: sgd() }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "leakyRelu, ce, sgd", net: { ...small, between: [act("leakyRelu", 0.1)], loss: CE, optimizer: sgd() }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "gelu, ceDense, sgd", net: { ...small, between: [act("gelu")], loss: { kind: "crossEntropyDense" }, optimizer: sgd() }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "tanh + softmax layer, bce, sgd", net: { ...small, between: [act("tanh"), { kind: "softmax" }], loss: { kind: "bce" }, optimizer: sgd() }, lr: 0.2, steps: 6, tol: 2e-5 },
  { name: "relu, ce, momentum + dampening + weight decay", net: { ...small, between: [act("relu")], loss: CE, optimizer: sgd({ momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }) }, lr: 0.05, steps: 6, tol: 2e-5 },
  { name: "tanh, mse, nesterov", net: { ...small, between: [act("tanh")], loss: MSE, optimizer: sgd({ momentum: 0.8, nesterov: true, weightDecay: 0.001 }) }, lr: 0.05, steps: 6, tol: 2e-5 },
  { name: "relu, ce, adam + weight decay", net: { ...small, between: [act("relu")], loss: CE, optimizer: adam("adam", 0.01) }, lr: 0.01, steps: 6, tol: 2e-4 },
  { name: "gelu, mse, adamw", net: { ...small, between: [act("gelu")], loss: MSE, optimizer: adam("adamw", 0.05) }, lr: 0.01, steps: 6, tol: 2e-4 },
  { name: "sigmoid, ce, rmsprop", net: { ...small, between: [act("sigmoid")], loss: CE, optimizer: rmsprop({ alpha: 0.99, eps: 1e-8, weightDecay: 0.01, momentum: 0 }).plan }, lr: 0.01, steps: 6, tol: 2e-4 },
  { name: "tanh, mse, rmsprop + momentum", net: { ...small, between: [act("tanh")], loss: MSE, optimizer: rmsprop({ alpha: 0.9, eps: 1e-6, weightDecay: 0, momentum: 0.5 }).plan }, lr: 0.005, steps: 6, tol: 2e-4 },
  { name: "relu, ce, clip by norm", net: { ...small, between: [act("relu")], loss: CE, optimizer: sgd({ momentum: 0.9 }), clipNorm: 0.05 }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "tanh, mse, clip by value", net: { ...small, between: [act("tanh")], loss: MSE, optimizer: sgd(), clipValue: 0.01 }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "clip by value and norm", net: { ...small, between: [act("relu")], loss: MSE, optimizer: sgd(), clipValue: 0.02, clipNorm: 0.03 }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "relu + dropout, ce, sgd", net: { ...small, between: [act("relu"), { kind: "dropout", rate: 0.3 }], loss: CE, optimizer: sgd({ momentum: 0.5 }) }, lr: 0.05, steps: 6, tol: 2e-5 },
  { name: "dropout then tanh, mse, adam", net: { ...small, between: [{ kind: "dropout", rate: 0.5 }, act("tanh")], loss: MSE, optimizer: adam("adam") }, lr: 0.01, steps: 6, tol: 2e-4 },
  // The plain-loop GEMMs (plan_gemm.h) in both of their forms: below 4 output columns each value is
  // summed in a register, from 4 on a row at a time.
  { name: "lecture network: 1 -> 3 sigmoid -> 1, batch 10, mse, sgd (loop GEMMs below 4 columns)", net: { inFeatures: 1, hidden: [3], between: [act("sigmoid")], outFeatures: 1, batchSize: 10, rows: 55, loss: MSE, optimizer: sgd() }, lr: 0.1, steps: 6, tol: 2e-5 },
  { name: "4 -> 4 tanh -> 2, batch 4, mse, momentum (loop GEMMs of 4 columns: forward and dX)", net: { inFeatures: 4, hidden: [4], between: [act("tanh")], outFeatures: 2, batchSize: 4, rows: 22, loss: MSE, optimizer: sgd({ momentum: 0.9 }) }, lr: 0.1, steps: 6, tol: 2e-5 },
  // Large enough for the OpenBLAS path (m*n*k above the small-GEMM threshold).
  { name: "BLAS-sized: 48 -> 96 relu -> 64 relu -> 10, ce, adam", net: { inFeatures: 48, hidden: [96, 64], between: [act("relu")], outFeatures: 10, batchSize: 32, rows: 150, loss: CE, optimizer: adam("adam") }, lr: 0.003, steps: 5, tol: 2e-4 },
  { name: "BLAS-sized: 64 -> 128 sigmoid + dropout -> 4, mse, momentum", net: { inFeatures: 64, hidden: [128], between: [act("sigmoid"), { kind: "dropout", rate: 0.2 }], outFeatures: 4, batchSize: 64, rows: 200, loss: MSE, optimizer: sgd({ momentum: 0.9 }) }, lr: 0.05, steps: 4, tol: 2e-5 },
  // P >= 65536: each layer is updated right after its backward GEMMs (per-layer fused update),
  // with clipping by value, weight decay and unowned parameters between layers.
  { name: "per-layer update: 64 -> 512 relu -> 64, mse, adam + clip value + gaps", net: { inFeatures: 64, hidden: [512], between: [act("relu")], outFeatures: 64, batchSize: 16, rows: 70, loss: MSE, optimizer: adam("adam", 0.01), clipValue: 0.001, gap: 5 }, lr: 0.003, steps: 5, tol: 2e-4 },
  { name: "per-layer update: 64 -> 512 tanh -> 64, mse, nesterov + gaps", net: { inFeatures: 64, hidden: [512], between: [act("tanh")], outFeatures: 64, batchSize: 16, rows: 70, loss: MSE, optimizer: sgd({ momentum: 0.9, nesterov: true, weightDecay: 0.01 }), gap: 3 }, lr: 0.01, steps: 5, tol: 2e-5 },
  { name: "per-layer update: 128 -> 512 sigmoid -> 16, mse, plain sgd (OpenBLAS saxpy for the big weight)", net: { inFeatures: 128, hidden: [512], between: [act("sigmoid")], outFeatures: 16, batchSize: 16, rows: 70, loss: MSE, optimizer: sgd() }, lr: 0.05, steps: 5, tol: 2e-5 },
  { name: "global-norm clipping with P >= 65536 (one update after backward)", net: { inFeatures: 64, hidden: [512], between: [act("relu")], outFeatures: 64, batchSize: 16, rows: 70, loss: MSE, optimizer: sgd({ momentum: 0.9 }), clipNorm: 0.1, clipValue: 0.05 }, lr: 0.05, steps: 5, tol: 2e-5 },
];

describe.skipIf(!native?.createFusedPlan)("native fused plan", () => {
  describe("parity with PlanExecutor over the TypeScript kernels", () => {
    for (const c of CASES) {
      it(c.name, async () => {
        const spec = makeSpec(c.net);
        const init = makeBuffers(spec, 7);
        const data = makeData(spec, c.net.rows, 11);
        const ref = cloneBuffers(init);
        const nat = cloneBuffers(init);
        const executor = new PlanExecutor(ts, spec, ref);
        const plan = fused(spec, nat);
        // Two runs, the second continuing the first (firstStep > 1) and ending on the partial batch.
        const bs = spec.batchSize;
        const first = 2;
        const second = c.steps - first;
        expect(Math.ceil(c.net.rows / bs)).toBe(c.steps); // the last step is the partial batch
        for (const [start, steps, firstStep] of [[0, first, 1], [first * bs, second, first + 1]] as const) {
          const runRef = makeRun(data, bs, start, steps, firstStep, c.lr);
          const runNat = makeRun(data, bs, start, steps, firstStep, c.lr);
          expect(await executor.runSteps(runRef)).toBe(steps);
          expect(await plan.runSteps(runNat)).toBe(steps);
          for (let s = 0; s < steps; s++) {
            expect(Math.abs(runNat.losses[s]! - runRef.losses[s]!)).toBeLessThanOrEqual(c.tol * Math.max(1, Math.abs(runRef.losses[s]!)));
          }
          expect(maxAbsDiff(nat.params, ref.params)).toBeLessThanOrEqual(c.tol);
          expect(maxAbsDiff(nat.state, ref.state)).toBeLessThanOrEqual(c.tol);
          // Dropout draws the same stream: identical generator state after the run.
          expect(Array.from(nat.rngState)).toEqual(Array.from(ref.rngState));
        }
        // Training changed the parameters (the comparison is not vacuous).
        expect(maxAbsDiff(nat.params, init.params)).toBeGreaterThan(10 * c.tol);
        // Inference forward agrees too (dropout off).
        const rows = Math.min(bs, 5);
        const xs = data.x.subarray(0, rows * spec.inFeatures);
        const outRef = new Float32Array(rows * spec.outFeatures);
        const outNat = new Float32Array(rows * spec.outFeatures);
        executor.forward(outRef, xs, rows);
        plan.forward(outNat, xs, rows);
        expect(maxAbsDiff(outNat, outRef)).toBeLessThanOrEqual(1e-5 * Math.max(1, ...Array.from(outRef, Math.abs)));
        plan.dispose();
      });
    }
  });

  it("is deterministic: the same run from the same state gives bit-identical parameters", async () => {
    const spec = makeSpec({ ...small, between: [act("tanh"), { kind: "dropout", rate: 0.25 }], loss: CE, optimizer: adam("adam"), rows: 45 } as Net);
    const init = makeBuffers(spec, 3);
    const data = makeData(spec, 45, 4);
    const results: Float32Array[] = [];
    for (let k = 0; k < 3; k++) {
      const b = cloneBuffers(init);
      const plan = fused(spec, b);
      await plan.runSteps(makeRun(data, 8, 0, 6, 1, 0.01));
      results.push(b.params);
      plan.dispose();
    }
    expect(results[0]).not.toEqual(init.params); // the runs trained: not three untouched copies
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it("training: false draws no dropout masks and leaves the generator state alone", async () => {
    const spec = makeSpec({ ...small, between: [act("relu"), { kind: "dropout", rate: 0.5 }], loss: MSE, optimizer: sgd(), rows: 45 } as Net);
    const init = makeBuffers(spec, 5);
    const data = makeData(spec, 45, 6);
    const ref = cloneBuffers(init);
    const nat = cloneBuffers(init);
    const executor = new PlanExecutor(ts, spec, ref);
    const plan = fused(spec, nat);
    await executor.runSteps(makeRun(data, 8, 0, 6, 1, 0.05, false));
    await plan.runSteps(makeRun(data, 8, 0, 6, 1, 0.05, false));
    expect(Array.from(nat.rngState)).toEqual(Array.from(init.rngState));
    expect(maxAbsDiff(nat.params, ref.params)).toBeLessThanOrEqual(2e-5);
  });

  it("stops before the update of a step whose loss is not finite (huge learning rate)", async () => {
    const spec = makeSpec({ inFeatures: 3, hidden: [16], between: [act("relu")], outFeatures: 2, batchSize: 4, rows: 80, loss: MSE, optimizer: sgd() });
    const init = makeBuffers(spec, 9);
    const data = makeData(spec, 80, 10);
    const steps = 20;
    const blown = await fusedRun(spec, init, makeRun(data, 4, 0, steps, 1, 1e12));
    const completed = blown.completed;
    expect(completed).toBeLessThan(steps);
    expect(Number.isFinite(blown.run.losses[completed]!)).toBe(false);
    // The parameters are those after `completed` steps: replay exactly that many.
    const replay = await fusedRun(spec, init, makeRun(data, 4, 0, completed, 1, 1e12));
    expect(replay.completed).toBe(completed);
    expect(blown.buffers.params).toEqual(replay.buffers.params);
    // The TypeScript reference stops at a non-finite loss too.
    const ref = cloneBuffers(init);
    const refRun = makeRun(data, 4, 0, steps, 1, 1e12);
    expect(await new PlanExecutor(ts, spec, ref).runSteps(refRun)).toBeLessThan(steps);
  });

  it("flushes subnormal optimizer state to zero during a run (the TypeScript reference keeps it)", async () => {
    // Input feature 0 is always 0, so the first layer's weight column 0 gets a zero gradient and
    // its velocity only decays: v <- 0.9 v. Start those velocities in the subnormal range.
    const spec = makeSpec({ inFeatures: 3, hidden: [4], between: [act("relu")], outFeatures: 2, batchSize: 8, rows: 16, loss: MSE, optimizer: sgd({ momentum: 0.9 }) });
    const init = makeBuffers(spec, 21);
    const data = makeData(spec, 16, 22);
    for (let r = 0; r < 16; r++) data.x[r * 3] = 0;
    const column0 = [0, 3, 6, 9]; // weight (4, 3) row-major at offset 0: entries (j, 0)
    for (const i of column0) init.state[i] = 1e-39;
    const nat = cloneBuffers(init);
    const ref = cloneBuffers(init);
    const plan = fused(spec, nat);
    expect(await plan.runSteps(makeRun(data, 8, 0, 2, 2, 0.05))).toBe(2); // firstStep 2: momentum applies
    expect(await new PlanExecutor(ts, spec, ref).runSteps(makeRun(data, 8, 0, 2, 2, 0.05))).toBe(2);
    for (const i of column0) {
      expect(ref.state[i]).toBeGreaterThan(0); // 0.81e-39, still subnormal
      expect(ref.state[i]).toBeLessThan(1.17549435e-38);
      expect(nat.state[i]).toBe(0);
    }
    // Everything else agrees as in the parity rows.
    expect(maxAbsDiff(nat.params, ref.params)).toBeLessThanOrEqual(2e-5);
    plan.dispose();
  });

  it("keeps the event loop responsive during a long run, and refuses concurrent use while busy", async () => {
    const spec = makeSpec({ inFeatures: 256, hidden: [1024, 1024], between: [act("relu")], outFeatures: 10, batchSize: 128, rows: 1024, loss: CE, optimizer: sgd({ momentum: 0.9 }) });
    const buffers = makeBuffers(spec, 1);
    const data = makeData(spec, 1024, 2);
    const plan = fused(spec, buffers) as TrainPlan & { busy: boolean };
    // 8 steps per epoch; 40 steps of about 0.95 GFLOP each (forward 0.34, backward 0.61).
    const steps = 40;
    const order = new Int32Array(steps * 128);
    for (let i = 0; i < order.length; i++) order[i] = data.order[i % 1024]!;
    const run = { ...makeRun(data, 128, 0, steps, 1, 0.001), order };
    let ticks = 0;
    let ticksWhileBusy = 0;
    const timer = setInterval(() => {
      ticks++;
      if (plan.busy) ticksWhileBusy++;
    }, 5);
    const t0 = performance.now();
    const pending = plan.runSteps(run);
    expect(plan.busy).toBe(true);
    // A second run, a dispose and a forward are refused while the first is in flight.
    await expect(plan.runSteps(makeRun(data, 128, 0, 1, 1, 0.001))).rejects.toThrow(/in flight/);
    expect(() => plan.dispose()).toThrow(/in flight/);
    expect(() => plan.forward(new Float32Array(10), data.x, 1)).toThrow(/in flight/);
    const ticksAtStart = ticks;
    expect(await pending).toBe(steps);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(plan.busy).toBe(false);
    // A timer fired while the worker trained (observed, not inferred from how long the run took)...
    expect(ticksWhileBusy, `${elapsed.toFixed(0)} ms`).toBeGreaterThan(0);
    // ...and timers kept firing: generous bound (a quarter of the ideal count).
    expect(ticks - ticksAtStart).toBeGreaterThanOrEqual(Math.floor(elapsed / 5 / 4) - 2);
    for (let s = 0; s < steps; s++) expect(Number.isFinite(run.losses[s]!)).toBe(true);
    plan.dispose();
    await expect(plan.runSteps(makeRun(data, 128, 0, 1, 1, 0.001))).rejects.toThrow(/disposed/);
  }, 60_000);

  describe("validation", () => {
    const base = (): PlanSpec =>
      makeSpec({ inFeatures: 4, hidden: [6], between: [act("relu")], outFeatures: 3, batchSize: 8, rows: 20, loss: MSE, optimizer: sgd({ momentum: 0.9 }) });
    const bad: [string, (s: PlanSpec, b: PlanBuffers) => void, ErrorConstructor, RegExp][] = [
      ["inFeatures 0", (s) => void (s.inFeatures = 0), RangeError, /spec\.inFeatures/],
      ["batchSize 0", (s) => void (s.batchSize = 0), RangeError, /spec\.batchSize/],
      ["batchSize 2.5", (s) => void (s.batchSize = 2.5), RangeError, /spec\.batchSize/],
      ["batchSize string", (s) => void ((s as unknown as Record<string, unknown>)["batchSize"] = "8"), TypeError, /spec\.batchSize/],
      ["layer width chain", (s) => void ((s.layers[2] as { inFeatures: number }).inFeatures = 5), RangeError, /spec\.layers\[2\]\.inFeatures/],
      ["weight outside params", (s) => void ((s.layers[2] as { weightOffset: number }).weightOffset = s.paramCount - 2), RangeError, /spec\.layers\[2\]\.weightOffset/],
      ["bias outside params", (s) => void ((s.layers[0] as { biasOffset: number }).biasOffset = s.paramCount), RangeError, /spec\.layers\[0\]\.biasOffset/],
      ["overlapping parameters", (s) => void ((s.layers[2] as { weightOffset: number }).weightOffset = 0), RangeError, /overlap/],
      ["outFeatures mismatch", (s) => void (s.outFeatures = 4), RangeError, /spec\.outFeatures/],
      ["unknown layer kind", (s) => void ((s.layers[1] as { kind: string }).kind = "conv"), TypeError, /spec\.layers\[1\]\.kind/],
      ["unknown activation", (s) => void ((s.layers[1] as { activation: string }).activation = "swish"), TypeError, /spec\.layers\[1\]\.activation/],
      ["non-finite alpha", (s) => void ((s.layers[1] as { alpha: number }).alpha = NaN), RangeError, /spec\.layers\[1\]\.alpha/],
      ["dropout rate 1", (s) => void s.layers.splice(2, 0, { kind: "dropout", rate: 1 }), RangeError, /spec\.layers\[2\]\.rate/],
      ["unknown loss", (s) => void (s.loss = { kind: "hinge" } as unknown as PlanLoss), TypeError, /spec\.loss\.kind/],
      ["huber delta 0", (s) => void (s.loss = { kind: "huber", delta: 0 }), RangeError, /spec\.loss\.delta/],
      ["no optimizer code", (s) => void (s.optimizer = { kind: "lbfgs" } as unknown as PlanOptimizer), TypeError, /spec\.optimizer\.code/],
      ["unknown optimizer code", (s) => void (s.optimizer = { kind: "lbfgs", code: 9, hyper: [0, 0, 0, 0] }), RangeError, /Unknown optimizer code 9 .*0 \(sgd\).*4 \(adagrad\)/],
      ["optimizer kind and code disagreeing", (s) => void (s.optimizer = { kind: "adam", code: 0, hyper: [0.9, 0, 0, 0] }), TypeError, /spec\.optimizer\.kind .*"sgd"/],
      ["three hyperparameters", (s) => void (s.optimizer = { kind: "sgd", code: 0, hyper: [0.9, 0, 0] }), TypeError, /spec\.optimizer\.hyper/],
      ["momentum NaN", (s) => void (s.optimizer = { kind: "sgd", code: 0, hyper: [NaN, 0, 0, 0] }), RangeError, /spec\.optimizer\.hyper\[0\] \(momentum\)/],
      ["nesterov 0.5", (s) => void (s.optimizer = { kind: "sgd", code: 0, hyper: [0.9, 0, 0.5, 0] }), RangeError, /hyper\[2\] \(nesterov\).*0 or 1/],
      ["unknown activation code in the loss", (s) => void (s.loss = { kind: "silu" } as unknown as PlanLoss), TypeError, /"mse", "mae", "huber", "crossEntropy", "crossEntropyDense", "bce"/],
      ["negative clipNorm", (s) => void (s.clipNorm = -1), RangeError, /spec\.clipNorm/],
      ["infinite clipValue", (s) => void (s.clipValue = Infinity), RangeError, /spec\.clipValue/],
      ["params too short", (s, b) => void (b.params = new Float32Array(s.paramCount - 1)), RangeError, /buffers\.params/],
      ["params Float64Array", (s, b) => void (b.params = new Float64Array(s.paramCount) as unknown as Float32Array), TypeError, /buffers\.params/],
      ["state too short", (s, b) => void (b.state = new Float32Array(s.paramCount - 1)), RangeError, /buffers\.state/],
      ["rngState length 3", (_s, b) => void (b.rngState = new Uint32Array(3)), RangeError, /buffers\.rngState/],
      ["no layers", (s) => void (s.layers = []), RangeError, /spec\.layers/],
    ];
    for (const [name, mutate, type, message] of bad) {
      it(`rejects a spec with ${name}`, () => {
        const spec = base();
        const buffers = makeBuffers(spec, 1);
        mutate(spec, buffers);
        expect(() => fused(spec, buffers)).toThrow(type);
        expect(() => fused(spec, buffers)).toThrow(message);
      });
    }

    it("rejects invalid runs before running anything", async () => {
      const spec = base();
      const buffers = makeBuffers(spec, 1);
      const data = makeData(spec, 20, 2);
      const plan = fused(spec, buffers);
      const before = buffers.params.slice();
      const ok = (): StepRun => makeRun(data, 8, 0, 2, 1, 0.1);
      const cases: [string, (r: StepRun) => void, ErrorConstructor, RegExp][] = [
        ["x Float64Array", (r) => void (r.x = new Float64Array(80) as unknown as Float32Array), TypeError, /run\.x/],
        ["x too short", (r) => void (r.x = r.x.subarray(0, 79)), RangeError, /run\.x/],
        ["y of class indices for mse", (r) => void (r.y = new Int32Array(20)), TypeError, /run\.y/],
        ["y too short", (r) => void (r.y = (r.y as Float32Array).subarray(0, 59)), RangeError, /run\.y/],
        ["order Float32Array", (r) => void (r.order = new Float32Array(20) as unknown as Int32Array), TypeError, /run\.order/],
        ["order value outside rows", (r) => void (r.order = Int32Array.from(r.order, (v, i) => (i === 9 ? 20 : v))), RangeError, /run\.order\[9\]/],
        ["negative order value", (r) => void (r.order = Int32Array.from(r.order, (v, i) => (i === 0 ? -1 : v))), RangeError, /run\.order\[0\]/],
        ["start past the order", (r) => void (r.start = 20), RangeError, /run\.start/],
        ["steps past the order", (r) => void ((r.steps = 4), (r.lr = new Float32Array(4)), (r.losses = new Float32Array(4))), RangeError, /run\.start/],
        ["negative steps", (r) => void (r.steps = -1), RangeError, /run\.steps/],
        ["batchSize above the plan's", (r) => void (r.batchSize = 9), RangeError, /run\.batchSize/],
        ["lr too short", (r) => void (r.lr = new Float32Array(1)), RangeError, /run\.lr/],
        ["lr NaN", (r) => void (r.lr[1] = NaN), RangeError, /run\.lr\[1\]/],
        ["negative lr", (r) => void (r.lr[0] = -0.1), RangeError, /run\.lr\[0\]/],
        ["losses too short", (r) => void (r.losses = new Float32Array(1)), RangeError, /run\.losses/],
        ["firstStep 0", (r) => void (r.firstStep = 0), RangeError, /run\.firstStep/],
        ["training not boolean", (r) => void ((r as unknown as Record<string, unknown>)["training"] = 1), TypeError, /run\.training/],
        ["rows not a number", (r) => void ((r as unknown as Record<string, unknown>)["rows"] = "20"), TypeError, /run\.rows/],
      ];
      for (const [name, mutate, type, message] of cases) {
        const r = ok();
        mutate(r);
        const p = plan.runSteps(r);
        await expect(p, name).rejects.toThrow(type);
        await expect(plan.runSteps(r), name).rejects.toThrow(message);
      }
      expect(buffers.params).toEqual(before);
      // The plan is still usable after rejected runs.
      expect(await plan.runSteps(ok())).toBe(2);
      expect(() => plan.forward(new Float32Array(27), data.x, 9)).toThrow(RangeError);
      expect(() => plan.forward(new Float32Array(2), data.x, 1)).toThrow(/out/);
      plan.dispose();
    });

    it("refuses to run once one of its buffers was detached (transferred away)", async () => {
      const spec = base();
      const buffers = makeBuffers(spec, 1);
      const data = makeData(spec, 20, 2);
      const plan = fused(spec, buffers);
      expect(await plan.runSteps(makeRun(data, 8, 0, 2, 1, 0.1))).toBe(2);
      structuredClone(buffers.params.buffer, { transfer: [buffers.params.buffer as ArrayBuffer] });
      expect(buffers.params.length).toBe(0);
      await expect(plan.runSteps(makeRun(data, 8, 0, 2, 1, 0.1))).rejects.toThrow(/buffers\.params was detached/);
      expect(() => plan.forward(new Float32Array(3), data.x, 1)).toThrow(/detached/);
      plan.dispose();
    });

    it("rejects class labels outside [0, outFeatures) before any step runs", async () => {
      const spec = makeSpec({ inFeatures: 4, hidden: [6], between: [act("relu")], outFeatures: 3, batchSize: 8, rows: 20, loss: CE, optimizer: sgd() });
      const buffers = makeBuffers(spec, 1);
      const data = makeData(spec, 20, 2);
      const y = (data.y as Int32Array).slice();
      const plan = fused(spec, buffers);
      const before = buffers.params.slice();
      const lastRow = data.order[15]!; // used by step 2 only
      y[lastRow] = 3;
      await expect(plan.runSteps({ ...makeRun(data, 8, 0, 2, 1, 0.1), y })).rejects.toThrow(new RegExp(`run\\.y\\[${lastRow}\\]`));
      y[lastRow] = -1;
      await expect(plan.runSteps({ ...makeRun(data, 8, 0, 2, 1, 0.1), y })).rejects.toThrow(RangeError);
      expect(buffers.params).toEqual(before);
      await expect(plan.runSteps({ ...makeRun(data, 8, 0, 2, 1, 0.1), y: new Float32Array(20) })).rejects.toThrow(TypeError);
      plan.dispose();
    });
  });
});

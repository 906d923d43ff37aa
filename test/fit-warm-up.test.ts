/**
 * The TypeScript backend's warm-up before fit's first step and before predict's and evaluate's first
 * forward pass (PlanExecutor.warmUpSync / warmUpForwardSync): many cheap steps of a miniature of the
 * plan (plan-miniature.ts), then one small real-shaped step a layer at a time, then a write to every
 * page of the plan's workspaces, each slice in its own turn of the event loop, so that V8 has compiled
 * the kernels and the workspaces' page faults are paid before the first real step (cold, fit's first
 * step blocked the event loop up to ~10x as long as a warm one; without the page writes, a CNN's first
 * step still took ~13% longer than a warm one).
 * Times are not asserted (measure them with bench/first-step.ts); what is asserted is the structure
 * that bounds them: which layer calls (miniature or real) run in which turn, and that no number changes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PlanLayer, PlanSpec, StepRun } from "../lib/backend/plan.js";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { avgPool2d, batchNorm, conv2d, dense, dropout, flatten, globalAvgPool2d, layerNorm, maxPool2d, PLAN_OPS, relu, residual, softmax, tanh } from "../lib/nn/layers.js";
import type { PlanOp } from "../lib/nn/layers/layer.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { miniature, resetWarmUps } from "../lib/nn/plan-miniature.js";
import { Sequential } from "../lib/nn/sequential.js";
import { tsBackend } from "./helpers.js";

/** A small CNN with every kind of step the warm-up meets: conv, pool, batch norm (frozen statistics), dropout, dense. */
function cnn(): Sequential {
  const m = new Sequential([conv2d(3, 3, { padding: 1, activation: "relu" }), batchNorm(), maxPool2d(2), flatten(), dropout(0.2), dense(5)], {
    inputShape: [1, 6, 6],
    seed: 3,
    backend: "js",
  });
  m.compile({ loss: "crossEntropy", optimizer: "adam" });
  return m;
}

/** A CNN wider than its miniature (12 channels, 12 x 12 images, a 40-wide dense layer). */
function widerCnn(): Sequential {
  const m = new Sequential(
    [conv2d(12, 3, { padding: 1, activation: "relu" }), batchNorm(), maxPool2d(2), flatten(), dropout(0.1), dense(40, { activation: "relu" }), dense(5)],
    { inputShape: [2, 12, 12], seed: 4, backend: "js" },
  );
  m.compile({ loss: "crossEntropy", optimizer: "adam" });
  return m;
}

function data(rows: number, shape: number[]): { x: { data: Float32Array; shape: number[] }; y: Int32Array } {
  const per = shape.reduce((a, b) => a * b, 1);
  const x = Matrix.randomNormal(rows, per, new Rng(5), 0, 1).data;
  return { x: { data: x, shape: [rows, ...shape] }, y: Int32Array.from({ length: rows }, (_, i) => i % 5) };
}

/** One layer call of any plan: its turn, whether it has a layer's real widths (else a miniature's), forward or backward, rows. */
interface LayerCall {
  turn: number;
  real: boolean;
  /** kind, input and output widths (the layer's index in the real plan when real). */
  what: string;
  dir: "forward" | "backward";
  rows: number;
}

/** The output width of each step of `spec`. */
function layerWidthsOf(spec: PlanSpec): number[] {
  return signatures(spec).map((sig) => Number(sig.split(" ")[2]));
}

/** `${kind} ${inF} ${outF}` of each step of `spec`. */
function signatures(spec: PlanSpec): string[] {
  let inF = spec.inFeatures;
  return spec.layers.map((l) => {
    const outF = (PLAN_OPS[l.kind] as PlanOp).outFeatures(l, inF, spec.paramCount, "");
    const sig = `${l.kind} ${inF} ${outF}`;
    inF = outF;
    return sig;
  });
}

const originals: Array<[PlanOp, PlanOp["forward"], PlanOp["backward"]]> = [];
// Each test starts as a fresh process would: no miniature warmed yet (plan-miniature.ts isWarmed).
beforeEach(() => resetWarmUps());
afterEach(() => {
  for (const [op, f, b] of originals.splice(0)) {
    op.forward = f;
    op.backward = b;
  }
});

/**
 * Records every layer forward and backward of every plan (through PLAN_OPS, which every PlanExecutor
 * calls) with the turn `turn()` gives; a call is "real" when its kind and widths are those of a step
 * of `real` (every step of the models here is wider than its miniature's).
 */
function recordLayerCalls(turn: () => number, real: PlanSpec): LayerCall[] {
  const sigs = signatures(real);
  const calls: LayerCall[] = [];
  for (const op of Object.values(PLAN_OPS) as PlanOp[]) {
    const { forward, backward } = op;
    originals.push([op, forward, backward]);
    const note = (layer: PlanLayer, inF: number, outF: number, dir: LayerCall["dir"], rows: number): void => {
      const what = `${layer.kind} ${inF} ${outF}`;
      calls.push({ turn: turn(), real: sigs.includes(what), what, dir, rows });
    };
    op.forward = function (k, layer, w, x, y, rows, inF, outF, ...rest) {
      note(layer, inF, outF, "forward", rows);
      return forward.call(this, k, layer, w, x, y, rows, inF, outF, ...rest);
    };
    op.backward = function (k, layer, w, x, y, dy, dx, rows, inF, outF) {
      note(layer, inF, outF, "backward", rows);
      return backward.call(this, k, layer, w, x, y, dy, dx, rows, inF, outF);
    };
  }
  return calls;
}

/** Turns of the event loop, counted by a setImmediate chain from start() to stop(). */
function turnCounter(): { turns: number; start(): void; stop(): void } {
  const c = {
    turns: 0,
    on: false,
    start() {
      c.turns = 0;
      c.on = true;
      setImmediate(tick);
    },
    stop() {
      c.on = false;
    },
  };
  const tick = (): void => {
    c.turns++;
    if (c.on) setImmediate(tick);
  };
  return c;
}

/**
 * What keeps the first real-sized calls short: before the first of them, at least `miniPasses`
 * miniature forward passes (counted by their first layer's calls) in at least `miniTurns` turns.
 */
function expectMiniatureFirst(calls: LayerCall[], spec: PlanSpec, miniPasses: number, miniTurns: number): number {
  const firstReal = calls.findIndex((c) => c.real);
  expect(firstReal).toBeGreaterThan(0);
  const before = calls.slice(0, firstReal);
  const first = signatures(spec)[0]!.split(" ")[0];
  expect(before.filter((c) => c.dir === "forward" && c.what.startsWith(`${first} `) && c.what !== signatures(spec)[0]).length).toBeGreaterThanOrEqual(miniPasses);
  expect(new Set(before.map((c) => c.turn)).size).toBeGreaterThanOrEqual(miniTurns);
  return firstReal;
}

describe("fit's warm-up on the TypeScript backend", () => {
  it("runs many miniature steps, then a small real-shaped step one layer call per turn, before the first training step", () => {
    const m = widerCnn();
    const spec = m.buildSpec(8, false);
    const { x, y } = data(24, [2, 12, 12]);
    const exec = new PlanExecutor(tsBackend, spec, { params: m.params.slice(), grads: new Float32Array(spec.paramCount), state: new Float32Array(2 * spec.paramCount), rngState: m.rngState.slice() });
    let turn = 0;
    const calls = recordLayerCalls(() => turn, spec);
    const run: StepRun = { x: x.data, y, rows: 24, order: Int32Array.from({ length: 24 }, (_, i) => i), start: 0, steps: 3, batchSize: 8, lr: new Float32Array(3).fill(0.01), firstStep: 1, training: true, losses: new Float32Array(3) };
    // Each slice in its own turn, as fit runs them.
    while (exec.warmUpSync(run)) turn++;
    turn++;
    expect(exec.runStepsSync(run)).toBe(3);

    const L = spec.layers.length;
    const firstReal = expectMiniatureFirst(calls, spec, 256, 16);
    // The miniature's first step a layer call per turn (its first calls are the coldest), then whole
    // steps: every layer forward, every backward, as many per turn as fit in a millisecond.
    const mini = calls.slice(0, firstReal);
    const miniTurns = [...new Set(mini.map((c) => c.turn))];
    miniTurns.slice(0, 2 * L).forEach((t) => expect(mini.filter((c) => c.turn === t).length).toBe(1));
    for (const t of miniTurns.slice(2 * L)) expect(mini.filter((c) => c.turn === t).length % (2 * L)).toBe(0);
    // Then the real-shaped step on 5 rows: one layer call per turn, every forward, then every backward.
    const sigs = signatures(spec);
    const warm = calls.slice(firstReal).filter((c) => c.turn < turn);
    expect(warm.every((c) => c.real && c.rows === 5)).toBe(true);
    expect(new Set(warm.map((c) => c.turn)).size).toBe(warm.length);
    expect(warm.map((c) => `${c.dir} ${c.what}`)).toEqual([...sigs.map((s) => `forward ${s}`), ...[...sigs].reverse().map((s) => `backward ${s}`)]);
    // The real steps come after, in their own turn: 3 steps of 8 rows.
    const steps = calls.filter((c) => c.turn === turn);
    expect(steps.length).toBe(3 * 2 * L);
    expect(steps.every((c) => c.real && c.rows === 8)).toBe(true);
  });

  it("in fit: every turn before the first training step makes at most one real-sized layer call, after many turns of miniature steps", async () => {
    const m = widerCnn();
    const spec = m.buildSpec(8, false);
    const { x, y } = data(32, [2, 12, 12]);
    const counter = turnCounter();
    const calls = recordLayerCalls(() => counter.turns, spec);
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [{ onTrainBegin: () => counter.start() }] });
    counter.stop();
    expectMiniatureFirst(calls, spec, 256, 16);
    // The warm-up's step is the first 2L real calls, on 5 rows; the training steps' (8 rows) follow.
    const L = spec.layers.length;
    const real = calls.flatMap((c, i) => (c.real ? [i] : []));
    expect(real.map((i) => calls[i]!.rows)).toEqual([...Array(2 * L).fill(5), ...Array(4 * 2 * L).fill(8)]);
    const firstStep = real[2 * L]!;
    const before = calls.slice(0, firstStep);
    for (const t of new Set(before.map((c) => c.turn))) expect(before.filter((c) => c.turn === t && c.real).length).toBeLessThanOrEqual(1);
    expect(new Set(calls.slice(firstStep).map((c) => c.turn)).has(calls[firstStep - 1]!.turn)).toBe(false);
  });

  it("in fit: the data checks, the plan's construction and the warm-up run in separate turns", async () => {
    const m = widerCnn();
    const { x, y } = data(32, [2, 12, 12]);
    const counter = turnCounter();
    const spec = m.buildSpec(8, false);
    const calls = recordLayerCalls(() => counter.turns, spec);
    const kernels = m._kernels();
    const scan = kernels.firstNonFinite;
    const checks: number[] = [];
    const builds: number[] = [];
    kernels.firstNonFinite = (...a) => (checks.push(counter.turns), scan.apply(kernels, a));
    const build = m.buildSpec.bind(m);
    m.buildSpec = (...a) => (builds.push(counter.turns), build(...a));
    try {
      counter.start();
      await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
      counter.stop();
    } finally {
      kernels.firstNonFinite = scan;
    }
    // x's 9,216 values are checked in one slice; the plan is built in a later turn, and its warm-up
    // starts in a turn after that.
    expect(checks.length).toBeGreaterThan(0);
    expect(builds.length).toBe(1);
    expect(Math.max(...checks)).toBeLessThan(builds[0]!);
    expect(calls[0]!.turn).toBeGreaterThan(builds[0]!);
  });

  it("writes every page of the plan's workspaces before the first training step: that step takes almost no page faults", async () => {
    // Wide layers on few inputs: 32 MB of activations and deltas at batch 256, little arithmetic.
    const m = new Sequential([dense(8192, { activation: "relu" }), dense(2)], { inputSize: 2, seed: 1, backend: "js" });
    m.compile({ loss: "mse", optimizer: "adam" });
    const spec = m.buildSpec(256, false);
    const workspacePages = (2 * 256 * layerWidthsOf(spec).reduce((a, b) => a + b, 0) * 4) / 4096;
    expect(workspacePages).toBeGreaterThan(7000);
    const faults: number[] = [];
    const proto = PlanExecutor.prototype as unknown as { runStepsSync: (run: StepRun) => number };
    const runSteps = proto.runStepsSync;
    proto.runStepsSync = function (this: PlanExecutor, run: StepRun): number {
      const before = process.resourceUsage().minorPageFault;
      const done = runSteps.call(this, run);
      if (run.batchSize === 256) faults.push(process.resourceUsage().minorPageFault - before);
      return done;
    };
    try {
      const x = Matrix.randomNormal(256, 2, new Rng(2));
      const y = Matrix.randomNormal(256, 2, new Rng(3));
      await m.fit(x, y, { epochs: 1, batchSize: 256, verbose: 0 });
    } finally {
      proto.runStepsSync = runSteps;
    }
    expect(faults.length).toBe(1);
    // Without the warm-up's page writes the first step faults in every page it writes (~8,000).
    expect(faults[0]!).toBeLessThan(workspacePages / 10);
  });

  it("predictAsync's and evaluate's first batch comes after the warm-up of the forward pass, each slice in its own turn; synchronous predict has none", async () => {
    const m = widerCnn();
    const spec = m.buildSpec(8, false);
    const { x, y } = data(19, [2, 12, 12]);
    const counter = turnCounter();
    const calls = recordLayerCalls(() => counter.turns, spec);
    counter.start();
    await m.evaluate(x, y, { batchSize: 8, metrics: ["accuracy"] });
    counter.stop();
    const L = spec.layers.length;
    // A turn per slice: the miniature's forward passes, then the real-shaped forward on 5 rows a layer
    // per turn; then the batches of 8, 8 and 3 rows.
    const firstReal = expectMiniatureFirst(calls, spec, 256, 16);
    const warm = calls.slice(firstReal, firstReal + L);
    expect(warm.every((c) => c.real && c.rows === 5 && c.dir === "forward")).toBe(true);
    expect(new Set(warm.map((c) => c.turn)).size).toBe(L);
    expect(calls[firstReal + L]!.turn).toBeGreaterThan(warm.at(-1)!.turn);
    expect(calls.slice(firstReal + L).map((c) => c.real && c.rows)).toEqual([...Array(L).fill(8), ...Array(L).fill(8), ...Array(L).fill(3)]);
    expect(calls.every((c) => c.dir === "forward")).toBe(true);

    // predict (a fresh model, the same plan batch size, in a process that has not warmed up yet):
    // the warm-up runs before its first batch too.
    const fresh = widerCnn();
    resetWarmUps();
    calls.length = 0;
    // Each slice in its own turn (not as many as fit in 4 ms), the first batch in the turn after the last.
    counter.start();
    const p = await fresh.predictAsync(x, { batchSize: 8 });
    counter.stop();
    expect(p.rows).toBe(19);
    const first = expectMiniatureFirst(calls, spec, 256, 16);
    const warmP = calls.slice(first, first + L);
    expect(warmP.every((c) => c.real && c.rows === 5)).toBe(true);
    expect(new Set(warmP.map((c) => c.turn)).size).toBe(L);
    expect(calls[first + L]!.turn).toBeGreaterThan(warmP.at(-1)!.turn);
    // The prediction is what a plan without warm-up computes.
    const plain = new PlanExecutor(tsBackend, fresh.buildSpec(8, false), { params: fresh.params, grads: new Float32Array(fresh.params.length), state: new Float32Array(2 * fresh.params.length), rngState: fresh.rngState });
    const out = new Float32Array(8 * 5);
    plain.forward(out, x.data.subarray(0, 8 * 288), 8);
    tsBackend.softmaxForward(out, out, 8, 5);
    expect(Array.from(p.data.subarray(0, 40))).toEqual(Array.from(out));

    // Fewer rows than the warm-up's 5: its forward has the first batch's 3 rows.
    calls.length = 0;
    const few = { data: x.data.subarray(0, 3 * 288), shape: [3, 2, 12, 12] };
    expect((await widerCnn().predictAsync(few, { batchSize: 8 })).rows).toBe(3);
    expect(calls.map((c) => `${c.real} ${c.rows}`)).toEqual(Array(2 * L).fill("true 3"));

    // Synchronous predict blocks for the whole call anyway: no warm-up, only its batches.
    resetWarmUps();
    calls.length = 0;
    expect(widerCnn().predict(x, { batchSize: 8 }).rows).toBe(19);
    expect(calls.map((c) => `${c.real} ${c.rows}`)).toEqual([...Array(2 * L).fill("true 8"), ...Array(L).fill("true 3")]);
  });

  it("skips the miniature for a plan whose miniature this process already ran (same step kinds), and the small real-shaped pass for one whose spec it ran at another batch size: a second fresh model's fit and evaluate run neither", async () => {
    const spec = widerCnn().buildSpec(8, false);
    const L = spec.layers.length;
    const { x, y } = data(32, [2, 12, 12]);
    const calls = recordLayerCalls(() => 0, spec);
    const miniCalls = (): number => calls.filter((c) => !c.real).length;
    await widerCnn().fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(miniCalls()).toBeGreaterThanOrEqual(256 * 2 * L);

    // A fresh model (a new plan) of the same spec: no miniature step, and no real-shaped step on 5
    // rows either (an earlier plan of these layers ran it): only the 4 real steps.
    calls.length = 0;
    await widerCnn().fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(miniCalls()).toBe(0);
    expect(calls.map((c) => c.rows)).toEqual(Array(4 * 2 * L).fill(8));
    // Another batch size is the same spec but for its batch size: likewise.
    calls.length = 0;
    await widerCnn().fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    expect(calls.map((c) => c.rows)).toEqual(Array(2 * 2 * L).fill(16));
    // A plan of at most 4 rows takes other GEMM paths: its real-shaped step (on its 4 rows) runs.
    calls.length = 0;
    await widerCnn().fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    expect(calls.map((c) => c.rows)).toEqual([...Array(2 * L).fill(4), ...Array(8 * 2 * L).fill(4)]);

    // The forward warm-up likewise: the first evaluate runs the miniature's forward passes, the next model's does not.
    calls.length = 0;
    await widerCnn().evaluate(x, y, { batchSize: 8 });
    expect(miniCalls()).toBeGreaterThanOrEqual(256 * L);
    calls.length = 0;
    await widerCnn().evaluate(x, y, { batchSize: 8 });
    expect(miniCalls()).toBe(0);
    expect(calls.map((c) => `${c.dir} ${c.rows}`)).toEqual(Array(4 * L).fill("forward 8"));

    // Another training configuration (row weights) is another miniature run: it warms up again.
    calls.length = 0;
    await widerCnn().fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, sampleWeight: Float32Array.from({ length: 32 }, (_, i) => 1 + (i % 3)) });
    expect(miniCalls()).toBeGreaterThanOrEqual(256 * 2 * L);

    // After resetWarmUps (a fresh process), the miniature runs again.
    resetWarmUps();
    calls.length = 0;
    await widerCnn().fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(miniCalls()).toBeGreaterThanOrEqual(256 * 2 * L);
  });

  it("has a miniature for every kind of plan step, narrower than the plan and training to finite losses", () => {
    const models: Array<[string, Sequential]> = [
      ["dense, activations, dropout, layer norm", new Sequential([dense(50, { activation: "tanh" }), dropout(0.2), layerNorm(), dense(45), relu(), dense(3)], { inputSize: 60, seed: 1, backend: "js" })],
      ["residual dense", new Sequential([dense(40), residual([dense(40, { activation: "relu" }), dense(40)]), tanh(), dense(2)], { inputSize: 10, seed: 1, backend: "js" })],
      ["conv, pools, batch norm, residual", new Sequential([conv2d(10, 3, { padding: 1 }), batchNorm(), residual([conv2d(10, 3, { padding: 1 }), relu()]), avgPool2d(2), conv2d(16, 3, { stride: 2 }), globalAvgPool2d(), flatten(), dense(4)], { inputShape: [3, 20, 20], seed: 1, backend: "js" })],
      ["conv without padding, layer norm over the image, softmax", new Sequential([conv2d(9, 5), maxPool2d(3, { stride: 2 }), layerNorm({ dims: 3 }), flatten(), dense(6), softmax()], { inputShape: [1, 30, 26], seed: 1, backend: "js" })],
    ];
    const kinds = new Set<string>();
    for (const [name, model] of models) {
      model.compile({ loss: name.includes("softmax") ? "mse" : "crossEntropy", optimizer: "adam", clipNorm: 1 });
      for (const l of model.buildSpec(16, false).layers) kinds.add(l.kind);
      const spec = model.buildSpec(16, false);
      const mini = miniature(spec);
      expect(mini, name).not.toBeNull();
      expect(mini!.spec.layers.map((l) => l.kind), name).toEqual(spec.layers.map((l) => l.kind));
      expect(mini!.spec.paramCount, name).toBeLessThan(spec.paramCount);
      expect(mini!.spec.inFeatures, name).toBeLessThanOrEqual(spec.inFeatures);
      const exec = new PlanExecutor(tsBackend, mini!.spec, mini!.buffers);
      for (let s = 0; s < 3; s++) {
        mini!.run.firstStep = s + 1;
        expect(exec.runStepsSync(mini!.run), name).toBe(1);
        expect(Number.isFinite(mini!.run.losses[0]!), name).toBe(true);
      }
    }
    // Every kind of plan step is among them (a new kind: add it to a model above).
    expect([...kinds].sort()).toEqual(Object.keys(PLAN_OPS).sort());
  });

  it("copies a step kind without parameters that keeps its input's shape, and refuses loudly a kind without a shrink rule that changes it", () => {
    const model = new Sequential([dense(50, { activation: "tanh" }), dense(3)], { inputSize: 60, seed: 1, backend: "js" });
    model.compile({ loss: "crossEntropy", optimizer: "adam" });
    const spec = model.buildSpec(16, false);
    // Two kinds no miniature rule knows (as a new layer file would add them): one keeps the width, one halves it.
    const ops = PLAN_OPS as unknown as Record<string, PlanOp>;
    const base = ops["activation"]!;
    ops["testKeep"] = { ...base, outFeatures: (_l, inF) => inF, forward: (_k, _l, _w, x, y, rows, inF) => y.set(x.subarray(0, rows * inF)), backward: (_k, _l, _w, _x, _y, dy, dx, rows, _inF, outF) => dx?.set(dy.subarray(0, rows * outF)) };
    ops["testHalve"] = { ...base, outFeatures: (_l, inF) => inF / 2 };
    try {
      const withKind = (kind: string): PlanSpec => ({ ...spec, layers: [spec.layers[0]!, { kind } as unknown as PlanLayer, ...spec.layers.slice(1)] });
      const kept = miniature(withKind("testKeep"));
      expect(kept).not.toBeNull();
      expect(kept!.spec.layers.map((l) => l.kind)).toEqual(["dense", "testKeep", "activation", "dense"]);
      expect(kept!.spec.layers[1]).toEqual({ kind: "testKeep" });
      expect(kept!.spec.layers[2]!.kind === "activation" && kept!.spec.layers[3]!.kind === "dense" && kept!.spec.layers[3]!.inFeatures).toBe(36);
      expect(() => miniature(withKind("testHalve"))).toThrow(/cannot copy plan step 1 of kind "testHalve".*Add a SHRINK entry for "testHalve"/);
    } finally {
      delete ops["testKeep"];
      delete ops["testHalve"];
    }
  });

  it("changes no number: parameters, gradients, optimizer state, random state and losses (row weights too) are those of steps without it", () => {
    const m = cnn();
    const spec = m.buildSpec(8, false);
    const P = spec.paramCount;
    expect(spec.frozen?.length).toBeGreaterThan(0);
    const { x, y } = data(24, [1, 6, 6]);
    const make = (): { exec: PlanExecutor; params: Float32Array; grads: Float32Array; state: Float32Array; rngState: Uint32Array } => {
      const params = m.params.slice();
      const grads = new Float32Array(P);
      const state = new Float32Array(2 * P);
      const rngState = m.rngState.slice();
      return { exec: new PlanExecutor(tsBackend, spec, { params, grads, state, rngState }), params, grads, state, rngState };
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
    // The miniature's steps, then the real-shaped step: the batch, 6 forwards, the loss, 6 backwards.
    expect(slices).toBeGreaterThanOrEqual(16 + 2 * 6 + 2);
    expect(run).toEqual(before);
    // Batch norm's running statistics (moved by the real-shaped step's forward pass) are back.
    expect(warmed.params).toEqual(m.params);
    expect(warmed.exec.runStepsSync(run)).toBe(3);

    expect(run.losses).toEqual(plainRun.losses);
    expect(warmed.params).toEqual(plain.params);
    expect(warmed.grads).toEqual(plain.grads);
    expect(warmed.state).toEqual(plain.state);
    expect(warmed.rngState).toEqual(plain.rngState);
  });
});

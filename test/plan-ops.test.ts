/**
 * Every plan op (lib/nn/layers.ts PLAN_OPS) through the rows of test/plan-op-cases.ts:
 *
 * - a finite-difference gradient check of the whole training plan (PlanExecutor over the
 *   TypeScript kernels: forward, mse loss, backward) against central differences of the loss, for
 *   every trainable parameter, in the row's mode (batch norm: batch statistics in training mode,
 *   running statistics in inference mode);
 * - parity: the same plan on the native backend's kernels (the per-kernel path) and on the native
 *   fused plan gives the TypeScript plan's outputs and, after three sgd-with-momentum steps, its
 *   parameters;
 * - a row for every registered op: registering an op without rows fails here.
 *
 * Differences are taken in float32 as test/model-gradcheck.test.ts explains: g_fd = (L(θ+h) −
 * L(θ−h)) / (θ+h − (θ−h)), h = 1e-2, tolerance 2e-5 + 2e-3 |g| per component.
 */
import { describe, expect, it } from "vitest";
import type { PlanBuffers, PlanSpec, TrainPlan } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import { PLAN_OPS } from "../lib/nn/layers.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { Sequential } from "../lib/nn/sequential.js";
import { sgd } from "../lib/optim/index.js";
import { OP_CASES, type OpCase } from "./plan-op-cases.js";
import { maxAbsDiff, nativeOrSkip, tsBackend } from "./helpers.js";

const native = nativeOrSkip();
const H = 1e-2;

/** The row's model (seeded), its data, and a plan spec for its batch. */
function setup(c: OpCase) {
  const model = new Sequential(c.layers(), { inputShape: c.inputShape, seed: 3, backend: tsBackend });
  model.compile({ loss: "mse", optimizer: sgd({ lr: 0.05, momentum: 0.9 }) });
  const rng = new Rng(17);
  // Biases and batch norm's beta start at zero and running statistics at 0 / 1: move every
  // parameter a little so their gradients are exercised at a generic point (running variances stay > 0).
  for (let i = 0; i < model.params.length; i++) model.params[i] = model.params[i]! + 0.1 * (rng.uniform() - 0.5);
  const x = Float32Array.from({ length: c.rows * model.inputSize }, () => rng.uniformRange(-1.5, 1.5));
  const y = Float32Array.from({ length: c.rows * model.outputSize }, () => rng.uniformRange(-1, 1));
  return { model, x, y, spec: model.buildSpec(c.rows, true) };
}

const frozenAt = (spec: PlanSpec, i: number): boolean => (spec.frozen ?? []).some(([b, e]) => i >= b && i < e);

const rows = Object.entries(OP_CASES).flatMap(([kind, cases]) => cases.map((c) => ({ kind, c })));

describe("every plan op has test rows", () => {
  it("OP_CASES lists exactly the registered plan ops, each with at least one row", () => {
    expect(Object.keys(OP_CASES).sort()).toEqual(Object.keys(PLAN_OPS).sort());
    for (const [kind, cases] of Object.entries(OP_CASES)) expect(cases.length, kind).toBeGreaterThan(0);
  });

  it("each row's plan runs the op it is listed under", () => {
    for (const { kind, c } of rows) {
      const { spec } = setup(c);
      expect(spec.layers.map((l) => l.kind), `${kind}: ${c.name}`).toContain(kind);
    }
  });
});

describe("plan ops: gradient check of the whole plan (central differences, float32, h = 1e-2)", () => {
  for (const { kind, c } of rows) {
    it(`${kind}: ${c.name}`, () => {
      const { model, x, y, spec } = setup(c);
      const exec = new PlanExecutor(tsBackend, spec, { params: model.params, grads: model.grads, state: new Float32Array(spec.paramCount), rngState: model.rngState });
      const training = c.training ?? false;
      const loss = () => exec.lossAndGradients(x, y, c.rows, training);
      loss();
      const g = model.grads.slice();
      const p = model.params;
      let largest = 0;
      for (let i = 0; i < p.length; i++) {
        if (frozenAt(spec, i)) {
          expect(g[i], `frozen parameter ${i} has a gradient`).toBe(0);
          continue;
        }
        const orig = p[i]!;
        p[i] = orig + H;
        const plus = p[i]!;
        const lp = loss();
        p[i] = orig - H;
        const minus = p[i]!;
        const lm = loss();
        p[i] = orig;
        const fd = (lp - lm) / (plus - minus);
        largest = Math.max(largest, Math.abs(g[i]!));
        expect(Math.abs(fd - g[i]!), `parameter ${i}: analytic ${g[i]}, finite difference ${fd}`).toBeLessThanOrEqual(2e-5 + 2e-3 * Math.abs(g[i]!));
      }
      expect(largest).toBeGreaterThan(1e-3);
      exec.dispose();
    });
  }
});

/** Outputs of a forward pass and the parameters after three training steps of the plan made by `make`. */
function trainThree(c: OpCase, make: (spec: PlanSpec, buffers: PlanBuffers) => TrainPlan) {
  const { model, x, y, spec } = setup(c);
  const buffers = { params: model.params.slice(), grads: new Float32Array(spec.paramCount), state: new Float32Array(spec.paramCount), rngState: model.rngState.slice() };
  const plan = make(spec, buffers);
  const out = new Float32Array(c.rows * model.outputSize);
  plan.forward(out, x, c.rows);
  const order = Int32Array.from({ length: c.rows }, (_, i) => i);
  const run = {
    x,
    y,
    rows: c.rows,
    order,
    start: 0,
    steps: 1,
    batchSize: c.rows,
    lr: Float32Array.of(0.05),
    firstStep: 1,
    training: c.training ?? false,
    losses: new Float32Array(1),
  };
  return { plan, out, buffers, run };
}

async function stepped(c: OpCase, make: Parameters<typeof trainThree>[1]): Promise<{ out: Float32Array; params: Float32Array }> {
  const { plan, out, buffers, run } = trainThree(c, make);
  for (let s = 1; s <= 3; s++) expect(await plan.runSteps({ ...run, firstStep: s })).toBe(1);
  plan.dispose();
  return { out, params: buffers.params };
}

describe.skipIf(!native)("plan ops: TypeScript plan, native per-kernel plan and native fused plan agree", () => {
  for (const { kind, c } of rows) {
    it(`${kind}: ${c.name} (per-kernel)`, async () => {
      const ref = await stepped(c, (s, b) => new PlanExecutor(tsBackend, s, b));
      const got = await stepped(c, (s, b) => new PlanExecutor(native!, s, b));
      expect(maxAbsDiff(ref.out, got.out)).toBeLessThan(1e-5);
      expect(maxAbsDiff(ref.params, got.params)).toBeLessThan(1e-5);
    });

    it(`${kind}: ${c.name} (fused)`, async () => {
      const ref = await stepped(c, (s, b) => new PlanExecutor(tsBackend, s, b));
      const got = await stepped(c, (s, b) => native!.createFusedPlan!(s, b));
      expect(maxAbsDiff(ref.out, got.out)).toBeLessThan(1e-5);
      expect(maxAbsDiff(ref.params, got.params)).toBeLessThan(1e-5);
    });
  }
});

/**
 * The TypeScript PlanExecutor allocates the backward pass's buffers (the deltas) only when a
 * backward pass first runs: an inference plan (predict, evaluate) never holds them. A plan used
 * for inference first and training after gives the gradients a fresh plan gives, residual blocks
 * included (their step reads the deltas at backward time).
 */
import { describe, expect, it } from "vitest";
import { createTsBackend } from "../lib/backend/ts/index.js";
import { Sequential } from "../lib/nn/sequential.js";
import { dense, relu, residual } from "../lib/nn/layers.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";

const ts = createTsBackend();

function model(): Sequential {
  const m = new Sequential([dense(512), relu(), residual([dense(512), relu(), dense(512)]), dense(3)], { inputSize: 8, seed: 3, backend: "js" });
  m.compile({ loss: "mse", optimizer: "sgd" });
  return m;
}

describe("PlanExecutor: backward buffers on first use", () => {
  it("an inference-only plan does not allocate the deltas (half of its activation-sized buffers)", () => {
    const m = model();
    const B = 2048;
    const spec = m.buildSpec(B);
    // Every step's output is B x width floats; the deltas would be as many again.
    const widths = [512, 512, 512, 512, 512, 512, 512, 3];
    expect(spec.layers.length).toBe(widths.length);
    const activationBytes = 4 * B * widths.reduce((a, b) => a + b, 0);
    const x = new Float32Array(B * 8).fill(0.25);
    const out = new Float32Array(B * 3);
    const before = process.memoryUsage().arrayBuffers;
    const plan = new PlanExecutor(ts, spec, { params: m.params, grads: m.grads, state: new Float32Array(0), rngState: m.rngState });
    plan.forward(out, x, B);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeGreaterThanOrEqual(activationBytes);
    expect(grown).toBeLessThan(1.5 * activationBytes);
    // The first backward pass allocates them.
    plan.lossAndGradients(x, new Float32Array(B * 3), 1);
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(2 * activationBytes);
    plan.dispose();
  });

  it("a plan that predicted first trains as a fresh one: same loss and gradients, residual block included", () => {
    const m = model();
    const rows = 16;
    const x = Float32Array.from({ length: rows * 8 }, (_, i) => Math.sin(i));
    const y = Float32Array.from({ length: rows * 3 }, (_, i) => Math.cos(i));
    const gradsOf = (predictFirst: boolean): [number, Float32Array] => {
      const grads = new Float32Array(m.params.length);
      const plan = new PlanExecutor(ts, m.buildSpec(rows), { params: m.params, grads, state: new Float32Array(0), rngState: m.rngState.slice() });
      if (predictFirst) plan.forward(new Float32Array(rows * 3), x, rows);
      const loss = plan.lossAndGradients(x, y, rows);
      return [loss, grads];
    };
    const [freshLoss, fresh] = gradsOf(false);
    const [loss, grads] = gradsOf(true);
    expect(loss).toBe(freshLoss);
    expect(grads).toEqual(fresh);
    expect(fresh.some((g) => g !== 0)).toBe(true);
  });
});

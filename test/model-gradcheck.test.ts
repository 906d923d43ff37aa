/**
 * Full-model gradient check: the gradient the training plan computes (PlanExecutor.lossAndGradients
 * over the TypeScript kernels: forward, loss, backward through every layer) against central finite
 * differences of the loss, for every parameter of a 3-layer network, with each loss.
 *
 * The plan computes in float32, so the differences are taken in float32 too:
 *   g_fd = (L(θ + h) - L(θ - h)) / (θ+h - (θ-h)),  h = 1e-2,
 * dividing by the perturbation actually stored in float32. Error budget: float32 rounding of a loss of
 * order 1 is ~1e-7 (the kernels accumulate sums in double), giving ~1e-5 at worst after dividing by
 * 2h; truncation is h^2/6 |L'''|. Tolerance per component: |g_fd - g| <= 1e-5 + 1e-3 |g|; the measured
 * worst case is 3-17% of it (run with GRADCHECK_VERBOSE=1), while a wrong sign, a missing factor or a
 * transposed weight gives errors the size of g itself. Non-smooth points are kept away: smooth activations only,
 * MAE targets far from the outputs, so no |d| kink lies within h.
 *
 * The loss value itself is checked against a float64 reference computed from `predict`.
 */
import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { dense, type Layer } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { huber } from "../lib/losses/index.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { normalizeRows, tsBackend } from "./helpers.js";

const ROWS = 6;
const IN = 3;
const H = 1e-2;

interface Case {
  name: string;
  layers: () => Layer[];
  loss: "mse" | "mae" | "crossEntropy" | "binaryCrossEntropy" | ReturnType<typeof huber>;
  /** Targets as the plan reads them. */
  y: Float32Array | Int32Array;
  dense: boolean;
  /** float64 reference loss from predict's output p (rows, cols) and the targets. */
  reference: (p: Matrix) => number;
}

const rng = new Rng(42);
const uniform = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => rng.uniformRange(lo, hi));
const threeLayers = (out: number) => (): Layer[] => [dense(5, { activation: "tanh" }), dense(4, { activation: "sigmoid" }), dense(out)];

const regY = uniform(ROWS * 2, -1, 1);
const maeY = Float32Array.from(regY, (v, i) => (i % 2 === 0 ? v + 4 : v - 4));
const labels = Int32Array.from([0, 2, 1, 1, 0, 2]);
const soft = normalizeRows(uniform(ROWS * 3, 0.1, 1), ROWS, 3);
const bceY = uniform(ROWS * 2, 0, 1);

function meanOver(p: Matrix, f: (pv: number, i: number) => number): number {
  let s = 0;
  for (let i = 0; i < p.data.length; i++) s += f(p.data[i]!, i);
  return s / p.data.length;
}

const cases: Case[] = [
  { name: "mse", layers: threeLayers(2), loss: "mse", y: regY, dense: false, reference: (p) => meanOver(p, (v, i) => (v - regY[i]!) ** 2) },
  { name: "mae", layers: threeLayers(2), loss: "mae", y: maeY, dense: false, reference: (p) => meanOver(p, (v, i) => Math.abs(v - maeY[i]!)) },
  {
    name: "huber (delta 0.3: residuals on both sides)",
    layers: threeLayers(2),
    loss: huber({ delta: 0.3 }),
    y: regY,
    dense: false,
    reference: (p) =>
      meanOver(p, (v, i) => {
        const d = Math.abs(v - regY[i]!);
        return d <= 0.3 ? 0.5 * d * d : 0.3 * (d - 0.15);
      }),
  },
  {
    name: "crossEntropy (class indices)",
    layers: threeLayers(3),
    loss: "crossEntropy",
    y: labels,
    dense: false,
    reference: (p) => -labels.reduce((s, c, i) => s + Math.log(p.get(i, c)), 0) / ROWS,
  },
  {
    name: "crossEntropy (soft labels)",
    layers: threeLayers(3),
    loss: "crossEntropy",
    y: soft,
    dense: true,
    reference: (p) => -meanOver(p, (v, i) => soft[i]! * Math.log(v)) * 3,
  },
  {
    name: "binaryCrossEntropy",
    layers: threeLayers(2),
    loss: "binaryCrossEntropy",
    y: bceY,
    dense: false,
    reference: (p) => -meanOver(p, (v, i) => bceY[i]! * Math.log(v) + (1 - bceY[i]!) * Math.log(1 - v)),
  },
  {
    name: "mse through gelu and a hidden softmax",
    layers: () => [dense(5, { activation: "gelu" }), dense(4, { activation: "softmax" }), dense(2)],
    loss: "mse",
    y: regY,
    dense: false,
    reference: (p) => meanOver(p, (v, i) => (v - regY[i]!) ** 2),
  },
];

describe("full-model gradient check (central differences, float32, h = 1e-2)", () => {
  const x = uniform(ROWS * IN, -1.5, 1.5);
  for (const c of cases) {
    it(c.name, () => {
      const model = new Sequential(c.layers(), { inputSize: IN, seed: 5, backend: tsBackend });
      model.compile({ loss: c.loss, optimizer: "sgd" });
      // Biases start at zero; move them so their gradients are exercised at a generic point.
      model.setWeights(model.getWeights().map((w) => ({ weight: w.weight, bias: w.bias!.map((_, j) => 0.1 * (j - 1)) })));
      const spec = model.buildSpec(ROWS, c.dense);
      const exec = new PlanExecutor(tsBackend, spec, { params: model.params, grads: model.grads, state: new Float32Array(0), rngState: model.rngState });

      const loss = exec.lossAndGradients(x, c.y, ROWS);
      const ref = c.reference(model.predict({ data: x, shape: [ROWS, IN] }));
      expect(Math.abs(loss - ref)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));

      const g = model.grads.slice();
      const p = model.params;
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < p.length; i++) {
        const orig = p[i]!;
        p[i] = orig + H;
        const plus = p[i]!;
        const lp = exec.lossAndGradients(x, c.y, ROWS);
        p[i] = orig - H;
        const minus = p[i]!;
        const lm = exec.lossAndGradients(x, c.y, ROWS);
        p[i] = orig;
        const fd = (lp - lm) / (plus - minus);
        const err = Math.abs(fd - g[i]!);
        worst = Math.max(worst, err / (1e-5 + 1e-3 * Math.abs(g[i]!)));
        largest = Math.max(largest, Math.abs(g[i]!));
        expect(err, `parameter ${i}: analytic ${g[i]}, finite difference ${fd}`).toBeLessThanOrEqual(1e-5 + 1e-3 * Math.abs(g[i]!));
      }
      // The check has something to check: gradients are not all (near) zero.
      expect(largest).toBeGreaterThan(1e-2);
      expect(worst).toBeLessThanOrEqual(1);
      if (process.env["GRADCHECK_VERBOSE"]) console.log(`${c.name}: worst error / tolerance ${worst.toFixed(3)}, loss ${loss} vs reference ${ref}`);
      exec.dispose();
    });
  }
});

/**
 * Tests that follow the registries: every activation in lib/ops/activations.ts and every optimizer in
 * lib/optim is run, with no row written for it here, through
 *
 * - a float64 finite-difference check of the TypeScript definition's backward against its forward;
 * - parity on all three paths: the TypeScript kernels (the reference), the native per-kernel path
 *   and the native fused plan, by training the same small model on each (optimizers: with weight
 *   decay, the setting where the copies drifted);
 * - NaN and ±Infinity propagation: forward and backward give the same values on every path.
 *
 * A new activation or optimizer is covered the moment it is registered; one the native addon does
 * not know fails here (and is refused by the loader's kind-table check).
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../lib/backend/backend.js";
import type { PlanSpec } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import { dense, Sequential, type Layer } from "../lib/index.js";
import { Activation } from "../lib/nn/layers.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { ACTIVATION_NAMES, ACTIVATIONS, type ActivationName } from "../lib/ops/activations.js";
import { Optimizer, OPTIMIZER_NAMES, optimizerDef } from "../lib/optim/index.js";
import { OPTIMIZER_CASES } from "./optimizer-cases.js";
import { maxAbsDiff, nativeOrSkip, tsBackend } from "./helpers.js";

const native = nativeOrSkip();
const ALPHA = 0.07; // leakyRelu's slope in these tests (the others ignore it)

/** f and f' of one value through the definition's own loops, in float64 arrays. */
function f64(name: ActivationName, x: number): { y: number; dydx: number } {
  const def = ACTIVATIONS[name];
  const xs = Float64Array.of(x) as unknown as Float32Array;
  const ys = new Float64Array(1) as unknown as Float32Array;
  const dx = new Float64Array(1) as unknown as Float32Array;
  def.forward(ys, xs, 1, ALPHA);
  def.backward(dx, Float64Array.of(1) as unknown as Float32Array, xs, ys, 1, ALPHA);
  return { y: ys[0]!, dydx: dx[0]! };
}

describe("every registered activation", () => {
  for (const name of ACTIVATION_NAMES) {
    it(`${name}: backward matches central differences of forward (float64)`, () => {
      const h = 1e-6;
      for (const x of [-25, -6, -2.5, -1, -0.3, -1e-3, 1e-3, 0.2, 0.9, 1.7, 4, 19, 23]) {
        const numeric = (f64(name, x + h).y - f64(name, x - h).y) / (2 * h);
        const { dydx } = f64(name, x);
        expect(Math.abs(dydx - numeric), `${name}'(${x}) = ${dydx}, numeric ${numeric}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(numeric)));
      }
    });
  }

  it("have distinct codes, a default initializer and an ONNX and a torch spelling", () => {
    const codes = ACTIVATION_NAMES.map((n) => ACTIVATIONS[n].code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const n of ACTIVATION_NAMES) expect(ACTIVATIONS[n].torch(ALPHA)).toMatch(/^nn\.\w+\(.*\)$/);
  });
});

/** The values NaN and Inf propagation is checked on, around the ordinary ones. */
const SPECIAL = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1, -1, 3.5, -3.5, 30, -30, 100, -100]);

describe.skipIf(!native)("every registered activation on both native paths", () => {
  for (const name of ACTIVATION_NAMES) {
    it(`${name}: per-kernel native matches TypeScript on random values, NaN and ±Infinity (forward and backward)`, () => {
      const rng = new Rng(ACTIVATIONS[name].code + 1);
      const n = 4099;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = 8 * (rng.uniform() - 0.5);
      x.set(SPECIAL, 0);
      const dy = new Float32Array(n);
      for (let i = 0; i < n; i++) dy[i] = rng.uniform() - 0.5;
      dy[3] = NaN;
      const run = (b: Backend) => {
        const y = new Float32Array(n);
        const dx = new Float32Array(n);
        b.activationForward(name, y, x, n, ALPHA);
        b.activationBackward(name, dx, dy, x, y, n, ALPHA);
        return { y, dx };
      };
      const a = run(tsBackend);
      const b = run(native!);
      expectSameSpecials(a.y, b.y, `${name} forward`);
      expectSameSpecials(a.dx, b.dx, `${name} backward`);
    });

    it(`${name}: the fused plan (dense + ${name}) gives the TypeScript plan's outputs, NaN and ±Infinity included`, () => {
      // One dense layer that passes each row's special value on (z = (x1, -x1, x1 / 2)), so that every
      // special value reaches the activation inside the fused dense + activation pass.
      const rows = SPECIAL.length;
      const spec = planSpec(name, rows);
      const buffers = () => ({ params: paramsFor(), grads: new Float32Array(spec.paramCount), state: new Float32Array(0), rngState: Uint32Array.of(1, 2, 3, 4) });
      const x = new Float32Array(rows * 2);
      for (let r = 0; r < rows; r++) x[r * 2 + 1] = SPECIAL[r]!;
      const ref = new Float32Array(rows * 3);
      const out = new Float32Array(rows * 3);
      new PlanExecutor(tsBackend, spec, buffers()).forward(ref, x, rows);
      const fused = native!.createFusedPlan!(spec, buffers());
      fused.forward(out, x, rows);
      fused.dispose();
      expectSameSpecials(ref, out, `fused dense + ${name}`);
    });
  }
});

/** dense(2 -> 3) then the activation. */
function planSpec(name: ActivationName, rows: number): PlanSpec {
  return {
    inFeatures: 2,
    outFeatures: 3,
    batchSize: rows,
    layers: [{ kind: "dense", inFeatures: 2, outFeatures: 3, weightOffset: 0, biasOffset: 6 }, ...(name === "linear" ? [] : [{ kind: "activation" as const, activation: name, alpha: ALPHA }])],
    loss: { kind: "mse", delta: 1 },
    optimizer: new Optimizer(optimizerDef("sgd"), {}).plan,
    clipNorm: 0,
    clipValue: 0,
    paramCount: 9,
  };
}

/** W = [[0, 1], [0, -1], [0, 0.5]], b = 0: z = (x1, -x1, x1 / 2). */
function paramsFor(): Float32Array {
  return Float32Array.of(0, 1, 0, -1, 0, 0.5, 0, 0, 0);
}

/** Equal up to float32 rounding of the math, with NaN exactly where the reference has NaN and infinities equal. */
function expectSameSpecials(ref: Float32Array, got: Float32Array, what: string): void {
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i]!;
    const b = got[i]!;
    if (Number.isNaN(a) || !Number.isFinite(a)) {
      expect(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), `${what}[${i}]: reference ${a}, got ${b}`).toBe(true);
    } else {
      expect(Math.abs(a - b), `${what}[${i}]: reference ${a}, got ${b}`).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(a)));
    }
  }
}

/** A small regression model whose hidden activation is `act`, trained on fixed data. */
function train(backend: "js" | "native", path: "fused" | "kernels", act: ActivationName, opt: Optimizer): Promise<Float32Array> {
  const layers: Layer[] = [dense(12), new Activation(act, act === "leakyRelu" ? ALPHA : 0), dense(2)];
  const m = new Sequential(layers, { inputSize: 4, seed: 11, backend });
  m.compile({ loss: "mse", optimizer: opt, trainingPath: path });
  const rng = new Rng(5);
  const x = Array.from({ length: 48 }, () => Array.from({ length: 4 }, () => rng.normal()));
  const y = x.map((r) => [Math.sin(r[0]! + r[1]!), r[2]! * r[3]!]);
  return m.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 }).then(() => m.params.slice());
}

describe.skipIf(!native)("every registered activation and optimizer trains the same on all three paths", () => {
  for (const act of ACTIVATION_NAMES) {
    it(`activation ${act}: native fused and native per-kernel against TypeScript (sgd with weight decay)`, async () => {
      const opt = () => new Optimizer(optimizerDef("sgd"), { lr: 0.05, momentum: 0.9, weightDecay: 0.01 });
      const ref = await train("js", "kernels", act, opt());
      for (const path of ["fused", "kernels"] as const) {
        const got = await train("native", path, act, opt());
        expect(maxAbsDiff(ref, got), `${act} ${path}`).toBeLessThan(5e-5);
      }
    });
  }

  for (const name of OPTIMIZER_NAMES) {
    for (const { label, options } of OPTIMIZER_CASES[name]) {
      it(`optimizer ${label}, with weight decay: native fused and native per-kernel against TypeScript`, async () => {
        const make = () => new Optimizer(optimizerDef(name), { ...options, weightDecay: (options.weightDecay as number | undefined) ?? 0.02 });
        const ref = await train("js", "kernels", "tanh", make());
        for (const path of ["fused", "kernels"] as const) {
          const got = await train("native", path, "tanh", make());
          expect(maxAbsDiff(ref, got), `${label} ${path}`).toBeLessThan(2e-4);
        }
      });
    }
  }
});

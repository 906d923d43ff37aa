/**
 * One native definition per op (native/ops/*.h): the per-kernel entry points and the fused plan run
 * the same math, and it agrees with the TypeScript reference and with float64 math.
 *
 * - Activations: for every kind the addon lists, forward and backward on the per-kernel path
 *   (activationForward / activationBackward) and in the fused plan's own passes (planActivation,
 *   both its narrow and its wide loop) give the same bits, NaN and infinities included; against the
 *   TypeScript reference (where the registry has the kind) NaN and infinities land in the same
 *   places; silu and softplus against float64 math. A dense layer with a NaN weight followed by
 *   ReLU gives NaN through the fused plan's forward pass.
 * - Optimizers: for every kind the addon lists, optimizerStep on the gradients a fused plan
 *   computed gives exactly the parameters and state the fused plan's own update gave (weight decay
 *   included; also over the per-tensor update ranges of a plan with P >= 65536); adagrad against
 *   float64 math; adam with eps = 0 runs on the per-kernel path.
 */
import { describe, expect, it } from "vitest";
import type { NativeAddon } from "../lib/backend/native/binding.js";
import type { NativePlanTestHooks } from "../lib/backend/native/fused-plan.js";
import type { PlanLayer, PlanSpec } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import { ACTIVATIONS } from "../lib/ops/activations.js";
import { nativeOrSkip, planTestHooks, randomF32, tsBackend } from "./helpers.js";

const native = nativeOrSkip();
const addon = planTestHooks() as (NativeAddon & NativePlanTestHooks) | undefined;
const describeNative = addon ? describe : describe.skip;

/** Inputs every activation is run on: NaN, infinities, signed zeros, huge and tiny values, the softplus threshold. */
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -3, 20, 20.5, 25, -25, -100, 1e20, -1e20, 3e38, -3e38, 1e-40, -1e-40];

/** Each index: NaN in a and b together, the same infinity, or |a - b| <= abs + rel |b|. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: { abs: number; rel: number }, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(y) || !Number.isFinite(y)) {
      expect(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)), `${what} [${i}]: ${x} vs ${y}`).toBe(true);
    } else {
      expect(Math.abs(x - y), `${what} [${i}]: ${x} vs ${y}`).toBeLessThanOrEqual(tol.abs + tol.rel * Math.abs(y));
    }
  }
}

/** Bit-identical, except that any NaN equals any NaN. */
function expectSame(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const same = Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
    if (!same) expect(`${what} [${i}]: ${a[i]}`).toBe(`${what} [${i}]: ${b[i]}`);
  }
}

/** The activation kinds the addon defines, by name. */
function activationCodes(): [string, number][] {
  return Object.entries(addon!.kinds().activations);
}

describeNative("native activations: one definition on both native paths", () => {
  const rng = new Rng(7);
  // Two shapes: fewer than 16 columns takes the plan's narrow (flat) backward loop, more the
  // fused derivative + bias-gradient loop. Special values first, then random ones.
  const shapes: [number, number][] = [
    [4, 5],
    [3, 24],
  ];

  for (const [name, code] of activationCodes()) {
    for (const [rows, cols] of shapes) {
      it(`${name} (${rows}x${cols}): per-kernel and fused plan give the same bits, NaN and infinities included`, () => {
        const n = rows * cols;
        const x = new Float32Array(n);
        const extra = randomF32(rng, n, -8, 8);
        for (let i = 0; i < n; i++) x[i] = i < SPECIAL.length ? SPECIAL[i]! : extra[i]!;
        const dy = randomF32(rng, n, -2, 2);
        dy[1] = NaN; // at x = +inf
        dy[4] = Infinity; // at x = -0
        dy[8] = -Infinity; // at x = -3
        const alpha = 0.1;
        const yKernel = new Float32Array(n);
        const dxKernel = new Float32Array(n);
        addon!.activationForward(code, yKernel, x, n, alpha);
        addon!.activationBackward(code, dxKernel, dy, x, yKernel, n, alpha);
        const yPlan = new Float32Array(n);
        const dxPlan = new Float32Array(n);
        const db = new Float32Array(cols);
        addon!.planActivation(code, alpha, yPlan, dxPlan, db, x, dy, rows, cols);
        expectSame(yPlan, yKernel, `${name} forward`);
        expectSame(dxPlan, dxKernel, `${name} backward`);
        // f(NaN) = NaN on every path.
        expect(Number.isNaN(yKernel[0]!)).toBe(true);
      });
    }

    it(`${name}: NaN and infinities land where the TypeScript reference puts them`, () => {
      if (!Object.hasOwn(ACTIVATIONS, name)) return; // not in the TypeScript registry yet: see the float64 rows below
      const n = SPECIAL.length;
      const x = Float32Array.from(SPECIAL);
      const dy = Float32Array.from(SPECIAL, (_, i) => (i % 3 === 0 ? NaN : i % 3 === 1 ? 1.5 : -Infinity));
      const y = new Float32Array(n);
      const dx = new Float32Array(n);
      addon!.activationForward(code, y, x, n, 0.1);
      addon!.activationBackward(code, dx, dy, x, y, n, 0.1);
      const yRef = new Float32Array(n);
      const dxRef = new Float32Array(n);
      tsBackend.activationForward(name as keyof typeof ACTIVATIONS, yRef, x, n, 0.1);
      tsBackend.activationBackward(name as keyof typeof ACTIVATIONS, dxRef, dy, x, yRef, n, 0.1);
      // Finite values within fast math's error; NaN and infinities exactly.
      expectClose(y, yRef, { abs: 1e-30, rel: 1e-6 }, `${name} forward`);
      expectClose(dx, dxRef, { abs: 1e-30, rel: 1e-5 }, `${name} backward`);
    });
  }

  /** float64 silu / softplus and their derivatives (PyTorch: softplus beta 1, threshold 20). */
  const sigmoid64 = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
  const REFERENCE: Record<string, { f: (v: number) => number; df: (v: number) => number }> = {
    silu: { f: (v) => v * sigmoid64(v), df: (v) => sigmoid64(v) * (1 + v * (1 - sigmoid64(v))) },
    softplus: { f: (v) => (v > 20 ? v : Math.log1p(Math.exp(v))), df: (v) => (v > 20 ? 1 : sigmoid64(v)) },
  };
  for (const [name, ref] of Object.entries(REFERENCE)) {
    it(`${name} against float64 math, special values included`, () => {
      const code = addon!.kinds().activations[name];
      expect(code, `${name} is in the addon's kind list`).toBeTypeOf("number");
      const x = Float32Array.from([...SPECIAL, ...randomF32(new Rng(11), 200, -30, 30)]);
      const n = x.length;
      const dy = randomF32(new Rng(12), n, -2, 2);
      const y = new Float32Array(n);
      const dx = new Float32Array(n);
      addon!.activationForward(code!, y, x, n, 0);
      addon!.activationBackward(code!, dx, dy, x, y, n, 0);
      expectClose(y, Array.from(x, (v) => ref.f(v)), { abs: 1e-38, rel: 4e-7 }, `${name} forward`);
      expectClose(dx, Array.from(x, (v, i) => dy[i]! * ref.df(v)), { abs: 1e-38, rel: 1e-6 }, `${name} backward`);
    });
  }

  it("a NaN weight followed by ReLU gives NaN through the fused plan's forward pass, as in the TypeScript plan", () => {
    const spec: PlanSpec = {
      inFeatures: 2,
      outFeatures: 2,
      batchSize: 3,
      layers: [{ kind: "dense", inFeatures: 2, outFeatures: 2, weightOffset: 0, biasOffset: 4 }, { kind: "activation", activation: "relu", alpha: 0 } as PlanLayer],
      loss: { kind: "mse", delta: 1 },
      optimizer: { kind: "sgd", code: 0, hyper: [0, 0, 0, 0] },
      clipNorm: 0,
      clipValue: 0,
      paramCount: 6,
    };
    // Row 0 of the weight is NaN: output column 0 is NaN for every row, column 1 is relu(x0 - x1).
    const params = new Float32Array([NaN, NaN, 1, -1, 0, 0]);
    const plan = native!.createFusedPlan!(spec, { params, grads: new Float32Array(6), state: new Float32Array(0), rngState: new Uint32Array([1, 2, 3, 4]) });
    const out = new Float32Array(6);
    plan.forward(out, new Float32Array([1, 2, -3, 1, 0, 0]), 3);
    plan.dispose();
    expect(Array.from(out)).toEqual([NaN, 0, NaN, 0, NaN, 0]);
  });
});

/** Hyperparameter rows per optimizer: every optimizer the addon lists must have rows here. */
const OPTIMIZER_ROWS: Record<string, number[][]> = {
  sgd: [
    [0, 0, 0, 0],
    [0, 0, 0, 0.01],
    [0.9, 0.1, 0, 0.01],
    [0.8, 0, 1, 0.001],
  ],
  adam: [
    [0.9, 0.999, 1e-8, 0.01],
    [0.9, 0.999, 0, 0],
  ],
  adamw: [[0.9, 0.99, 1e-8, 0.05]],
  rmsprop: [
    [0.99, 1e-8, 0.01, 0],
    [0.9, 1e-6, 0, 0.5],
  ],
  adagrad: [
    [0, 0, 1e-10, 0],
    [0.01, 0.001, 1e-10, 0.1],
  ],
};

/** State slots of `name` for `hyper` (the native table's rule, stated here independently). */
function slots(name: string, hyper: number[]): number {
  if (name === "sgd") return hyper[0] !== 0 ? 1 : 0;
  return name === "adagrad" ? 1 : 2;
}

describeNative("native optimizers: one definition on both native paths", () => {
  it("every optimizer the addon lists has test rows", () => {
    expect(Object.keys(addon!.kinds().optimizers).sort()).toEqual(Object.keys(OPTIMIZER_ROWS).sort());
  });

  // Small: one update over all P; large (P >= 65536): the plan updates each layer's range right
  // after its backward pass.
  const nets: { label: string; widths: number[] }[] = [
    { label: "P = 83", widths: [8, 7, 3] },
    { label: "P = 66306 (per-tensor updates)", widths: [256, 256, 2] },
  ];
  for (const [name, rows] of Object.entries(OPTIMIZER_ROWS)) {
    for (const hyper of rows) {
      for (const net of nets) {
        it(`${name} [${hyper.join(", ")}], ${net.label}: optimizerStep gives the fused plan's parameters and state exactly`, async () => {
          const code = addon!.kinds().optimizers[name]!.code;
          const layers: PlanLayer[] = [];
          let offset = 0;
          for (let i = 0; i + 1 < net.widths.length; i++) {
            const [inF, outF] = [net.widths[i]!, net.widths[i + 1]!];
            layers.push({ kind: "dense", inFeatures: inF, outFeatures: outF, weightOffset: offset, biasOffset: offset + inF * outF });
            offset += inF * outF + outF;
            if (i + 2 < net.widths.length) layers.push({ kind: "activation", activation: "tanh", alpha: 0 });
          }
          const P = offset;
          // The ranges the plan updates at once: all P, or (P >= 65536) each weight and bias on its own,
          // which also decides where plain SGD goes to saxpy (ranges of 65536 or more).
          const ranges: [number, number][] =
            P >= 65536 ? layers.flatMap((l) => (l.kind === "dense" ? [[l.weightOffset, l.inFeatures * l.outFeatures], [l.biasOffset, l.outFeatures]] as [number, number][] : [])) : [[0, P]];
          const inF = net.widths[0]!;
          const outF = net.widths.at(-1)!;
          const spec: PlanSpec = {
            inFeatures: inF,
            outFeatures: outF,
            batchSize: 4,
            layers,
            loss: { kind: "mse", delta: 1 },
            optimizer: { kind: name, code, hyper },
            clipNorm: 0,
            clipValue: 0,
            paramCount: P,
          };
          const rng = new Rng(3);
          const params = randomF32(rng, P, -0.3, 0.3);
          const S = slots(name, hyper) * P;
          const state = name === "adagrad" ? new Float32Array(S).fill(hyper[3]!) : new Float32Array(S);
          const grads = new Float32Array(P);
          const shadowParams = params.slice();
          const shadowState = state.slice();
          const plan = native!.createFusedPlan!(spec, { params, grads, state, rngState: new Uint32Array([1, 2, 3, 4]) });
          const x = randomF32(rng, 4 * inF);
          const y = randomF32(rng, 4 * outF);
          const lr = new Float32Array([0.01]);
          const hyper64 = Float64Array.from(hyper);
          try {
            for (let step = 1; step <= 3; step++) {
              const done = await plan.runSteps({ x, y, rows: 4, order: new Int32Array([0, 1, 2, 3]), start: 0, steps: 1, batchSize: 4, lr, firstStep: step, training: true, losses: new Float32Array(1) });
              expect(done).toBe(1);
              // The plan left this step's gradients in grads: the per-kernel step on them must land on the same bits.
              for (const [off, len] of ranges) {
                // The state of the range, slot after slot (the plan's slots hold all P parameters each).
                const k = slots(name, hyper);
                const st = new Float32Array(k * len);
                for (let s = 0; s < k; s++) st.set(shadowState.subarray(s * P + off, s * P + off + len), s * len);
                addon!.optimizerStep(code, shadowParams.subarray(off, off + len), grads.subarray(off, off + len), st, len, lr[0]!, step, hyper64);
                for (let s = 0; s < k; s++) shadowState.set(st.subarray(s * len, (s + 1) * len), s * P + off);
              }
              expectSame(params, shadowParams, `params after step ${step}`);
              expectSame(state, shadowState, `state after step ${step}`);
            }
          } finally {
            plan.dispose();
          }
        });
      }
    }
  }

  it("adagrad against float64 math over three steps (lr decay, weight decay, initial accumulator)", () => {
    const code = addon!.kinds().optimizers["adagrad"]!.code;
    const [lrDecay, wd, eps, init] = [0.05, 0.01, 1e-10, 0.1];
    const n = 300;
    const rng = new Rng(5);
    const p = randomF32(rng, n);
    const sum = new Float32Array(n).fill(init);
    const p64 = Float64Array.from(p);
    const sum64 = Float64Array.from(sum);
    for (let step = 1; step <= 3; step++) {
      const g = randomF32(rng, n);
      const lr = 0.1;
      addon!.optimizerStep(code, p, g, sum, n, lr, step, new Float64Array([lrDecay, wd, eps, init]));
      const clr = lr / (1 + (step - 1) * lrDecay);
      for (let i = 0; i < n; i++) {
        const gi = g[i]! + wd * p64[i]!;
        sum64[i]! += gi * gi;
        p64[i]! -= (clr * gi) / (Math.sqrt(sum64[i]!) + eps);
      }
    }
    expectClose(p, p64, { abs: 1e-6, rel: 1e-5 }, "adagrad params");
    expectClose(sum, sum64, { abs: 0, rel: 1e-6 }, "adagrad sum");
  });

  it("adam with eps = 0 steps on the per-kernel path (the TypeScript optimizer allows it) and matches the reference", () => {
    const n = 50;
    const rng = new Rng(9);
    const p = randomF32(rng, n);
    const g = randomF32(rng, n);
    const pRef = p.slice();
    const state = new Float32Array(2 * n);
    const stateRef = new Float32Array(2 * n);
    for (let step = 1; step <= 2; step++) {
      native!.optimizerStep("adam", p, g, state, n, 1e-3, step, [0.9, 0.999, 0, 0]);
      tsBackend.optimizerStep("adam", pRef, g, stateRef, n, 1e-3, step, [0.9, 0.999, 0, 0]);
    }
    expectClose(p, pRef, { abs: 1e-7, rel: 1e-6 }, "adam eps 0");
    expect(Array.from(p)).not.toEqual(Array.from(randomF32(new Rng(9), n)));
  });
});

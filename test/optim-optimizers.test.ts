import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { binaryCrossEntropy, crossEntropy, huber, mae, mse, resolveLoss } from "../lib/losses/index.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { adagrad, adam, adamw, Optimizer, optimizerFromConfig, resolveOptimizer, rmsprop, sgd } from "../lib/optim/index.js";
import { cosineDecay, exponentialDecay, linearWarmup, stepDecay } from "../lib/optim/schedules.js";
import { PlanExecutor } from "../lib/nn/plan-executor.js";
import { tsBackend } from "./helpers.js";

describe("optimizer hyperparameters", () => {
  it("have PyTorch's defaults", () => {
    expect(sgd().config()).toEqual({ name: "sgd", lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
    expect(sgd().plan).toEqual({ kind: "sgd", code: 0, hyper: [0, 0, 0, 0] });
    expect(adam().config()).toEqual({ name: "adam", lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    expect(adam().plan).toEqual({ kind: "adam", code: 1, hyper: [0.9, 0.999, 1e-8, 0] });
    expect(adamw().config()).toEqual({ name: "adamw", lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
    expect(rmsprop().config()).toEqual({ name: "rmsprop", lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 });
    expect(adagrad().config()).toEqual({ name: "adagrad", lr: 0.01, lrDecay: 0, weightDecay: 0, eps: 1e-10, initialAccumulatorValue: 0 });
    expect(adagrad({ initialAccumulatorValue: 0.25 }).createState(3)).toEqual(Float32Array.of(0.25, 0.25, 0.25));
    expect(resolveOptimizer("adam").plan).toEqual(adam().plan);
  });

  it("are validated in the constructor with PyTorch-style messages", () => {
    expect(() => sgd({ lr: -1 })).toThrow("Invalid learning rate: -1");
    expect(() => adam({ lr: NaN })).toThrow("Invalid learning rate: NaN");
    expect(() => sgd({ momentum: -0.5 })).toThrow("Invalid momentum value: -0.5");
    expect(() => sgd({ weightDecay: -1 })).toThrow("Invalid weightDecay value: -1");
    expect(() => sgd({ nesterov: true })).toThrow(/Nesterov momentum requires a momentum > 0 and zero dampening/);
    expect(() => sgd({ nesterov: true, momentum: 0.9, dampening: 0.1 })).toThrow(/Nesterov/);
    expect(() => adam({ betas: [1, 0.999] })).toThrow("Invalid beta parameter at index 0: 1");
    expect(() => adamw({ betas: [0.9, -0.1] })).toThrow("Invalid beta parameter at index 1: -0.1");
    expect(() => adam({ eps: -1e-8 })).toThrow("Invalid epsilon value: -1e-8");
    expect(() => rmsprop({ alpha: 1 })).toThrow("Invalid alpha value: 1");
    expect(() => rmsprop({ momentum: -1 })).toThrow("Invalid momentum value: -1");
    expect(() => adagrad({ lrDecay: -1 })).toThrow("Invalid lrDecay value: -1");
    expect(() => adagrad({ initialAccumulatorValue: -0.1 })).toThrow("Invalid initialAccumulatorValue value: -0.1");
    expect(() => adagrad({ eps: -1 })).toThrow("Invalid epsilon value: -1");
    expect(() => adagrad({ lr_decay: 0.1 } as never)).toThrow(/Unknown adagrad option "lr_decay"; expected one of lr, lrDecay, weightDecay, eps, initialAccumulatorValue/);
    expect(() => resolveOptimizer("lbfgs")).toThrow(/Invalid optimizer: expected one of "sgd", "adam", "adamw", "rmsprop", "adagrad".*lbfgs/);
    expect(() => resolveLoss("hinge")).toThrow(/Invalid loss: expected one of "mse", "mae", "huber", "crossEntropy", "binaryCrossEntropy".*hinge/);
    expect(() => huber({ delta: 0 })).toThrow(/Invalid huber delta: the number 0/);
  });

  it("round-trip through config()", () => {
    for (const o of [
      sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
      adam({ lr: 3e-4, betas: [0.8, 0.95] }),
      adamw({ lr: linearWarmup(cosineDecay({ initial: 1e-3, decaySteps: 1000 }), { warmupSteps: 100 }) }),
      rmsprop({ lr: stepDecay({ initial: 0.01, stepSize: 2 }), momentum: 0.5 }),
    ]) {
      const c = JSON.parse(JSON.stringify(o.config()));
      const back = optimizerFromConfig(c);
      expect(back).toBeInstanceOf(Optimizer);
      expect(back.config()).toEqual(o.config());
      for (const [s, e] of [[0, 0], [57, 1], [150, 3], [5000, 9]] as const) expect(back.lrAt(s, e)).toBe(o.lrAt(s, e));
    }
    for (const l of [mse(), mae(), huber({ delta: 0.5 }), crossEntropy(), binaryCrossEntropy()]) {
      expect(resolveLoss(JSON.parse(JSON.stringify(l.config()))).config()).toEqual(l.config());
    }
  });
});

describe("learning-rate schedules", () => {
  it("stepDecay multiplies by gamma every stepSize epochs (or steps)", () => {
    const s = stepDecay({ initial: 1, stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 5, 6, 9].map((e) => s.lrAt(1000, e))).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
    const t = stepDecay({ initial: 0.1, stepSize: 10, per: "step" });
    expect(t.lrAt(9, 5)).toBeCloseTo(0.1, 12);
    expect(t.lrAt(10, 0)).toBeCloseTo(0.01, 12);
  });

  it("exponentialDecay follows initial * rate^(step / decaySteps), staircase floors the exponent", () => {
    const s = exponentialDecay({ initial: 0.1, decayRate: 0.5, decaySteps: 100 });
    expect(s.lrAt(0, 0)).toBe(0.1);
    expect(s.lrAt(100, 0)).toBeCloseTo(0.05, 12);
    expect(s.lrAt(50, 0)).toBeCloseTo(0.1 * Math.SQRT1_2, 12);
    const st = exponentialDecay({ initial: 0.1, decayRate: 0.5, decaySteps: 100, staircase: true });
    expect(st.lrAt(199, 0)).toBeCloseTo(0.05, 12);
  });

  it("cosineDecay goes from initial to alpha * initial over decaySteps and stays there", () => {
    const s = cosineDecay({ initial: 1, decaySteps: 100, alpha: 0.1 });
    expect(s.lrAt(0, 0)).toBe(1);
    expect(s.lrAt(50, 0)).toBeCloseTo(0.55, 12);
    expect(s.lrAt(100, 0)).toBeCloseTo(0.1, 12);
    expect(s.lrAt(1000, 0)).toBeCloseTo(0.1, 12);
  });

  it("linearWarmup ramps to the wrapped schedule's first rate, then follows it from its step 0", () => {
    const inner = stepDecay({ initial: 0.2, stepSize: 5, per: "step" });
    const s = linearWarmup(inner, { warmupSteps: 4 });
    expect([0, 1, 2, 3].map((k) => s.lrAt(k, 0))).toEqual([0.05, 0.1, 0.15, 0.2].map((v) => expect.closeTo(v, 12)));
    expect(s.lrAt(4, 0)).toBeCloseTo(0.2, 12);
    expect(s.lrAt(9, 0)).toBeCloseTo(0.02, 12);
    expect(linearWarmup(0.1, { warmupSteps: 10, startFactor: 0.5 }).lrAt(0, 0)).toBeCloseTo(0.055, 12);
  });

  it("validate their arguments", () => {
    expect(() => stepDecay({ initial: -1, stepSize: 1 })).toThrow(/Invalid initial learning rate: the number -1/);
    expect(() => stepDecay({ initial: 1, stepSize: 0 })).toThrow(/Invalid stepSize/);
    expect(() => cosineDecay({ initial: 1, decaySteps: 10, alpha: 2 })).toThrow(/Invalid alpha/);
    expect(() => linearWarmup(0.1, { warmupSteps: 0 })).toThrow(/Invalid warmupSteps/);
  });

  it("drive the learning rate of each training step (read back through a batch callback)", async () => {
    const model = new Sequential([dense(1)], { inputSize: 1, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: linearWarmup(stepDecay({ initial: 0.1, stepSize: 1, gamma: 0.5 }), { warmupSteps: 3 }) }) });
    const x = Matrix.column([1, 2, 3, 4, 5, 6]);
    const seen: number[] = [];
    await model.fit(x, x, { epochs: 3, batchSize: 2, verbose: 0, callbacks: [{ onBatchEnd: (_s, logs) => void seen.push(logs.lr) }] });
    // 3 steps per epoch. Warm-up over global steps 0-2 (epoch 0), then stepDecay by epoch: 0.05 in epoch 1, 0.025 in epoch 2.
    const want = [0.1 / 3, 0.2 / 3, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025];
    expect(seen.length).toBe(9);
    seen.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
  });
});

/** y = X w* + b* for known w*, b*: a linear model can fit it exactly. */
function linearProblem(rows: number, seed: number): { x: Matrix; y: Matrix; w: number[]; b: number } {
  const w = [2, -1, 0.5];
  const b = 0.3;
  const x = Matrix.randomNormal(rows, 3, new Rng(seed));
  const y = Matrix.zeros(rows, 1);
  for (let i = 0; i < rows; i++) y.data[i] = b + w.reduce((s, wj, j) => s + wj * x.get(i, j), 0);
  return { x, y, w, b };
}

describe("each optimizer converges on linear regression to the known weights", () => {
  const cases: [string, () => Optimizer, number][] = [
    ["sgd (the lecture's theta <- theta - eta g)", () => sgd({ lr: 0.1 }), 40],
    ["sgd + momentum", () => sgd({ lr: 0.02, momentum: 0.9 }), 40],
    ["sgd + nesterov", () => sgd({ lr: 0.02, momentum: 0.9, nesterov: true }), 40],
    ["adam (cosine decay)", () => adam({ lr: cosineDecay({ initial: 0.1, decaySteps: 600 }) }), 60],
    ["adamw (exponential decay, no decay term)", () => adamw({ lr: exponentialDecay({ initial: 0.1, decayRate: 0.01, decaySteps: 600 }), weightDecay: 0 }), 60],
    ["rmsprop (step decay)", () => rmsprop({ lr: stepDecay({ initial: 0.02, stepSize: 15, gamma: 0.2 }) }), 60],
    ["rmsprop + momentum (cosine decay)", () => rmsprop({ lr: cosineDecay({ initial: 0.01, decaySteps: 600 }), momentum: 0.5 }), 60],
  ];
  for (const [name, make, epochs] of cases) {
    it(name, async () => {
      const { x, y, w, b } = linearProblem(200, 1);
      const model = new Sequential([dense(1)], { inputSize: 3, seed: 2, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: make() });
      const h = await model.fit(x, y, { epochs, batchSize: 20, verbose: 0 });
      expect(h.loss[h.loss.length - 1]!).toBeLessThan(h.loss[0]! / 100);
      const got = model.getWeights()[0]!;
      for (let j = 0; j < 3; j++) expect(Math.abs(got.weight.data[j]! - w[j]!)).toBeLessThan(1e-2);
      expect(Math.abs(got.bias![0]! - b)).toBeLessThan(1e-2);
    });
  }

  it("weight decay (adam's L2 term, adamw's decoupled decay) shrinks the solution towards zero", async () => {
    const { x, y } = linearProblem(200, 3);
    const norms: number[] = [];
    for (const opt of [adam({ lr: 0.05 }), adamw({ lr: 0.05, weightDecay: 0.5 }), adam({ lr: 0.05, weightDecay: 0.5 })]) {
      const model = new Sequential([dense(1, { useBias: false })], { inputSize: 3, seed: 2, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: opt });
      await model.fit(x, y, { epochs: 30, batchSize: 20, verbose: 0 });
      norms.push(Math.hypot(...model.params));
    }
    expect(norms[1]!).toBeLessThan(norms[0]! * 0.95);
    expect(norms[2]!).toBeLessThan(norms[0]! * 0.95);
  });
});

describe("the update the plan applies", () => {
  it("plain sgd is the lecture's theta <- theta - eta g, with g the gradient of the batch loss", async () => {
    const { x, y } = linearProblem(12, 5);
    const model = new Sequential([dense(4, { activation: "tanh" }), dense(1)], { inputSize: 3, seed: 3, backend: tsBackend });
    model.compile({ loss: "mse", optimizer: sgd({ lr: 0.1 }) });
    const exec = new PlanExecutor(tsBackend, model.buildSpec(12), { params: model.params, grads: model.grads, state: new Float32Array(0), rngState: model.rngState });
    exec.lossAndGradients(x.data, y.data, 12);
    const want = model.params.map((p, i) => Math.fround(p - Math.fround(0.1 * model.grads[i]!)));
    await model.fit(x, y, { epochs: 1, batchSize: 12, shuffle: false, verbose: 0 });
    for (let i = 0; i < want.length; i++) expect(model.params[i]!).toBeCloseTo(want[i]!, 6);
    // The step moved the parameters (the gradient is not zero).
    expect(Math.max(...model.grads.map(Math.abs))).toBeGreaterThan(1e-2);
  });

  it("passes every hyperparameter through: each variant trains differently", async () => {
    const { x, y } = linearProblem(40, 6);
    const train = async (opt: Optimizer): Promise<string> => {
      const model = new Sequential([dense(3, { activation: "tanh" }), dense(1)], { inputSize: 3, seed: 4, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: opt });
      await model.fit(x, y, { epochs: 2, batchSize: 10, verbose: 0 });
      return Array.from(model.params).join(",");
    };
    const variants = [
      sgd({ lr: 0.05 }),
      sgd({ lr: 0.05, momentum: 0.9 }),
      sgd({ lr: 0.05, momentum: 0.9, nesterov: true }),
      sgd({ lr: 0.05, momentum: 0.9, dampening: 0.5 }),
      sgd({ lr: 0.05, weightDecay: 0.1 }),
      adam({ lr: 0.05 }),
      adam({ lr: 0.05, betas: [0.5, 0.999] }),
      adam({ lr: 0.05, betas: [0.9, 0.9] }),
      adam({ lr: 0.05, eps: 0.1 }),
      adamw({ lr: 0.05, weightDecay: 0.1 }),
      rmsprop({ lr: 0.05 }),
      rmsprop({ lr: 0.05, alpha: 0.5 }),
      rmsprop({ lr: 0.05, momentum: 0.5 }),
      rmsprop({ lr: 0.05, weightDecay: 0.1 }),
    ];
    const results = await Promise.all(variants.map(train));
    expect(new Set(results).size).toBe(variants.length);
  });
});

describe("gradient clipping", () => {
  it("clipNorm bounds the global gradient norm of each step; clipValue bounds each component", async () => {
    // One plain-SGD step with lr 1: the parameter change is minus the (clipped) gradient.
    const { x, y } = linearProblem(16, 4);
    const y100 = new Matrix(y.data.map((v) => v * 100), 16, 1);
    const step = async (opts: { clipNorm?: number; clipValue?: number }): Promise<Float32Array> => {
      const model = new Sequential([dense(1)], { inputSize: 3, seed: 2, backend: tsBackend });
      model.compile({ loss: "mse", optimizer: sgd({ lr: 1 }), ...opts });
      const before = model.params.slice();
      await model.fit(x, y100, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      return model.params.map((v, i) => before[i]! - v);
    };
    const raw = await step({});
    const rawNorm = Math.hypot(...raw);
    expect(rawNorm).toBeGreaterThan(10);
    const byNorm = await step({ clipNorm: 1 });
    expect(Math.hypot(...byNorm)).toBeCloseTo(1, 4);
    // Same direction as the raw gradient.
    byNorm.forEach((v, i) => expect(v).toBeCloseTo(raw[i]! / rawNorm, 4));
    const byValue = await step({ clipValue: 0.5 });
    byValue.forEach((v, i) => expect(v).toBeCloseTo(Math.max(-0.5, Math.min(0.5, raw[i]!)), 5));
    expect(() => new Sequential([dense(1)], { inputSize: 1 }).compile({ loss: "mse", optimizer: "sgd", clipNorm: -1 })).toThrow(/Invalid clipNorm: the number -1/);
  });
});

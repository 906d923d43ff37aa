/**
 * Fixtures shared by the fused-plan tests: dense networks as plan specs, their buffers and data,
 * and runs over them.
 */
import type { Backend } from "../lib/backend/backend.js";
import { type PlanBuffers, type PlanLayer, type PlanLoss, type PlanOptimizer, type PlanSpec, type StepRun, type TrainPlan } from "../lib/backend/plan.js";
import { Rng } from "../lib/core/rng.js";
import { adam as adamOptimizer, adamw, optimizerDef, sgd as sgdOptimizer, type SgdOptions } from "../lib/optim/index.js";
import { nativeOrSkip, normalizeRows } from "./helpers.js";

export const native: Backend | undefined = nativeOrSkip();

export interface Net {
  inFeatures: number;
  /** Hidden part: dense widths, each followed by `between` layers. */
  hidden: number[];
  between: PlanLayer[];
  outFeatures: number;
  loss: PlanLoss;
  optimizer: PlanOptimizer;
  clipNorm?: number;
  clipValue?: number;
  batchSize: number;
  /** Rows of data: not a multiple of batchSize, so the last batch is partial. */
  rows: number;
  /** Unused parameters left between layers (the optimizer still updates them, as PlanExecutor does). */
  gap?: number;
}

/** Dense layers with parameters laid out weight then bias, in order. */
export function makeSpec(net: Net): PlanSpec {
  const layers: PlanLayer[] = [];
  let offset = 0;
  let width = net.inFeatures;
  const dense = (out: number): void => {
    layers.push({ kind: "dense", inFeatures: width, outFeatures: out, weightOffset: offset, biasOffset: offset + width * out });
    offset += width * out + out + (net.gap ?? 0);
    width = out;
  };
  for (const h of net.hidden) {
    dense(h);
    layers.push(...net.between);
  }
  dense(net.outFeatures);
  return {
    inFeatures: net.inFeatures,
    outFeatures: net.outFeatures,
    batchSize: net.batchSize,
    layers,
    loss: net.loss,
    optimizer: net.optimizer,
    clipNorm: net.clipNorm ?? 0,
    clipValue: net.clipValue ?? 0,
    paramCount: offset,
  };
}

export function makeBuffers(spec: PlanSpec, seed: number): PlanBuffers {
  const rng = new Rng(seed);
  const P = spec.paramCount;
  const params = Float32Array.from({ length: P }, () => rng.normal() * 0.1); // gaps too
  for (const l of spec.layers) {
    if (l.kind !== "dense") continue;
    const scale = Math.sqrt(2 / l.inFeatures);
    for (let i = 0; i < l.inFeatures * l.outFeatures; i++) params[l.weightOffset + i] = rng.normal() * scale;
    for (let i = 0; i < l.outFeatures; i++) params[l.biasOffset + i] = rng.normal() * 0.1;
  }
  return {
    params,
    grads: new Float32Array(P),
    state: new Float32Array(optimizerDef(spec.optimizer.kind).slots(spec.optimizer.hyper).length * P),
    rngState: Uint32Array.from(new Rng(seed + 1000).getState()),
  };
}

export function cloneBuffers(b: PlanBuffers): PlanBuffers {
  return { params: b.params.slice(), grads: b.grads.slice(), state: b.state.slice(), rngState: b.rngState.slice() };
}

export interface Data {
  x: Float32Array;
  y: Float32Array | Int32Array;
  order: Int32Array;
  rows: number;
}

export function makeData(spec: PlanSpec, rows: number, seed: number): Data {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: rows * spec.inFeatures }, () => rng.normal());
  let y: Float32Array | Int32Array;
  switch (spec.loss.kind) {
    case "crossEntropy":
      y = Int32Array.from({ length: rows }, () => rng.int(spec.outFeatures));
      break;
    case "crossEntropyDense":
      // Soft rows summing to 1.
      y = normalizeRows(Float32Array.from({ length: rows * spec.outFeatures }, () => rng.uniform() + 0.01), rows, spec.outFeatures);
      break;
    case "bce":
      y = Float32Array.from({ length: rows * spec.outFeatures }, () => (rng.uniform() < 0.5 ? 0 : 1));
      break;
    default:
      y = Float32Array.from({ length: rows * spec.outFeatures }, () => rng.normal());
  }
  const order = rng.shuffle(Int32Array.from({ length: rows }, (_, i) => i));
  return { x, y, order, rows };
}

export function makeRun(data: Data, batchSize: number, start: number, steps: number, firstStep: number, lr: number, training = true): StepRun {
  return {
    x: data.x,
    y: data.y,
    rows: data.rows,
    order: data.order,
    start,
    steps,
    batchSize,
    lr: new Float32Array(steps).fill(lr),
    firstStep,
    training,
    losses: new Float32Array(steps),
  };
}

export function fused(spec: PlanSpec, buffers: PlanBuffers): TrainPlan {
  return native!.createFusedPlan!(spec, buffers);
}

/** A reference run: `run` on a new fused plan over a copy of `init` (then disposed); its buffers after, and the steps it completed. */
export async function fusedRun(spec: PlanSpec, init: PlanBuffers, run: StepRun): Promise<{ buffers: PlanBuffers; run: StepRun; completed: number }> {
  const buffers = cloneBuffers(init);
  const plan = fused(spec, buffers);
  try {
    return { buffers, run, completed: await plan.runSteps(run) };
  } finally {
    plan.dispose();
  }
}

export const sgd = (o: SgdOptions = {}): PlanOptimizer => sgdOptimizer(o).plan;
export const adam = (kind: "adam" | "adamw", weightDecay = 0): PlanOptimizer => (kind === "adam" ? adamOptimizer : adamw)({ weightDecay }).plan;
export const act = (activation: Extract<PlanLayer, { kind: "activation" }>["activation"], alpha = 0): PlanLayer => ({
  kind: "activation",
  activation,
  alpha,
});
export const CE: PlanLoss = { kind: "crossEntropy" };
export const MSE: PlanLoss = { kind: "mse", delta: 1 };


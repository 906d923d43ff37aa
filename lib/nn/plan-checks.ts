/**
 * The checks a TypeScript training plan (lib/nn/plan-executor.ts) makes on what it is handed: its
 * spec (layer kinds, the chain of widths, frozen ranges), its buffers, and each run of steps. Each
 * throws before anything is touched, with what was expected and what arrived.
 */
import { classIndexError, type PlanBuffers, type PlanLayer, type PlanSpec, type StepRun } from "../backend/plan.js";
import { PLAN_OPS } from "./layers.js";
import type { PlanOp } from "./layers/layer.js";
import { optimizerDef } from "../optim/index.js";

/**
 * Each op as the plans call it: an object made once per op, whose prototype is the op. The ops are
 * plain objects of one shape, so to V8 their `forward` is one field holding a different function
 * per kind, and the plan's one call site per pass (`ops[l].forward(...)`, ten arguments) stays a
 * generic call. Reached through a prototype of its own, each op has a hidden class of its own and
 * its methods are constants, so that call site inlines the two or three kinds a network has: T1's
 * six op calls a step were about a fifth of the plan's own time, beside the kernels (see
 * `npx tsx bench/pair-fit.ts --workload T1 --system blasnet-ts`).
 */
const CALLED = new Map<PlanOp, PlanOp>();

/** The op of a plan step (an unknown kind is an error, never a default), as the plans call it (CALLED). */
export function opOf(layer: PlanLayer, i: number): PlanOp {
  const op = (PLAN_OPS as Record<string, PlanOp | undefined>)[layer.kind];
  if (!op || !Object.hasOwn(PLAN_OPS, layer.kind)) throw new TypeError(`Plan layer ${i} has unknown kind ${JSON.stringify(layer.kind)}`);
  let called = CALLED.get(op);
  if (called === undefined) CALLED.set(op, (called = Object.create(op) as PlanOp));
  return called;
}

/** spec.frozen, checked: ascending, non-overlapping ranges [begin, end) within [0, P). */
export function frozenRanges(spec: PlanSpec): Array<[number, number]> {
  const frozen = spec.frozen ?? [];
  if (!Array.isArray(frozen)) throw new TypeError(`Plan frozen must be an array of [begin, end) ranges but is ${typeof frozen}`);
  let last = 0;
  frozen.forEach((r, i) => {
    const ok = Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]) && r[0] >= last && r[0] < r[1] && r[1] <= spec.paramCount;
    if (!ok) throw new RangeError(`Plan frozen[${i}] = ${JSON.stringify(r)}: expected ascending, non-overlapping ranges [begin, end) within [0, ${spec.paramCount})`);
    last = r[1];
  });
  return frozen;
}

/** Width of each layer's output, and checks that the layer chain fits together. */
export function layerWidths(spec: PlanSpec): number[] {
  const widths: number[] = [];
  let width = spec.inFeatures;
  spec.layers.forEach((layer, i) => {
    width = opOf(layer, i).outFeatures(layer, width, spec.paramCount, `Plan layer ${i}`);
    widths.push(width);
  });
  if (width !== spec.outFeatures) {
    throw new RangeError(`Plan produces ${width} outputs but spec.outFeatures is ${spec.outFeatures}`);
  }
  return widths;
}

/**
 * The batch size and the buffers a plan is made with: P parameters and gradients, the optimizer's
 * state slots (blocks of P values), 4 words of random state. Returns the number of state slots.
 */
export function checkPlanBuffers(spec: PlanSpec, buffers: PlanBuffers): number {
  const P = spec.paramCount;
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1) {
    throw new RangeError(`Invalid plan batchSize: ${spec.batchSize}; expected a positive integer`);
  }
  if (buffers.params.length < P || buffers.grads.length < P) {
    throw new RangeError(`Plan needs ${P} parameters and gradients; received ${buffers.params.length} and ${buffers.grads.length}`);
  }
  const slots = optimizerDef(spec.optimizer.kind).slots(spec.optimizer.hyper).length;
  if (buffers.state.length < slots * P) {
    throw new RangeError(`Plan optimizer ${spec.optimizer.kind} needs ${slots * P} state values; received ${buffers.state.length}`);
  }
  if (buffers.rngState.length !== 4) throw new RangeError("Plan rngState must hold 4 uint32 words");
  return slots;
}

/** A run of steps (runSteps), checked against the plan's spec before its first step. */
export function checkRun(spec: PlanSpec, run: StepRun): void {
  const { steps, start, batchSize, order } = run;
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`run.steps must be a non-negative integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > spec.batchSize) {
    throw new RangeError(`run.batchSize ${batchSize} must be an integer in [1, ${spec.batchSize}] (the plan's batch size)`);
  }
  if (!Number.isInteger(start) || start < 0 || (steps > 0 && start + (steps - 1) * batchSize >= order.length)) {
    throw new RangeError(`run.start ${start} with ${steps} steps of ${batchSize} runs past the ${order.length} rows of run.order`);
  }
  if (run.lr.length < steps || run.losses.length < steps) {
    throw new RangeError(`run.lr and run.losses need ${steps} values; received ${run.lr.length} and ${run.losses.length}`);
  }
  if (run.x.length < run.rows * spec.inFeatures) {
    throw new RangeError(`run.x has ${run.x.length} values; ${run.rows} rows of ${spec.inFeatures} need ${run.rows * spec.inFeatures}`);
  }
  const classLabels = spec.loss.kind === "crossEntropy";
  if (classLabels !== run.y instanceof Int32Array) {
    throw new TypeError(classLabels ? "run.y must be an Int32Array of class indices for crossEntropy" : "run.y must be a Float32Array of targets");
  }
  const yWidth = classLabels ? 1 : spec.outFeatures;
  if (run.y.length < run.rows * yWidth) throw new RangeError(`run.y has ${run.y.length} values; needs ${run.rows * yWidth}`);
  // The rows this run uses, and (crossEntropy) their class indices, all before the first step, as
  // the native plan checks them: a bad label never stops a run midway, after some steps updated.
  const end = Math.min(order.length, start + steps * batchSize);
  const classes = spec.outFeatures;
  for (let i = start; i < end; i++) {
    const r = order[i]!;
    if (r < 0 || r >= run.rows) throw new RangeError(`run.order[${i}] = ${r} is outside [0, ${run.rows})`);
    if (classLabels) {
      const c = run.y[r]!;
      if (c < 0 || c >= classes) throw classIndexError(r, c, classes);
    }
  }
  if (!Number.isInteger(run.firstStep) || run.firstStep < 1) throw new RangeError(`run.firstStep must be >= 1, got ${run.firstStep}`);
  if (run.weights != null && (!(run.weights instanceof Float32Array) || run.weights.length < run.rows)) {
    throw new RangeError(`run.weights must be a Float32Array of ${run.rows} row weights; received ${run.weights.length ?? typeof run.weights} values`);
  }
}

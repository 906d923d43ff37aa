/**
 * A training plan: a whole model compiled to plain numbers and flat buffers, so that one call can
 * run forward, backward and the optimizer update for a batch, a run of batches, or an epoch.
 *
 * The same plan runs in two places:
 * - `lib/nn/plan-executor.ts` runs it in TypeScript over any `Kernels` (with the TypeScript kernels
 *   it is the TypeScript backend's training path; with the native kernels it is the "per-kernel"
 *   native path, one N-API crossing per kernel);
 * - the native backend's fused plan (`native/plan.h`; its step kinds in `native/steps/`) runs it in C++, one N-API crossing per run
 *   of steps, on a libuv worker thread.
 * Parity tests hold the two to the same numbers.
 *
 * Memory layout (all float32, owned by the model, shared zero-copy with native code):
 * - `params` (P): every layer's weights then bias, at the offsets the layers state. A dense
 *   layer's weight is (outFeatures, inFeatures) row-major, as in PyTorch's Linear.
 * - `grads` (P): same layout as params.
 * - `state` (S): optimizer state, one block of P values per slot the optimizer keeps (its
 *   definition in lib/optim names them: sgd with momentum [momentum_buffer], adam [exp_avg,
 *   exp_avg_sq], ...).
 * - `rngState` (4 x uint32): the xoshiro128** state used for dropout masks (see core/rng.ts).
 */
import type { RegressionLoss } from "../ops/losses.js";
import type { PlanOptimizer } from "../optim/optimizer.js";

export type { PlanOptimizer } from "../optim/optimizer.js";

/**
 * The plan's step kinds and each one's fields (besides `kind`), by kind. Each kind's layer file
 * under lib/nn/layers/ adds its own entry, where its math is (TypeScript declaration merging:
 * `declare module "../../backend/plan.js" { interface PlanSteps { dropout: { rate: number } } }`),
 * so a new kind does not touch this file; lib/nn/layers.ts lists the kinds (PLAN_OPS, with their
 * native codes).
 */
export interface PlanSteps {}

/**
 * One step of the plan: `{ kind, ...fields }` for one of the kinds of PlanSteps. A step sees flat
 * per-sample widths; the geometry of image steps (NCHW, a sample contiguous) is in their window
 * (lib/ops/window.ts). Each kind's fields are described in its layer file.
 */
export type PlanLayer = { [K in keyof PlanSteps]: { kind: K } & PlanSteps[K] }[keyof PlanSteps];

/**
 * The loss the plan minimises. Targets: regression losses, `crossEntropyDense` and `bce` take a
 * float matrix (rows, outFeatures); `crossEntropy` takes class indices (Int32Array, one per row).
 * Cross-entropy kinds expect the last layer to produce logits (softmax is fused into the loss).
 */
export type PlanLoss =
  | { kind: RegressionLoss; delta: number }
  | { kind: "crossEntropy" }
  | { kind: "crossEntropyDense" }
  | { kind: "bce" };

/**
 * A model compiled for training (model.buildSpec): its layers as plan steps, loss, optimizer, clipping and
 * sizes; what a backend's `createPlan` and the PlanExecutor take.
 */
export interface PlanSpec {
  /** Values per input sample (the product of the input shape). */
  inFeatures: number;
  /** Values per output sample (the last step's width). */
  outFeatures: number;
  /** Largest batch the plan will see; workspaces are sized for it once. */
  batchSize: number;
  /** The steps, in forward order (a residual block is a residualStart step, its body, a residualEnd step). */
  layers: PlanLayer[];
  /** The loss the backward pass starts from. */
  loss: PlanLoss;
  /** The update rule's code and hyperparameters (the learning rate comes per step, with the run). */
  optimizer: PlanOptimizer;
  /** Clip the global gradient L2 norm to this value before the update; 0 disables. */
  clipNorm: number;
  /** Clip each gradient value to [-clipValue, clipValue]; 0 disables. */
  clipValue: number;
  /** P: total parameter count. */
  paramCount: number;
  /**
   * Parameter ranges [begin, end) the optimizer never touches (ascending, non-overlapping, within
   * [0, P)): the values and their optimizer state stay as they are (PyTorch's requires_grad=False),
   * and their gradients are set to 0 before clipping (they do not count in clipNorm). Batch norm's
   * running statistics are frozen ranges (only the training forward pass changes them). Absent: none.
   */
  frozen?: Array<[number, number]>;
}

/** The model's buffers a plan reads and writes in place (layout in this file's header). */
export interface PlanBuffers {
  /** Parameters (P), every layer's in layer order. */
  params: Float32Array;
  /** Gradients (P), same layout; the last step's are left in it. */
  grads: Float32Array;
  /** Optimizer state: one block of P values per slot (empty for plain SGD). */
  state: Float32Array;
  /** The dropout generator's xoshiro128** state (4 words), advanced by training steps. */
  rngState: Uint32Array;
}

/**
 * One run of training steps. Step s (0-based) trains on the rows
 * order[start + s*batchSize .. min(start + (s+1)*batchSize, order.length)) of x and y, gathered
 * into the plan's batch buffers; the last batch of an epoch may be partial.
 */
export interface StepRun {
  /** Inputs (N, inFeatures). */
  x: Float32Array;
  /** Targets: (N, outFeatures) floats, or (N) class indices for crossEntropy. */
  y: Float32Array | Int32Array;
  /** N: rows in x and y. */
  rows: number;
  /**
   * Per-row loss weights (N), gathered by row like the targets (Keras' sample weights: a batch's
   * loss is sum_i w_i loss_i / batchRows). Absent or null: every row weighs 1.
   */
  weights?: Float32Array | null;
  /** Row indices (each in [0, rows)): the epoch's shuffled order. */
  order: Int32Array;
  /** Index into `order` of the first step's first row. */
  start: number;
  /** Steps to run (at most; a non-finite loss ends the run early). */
  steps: number;
  /** Rows per step (<= the spec's batchSize); the last step may have fewer. */
  batchSize: number;
  /** Learning rate for each step (steps). */
  lr: Float32Array;
  /** 1-based optimizer step number of the first step (Adam bias correction). */
  firstStep: number;
  /** Dropout layers active (true while training). */
  training: boolean;
  /** Out: mean loss of each step (steps). */
  losses: Float32Array;
}

/**
 * The error for class index `c` in row `row` of a run's y (`classes` classes): the row is the row of
 * the caller's data (an index into run.y, which fit passes as given), whichever step or batch it was
 * found in. Every plan says it in these words: the TypeScript plan through this function, the native
 * fused plan through ClassIndexMessage in native/plan_validate.cc.
 */
export function classIndexError(row: number, c: number, classes: number): RangeError {
  return new RangeError(`Invalid run.y[${row}]: class ${c}; expected a class index in [0, ${classes})`);
}

/**
 * A compiled plan bound to a model's buffers: runs training steps and inference forward passes. Made by a
 * backend's `createPlan` (native fused) or the TypeScript PlanExecutor; free it with dispose().
 */
export interface TrainPlan {
  /**
   * Run up to `run.steps` steps. Returns the number of steps completed: fewer than asked when a
   * step's loss was not finite, in which case that step's update was NOT applied (the parameters
   * are those from before the failing step) and losses[completed] holds the bad loss.
   */
  runSteps(run: StepRun): Promise<number>;
  /**
   * The same run on the calling thread, for plans whose steps run in JavaScript anyway (the
   * TypeScript PlanExecutor): it saves a promise per chunk. Native fused plans do not offer it.
   */
  runStepsSync?(run: StepRun): number;
  /**
   * One short slice of warm-up before the first step, on the calling thread, changing nothing the
   * steps compute (the TypeScript PlanExecutor: a step of a miniature of the plan, so V8 compiles the
   * kernels before the first real step). Returns whether more slices are due.
   */
  warmUpSync?(run: StepRun): boolean;
  /** The same before the first inference forward pass (predict, evaluate) of `rows` rows (default: the batch size). */
  warmUpForwardSync?(rows?: number): boolean;
  /**
   * Forward pass in inference mode (dropout off, no loss): out (rows, outFeatures) from
   * x (rows, inFeatures), rows <= batchSize. The output is what the last layer produces (logits for
   * cross-entropy models).
   */
  forward(out: Float32Array, x: Float32Array, rows: number): void;
  /** Release native workspaces. The plan must not be used afterwards. */
  dispose(): void;
}

/**
 * The TypeScript plan's warm-up for V8's compilers before its first training step or forward pass,
 * one slice per call, each slice short enough for a turn of the event loop (fit, predictAsync and
 * evaluate yield between slices).
 *
 * Why: run cold (interpreted, before V8 has compiled them), the kernels made fit's first step up
 * to ~10x as long as a warm one, one block of the event loop. V8 compiles functions, not shapes:
 * after many cheap miniature calls the real-sized calls run optimized code, and the few branches
 * only real sizes take (a scratch buffer growing, the run's own objects) are met by a small
 * real-shaped step, one phase per slice, instead of by the first real step. The first write to
 * each page of the workspaces (a page fault each: ~40 ms of the Fashion-MNIST CNN's first step
 * at batch 64, 13% of it) is made by the page-writing slices. The cost does not grow with the
 * model beyond WARM_ROWS rows of one forward and backward pass and a write per page.
 *
 * For training (trainingSlice), in order:
 *   1. the training steps of the plan's miniature (plan-miniature.ts: the same steps on narrow
 *      layers, small images and a few rows, with its own buffers and data): the first a phase per
 *      slice (the batch, each layer's forward, the loss, each layer's backward), then WARM_STEPS
 *      whole steps, as many per slice as fit in WARM_SLICE_MS; skipped when an earlier plan of this
 *      process ran the same miniature to its end over the same kernels (isWarmed);
 *   2. one step of WARM_ROWS rows of the run on the plan itself, a phase per slice, with no update:
 *      batch norms' running statistics are put back after it and the gradients it leaves are
 *      overwritten by the first real step, so nothing of the model or of the real steps changes;
 *      skipped when an earlier plan of this process with the same spec but another batch size
 *      (fit's first call on a few rows, evaluate's plan) ran it over the same kernels: what it
 *      meets first (the kernels' scratch buffers grown to the layers' sizes) is then met. On T3's
 *      1024-4096-4096-1024 network it costs as much as 8% of a step (packing and the weight
 *      gradients are as large as a real step's), paid again by every new batch size;
 *   3. every page of the plan's workspaces (activations, deltas, what the steps prepared, the
 *      batch, the optimizer state) written once, WARM_SLICE_MS per slice (plan-touch.ts).
 * For inference (forwardSlice) the same with forward passes: the miniature's (the first a layer per
 * slice), then one of WARM_ROWS rows (fewer when the first batch has fewer) a layer per slice, then
 * the pages of the activations and what the steps prepared.
 */
import type { Kernels } from "../backend/backend.js";
import type { PlanBuffers, PlanSpec, StepRun } from "../backend/plan.js";
import { isWarmed, markWarmed, MINI_ROWS, miniature, type Miniature } from "./plan-miniature.js";
import { PageToucher, workspacesOf } from "./plan-touch.js";

/**
 * Miniature steps (and forward passes) of the warm-up: enough for V8 to have compiled the kernels,
 * even those whose miniature calls are short loops; ~10-20 ms in all.
 */
const WARM_STEPS = 256;
/** A warm-up slice runs miniature steps (or writes workspace pages) for up to this long (ms). */
const WARM_SLICE_MS = 1;
/**
 * Rows of the warm-up's real-shaped step: more than 4, so its GEMMs take the path a real step's
 * take (the TypeScript GEMM takes dot products of rows for up to 4 rows with B stored transposed,
 * and packs B above), as MINI_ROWS does on the miniature.
 */
const WARM_ROWS = 5;

/** What the warm-up drives: a TypeScript training plan, step by step and phase by phase (plan-executor.ts). */
export interface WarmablePlan {
  /** Layers (steps) of the plan. */
  readonly layerCount: number;
  runStepsSync(run: StepRun): number;
  forward(out: Float32Array, x: Float32Array, rows: number): void;
  /**
   * Phase `p` of one training step on the first run.batchSize rows of run.order, with no update:
   * 0 gathers the batch, 1..L run layer p-1 forward, L+1 the loss, L+2..2L+1 layer 2L+1-p backward.
   * Returns whether the step is done, its frozen values (batch norms' running statistics) then put back.
   */
  stepPhase(p: number, run: StepRun): boolean;
  /** Layer l's inference forward pass on the first `rows` rows of whatever the batch buffer holds. */
  forwardLayerOnBatch(l: number, rows: number): void;
  /** The buffers whose pages the warm-up writes: for training also the deltas and the optimizer state. */
  workspaces(training: boolean): unknown[];
}

/** Makes the plan that runs a miniature (the same executor as the plan's, over its own buffers). */
export type MakeWarmablePlan = (spec: PlanSpec, buffers: PlanBuffers) => WarmablePlan;

/** The miniature with its plan and warm-up, its row weights, an output buffer and its spec as JSON (what isWarmed knows it by). */
type WarmMiniature = Miniature & { plan: WarmablePlan; warm: PlanWarmUp; weights: Float32Array; out: Float32Array; key: string };

export class PlanWarmUp {
  /** The miniature: undefined until its first slice, null when there is none or both warm-ups are past it. */
  private mini: WarmMiniature | null | undefined = undefined;
  /** Miniature steps and forward passes still to run. */
  private miniSteps = WARM_STEPS;
  private miniForwards = WARM_STEPS;
  /** The next phase of the real-shaped step (-1: done), and the next layer of the real-shaped forward pass. */
  private phase = 0;
  private layer = 0;
  /** The workspace pages still to write: undefined before the first page slice, null when done. */
  private touchTraining: PageToucher | null | undefined = undefined;
  private touchForward: PageToucher | null | undefined = undefined;
  /** shapeKey's text, made once. */
  private shapeKeyText: string | undefined = undefined;

  constructor(
    private readonly plan: WarmablePlan,
    private readonly kernels: Kernels,
    private readonly spec: PlanSpec,
    private readonly makePlan: MakeWarmablePlan,
  ) {}

  /** One slice of the training warm-up before the first step of `run`; whether more slices are due. */
  trainingSlice(run: StepRun): boolean {
    const m = this.miniSteps > 0 ? this.miniature() : null;
    const key = m && `steps|${run.training}|${run.weights !== null && run.weights !== undefined}|${m.key}`;
    if (m && isWarmed(this.kernels, key!)) {
      // An earlier plan of this process ran the same miniature's steps: their code is compiled.
      this.miniSteps = 0;
      this.dropMiniature();
    } else if (m) {
      m.run.training = run.training;
      m.run.weights = run.weights ? m.weights : null;
      if (m.warm.phase >= 0) {
        m.warm.phaseSlice(m.run);
        return true;
      }
      const t0 = performance.now();
      do {
        m.run.firstStep = WARM_STEPS - this.miniSteps + 1;
        m.plan.runStepsSync(m.run);
      } while (--this.miniSteps > 0 && performance.now() - t0 < WARM_SLICE_MS);
      if (this.miniSteps <= 0) markWarmed(this.kernels, key!);
      this.dropMiniature();
      return true;
    }
    if (this.phase >= 0) {
      // Known by its rows too: up to 4 rows the GEMMs take another path (see WARM_ROWS).
      const rows = Math.min(WARM_ROWS, this.spec.batchSize, run.order.length);
      const key = `real-step|${rows}|${run.training}|${run.weights !== null && run.weights !== undefined}|${this.shapeKey()}`;
      if (this.phase === 0 && isWarmed(this.kernels, key)) {
        this.phase = -1;
      } else {
        if (!this.phaseSlice(run)) markWarmed(this.kernels, key);
        return true;
      }
    }
    return this.touchSlice(true);
  }

  /** One slice of the inference warm-up before a first batch of `rows` rows; whether more slices are due. */
  forwardSlice(rows: number): boolean {
    const m = this.miniForwards > 0 ? this.miniature() : null;
    if (m && isWarmed(this.kernels, `forward|${m.key}`)) {
      this.miniForwards = 0;
      this.dropMiniature();
    } else if (m) {
      if (m.warm.layer < m.plan.layerCount) {
        m.warm.layerSlice(MINI_ROWS);
        return true;
      }
      const t0 = performance.now();
      do m.plan.forward(m.out, m.run.x, MINI_ROWS);
      while (--this.miniForwards > 0 && performance.now() - t0 < WARM_SLICE_MS);
      if (this.miniForwards <= 0) markWarmed(this.kernels, `forward|${m.key}`);
      this.dropMiniature();
      return true;
    }
    if (this.layer < this.plan.layerCount) {
      const realRows = Math.min(WARM_ROWS, rows);
      const key = `real-forward|${Math.max(1, Math.min(realRows, this.spec.batchSize))}|${this.shapeKey()}`;
      if (this.layer === 0 && isWarmed(this.kernels, key)) {
        this.layer = this.plan.layerCount;
      } else {
        if (!this.layerSlice(realRows)) markWarmed(this.kernels, key);
        return true;
      }
    }
    return this.touchSlice(false);
  }

  /** Write the next pages of the workspaces for up to WARM_SLICE_MS; whether pages are left. */
  private touchSlice(training: boolean): boolean {
    let t = training ? this.touchTraining : this.touchForward;
    if (t === undefined) t = new PageToucher(workspacesOf(this.plan.workspaces(training)));
    const more = t !== null && t.slice(WARM_SLICE_MS);
    if (training) this.touchTraining = more ? t : null;
    else this.touchForward = more ? t : null;
    return more;
  }

  /** The next phase of the real-shaped step on the first WARM_ROWS rows of `run`; whether more are due. */
  private phaseSlice(run: StepRun): boolean {
    const { start, steps, batchSize, losses } = run;
    const loss0 = losses[0]!;
    try {
      run.start = 0;
      run.steps = 1;
      run.batchSize = Math.min(WARM_ROWS, this.spec.batchSize, run.order.length);
      this.phase = this.plan.stepPhase(this.phase, run) ? -1 : this.phase + 1;
    } finally {
      run.start = start;
      run.steps = steps;
      run.batchSize = batchSize;
      losses[0] = loss0;
    }
    return this.phase >= 0;
  }

  /** The next layer of the real-shaped forward pass on `rows` rows; whether more are due. */
  private layerSlice(rows: number): boolean {
    if (this.layer >= this.plan.layerCount) return false;
    this.plan.forwardLayerOnBatch(this.layer, Math.max(1, Math.min(rows, this.spec.batchSize)));
    return ++this.layer < this.plan.layerCount;
  }

  /** The plan's spec without its batch size, as JSON: what the real-shaped passes are known by (isWarmed). */
  private shapeKey(): string {
    if (this.shapeKeyText === undefined) {
      const { batchSize: _batchSize, ...shape } = this.spec;
      this.shapeKeyText = JSON.stringify(shape);
    }
    return this.shapeKeyText;
  }

  /** The miniature with its plan, made at the first slice (null: this plan has none). */
  private miniature(): WarmMiniature | null {
    if (this.mini === undefined) {
      const m = miniature(this.spec);
      if (m) {
        const plan = this.makePlan(m.spec, m.buffers);
        this.mini = {
          ...m,
          plan,
          warm: new PlanWarmUp(plan, this.kernels, m.spec, this.makePlan),
          weights: m.run.weights!,
          out: new Float32Array(MINI_ROWS * m.spec.outFeatures),
          key: JSON.stringify(m.spec),
        };
      } else {
        this.mini = null;
      }
    }
    if (!this.mini) this.miniSteps = this.miniForwards = 0;
    return this.mini;
  }

  /** The miniature is dropped once both warm-ups are past it. */
  private dropMiniature(): void {
    if (this.miniSteps <= 0 && this.miniForwards <= 0) this.mini = null;
  }
}

/**
 * Runs a training plan (lib/backend/plan.ts) in TypeScript, one kernel call at a time, over any
 * `Kernels`: with the TypeScript kernels it is the TypeScript backend's training path and the
 * reference the native fused plan is tested against; with the native kernels it is the
 * "per-kernel" native path.
 *
 * One training step, for a batch X (B, in) with targets T:
 *   forward   a_0 = X;  a_{l+1} = layer_l(a_l)            dense: a W^T + b, activation: f(a), ...
 *   loss      L = 1/B Σ e(a_L, T);  δ_L = dL/da_L
 *   backward  δ_l = layer_l'(δ_{l+1});  dense also: dW = δ_{l+1}^T a_l, db = Σ_rows δ_{l+1}
 *   update    θ ← θ − η g   (or momentum / Adam / RMSprop over the one flat parameter buffer)
 *
 * Workspaces (activations, deltas, dropout masks, the gathered batch) are allocated once, for
 * spec.batchSize; a step allocates nothing. The deltas, which only the backward pass uses, are
 * allocated at the first backward pass: a plan that only predicts or evaluates never holds them
 * (for a CNN at batch 256, as much memory again as its activations).
 *
 * Beside it: its checks of the spec, buffers and runs (plan-checks.ts), the batch it gathers each
 * step's rows into (plan-batch.ts), and the update after the backward pass, frozen ranges, clipping
 * and the optimizer step (plan-update.ts).
 */
import type { Kernels } from "../backend/backend.js";
import type { PlanBuffers, PlanSpec, StepRun, TrainPlan } from "../backend/plan.js";
import type { PlanOp } from "./layers/layer.js";
import { Rng } from "../core/rng.js";
import { checkPlanBuffers, checkRun, frozenRanges, layerWidths, opOf } from "./plan-checks.js";
import { PlanBatch } from "./plan-batch.js";
import { PlanUpdate } from "./plan-update.js";
import { isWarmed, markWarmed, MINI_ROWS, miniature, type Miniature } from "./plan-miniature.js";
import { PageToucher, workspacesOf } from "./plan-touch.js";

/**
 * Miniature steps (and forward passes) of the warm-up: enough for V8 to have compiled the kernels,
 * even those whose miniature calls are short loops (see warmUpSync); ~10-20 ms in all.
 */
const WARM_STEPS = 256;
/** A warm-up slice runs miniature steps (or writes workspace pages) for up to this long (ms). */
const WARM_SLICE_MS = 1;
/**
 * Rows of the warm-up's real-shaped step (see warmUpSync): more than 4, so its GEMMs take the path a
 * real step's take (the TypeScript GEMM takes dot products of rows for up to 4 rows with B stored
 * transposed, and packs B above), as MINI_ROWS does on the miniature.
 */
const WARM_ROWS = 5;

/** The warm-up's miniature (plan-miniature.ts) with its executor, its row weights, an output buffer and its spec as JSON (what isWarmed knows it by). */
type WarmMiniature = Miniature & { exec: PlanExecutor; weights: Float32Array; out: Float32Array; key: string };

export class PlanExecutor implements TrainPlan {
  private readonly kernels: Kernels;
  private readonly spec: PlanSpec;
  private readonly buffers: PlanBuffers;
  private readonly widths: number[];
  /** outputs[l]: layer l's output (B, widths[l]). */
  private readonly outputs: Float32Array[];
  /**
   * deltas[l]: dL/d(output of layer l) (B, widths[l]). Empty until the first backward pass fills it
   * (allocateDeltas); steps read it through the array at backward time, never at prepare.
   */
  private readonly deltas: Float32Array[] = [];
  /** ops[l]: the math of step l; work[l]: what it prepared (views of the buffers, masks). */
  private readonly ops: PlanOp[];
  private readonly work: unknown[];
  /** The gathered rows of the step. */
  private readonly batch: PlanBatch;
  /** Frozen ranges, clipping and the optimizer step. */
  private readonly updater: PlanUpdate;
  private readonly hasDropout: boolean;
  private readonly rng = new Rng(0);
  private disposed = false;
  /** The warm-up's miniature (see warmUpSync): undefined until its first slice, null when there is none or the warm-ups are past it. */
  private mini: WarmMiniature | null | undefined = undefined;
  /** Miniature steps and forward passes the warm-ups still run (warmUpSync, warmUpForwardSync). */
  private warmMiniSteps = WARM_STEPS;
  private warmMiniForwards = WARM_STEPS;
  /** The next phase of warmUpSync's real-shaped step (-1: done), and of warmUpForwardSync's (a layer). */
  private warmPhase = 0;
  private warmLayer = 0;
  /** The frozen values kept during the real-shaped warm-up step. */
  private warmFrozen: Float32Array[] = [];
  /** The workspace pages warmUpSync and warmUpForwardSync still write (plan-touch.ts): undefined before they start, null when done. */
  private touchTraining: PageToucher | null | undefined = undefined;
  private touchForward: PageToucher | null | undefined = undefined;

  constructor(kernels: Kernels, spec: PlanSpec, buffers: PlanBuffers) {
    const slots = checkPlanBuffers(spec, buffers);
    this.kernels = kernels;
    this.spec = spec;
    this.buffers = buffers;
    this.widths = layerWidths(spec);
    const B = spec.batchSize;
    this.outputs = this.widths.map((w) => new Float32Array(B * w));
    this.ops = spec.layers.map((l, i) => opOf(l, i));
    this.work = [];
    spec.layers.forEach((l, i) => {
      const ctx = { index: i, layers: spec.layers, outputs: this.outputs, deltas: this.deltas, work: this.work };
      this.work.push(this.ops[i]!.prepare(l, buffers, B, i === 0 ? spec.inFeatures : this.widths[i - 1]!, this.widths[i]!, ctx));
    });
    this.updater = new PlanUpdate(kernels, spec, buffers, frozenRanges(spec), slots);
    this.batch = new PlanBatch(spec);
    this.hasDropout = spec.layers.some((l) => l.kind === "dropout");
  }

  runSteps(run: StepRun): Promise<number> {
    try {
      return Promise.resolve(this.runStepsSync(run));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** runSteps on the calling thread. */
  runStepsSync(run: StepRun): number {
    this.checkAlive();
    checkRun(this.spec, run);
    const { spec, batch } = this;
    const classLabels = spec.loss.kind === "crossEntropy";
    if (this.hasDropout) this.rng.setState(Array.from(this.buffers.rngState));
    let completed = 0;
    for (let s = 0; s < run.steps; s++) {
      const first = run.start + s * run.batchSize;
      const rows = Math.min(run.batchSize, run.order.length - first);
      batch.gather(run, first, rows, classLabels);
      const weights = run.weights ? batch.gatherWeights(run.weights, run.order, first, rows) : null;
      const loss = this.forwardLossBackward(batch.x, classLabels ? batch.labels : batch.y, rows, run.training, weights);
      run.losses[s] = loss;
      // Checked as stored (float32): a loss beyond float32's range is reported as Infinity, and its
      // step's gradients would overflow the weights.
      if (!Number.isFinite(run.losses[s]!)) break;
      this.updater.apply(run.lr[s]!, run.firstStep + s);
      completed++;
    }
    if (this.hasDropout) this.buffers.rngState.set(this.rng.getState());
    return completed;
  }

  /**
   * One slice of warm-up for V8's compilers before the first training step; returns whether more
   * slices are due. First the training steps of this plan's miniature (plan-miniature.ts: the same
   * steps on narrow layers, small images and a few rows, with its own buffers and data): the first
   * a phase per slice (the batch, each layer's forward, the loss, each layer's backward), then
   * WARM_STEPS whole steps, as many per slice as fit in WARM_SLICE_MS. Then one step of WARM_ROWS
   * rows of `run` on this plan, a phase per slice, with no update: batch norms' running statistics
   * are put back after it and the gradients it leaves are overwritten by the first real step, so
   * nothing of the model or of the real steps changes. Then every page of the plan's workspaces
   * (activations, deltas, what the steps prepared, the batch, the optimizer state) is written once,
   * WARM_SLICE_MS per slice (plan-touch.ts).
   *
   * Why: run cold (interpreted, before V8 has compiled them), the kernels made fit's first step up
   * to ~10x as long as a warm one, one block of the event loop. V8 compiles functions, not shapes:
   * after many cheap miniature calls the real-sized calls run optimized code, and the few branches
   * only real sizes take (a scratch buffer growing, the run's own objects) are met by the small
   * real-shaped step, one layer per slice, instead of by the first real step. The first write to
   * each page of the workspaces (a page fault each: ~40 ms of the Fashion-MNIST CNN's first step
   * at batch 64, 13% of it) is made by the page-writing slices. The cost does not grow with the
   * model beyond WARM_ROWS rows of one forward and backward pass and a write per page. A plan whose
   * miniature an earlier plan of this process already ran to its end over the same kernels (the
   * same step kinds, loss, optimizer: plan-miniature.ts isWarmed) skips it and runs only that step.
   */
  warmUpSync(run: StepRun): boolean {
    this.checkAlive();
    const m = this.warmMiniSteps > 0 ? this.miniature() : null;
    const key = m && `steps|${run.training}|${run.weights !== null && run.weights !== undefined}|${m.key}`;
    if (m && isWarmed(this.kernels, key!)) {
      // An earlier plan of this process ran the same miniature's steps: their code is compiled.
      this.warmMiniSteps = 0;
      this.dropMiniature();
    } else if (m) {
      m.run.training = run.training;
      m.run.weights = run.weights ? m.weights : null;
      if (m.exec.warmPhase >= 0) {
        m.exec.phaseSlice(m.run);
        return true;
      }
      const t0 = performance.now();
      do {
        m.run.firstStep = WARM_STEPS - this.warmMiniSteps + 1;
        m.exec.runStepsSync(m.run);
      } while (--this.warmMiniSteps > 0 && performance.now() - t0 < WARM_SLICE_MS);
      if (this.warmMiniSteps <= 0) markWarmed(this.kernels, key!);
      this.dropMiniature();
      return true;
    }
    if (this.warmPhase >= 0) {
      this.phaseSlice(run);
      return true;
    }
    return this.touchSlice(true);
  }

  /**
   * warmUpSync for the inference forward pass (predict, evaluate): the miniature's forward passes
   * (the first a layer per slice), then one of WARM_ROWS rows (fewer when the first batch, `rows`,
   * has fewer) on this plan, a layer per slice, then the pages of its workspaces (activations and
   * what the steps prepared). Returns whether more slices are due.
   */
  warmUpForwardSync(rows = this.spec.batchSize): boolean {
    this.checkAlive();
    const m = this.warmMiniForwards > 0 ? this.miniature() : null;
    if (m && isWarmed(this.kernels, `forward|${m.key}`)) {
      this.warmMiniForwards = 0;
      this.dropMiniature();
    } else if (m) {
      if (m.exec.warmLayer < m.exec.ops.length) {
        m.exec.layerSlice(MINI_ROWS);
        return true;
      }
      const t0 = performance.now();
      do m.exec.forward(m.out, m.run.x, MINI_ROWS);
      while (--this.warmMiniForwards > 0 && performance.now() - t0 < WARM_SLICE_MS);
      if (this.warmMiniForwards <= 0) markWarmed(this.kernels, `forward|${m.key}`);
      this.dropMiniature();
      return true;
    }
    if (this.warmLayer < this.ops.length) {
      this.layerSlice(Math.min(WARM_ROWS, rows));
      return true;
    }
    return this.touchSlice(false);
  }

  /**
   * Write the next pages of the workspaces for up to WARM_SLICE_MS (see plan-touch.ts): for training,
   * also the deltas and the optimizer state; returns whether pages are left.
   */
  private touchSlice(training: boolean): boolean {
    let t = training ? this.touchTraining : this.touchForward;
    if (t === undefined) {
      const batch = [this.batch.x, this.batch.y, this.batch.labels];
      t = new PageToucher(workspacesOf(training ? [...this.outputs, ...this.deltas, ...this.work, ...batch, this.buffers.state] : [...this.outputs, ...this.work, ...batch]));
    }
    const more = t !== null && t.slice(WARM_SLICE_MS);
    if (training) this.touchTraining = more ? t : null;
    else this.touchForward = more ? t : null;
    return more;
  }

  /** The next phase of the warm-up step on the first WARM_ROWS rows of `run` (see warmPhaseOf); whether more are due. */
  private phaseSlice(run: StepRun): boolean {
    const { start, steps, batchSize, losses } = run;
    const loss0 = losses[0]!;
    try {
      run.start = 0;
      run.steps = 1;
      run.batchSize = Math.min(WARM_ROWS, this.spec.batchSize, run.order.length);
      this.warmPhase = this.warmPhaseOf(this.warmPhase, run) ? -1 : this.warmPhase + 1;
    } finally {
      run.start = start;
      run.steps = steps;
      run.batchSize = batchSize;
      losses[0] = loss0;
    }
    return this.warmPhase >= 0;
  }

  /** The next layer of the warm-up forward pass on `rows` rows (whatever the batch buffer holds); whether more are due. */
  private layerSlice(rows: number): boolean {
    const l = this.warmLayer;
    if (l >= this.ops.length) return false;
    this.forwardLayer(l, l === 0 ? this.batch.x : this.outputs[l - 1]!, Math.max(1, Math.min(rows, this.spec.batchSize)), false);
    return ++this.warmLayer < this.ops.length;
  }

  /** The miniature and its executor, made at the first warm-up slice (null: this plan has none). */
  private miniature(): WarmMiniature | null {
    if (this.mini === undefined) {
      const m = miniature(this.spec);
      this.mini = m && {
        ...m,
        exec: new PlanExecutor(this.kernels, m.spec, m.buffers),
        weights: m.run.weights!,
        out: new Float32Array(MINI_ROWS * m.spec.outFeatures),
        key: JSON.stringify(m.spec),
      };
    }
    if (!this.mini) this.warmMiniSteps = this.warmMiniForwards = 0;
    return this.mini;
  }

  /** The miniature is dropped once both warm-ups are past it. */
  private dropMiniature(): void {
    if (this.warmMiniSteps <= 0 && this.warmMiniForwards <= 0) this.mini = null;
  }

  /**
   * Phase `p` of the real-shaped warm-up step on the first run.batchSize rows of run.order: 0 gathers
   * the batch (and keeps the frozen values: batch norms' running statistics), 1..L run layer p-1
   * forward, L+1 the loss, L+2..2L+1 layer 2L+1-p backward. Returns whether the step is done (after
   * the last backward, or after a loss that is not finite), the frozen values then put back.
   */
  private warmPhaseOf(p: number, run: StepRun): boolean {
    const L = this.spec.layers.length;
    const classLabels = this.spec.loss.kind === "crossEntropy";
    const rows = Math.min(run.batchSize, run.order.length);
    const { batch } = this;
    let done = false;
    if (p === 0) {
      checkRun(this.spec, run);
      this.allocateDeltas();
      batch.gather(run, 0, rows, classLabels);
      this.warmFrozen = frozenRanges(this.spec).map(([b, e]) => this.buffers.params.slice(b, e));
    } else if (p <= L) {
      this.forwardLayer(p - 1, p === 1 ? batch.x : this.outputs[p - 2]!, rows, run.training);
    } else if (p === L + 1) {
      const weights = run.weights ? batch.gatherWeights(run.weights, run.order, 0, rows) : null;
      done = !Number.isFinite(this.lossAndOutputDelta(this.outputs[L - 1]!, classLabels ? batch.labels : batch.y, rows, weights));
    } else {
      this.backwardLayer(2 * L + 1 - p, batch.x, rows);
      done = p === 2 * L + 1;
    }
    if (done) {
      frozenRanges(this.spec).forEach(([b], i) => this.buffers.params.set(this.warmFrozen[i]!, b));
      this.warmFrozen = [];
    }
    return done;
  }

  forward(out: Float32Array, x: Float32Array, rows: number): void {
    this.checkAlive();
    const { spec } = this;
    if (!Number.isInteger(rows) || rows < 0 || rows > spec.batchSize) {
      throw new RangeError(`forward rows ${rows} must be an integer in [0, ${spec.batchSize}]`);
    }
    if (x.length < rows * spec.inFeatures) throw new RangeError(`forward x has ${x.length} values; needs ${rows * spec.inFeatures}`);
    if (out.length < rows * spec.outFeatures) throw new RangeError(`forward out has ${out.length} values; needs ${rows * spec.outFeatures}`);
    const y = this.forwardPass(x, rows, false);
    out.set(y.subarray(0, rows * spec.outFeatures));
  }

  /**
   * Loss of x (rows, in) against y, and its gradient with respect to every parameter written into
   * buffers.grads (frozen ranges: 0). No update is made: for gradient checks and evaluation. By
   * default in inference mode (dropout off, batch norm with its running statistics); `training`
   * true runs the training forward pass (dropout masks, batch statistics, running statistics
   * updated).
   */
  lossAndGradients(x: Float32Array, y: Float32Array | Int32Array, rows: number, training = false, weights: Float32Array | null = null): number {
    this.checkAlive();
    if (!Number.isInteger(rows) || rows < 1 || rows > this.spec.batchSize) {
      throw new RangeError(`rows ${rows} must be an integer in [1, ${this.spec.batchSize}]`);
    }
    if (weights !== null && weights.length !== rows) throw new RangeError(`weights has ${weights.length} values; expected one per row (${rows})`);
    const loss = this.forwardLossBackward(x, y, rows, training, weights);
    this.updater.zeroFrozenGradients();
    return loss;
  }

  dispose(): void {
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error("This training plan was disposed; create a new one");
  }

  /** Forward pass; returns the last layer's output buffer (only the first rows*outFeatures count). */
  private forwardPass(x: Float32Array, rows: number, training: boolean): Float32Array {
    let input = x;
    for (let l = 0; l < this.ops.length; l++) {
      this.forwardLayer(l, input, rows, training);
      input = this.outputs[l]!;
    }
    return input;
  }

  /** Layer l forward: outputs[l] from its input (rows, width of layer l - 1 or inFeatures). */
  private forwardLayer(l: number, input: Float32Array, rows: number, training: boolean): void {
    const width = l === 0 ? this.spec.inFeatures : this.widths[l - 1]!;
    this.ops[l]!.forward(this.kernels, this.spec.layers[l]!, this.work[l], input, this.outputs[l]!, rows, width, this.widths[l]!, training, this.rng);
  }

  /** Loss of the last layer's output against targets, writing δ_L into the last delta buffer. */
  private lossAndOutputDelta(pred: Float32Array, y: Float32Array | Int32Array, rows: number, w: Float32Array | null): number {
    const k = this.kernels;
    const { loss, outFeatures: outF } = this.spec;
    const delta = this.deltas[this.deltas.length - 1]!;
    switch (loss.kind) {
      case "mse":
      case "mae":
      case "huber":
        return k.regressionLoss(loss.kind, delta, pred, y as Float32Array, rows * outF, loss.delta, w);
      case "crossEntropy":
        return k.softmaxCrossEntropy(delta, pred, y as Int32Array, rows, outF, w);
      case "crossEntropyDense":
        return k.softmaxCrossEntropyDense(delta, pred, y as Float32Array, rows, outF, w);
      case "bce":
        return k.bceWithLogits(delta, pred, y as Float32Array, rows * outF, w);
    }
  }

  /** The backward pass's buffers, made once, when it first runs. */
  private allocateDeltas(): void {
    if (this.deltas.length > 0) return;
    const B = this.spec.batchSize;
    for (const w of this.widths) this.deltas.push(new Float32Array(B * w));
  }

  private forwardLossBackward(x: Float32Array, y: Float32Array | Int32Array, rows: number, training: boolean, w: Float32Array | null = null): number {
    this.allocateDeltas();
    const pred = this.forwardPass(x, rows, training);
    const loss = this.lossAndOutputDelta(pred, y, rows, w);
    if (!Number.isFinite(loss)) return loss;
    this.backward(x, rows);
    return loss;
  }

  private backward(x: Float32Array, rows: number): void {
    for (let l = this.ops.length - 1; l >= 0; l--) this.backwardLayer(l, x, rows);
  }

  /** Layer l backward, from deltas[l]; x is the batch (layer 0's input). */
  private backwardLayer(l: number, x: Float32Array, rows: number): void {
    const input = l === 0 ? x : this.outputs[l - 1]!;
    const inWidth = l === 0 ? this.spec.inFeatures : this.widths[l - 1]!;
    // The input of layer 0 is the data: its gradient is never needed.
    const dIn = l === 0 ? null : this.deltas[l - 1]!;
    this.ops[l]!.backward(this.kernels, this.spec.layers[l]!, this.work[l], input, this.outputs[l]!, this.deltas[l]!, dIn, rows, inWidth, this.widths[l]!);
  }
}

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
 * step's rows into (plan-batch.ts), the update after the backward pass, frozen ranges, clipping
 * and the optimizer step (plan-update.ts), and the warm-up for V8's compilers that fit, predictAsync
 * and evaluate run before the first step or batch, a slice per turn of the event loop (plan-warm-up.ts).
 */
import type { Kernels } from "../backend/backend.js";
import type { PlanBuffers, PlanSpec, StepRun, TrainPlan } from "../backend/plan.js";
import type { PlanOp } from "./layers/layer.js";
import { Rng } from "../core/rng.js";
import { checkPlanBuffers, checkRun, frozenRanges, layerWidths, opOf } from "./plan-checks.js";
import { PlanBatch } from "./plan-batch.js";
import { PlanUpdate } from "./plan-update.js";
import { PlanWarmUp, type WarmablePlan } from "./plan-warm-up.js";

export class PlanExecutor implements TrainPlan, WarmablePlan {
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
  /** Its warm-up before the first step or forward pass (plan-warm-up.ts). */
  private readonly warm: PlanWarmUp;
  /** The frozen values kept during the warm-up's step (stepPhase). */
  private warmFrozen: Float32Array[] = [];

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
    this.warm = new PlanWarmUp(this, kernels, spec, (s, b) => new PlanExecutor(kernels, s, b));
  }

  get layerCount(): number {
    return this.ops.length;
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

  /** One slice of the warm-up before the first training step of `run` (plan-warm-up.ts); whether more slices are due. */
  warmUpSync(run: StepRun): boolean {
    this.checkAlive();
    return this.warm.trainingSlice(run);
  }

  /** One slice of the warm-up before a first forward pass of `rows` rows (predict, evaluate); whether more are due. */
  warmUpForwardSync(rows = this.spec.batchSize): boolean {
    this.checkAlive();
    return this.warm.forwardSlice(rows);
  }

  /**
   * The buffers whose pages the warm-up writes (WarmablePlan.workspaces). For training the deltas are
   * made here if no backward pass has made them yet (the warm-up skips its real-shaped step when an
   * earlier plan of the same layers ran it).
   */
  workspaces(training: boolean): unknown[] {
    if (training) this.allocateDeltas();
    const batch = [this.batch.x, this.batch.y, this.batch.labels];
    return training ? [...this.outputs, ...this.deltas, ...this.work, ...batch, this.buffers.state] : [...this.outputs, ...this.work, ...batch];
  }

  /** Layer l's inference forward pass on the first `rows` rows of the batch buffer (WarmablePlan.forwardLayerOnBatch). */
  forwardLayerOnBatch(l: number, rows: number): void {
    this.forwardLayer(l, l === 0 ? this.batch.x : this.outputs[l - 1]!, rows, false);
  }

  /**
   * Phase `p` of the warm-up's step on the first run.batchSize rows of run.order, with no update
   * (WarmablePlan.stepPhase): 0 gathers the batch (and keeps the frozen values: batch norms' running
   * statistics), 1..L run layer p-1 forward, L+1 the loss, L+2..2L+1 layer 2L+1-p backward. Returns
   * whether the step is done (after the last backward, or after a loss that is not finite), the
   * frozen values then put back.
   */
  stepPhase(p: number, run: StepRun): boolean {
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

  /**
   * Forward pass; returns the last layer's output buffer (only the first rows*outFeatures count).
   * It calls each layer's op itself, as backward does, rather than through forwardLayer (the
   * warm-up's one-layer entry): a call level and a few field reads fewer per layer, which for T1's
   * 1-3-1 network is a measurable part of a step (about 1%).
   */
  private forwardPass(x: Float32Array, rows: number, training: boolean): Float32Array {
    const { ops, spec, work, outputs, widths, kernels, rng } = this;
    const layers = spec.layers;
    let input = x;
    let width = spec.inFeatures;
    for (let l = 0; l < ops.length; l++) {
      const out = outputs[l]!;
      const w = widths[l]!;
      ops[l]!.forward(kernels, layers[l]!, work[l], input, out, rows, width, w, training, rng);
      input = out;
      width = w;
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
    const { ops, spec, work, outputs, deltas, widths, kernels } = this;
    const layers = spec.layers;
    for (let l = ops.length - 1; l >= 0; l--) {
      const input = l === 0 ? x : outputs[l - 1]!;
      const inWidth = l === 0 ? spec.inFeatures : widths[l - 1]!;
      ops[l]!.backward(kernels, layers[l]!, work[l], input, outputs[l]!, deltas[l]!, l === 0 ? null : deltas[l - 1]!, rows, inWidth, widths[l]!);
    }
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

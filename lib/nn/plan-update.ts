/**
 * What a training plan does with a step's gradients: frozen ranges (spec.frozen: batch norm's
 * running statistics, ...) get a zero gradient before clipping, the gradients are clipped, and the
 * optimizer makes one pass over the flat parameter buffer, after which the frozen values and their
 * optimizer state are put back as they were.
 */
import type { Kernels } from "../backend/backend.js";
import type { PlanBuffers, PlanSpec } from "../backend/plan.js";
import type { OptimizerName } from "../optim/index.js";

export class PlanUpdate {
  private readonly kernels: Kernels;
  private readonly spec: PlanSpec;
  private readonly buffers: PlanBuffers;
  private readonly frozen: Array<[number, number]>;
  /** Optimizer state slots (blocks of P values). */
  private readonly slots: number;
  /** The frozen values and their optimizer state, kept across the update (see copyFrozen). */
  private readonly frozenKeep: Float32Array;
  /** The optimizer's hyperparameters, as the optimizerStep kernel takes them (made once). */
  private readonly hyper: Float64Array;
  /** The optimizer's name, whether any range is frozen, whether the gradients are clipped (read once). */
  private readonly kind: OptimizerName;
  private readonly hasFrozen: boolean;
  private readonly clips: boolean;

  /** `frozen` and `slots` as checked by frozenRanges and checkPlanBuffers (lib/nn/plan-checks.ts). */
  constructor(kernels: Kernels, spec: PlanSpec, buffers: PlanBuffers, frozen: Array<[number, number]>, slots: number) {
    this.kernels = kernels;
    this.spec = spec;
    this.buffers = buffers;
    this.frozen = frozen;
    this.slots = slots;
    const frozenCount = frozen.reduce((n, [b, e]) => n + e - b, 0);
    this.frozenKeep = new Float32Array(frozenCount * (1 + slots));
    this.hyper = Float64Array.from(spec.optimizer.hyper);
    this.kind = spec.optimizer.kind as OptimizerName;
    this.hasFrozen = frozen.length > 0;
    this.clips = spec.clipValue > 0 || spec.clipNorm > 0;
  }

  /**
   * The whole update after a backward pass: zero the frozen gradients, clip, one optimizer step.
   * Runs every step (about a microsecond for T1's 1-3-1 network), so what a plan without frozen
   * ranges or clipping does not need is skipped here, not called: each call that V8 does not inline
   * costs a few nanoseconds, and this chain was measured at 5-7% of T1's step.
   */
  apply(lr: number, step: number): void {
    const frozen = this.hasFrozen;
    if (frozen) this.zeroFrozenGradients();
    if (this.clips) this.clipGradients();
    this.optimizerStep(lr, step, frozen);
  }

  /** Frozen parameters get no gradient (so they do not count in clipNorm either). */
  zeroFrozenGradients(): void {
    const g = this.buffers.grads;
    for (const [b, e] of this.frozen) g.fill(0, b, e);
  }

  /** Clip by value, then by global L2 norm (as torch.nn.utils.clip_grad_norm_). */
  private clipGradients(): void {
    const { clipValue, clipNorm, paramCount: P } = this.spec;
    const g = this.buffers.grads;
    if (clipValue > 0) this.kernels.clip(g, P, -clipValue, clipValue);
    if (clipNorm > 0) {
      const norm = Math.sqrt(this.kernels.sumSquares(g, P));
      const coef = clipNorm / (norm + 1e-6);
      if (coef < 1) this.kernels.scale(g, P, coef);
    }
  }

  /**
   * One optimizer step over the whole flat parameter buffer: θ ← θ − η g (or the optimizer's rule);
   * frozen ranges and their optimizer state are put back as they were (weight decay or momentum
   * would move them even with a zero gradient).
   */
  private optimizerStep(lr: number, step: number, frozen: boolean): void {
    const { params, grads, state } = this.buffers;
    const P = this.spec.paramCount;
    if (frozen) this.copyFrozen(true);
    this.kernels.optimizerStep(this.kind, params, grads, state, P, lr, step, this.hyper);
    if (frozen) this.copyFrozen(false);
  }

  /** Save (keep = true) or restore the frozen parameters and their optimizer state (slot s at s·P). */
  private copyFrozen(keep: boolean): void {
    const { params, state } = this.buffers;
    const P = this.spec.paramCount;
    const slots = this.slots;
    const kept = this.frozenKeep;
    let k = 0;
    for (let s = -1; s < slots; s++) {
      const buf = s < 0 ? params : state;
      const base = s < 0 ? 0 : s * P;
      for (const [b, e] of this.frozen) {
        for (let i = base + b; i < base + e; i++, k++) {
          if (keep) kept[k] = buf[i]!;
          else buf[i] = kept[k]!;
        }
      }
    }
  }
}

/**
 * The native backend's fused training plan: the whole plan (lib/backend/plan.ts) runs in C++
 * (native/plan_steps.cc), one N-API crossing per run of steps, on a libuv worker thread.
 *
 * The native object validates the spec and every run itself (TypeError / RangeError naming the
 * field), keeps references to the plan's four buffers and allocates its workspaces once. While a run
 * is in flight the plan is busy: another `runSteps`, `forward` or `dispose` fails with an Error.
 *
 * JavaScript keeps running meanwhile, so the worker touches only memory JavaScript cannot free or
 * move (see native/plan_binding.cc): it works in place in plan buffers over a SharedArrayBuffer (as
 * models allocate theirs, lib/core/shared.ts) and in a copy of any other, copied back when the run
 * settles; a run's order, lr, weights, losses and class labels go through copies of the plan's own,
 * and so do the rows of x and y the run uses, unless x and y are backed by SharedArrayBuffers (then
 * read in place). Those rows are copied inside `runSteps`, in step order, while the worker already
 * trains on the first batches (each step waits for its rows), so `runSteps` returns once they are
 * all copied and nothing JavaScript does afterwards reaches the worker. An array transferred or
 * resized mid-run makes the run reject naming it; it never crashes the process.
 */
import type { PlanBuffers, PlanSpec, StepRun, TrainPlan } from "../plan.js";

/** The native plan object (class `FusedPlan` of native/plan_binding.cc). */
export interface NativeFusedPlanHandle {
  /** Validates synchronously (throws), then runs on a worker; resolves with the steps completed. */
  runSteps(run: StepRun): Promise<number>;
  forward(out: Float32Array, x: Float32Array, rows: number): void;
  dispose(): void;
  /** True while a runSteps is in flight. */
  readonly busy: boolean;
  /**
   * Rows of run.x the last run copied on the calling thread: the rows it uses (its steps times the
   * batch size, less a short last batch), or 0 when x (and float targets) are backed by
   * SharedArrayBuffers, which the worker reads in place.
   */
  readonly copiedRows: number;
}

/** The addon entry the fused plan needs (native/plan_binding.cc): what `hasFusedPlan` checks. */
export interface NativeFusedPlanBinding {
  FusedPlan: new (spec: PlanSpec, buffers: PlanBuffers) => NativeFusedPlanHandle;
}

/**
 * The test hooks native/plan_binding.cc registers beside FusedPlan, for the native tests only: no
 * production code calls them or checks for them (test/helpers.ts `planTestHooks` does, and fails
 * when one is missing from a build).
 */
export interface NativePlanTestHooks {
  /**
   * out[i] = f(x[i]) with the plan's fast float32 math (native/fast_math.h);
   * fn 0 = exp, 1 = sigmoid, 2 = tanh. out.length >= x.length.
   */
  planFastMath(fn: 0 | 1 | 2, out: Float32Array, x: Float32Array): void;
  /**
   * The plan's own activation passes over x (rows, cols), as the step loop runs them after a dense
   * layer: y = f(x), dx = dy f'(.), db (cols) = column sums of dx. `act` is the code.
   */
  planActivation(
    act: number,
    alpha: number,
    y: Float32Array,
    dx: Float32Array,
    db: Float32Array,
    x: Float32Array,
    dy: Float32Array,
    rows: number,
    cols: number,
  ): void;
  /**
   * Microseconds `runSteps` waits before copying each batch of a run's rows (0: none, the default),
   * so that tests can hold the copy back behind the worker; returns the previous value.
   */
  planCopyPace(micros: number): number;
}

/** Whether an addon object carries the fused plan (its test hooks are not required). */
export function hasFusedPlan(addon: object): addon is NativeFusedPlanBinding {
  return typeof (addon as Partial<Record<keyof NativeFusedPlanBinding, unknown>>).FusedPlan === "function";
}

/** A `TrainPlan` over the native engine. */
export class NativeFusedPlan implements TrainPlan {
  private readonly handle: NativeFusedPlanHandle;

  constructor(binding: NativeFusedPlanBinding, spec: PlanSpec, buffers: PlanBuffers) {
    this.handle = new binding.FusedPlan(spec, buffers);
  }

  /** Steps run on a libuv worker; invalid runs and busy/disposed plans reject before anything runs. */
  async runSteps(run: StepRun): Promise<number> {
    return this.handle.runSteps(run);
  }

  forward(out: Float32Array, x: Float32Array, rows: number): void {
    this.handle.forward(out, x, rows);
  }

  dispose(): void {
    this.handle.dispose();
  }

  /** True while a run is in flight. */
  get busy(): boolean {
    return this.handle.busy;
  }

  /** Rows of run.x the last run copied on the calling thread (0: read in place). */
  get copiedRows(): number {
    return this.handle.copiedRows;
  }
}

/** Build a native fused plan from an addon that has one; throws if this addon build lacks it. */
export function createNativeFusedPlan(addon: object, spec: PlanSpec, buffers: PlanBuffers): NativeFusedPlan {
  if (!hasFusedPlan(addon)) {
    throw new Error("This build of the blasnet addon has no fused training plan (FusedPlan); rebuild it with `npm run build:native`");
  }
  return new NativeFusedPlan(addon, spec, buffers);
}

/**
 * A model's training plans, made once per (backend, training path, batch size, target form, frozen
 * parameter ranges) and reused by fit, evaluate and predict. A plan runs on the backend's fused plan (native: whole steps
 * in C++, off the main thread) when it has one and the model asks for "fused", else on the
 * TypeScript PlanExecutor over the backend's kernels.
 * Pinned plans (in use by a running fit) are not evicted; `compile` disposes them all.
 */
import type { Backend } from "../backend/backend.js";
import type { PlanBuffers, PlanSpec, TrainPlan } from "../backend/plan.js";
import { PlanExecutor } from "./plan-executor.js";

/**
 * How fit runs training steps: "fused" (the backend's fused plan when it has one: native whole steps in
 * C++) or "kernels" (the TypeScript PlanExecutor, one kernel call at a time). See
 * CompileOptions.trainingPath.
 */
export type TrainingPath = "fused" | "kernels";

const MAX_CACHED_PLANS = 8;

interface PlanEntry {
  key: string;
  backend: Backend;
  plan: TrainPlan;
  pinned: boolean;
}

export class PlanCache {
  private entries: PlanEntry[] = [];

  /**
   * A plan for this batch size, target form and set of frozen parameter ranges (created once, most
   * recently used kept): freezing or unfreezing a layer makes the next fit build a new plan.
   */
  get(backend: Backend, path: TrainingPath, batchSize: number, denseTargets: boolean, frozen: ReadonlyArray<readonly [number, number]>, pin: boolean, spec: () => PlanSpec, buffers: () => PlanBuffers): TrainPlan {
    const key = `${path}|${batchSize}|${denseTargets ? "dense" : "index"}|${frozen.join(";")}`;
    let entry = this.entries.find((e) => e.key === key && e.backend === backend);
    if (entry) {
      this.entries.splice(this.entries.indexOf(entry), 1);
      this.entries.push(entry);
    } else {
      const plan = path === "fused" && backend.createFusedPlan ? backend.createFusedPlan(spec(), buffers()) : new PlanExecutor(backend, spec(), buffers());
      entry = { key, backend, plan, pinned: false };
      this.entries.push(entry);
      while (this.entries.length > MAX_CACHED_PLANS) {
        const old = this.entries.find((e) => !e.pinned && e !== entry);
        if (!old) break;
        old.plan.dispose();
        this.entries.splice(this.entries.indexOf(old), 1);
      }
    }
    if (pin) entry.pinned = true;
    return entry.plan;
  }

  unpinAll(): void {
    for (const e of this.entries) e.pinned = false;
  }

  dispose(): void {
    for (const e of this.entries) e.plan.dispose();
    this.entries = [];
  }
}

/**
 * What the training loop needs of a model: the interface `fit`, `fitStream` and the callbacks work
 * through. `Sequential` (lib/nn/sequential.ts) is one; the loop never imports it, so the model front
 * calls down into train/ and nothing here calls back up.
 */
import type { Backend } from "../backend/backend.js";
import type { TrainPlan } from "../backend/plan.js";
import type { Matrix } from "../core/matrix.js";
import type { Loss } from "../losses/index.js";
import type { Normalization } from "./normalization.js";
import type { Optimizer } from "../optim/index.js";

export interface TrainableModel {
  /** A sample's shape at the input; features per sample in and out. */
  readonly inputShape: readonly number[];
  readonly inputSize: number;
  readonly outputSize: number;
  readonly seed: number;
  /** All parameters, flat. */
  readonly params: Float32Array;
  readonly loss: Loss | null;
  readonly optimizer: Optimizer | null;
  /** The stored standardization itself (model.normalization is a copy). */
  readonly _normalization: Normalization | null;
  /** Optimizer updates applied and epochs completed since compile. */
  readonly step: number;
  readonly epoch: number;
  /** Set to true (from a callback) to stop fit after the current step or chunk. */
  stopTraining: boolean;
  fit(x: unknown, y: unknown, options?: object): Promise<{ loss: number[] }>;
  evaluate(x: unknown, y: unknown, options?: object): Promise<Record<string, number> & { loss: number }>;
  predict(x: unknown, options?: { batchSize?: number }): Matrix;
  save(dir: string, options?: object): Promise<void>;
  /** @internal true while the fused plan runs steps off the main thread. */
  _stepsRunning: boolean;
  /** @internal */
  _kernels(): Backend;
  /** @internal */
  _plan(batchSize: number, denseTargets: boolean, pin: boolean): TrainPlan;
  /** @internal */
  _beginFit(): () => void;
  /** @internal */
  _addSteps(n: number): void;
  /** @internal */
  _setEpoch(e: number): void;
}

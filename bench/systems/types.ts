/**
 * One benchmark entry per competitor (better-sqlite3 style): each system turns a workload and its
 * data set into a training session whose `fit` runs that system's own end-to-end training loop.
 */
import type { Dataset, Workload } from "../workloads.js";

export interface TrainSession {
  /**
   * Make the first `rows` rows ready to train on (copies into the system's own tensors happen
   * here, outside the timed region). Called before every `fit` with a new `rows`.
   */
  prepare(rows: number): Promise<void> | void;
  /**
   * Train `epochs` epochs over the first `rows` rows with the workload's batch size, through the
   * system's own fit loop. Resolves with the mean training loss of the last epoch.
   */
  fit(rows: number, epochs: number): Promise<number>;
  /**
   * Mean loss of the current model over the first `rows` rows, without training (the same rows
   * before and after the measurement: the "loss fell" check).
   */
  evaluate(rows: number): Promise<number>;
  /** Steps one epoch over `rows` rows takes (ceil(rows / batch), or rows for per-sample systems). */
  stepsPerEpoch(rows: number): number;
  /** Samples each step processes (the batch size; 1 for per-sample systems). */
  readonly samplesPerStep: number;
  dispose(): void;
  /** What the table should say about how this system ran (its backend, deviations from the spec). */
  readonly notes: string[];
}

export interface SystemEntry {
  id: string;
  /** Does this system run this workload? `true`, or the reason it does not. */
  supports(w: Workload): true | string;
  /** Native systems honour `threads` (systems/index.ts: THREADED_IDS); the others ignore it. */
  create(w: Workload, data: Dataset, threads: number): Promise<TrainSession>;
}

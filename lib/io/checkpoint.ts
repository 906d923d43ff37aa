/**
 * Checkpoints: a callback that saves the model with its optimizer and training state every K epochs,
 * and the way back.
 *
 * ```ts
 * await model.fit(x, y, { epochs: 100, callbacks: [checkpoint({ dir: "ckpt", every: 5 })] });
 * // later, or after a crash:
 * const resumed = await loadCheckpoint("ckpt");
 * await resumed.fit(x, y, { epochs: 100, initialEpoch: resumed.epoch });
 * ```
 *
 * Resuming gives the same weights as an uninterrupted run: the checkpoint holds the weights, the
 * optimizer state and step count (Adam's moments and bias correction, learning-rate schedules), the
 * epoch, and the dropout generator state; fit's shuffle order depends only on the seed and the epoch
 * index. Pass the same data and fit options (batch size, seed, validation) to the resumed fit.
 */
import type { Sequential } from "../nn/sequential.js";
import type { Callback, EpochLogs } from "../train/callbacks.js";
import { describe } from "../core/matrix.js";
import { checkOptionKeys, checkOptions } from "../core/options.js";
import { join } from "node:path";
import { loadModelWithManifest, MANIFEST_FILE, saveModel, type DataInfo, type LoadOptions } from "./model-file.js";
import { ModelFileError } from "./safetensors.js";

/** Options of checkpoint(): where and how often a callback saves the model and its training state. */
export interface CheckpointOptions {
  /**
   * Directory to save into. "{epoch}" in it is replaced by the 1-based number of epochs completed
   * (e.g. "ckpt/epoch-{epoch}" keeps every checkpoint); without it each save replaces the last,
   * atomically.
   */
  dir: string;
  /** Save after every `every` epochs (counting completed epochs from the start of training). Default 1. */
  every?: number;
  /** Also save when training ends (after the last epoch, or when stopped early). Default true. */
  atEnd?: boolean;
  /** Column names stored with the model. */
  data?: DataInfo;
  /** Called after each save with the directory written. */
  onSave?: (dir: string, epoch: number) => void;
}

/** A callback that saves a checkpoint (model + optimizer + training state) every K epochs. */
export function checkpoint(options: CheckpointOptions): Callback & { readonly saved: string[] } {
  if (options === null || typeof options !== "object") throw new TypeError(`checkpoint expects { dir, every } but received ${describe(options)}`);
  checkOptionKeys(options, ["dir", "every", "atEnd", "data", "onSave"], "checkpoint");
  const { dir, every = 1, atEnd = true } = options;
  if (typeof dir !== "string" || dir === "") throw new TypeError(`checkpoint dir: expected a directory path but received ${describe(dir)}`);
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`checkpoint every: expected an integer >= 1 (epochs between saves) but received ${describe(every)}`);
  const saved: string[] = [];
  let lastSavedEpoch = -1;
  const save = async (model: Sequential): Promise<void> => {
    const epochs = model.epoch;
    const target = dir.replaceAll("{epoch}", String(epochs));
    await saveModel(model, target, { includeOptimizer: true, ...(options.data ? { data: options.data } : {}) });
    lastSavedEpoch = epochs;
    saved.push(target);
    options.onSave?.(target, epochs);
  };
  return {
    saved,
    async onEpochEnd(_epoch: number, _logs: EpochLogs, model: Sequential) {
      if (model.epoch % every === 0) await save(model);
    },
    async onTrainEnd(_history: unknown, model: Sequential) {
      if (atEnd && model.epoch !== lastSavedEpoch) await save(model);
    },
  };
}

/** Load a checkpoint with its training state; resume with `fit(x, y, { epochs, initialEpoch: model.epoch })`. */
export async function loadCheckpoint(dir: string, options: Omit<LoadOptions, "trainingState"> = {}): Promise<Sequential> {
  // trainingState is not an option here: a checkpoint is loaded with its training state.
  checkOptions(options, ["backend", "verifyChecksum"], "loadCheckpoint");
  const { model, manifest } = await loadModelWithManifest(dir, { ...options, trainingState: true });
  if (!manifest.trainingState) {
    throw new ModelFileError(join(dir, MANIFEST_FILE), "not a checkpoint: saved without optimizer state (use saveModel(..., { includeOptimizer: true }) or the checkpoint callback)");
  }
  return model;
}

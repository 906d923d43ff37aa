/**
 * The optimizer kernel of the TypeScript backend: size checks, then the update of the optimizer's
 * one definition (lib/optim/<name>.ts).
 *
 * It runs once per training step, which for a small network takes about a microsecond: the checks
 * build no string (messages are made only when one throws) and read the optimizer's slots once.
 */
import { optimizerDef, type OptimizerName } from "../../optim/index.js";
import type { Hyper } from "../../optim/optimizer.js";
import { checkLength, checkSize, checksDisagree, isSize } from "./check.js";

/** One update over n parameters: param, grad (n), state (slots · n). See Kernels.optimizerStep. */
export function optimizerStep(
  kind: OptimizerName,
  param: Float32Array,
  grad: Float32Array,
  state: Float32Array,
  n: number,
  lr: number,
  step: number,
  hyper: Hyper,
): void {
  const def = optimizerDef(kind);
  if (!(isSize(n) && param.length >= n && grad.length >= n)) optimizerStepError(param, grad, n);
  if (hyper.length !== def.hyper.length) {
    throw new RangeError(`Expected ${def.hyper.length} hyperparameters for ${kind} (${def.hyper.join(", ")}) but received ${hyper.length}`);
  }
  const slots = def.slots(hyper).length;
  if (state.length < slots * n) checkLength(`state (${slots} slots x n)`, state.length, slots * n);
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`Invalid step: ${step}; expected the 1-based number of this update`);
  def.update(param, grad, state, n, lr, step, hyper);
}

/** Throws optimizerStep's error for n, param or grad (it tests them in one condition: check.ts says why). */
function optimizerStepError(param: Float32Array, grad: Float32Array, n: number): never {
  checkSize("n", n);
  checkLength("param (n)", param.length, n);
  checkLength("grad (n)", grad.length, n);
  checksDisagree("optimizerStep");
}

/**
 * The activation kernels of the TypeScript backend: size checks, then the loops of the activation's
 * one definition (lib/ops/activations.ts). Each tests its sizes in one condition and words the error
 * only when it fails (check.ts says why).
 */
import type { ElementwiseActivation } from "../backend.js";
import { activationDef, type ActivationDef } from "../../ops/activations.js";
import { checkLength, checkSize, checksDisagree, isSize } from "./check.js";

/** y (n) = f(x) (n). `alpha` is leakyRelu's negative slope. */
export function activationForward(act: ElementwiseActivation, y: Float32Array, x: Float32Array, n: number, alpha: number): void {
  const def = activationDef(act);
  if (!(isSize(n) && x.length >= n && y.length >= n)) activationForwardError(x, y, n);
  def.forward(y, x, n, alpha);
}

/** dx (n) = dy (n) · f'(x); each activation reads the forward value its definition names (x or y). */
export function activationBackward(
  act: ElementwiseActivation,
  dx: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  y: Float32Array,
  n: number,
  alpha: number,
): void {
  const def = activationDef(act);
  const read = act === "linear" ? n : def.backwardReads === "x" ? x.length : y.length;
  if (!(isSize(n) && dx.length >= n && dy.length >= n && read >= n)) activationBackwardError(act, def, dx, dy, x, y, n);
  def.backward(dx, dy, x, y, n, alpha);
}

/** Throws activationForward's error for its first argument out of range. */
function activationForwardError(x: Float32Array, y: Float32Array, n: number): never {
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  checkLength("y (n)", y.length, n);
  checksDisagree("activationForward");
}

/** Throws activationBackward's error for its first argument out of range. */
function activationBackwardError(act: ElementwiseActivation, def: ActivationDef, dx: Float32Array, dy: Float32Array, x: Float32Array, y: Float32Array, n: number): never {
  checkSize("n", n);
  checkLength("dx (n)", dx.length, n);
  checkLength("dy (n)", dy.length, n);
  if (act !== "linear") {
    if (def.backwardReads === "x") checkLength("x (n)", x.length, n);
    else checkLength("y (n)", y.length, n);
  }
  checksDisagree("activationBackward");
}

/**
 * The activation kernels of the TypeScript backend: size checks, then the loops of the activation's
 * one definition (lib/ops/activations.ts).
 */
import type { ElementwiseActivation } from "../backend.js";
import { activationDef } from "../../ops/activations.js";
import { checkLength, checkSize } from "./check.js";

/** y (n) = f(x) (n). `alpha` is leakyRelu's negative slope. */
export function activationForward(act: ElementwiseActivation, y: Float32Array, x: Float32Array, n: number, alpha: number): void {
  const def = activationDef(act);
  checkSize("n", n);
  checkLength("x (n)", x.length, n);
  checkLength("y (n)", y.length, n);
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
  checkSize("n", n);
  checkLength("dx (n)", dx.length, n);
  checkLength("dy (n)", dy.length, n);
  if (act !== "linear") {
    if (def.backwardReads === "x") checkLength("x (n)", x.length, n);
    else checkLength("y (n)", y.length, n);
  }
  def.backward(dx, dy, x, y, n, alpha);
}

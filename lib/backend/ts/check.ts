/**
 * Cheap argument checks for the TypeScript kernels.
 *
 * The kernels trust their callers for speed (the layers above validate user input), but they must
 * never read or write past the end of a buffer: a typed array read out of bounds yields `undefined`
 * (NaN in arithmetic) and a write is silently dropped, so a wrong size would give wrong numbers with
 * no error. Each kernel therefore checks its sizes and buffer lengths once per call: a few integer
 * comparisons, no allocation unless it throws.
 *
 * The kernels a small network's training step calls on every step (gemm, the bias, activation and
 * regression-loss kernels, the optimizer step) test all their arguments in one condition and call
 * these functions only to word the error, once that condition failed. V8 inlines a kernel into the
 * training step only while the step's inlined bytecode stays under a fixed budget, and six calls
 * of checkSize and checkLength, each inlined, cost gemm about 340 of its bytes: with them, gemm
 * stayed out of T1's backward pass and activationForward out of its forward pass (3.5% of T1's
 * step, measured in alternating processes).
 */
import { outSizeRange, type Window2d } from "../../ops/window.js";

/** Throws unless `value` is an integer in [0, 2^32): a size such as rows, cols, m, n, k. */
export function checkSize(name: string, value: number): void {
  if (value >>> 0 !== value) {
    throw new RangeError(`Invalid ${name}: ${value}; expected a non-negative integer`);
  }
}

/** Whether `value` is an integer in [0, 2^32) (checkSize's test, for a kernel's one-condition check). */
export function isSize(value: number): boolean {
  return value >>> 0 === value;
}

/**
 * The end of a kernel's cold error function: its checks found nothing although the kernel's one
 * condition failed (the two disagree: a bug in blasnet, not in the caller's arguments).
 */
export function checksDisagree(kernel: string): never {
  throw new Error(`${kernel}: its argument check failed but no argument is out of range (a bug in blasnet: please report it)`);
}

/** Throws unless a buffer of `length` values holds at least `needed` (the product of its shape). */
export function checkLength(name: string, length: number, needed: number): void {
  if (length < needed) {
    throw new RangeError(`Expected ${name} to hold at least ${needed} values but received ${length}`);
  }
}

/**
 * Throws unless `g` is a consistent window geometry (lib/ops/window.ts): channels, height, width,
 * kernel, stride and dilation positive integers, padding non-negative integers, and outH / outW in
 * the range outSizeRange gives (lib/ops/window.ts, the layers' rule): what the PyTorch formula gives
 * for some bottom / right padding between 0 and the larger of the top / left padding and the
 * kernel's reach. `what` names the kernel for the message.
 */
export function checkWindow(what: string, g: Window2d): void {
  if (typeof g !== "object" || g === null) {
    throw new TypeError(`Expected a Window2d object for argument 'g' of ${what} but received ${g === null ? "null" : typeof g}`);
  }
  for (const key of WINDOW_POSITIVE) {
    const v = g[key];
    if (!(Number.isInteger(v) && v >= 1 && v <= INT_MAX)) {
      throw new RangeError(`Invalid g.${key} for ${what}: ${String(v)}; expected an integer in [1, 2^31-1]`);
    }
  }
  for (const key of ["padTop", "padLeft"] as const) {
    const v = g[key];
    if (!(Number.isInteger(v) && v >= 0 && v <= INT_MAX)) {
      throw new RangeError(`Invalid g.${key} for ${what}: ${String(v)}; expected an integer in [0, 2^31-1]`);
    }
  }
  checkWindowAxis(what, "H", g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH);
  checkWindowAxis(what, "W", g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW);
}

const INT_MAX = 2 ** 31 - 1;
const WINDOW_POSITIVE = ["channels", "height", "width", "kernelH", "kernelW", "strideH", "strideW", "dilationH", "dilationW", "outH", "outW"] as const;

/** One axis of checkWindow: `size` the input extent, `out` the claimed output extent. */
function checkWindowAxis(what: string, axis: "H" | "W", size: number, kernel: number, stride: number, pad: number, dilation: number, out: number): void {
  // The output size rule is the layers' (lib/ops/window.ts); only the message is the kernels'.
  const { least: lo, most: hi, maxEnd } = outSizeRange(size, kernel, stride, pad, dilation);
  if (out < lo || out > hi) {
    const names = axis === "H" ? ["height", "kernelH", "strideH", "padTop", "dilationH", "outH"] : ["width", "kernelW", "strideW", "padLeft", "dilationW", "outW"];
    const range = hi < 1 ? "none (the window does not fit)" : lo === hi ? String(lo) : `${Math.max(lo, 1)}..${hi}`;
    throw new RangeError(
      `Invalid g.${names[5]} for ${what}: ${out}; ${names[0]} ${size}, ${names[1]} ${kernel}, ${names[2]} ${stride}, ` +
        `${names[3]} ${pad} and ${names[4]} ${dilation} give ${range} (for end padding 0..${maxEnd})`,
    );
  }
}
